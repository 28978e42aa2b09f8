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
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING

from mvtools.config import Config
from mvtools.errors import CheckFailed

if TYPE_CHECKING:
    from mvtools.registry import Registry


def _rules(config: Config, action: str) -> dict[str, list[str]]:
    return config.policy.promote if action == "promote" else config.policy.deploy


def allowed(config: Config, actor: str, action: str, target: str) -> bool:
    rules = _rules(config, action)
    if target not in rules:
        return True
    email = actor[actor.find("<") + 1: actor.rfind(">")] if "<" in actor else actor
    return any(fnmatch.fnmatchcase(email, pat) or fnmatch.fnmatchcase(actor, pat) for pat in rules[target])


def check(config: Config, actor: str, action: str, target: str) -> None:
    if not allowed(config, actor, action, target):
        raise CheckFailed(f"policy: {actor} may not {action} into {target!r}")


def signed_required(config: Config) -> bool:
    return config.policy.signed


def check_history(reg: Registry) -> list[dict[str, str]]:
    """Every promote/rollback/deploy event of the history against the policy."""
    problems: list[dict[str, str]] = []
    cfg = reg.config
    need_sig = signed_required(cfg)
    for name, st in reg.states().items():
        for ev in st.events:
            kind = ev["event"]
            if kind in ("promote", "rollback"):
                action, target = "promote", ev.get("stage", "")
            elif kind == "deploy":
                action, target = "deploy", ev.get("env", "")
            else:
                continue
            where = f"{name} {kind} {ev.get('version') or ''} {target}".strip()
            if not allowed(cfg, ev["actor"], action, target):
                problems.append({"kind": "policy", "where": where,
                                 "message": f"{ev['actor']} may not {action} into {target!r}"})
            if need_sig:
                commit = reg.commit_holding(name, ev["id"])
                ok = commit is not None and reg.repo.git("verify-commit", commit, check=False).returncode == 0
                if not ok:
                    problems.append({"kind": "policy-signature", "where": where,
                                     "message": f"commit {(commit or '?')[:12]} is not signed by a trusted key"})
    return problems
