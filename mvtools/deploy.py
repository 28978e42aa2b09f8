"""Deployments per environment: blue-green and canary, as ``deploy`` events in the ledger.

State per (model, environment) is a fold over the model's deploy events; each step is an
event, so ``deploy rollback`` undoes the last step by returning to the state before it.
Every step renders a KServe InferenceService manifest under ``deploy/<env>/`` from
templates/, committed with the ledger event, for a GitOps controller to apply.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvtools import ledger as L
from mvtools.compare import lower_is_better
from mvtools.domain import DeployEvent, DeployStatus, api_result
from mvtools.errors import CheckFailed, MvtoolsError, UsageError
from mvtools.settings import Environment
from mvtools.versioning import tag_name_of, utc_now

if TYPE_CHECKING:
    from mvtools.registry import Registry
    from mvtools.transaction import Transaction

STRATEGIES = ("blue-green", "canary")
EMPTY = {"strategy": None, "stable": None, "candidate": None, "percent": 0,
         "slots": {"blue": None, "green": None}, "live_slot": None}


def _env(reg: "Registry", env: str) -> Environment:
    envs = reg.config.environments
    if env not in envs:
        raise UsageError(f"unknown environment {env!r} (environments: {', '.join(envs) or 'none in mvtools.yaml'})")
    return envs[env]


def fold(events: list[dict[str, Any]], env: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Current state of ``env`` and the stack of earlier states (for rollback).

    Each event records the state it made, and that is the state after it. The stack holds
    what a rollback returns to: an aborted canary (its start, its steps, the abort) leaves
    no entry, so a rollback after an abort never puts the aborted candidate back on
    traffic; it undoes the step before the canary."""
    import copy

    state = copy.deepcopy(EMPTY)
    stack: list[dict[str, Any]] = []
    for ev in events:
        if ev["event"] != "deploy" or ev.get("env") != env or ev.get("action") == "publish":
            continue
        action = ev["action"]
        if action == "rollback":
            popped = stack.pop() if stack else copy.deepcopy(EMPTY)
            state = ev.get("state") or popped
            continue
        if action == "abort":
            while stack and stack[-1].get("candidate"):
                stack.pop()  # the canary's steps
            if stack:
                stack.pop()  # the state before the canary started, which the abort restores
            state = ev["state"]
            continue
        stack.append(copy.deepcopy(state))
        state = ev["state"]
    return state, stack


def published_uri(events: list[dict[str, Any]], version: str) -> str | None:
    uri = None
    for ev in events:
        if ev["event"] == "deploy" and ev.get("action") == "publish" and ev.get("version") == version:
            uri = ev.get("uri")
    return uri


def status(reg: "Registry", name: str, env: str) -> DeployStatus:
    _env(reg, env)
    st = reg.state(name)
    state, _ = fold(st.events, env)
    return DeployStatus(name, env, state["strategy"], state["stable"], state["candidate"],
                        state["percent"] if state["candidate"] else 0, state["slots"], state["live_slot"])


def environments(reg: "Registry", name: str | None = None) -> tuple[dict[str, tuple[DeployStatus, ...]],
                                                                   dict[str, MvtoolsError]]:
    """What runs where (``show --environments``): per environment (mvtools.yaml's, then any
    other a deploy event names), the status of each model (or ``name``) deployed there; and
    the error of each model whose ledger cannot be read (it hides that model only)."""
    broken: dict[str, MvtoolsError] = {}
    if name is not None:
        states = {name: reg.state(name)}
    else:
        states, broken = reg.readable_states()
    seen = [e["env"] for st in states.values() for e in st.events
            if e["event"] == "deploy" and isinstance(e.get("env"), str)]
    out: dict[str, tuple[DeployStatus, ...]] = {}
    for env in dict.fromkeys([*reg.config.environments, *sorted(set(seen))]):
        rows = []
        for st in states.values():
            state, _ = fold(st.events, env)
            if state["stable"] or state["candidate"]:
                rows.append(DeployStatus(st.name, env, state["strategy"], state["stable"], state["candidate"],
                                         state["percent"] if state["candidate"] else 0, state["slots"],
                                         state["live_slot"]))
        out[env] = tuple(rows)
    return out, broken


def _gate(reg: "Registry", name: str, settings_: Environment, cand: dict[str, Any],
          live: dict[str, Any] | None) -> None:
    failures = []
    cm = cand.get("metrics") or {}
    lm = (live or {}).get("metrics") or {}
    for metric, rule in settings_.gate.items():
        v = cm.get(metric)
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            failures.append(f"{metric} missing")
            continue
        if v != v:  # NaN (a diverged run) compares false with every limit: it would pass them all
            failures.append(f"{metric} is NaN, not a number any limit can accept")
            continue
        if rule.min is not None and v < rule.min:
            failures.append(f"{metric} {v} < min {_num(rule.min)}")
        if rule.max is not None and v > rule.max:
            failures.append(f"{metric} {v} > max {_num(rule.max)}")
        lv = lm.get(metric)
        if rule.max_regression is not None and live is not None and isinstance(lv, (int, float)):
            worse = (v - lv) if lower_is_better(metric, reg.config.compare) else (lv - v)
            if worse > rule.max_regression:
                failures.append(f"{metric} {v} is {worse:.6g} worse than live {live['version']} ({lv})")
    if failures:
        raise CheckFailed(f"validation gate failed for {name}@{cand['version']}: " + "; ".join(failures))


def _num(x: float) -> str:
    """A limit as the user wrote it (the schema reads every limit as a float: 1 -> 1.0)."""
    return f"{x:g}" if x == int(x) else str(x)


def _render(reg: "Registry", name: str, env: str, settings_: Environment, state: dict[str, Any],
            events: list[dict[str, Any]]) -> dict[str, bytes | None]:
    """deploy/<env>/<model>.yaml as it must be after this step: {path: bytes}, {path: None}
    to remove it (nothing live any more), or {} when there is nothing to write."""
    from mvtools.install import data_dir

    rel = f"deploy/{env}/{tag_name_of(name).replace('/', '_')}.yaml"
    out = reg.root / rel
    if state["stable"] is None:
        return {rel: None} if out.exists() else {}
    tpl_path = settings_.template
    tpl = (reg.root / tpl_path).read_text() if tpl_path else (data_dir("templates") / "kserve-inferenceservice.yaml").read_text()

    def uri(version: str | None) -> str:
        if version is None:
            return ""
        found = published_uri(events, version)
        if found:
            return found
        base = settings_.storage
        return f"{str(base).rstrip('/')}/{tag_name_of(name)}/{version}" if base else f"mvtools://{name}@{version}"

    canary = ""
    version = state["stable"]
    if state["candidate"]:
        canary = f"    canaryTrafficPercent: {int(state['percent'])}\n"
        version = state["candidate"]  # KServe: the new spec is the canary, the last ready one stable
    service = re.sub(r"[^a-z0-9-]", "-", name.replace(":", "-").lower()).strip("-")[:63] or "model"
    text = (tpl.replace("@MODEL@", name).replace("@ENV@", env).replace("@SERVICE@", service)
            .replace("@NAMESPACE@", settings_.namespace or env)
            .replace("@MODEL_LABEL@", service).replace("@STABLE@", state["stable"] or "")
            .replace("@CANDIDATE@", state["candidate"] or "").replace("@STRATEGY@", state["strategy"] or "")
            .replace("@FORMAT@", settings_.format or "sklearn")
            .replace("@CANARY@", canary).replace("@STORAGE_URI@", uri(version)))
    return {rel: text.encode()}


def _commit(reg: "Registry", txn: "Transaction", name: str, env: str, action: str, state: dict[str, Any],
            message: str, **extra: Any) -> DeployEvent:
    from mvtools import policy

    actor = reg.repo.identity()
    policy.check(reg.config, actor, "deploy", env)
    st = reg.state(name)
    ev = L.make_event("deploy", name, actor, utc_now(), env=env, action=action, state=state, **extra)
    events = [*st.events, ev]
    settings_ = _env(reg, env)
    writes = _render(reg, name, env, settings_, state, events)
    head = txn.commit({name: [ev]}, message, writes=writes)
    return api_result(ev, head, DeployEvent, manifest=next(iter(writes), None))


def _check_version(reg: "Registry", name: str, version: str, force: bool) -> tuple[str, dict[str, Any]]:
    st, v = reg.version(name, version)
    if v in st.archived and not force:
        raise UsageError(f"{name}@{v} is archived; pass --force to deploy it anyway")
    if st.deprecated and not force:
        raise UsageError(f"{name} is deprecated; pass --force to deploy it anyway")
    return v, st.versions[v]


def start(reg: "Registry", name: str, version: str, env: str, strategy: str, percent: int | None = None,
          force: bool = False) -> DeployEvent:
    if strategy not in STRATEGIES:
        raise UsageError(f"invalid strategy {strategy!r}: expected blue-green or canary")
    settings_ = _env(reg, env)
    with reg.transaction() as txn:
        v, cand = _check_version(reg, name, version, force)
        state, _ = fold(reg.state(name).events, env)
        live = reg.state(name).versions.get(state["stable"]) if state["stable"] else None
        if state["candidate"]:
            raise UsageError(f"a canary of {state['candidate']} is running in {env}; promote or abort it first")
        if state["stable"] == v:
            raise UsageError(f"{name}@{v} is already live in {env}")
        _gate(reg, name, settings_, cand, live)
        new = {**state, "slots": dict(state["slots"])}
        if strategy == "blue-green":
            idle = "green" if state["live_slot"] == "blue" else "blue"
            new["slots"][idle] = v
            new.update(strategy="blue-green", stable=v, candidate=None, percent=0, live_slot=idle)
            msg = f"Deploy {name} {v} to {env} (blue-green, {idle} slot live)"
        else:
            if percent is None or not 0 < percent <= 100:
                raise UsageError("--percent must be between 1 and 100 for a canary")
            if state["stable"] is None:
                raise UsageError(f"nothing is live in {env} yet: deploy a first version with --strategy blue-green")
            new.update(strategy="canary", candidate=v, percent=int(percent))
            msg = f"Start canary of {name} {v} in {env} at {percent}%"
        return _commit(reg, txn, name, env, "start", new, msg, version=v, strategy=strategy)


def step(reg: "Registry", name: str, env: str, by: int) -> DeployEvent:
    _env(reg, env)
    if by <= 0:
        raise UsageError("--by must be a positive number of percentage points")
    with reg.transaction() as txn:
        state, _ = fold(reg.state(name).events, env)
        if not state["candidate"]:
            raise UsageError(f"no canary of {name} is running in {env}")
        new = {**state, "percent": min(100, int(state["percent"]) + by)}
        return _commit(reg, txn, name, env, "step", new,
                       f"Canary of {name} {state['candidate']} in {env}: {new['percent']}%")


def _end_canary(reg: "Registry", name: str, env: str, action: str) -> DeployEvent:
    """promote: the candidate becomes stable at 100 %; abort: all traffic back to stable."""
    _env(reg, env)
    with reg.transaction() as txn:
        state, _ = fold(reg.state(name).events, env)
        cand = state["candidate"]
        if not cand:
            raise UsageError(f"no canary of {name} is running in {env}")
        new = {**state, "candidate": None, "percent": 0}
        if action == "promote":  # the candidate goes live in the idle slot, as a blue-green switch
            idle = "green" if state["live_slot"] == "blue" else "blue"
            new.update(stable=cand, slots={**state["slots"], idle: cand}, live_slot=idle)
            msg = f"Promote canary {name} {cand} in {env} to 100%"
        else:
            msg = f"Abort canary of {name} {cand} in {env}"
        return _commit(reg, txn, name, env, action, new, msg)


def promote(reg: "Registry", name: str, env: str) -> DeployEvent:
    return _end_canary(reg, name, env, "promote")


def abort(reg: "Registry", name: str, env: str) -> DeployEvent:
    return _end_canary(reg, name, env, "abort")


def rollback(reg: "Registry", name: str, env: str) -> DeployEvent:
    _env(reg, env)
    with reg.transaction() as txn:
        state, stack = fold(reg.state(name).events, env)
        if not stack:
            raise UsageError(f"no deployment step of {name} in {env} to roll back")
        prev = stack[-1]
        return _commit(reg, txn, name, env, "rollback", prev,
                       f"Roll back {name} in {env} to {prev['stable'] or 'nothing'}")


def publish(reg: "Registry", spec: str, to: str) -> DeployEvent:
    """Copy a version's files, under their own names, to ``to``/NAME/VERSION via fsspec (DVC's fs)."""
    if to.startswith("-"):
        raise UsageError(f"invalid destination {to!r}")
    ev = reg.resolve(spec)
    with tempfile.TemporaryDirectory(prefix="mvtools-publish-") as tmp:
        local = Path(tmp) / os.path.basename(ev["path"])
        reg.get(f"{ev['model']}@{ev['version']}", local)
        import fsspec

        dest = f"{to.rstrip('/')}/{tag_name_of(ev['model'])}/{ev['version']}"
        try:
            fs, root = fsspec.core.url_to_fs(dest)
            fs.makedirs(root, exist_ok=True)
            if local.is_dir():
                for p in sorted(local.rglob("*")):
                    if p.is_file():
                        target = f"{root}/{p.relative_to(local).as_posix()}"
                        fs.makedirs(os.path.dirname(target), exist_ok=True)
                        fs.put_file(str(p), target)
            else:
                fs.put_file(str(local), f"{root}/{local.name}")
        except (OSError, ValueError, ImportError) as exc:
            raise CheckFailed(f"cannot publish to {to}: {exc}") from None
    uri = dest if "://" in dest else Path(dest).resolve().as_uri()
    with reg.transaction() as txn:
        e = L.make_event("deploy", ev["model"], reg.repo.identity(), utc_now(), action="publish",
                         version=ev["version"], uri=uri)
        head = txn.commit({ev["model"]: [e]}, f"Publish {ev['model']} {ev['version']} to {uri}")
    return api_result(e, head, DeployEvent)
