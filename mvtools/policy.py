"""Access policy from mvtools.yaml: who may promote into which stage and deploy where.

    policy:
      signed: true                 # promote/deploy events must be in signed commits
      promote:
        production: [alice@example.com, "*@ml-platform.example.com"]
      deploy:
        prod: [alice@example.com]

An entry matches an actor's email (or the whole ``Name <email>``) with shell-style
wildcards. A stage or environment absent from the policy is open to everyone. Enforced by
the commands as they run; ``mvtools verify --policy`` re-checks the history in CI, where
it cannot be bypassed (signatures checked with ``git verify-commit``).

A policy applies from the commit that introduced or changed it: ``verify --policy`` checks
each event against the policy in the ``mvtools.yaml`` of the commit that holds the event,
so adding a policy never fails the events made before it existed; and against the policy
of that commit's parent, so a commit cannot widen the policy for its own events.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING

from mvtools.config import CONFIG_FILE, Config
from mvtools.errors import CheckFailed, ConfigError
from mvtools.settings import PolicySettings

if TYPE_CHECKING:
    from mvtools.registry import Registry


def _rules(policy: PolicySettings, action: str) -> dict[str, list[str]]:
    return policy.promote if action == "promote" else policy.deploy


def allowed(config: Config | PolicySettings, actor: str, action: str, target: str) -> bool:
    rules = _rules(config.policy if isinstance(config, Config) else config, action)
    if target not in rules:
        return True
    email = actor[actor.find("<") + 1: actor.rfind(">")] if "<" in actor else actor
    return any(fnmatch.fnmatchcase(email, pat) or fnmatch.fnmatchcase(actor, pat) for pat in rules[target])


def check(config: Config, actor: str, action: str, target: str) -> None:
    if not allowed(config, actor, action, target):
        raise CheckFailed(f"policy: {actor} may not {action} into {target!r}")


def signed_required(config: Config) -> bool:
    return config.policy.signed


def policy_at(reg: Registry, commit: str | None, cache: dict[str | None, PolicySettings]) -> PolicySettings:
    """The policy as the ``mvtools.yaml`` of ``commit`` states it (none there: an open one);
    the work tree's for an event no commit holds, or when that file cannot be read."""
    from mvtools.settings import parse_settings
    from mvtools.yamlio import load_yaml

    blob = reg.repo.blobs_at([commit], CONFIG_FILE).get(commit) if commit else None
    key = blob or ("" if commit else None)  # "": a commit without mvtools.yaml
    if key not in cache:
        if key is None:
            cache[key] = reg.config.policy
        elif not key:
            cache[key] = PolicySettings()
        else:
            try:
                cache[key] = parse_settings(load_yaml(reg.repo.show_blob(key) or b"", CONFIG_FILE)).policy
            except ConfigError:
                cache[key] = reg.config.policy
    return cache[key]


def check_history(reg: Registry) -> list[dict[str, str]]:
    """Every promote/rollback/deploy event of the history against the policy of the commit
    that holds it (a policy applies from the commit that introduced or changed it)."""
    problems: list[dict[str, str]] = []
    cache: dict[str | None, PolicySettings] = {}
    with reg.walking_histories():  # where each event was gained: one walk of each ledger's history
        for name, st in reg.states().items():
            for ev in st.events:
                kind = ev["event"]
                if kind in ("promote", "rollback"):
                    action, target = "promote", ev.get("stage", "")
                elif kind == "deploy":
                    action, target = "deploy", ev.get("env", "")
                else:
                    continue
                commit = reg.commit_holding(name, ev["id"])
                # and the policy before that commit: a commit cannot widen the policy for its own events
                pols = [policy_at(reg, commit, cache)] + ([policy_at(reg, f"{commit}^", cache)] if commit else [])
                where = f"{name} {kind} {ev.get('version') or ''} {target}".strip()
                if not all(allowed(pol, ev["actor"], action, target) for pol in pols):
                    problems.append({"kind": "policy", "where": where,
                                     "message": f"{ev['actor']} may not {action} into {target!r}"})
                if any(pol.signed for pol in pols):
                    ok = commit is not None and reg.repo.git("verify-commit", commit, check=False).returncode == 0
                    if not ok:
                        problems.append({"kind": "policy-signature", "where": where,
                                         "message": f"commit {(commit or '?')[:12]} is not signed by a trusted key"})
    return problems
