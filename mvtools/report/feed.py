"""The report's data: everything the pages show, read once through the typed API
(:class:`mvtools.registry.Registry`, :mod:`mvtools.domain`) into plain values the templates
and the SVG renderers take. Nothing here writes or formats HTML."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from hashlib import sha1
from itertools import combinations
from typing import TYPE_CHECKING, Any, Mapping

from mvtools.domain import Comparison, DeployStatus, Event, ModelView, VerifyReport, thaw
from mvtools.errors import MvtoolsError

if TYPE_CHECKING:
    from mvtools.registry import Registry

ALL_PAIRS_UP_TO = 12  # versions; above, compare pairs are the neighbours and each vs latest/stage holders


@dataclass
class VersionRow:
    version: str
    timestamp: str
    actor: str
    commit: str | None
    sha256: str | None
    md5: str | None  # a version imported without its bytes is bound to the md5 DVC records
    size: int | None
    path: str | None
    message: str | None
    metrics: dict[str, Any]
    params: dict[str, Any]
    environment: dict[str, Any] | None
    lineage: dict[str, Any] | None
    archived: bool
    stages: tuple[str, ...]
    history: list[dict[str, Any]] = field(default_factory=list)  # this version's later events
    unknown: tuple[str, ...] = ()  # metrics, params, lineage a GTO import could not read (not: none)


@dataclass
class ModelPage:
    name: str
    slug: str
    latest: str | None
    deprecated: bool
    stages: dict[str, str]
    path: str | None
    versions: list[VersionRow]
    metric_names: list[str]
    deployments: list[DeployStatus]
    comparisons: list[Comparison]
    default_pair: tuple[str, str] | None
    all_pairs: bool
    events: list[dict[str, Any]]  # the model's events, in ledger order


@dataclass
class Feed:
    models: list[ModelPage]
    broken: list[tuple[str, str]]  # model, one-line cause
    timeline: list[dict[str, Any]]  # every event of every model, newest first
    verify: VerifyReport | None
    verify_error: str | None
    lineage: Any | None  # a networkx DiGraph, or None with lineage_error
    lineage_error: str | None
    stages: tuple[str, ...]


SLUG_MAX = 80  # characters of the name kept in a page's file name (a name may be far longer than 255 bytes)


def slug(name: str) -> str:
    """A file name for a model name (``sub/dir:name``): safe characters kept, others '_', the
    first SLUG_MAX of them, and a short hash when anything was replaced or cut, so two names
    never share a page and no file name is too long."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    if safe == name and len(safe) <= SLUG_MAX:
        return safe
    return f"{safe[:SLUG_MAX]}-{sha1(name.encode()).hexdigest()[:8]}"


def flat(doc: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """Nested metrics or params as dotted keys."""
    out: dict[str, Any] = {}
    for k, v in (doc or {}).items():
        if isinstance(v, Mapping):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def number(v: Any) -> float | None:
    """A finite metric value as a float; None for NaN, infinities and anything else."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:  # an integer too large for a float: as good as infinite
        return None
    return f if math.isfinite(f) else None


def describe(ev: Event) -> str:
    """One line saying what an event did, for the timeline and the stage history."""
    kind, v = ev.kind, ev.get("version")
    if kind == "register":
        return f"registered {v}"
    if kind == "promote":
        return f"promoted {v} to {ev.get('stage')}"
    if kind == "archive":
        return f"archived {v}"
    if kind == "deprecate":
        return "deprecated the model"
    if kind == "rollback":
        back = f"back to {v}" if v else "left empty"
        return f"rolled {ev.get('stage')} back ({back}; {ev.get('previous') or 'nothing'} withdrawn)"
    if kind == "sha256":
        return f"recorded the sha256 of {v}"
    if kind == "deploy":
        action, env = ev.get("action"), ev.get("env")
        if action == "publish":
            return f"published {v} to {ev.get('uri')}"
        state = ev.get("state") or {}
        live = state.get("stable")
        cand = f", canary {state.get('candidate')} at {state.get('percent')}%" if state.get("candidate") else ""
        return f"deploy {action} in {env}: {live or 'nothing'} live{cand}"
    return kind


def _event_row(ev: Event) -> dict[str, Any]:
    return {"model": ev.model, "kind": ev.kind, "version": ev.get("version"), "stage": ev.get("stage"),
            "env": ev.get("env"), "action": ev.get("action"), "timestamp": ev.timestamp, "actor": ev.actor,
            "tag": ev.tag, "commit": ev.commit, "message": ev.message, "what": describe(ev)}


def _versions(view: ModelView, events: tuple[Event, ...]) -> list[VersionRow]:
    rows = {}
    commits = {ev.get("version"): ev.commit for ev in events if ev.kind == "register"}
    for v, mv in view.versions.items():
        r = mv.register
        rows[v] = VersionRow(v, r.timestamp, r.actor, commits.get(v), r.sha256, r.md5, r.size, r.path, r.message,
                             flat(r.metrics), flat(r.params), thaw(r.environment) if r.environment else None,
                             thaw(r.lineage) if r.lineage else None, mv.archived, mv.stages,
                             unknown=tuple(k for k in ("metrics", "params", "lineage") if getattr(r, k) is None)
                             if r.extra.get("imported_from") == "gto" else ())
    for ev in events:
        if ev.kind == "register":
            continue
        touched = {ev.get("version"), ev.get("previous")}
        state = ev.get("state") or {}
        touched |= {state.get("stable"), state.get("candidate")} if ev.kind == "deploy" else set()
        for v in touched:
            if v in rows:
                rows[v].history.append(_event_row(ev))
    return list(rows.values())


def _pairs(view: ModelView) -> tuple[list[tuple[str, str]], bool]:
    """Baseline/candidate pairs to compare (older first): all of them for a few versions, else
    each with the next, and each with the latest and with each stage holder."""
    vs = list(view.versions)
    if len(vs) <= ALL_PAIRS_UP_TO:
        return list(combinations(vs, 2)), True
    order = {v: i for i, v in enumerate(vs)}
    keys = {v for v in (view.latest, *view.stages.values()) if v is not None}
    pairs = set(zip(vs, vs[1:]))
    for k in keys:
        pairs |= {(v, k) if order[v] < order[k] else (k, v) for v in vs if v != k}
    return sorted(pairs, key=lambda p: (order[p[0]], order[p[1]])), False


def _deployments(reg: Registry, name: str, events: tuple[Event, ...]) -> list[DeployStatus]:
    from mvtools import deploy

    envs = list(reg.config.environments)
    out = []
    for env in envs:
        if any(ev.kind == "deploy" and ev.get("env") == env for ev in events):
            out.append(deploy.status(reg, name, env))
    return out


def model_page(reg: Registry, name: str, path: str | None) -> ModelPage:
    view = reg.model_state(name)
    events = reg.history(name).events  # each with the commit its tag names
    versions = _versions(view, events)
    metric_names = sorted({m for row in versions for m in row.metrics})
    pairs, all_pairs = _pairs(view)
    comparisons = [reg.compare(name, a, b) for a, b in pairs]
    vs = list(view.versions)
    default = (vs[-2], vs[-1]) if len(vs) >= 2 else None
    if view.latest and len(vs) >= 2 and view.latest != vs[-1]:  # the newest may be archived
        i = vs.index(view.latest)
        default = (vs[i - 1], vs[i]) if i else (vs[0], vs[1])
    return ModelPage(name, slug(name), view.latest, view.deprecated, dict(view.stages), path, versions,
                     metric_names, _deployments(reg, name, events), comparisons, default, all_pairs,
                     [_event_row(ev) for ev in events])


def collect(reg: Registry, *, verify: bool = True, lineage: bool = True) -> Feed:
    """Read the registry once into the report's :class:`Feed`: a model whose ledger cannot be
    read is listed with its cause; verify and the lineage graph that cannot run say why."""
    show = reg.show(include_deprecated=True)
    models = [model_page(reg, m.name, m.path) for m in show.models]
    timeline = [ev for m in models for ev in m.events]
    timeline.sort(key=lambda e: e["timestamp"])
    timeline.reverse()  # newest first, and within one second the later event of a ledger first
    rep = err = None
    if verify:
        from mvtools.verify import verify as run_verify

        try:
            rep = run_verify(reg, allow_shallow=True)
        except MvtoolsError as exc:
            err = str(exc)
    graph = gerr = None
    if lineage:
        try:
            from mvtools.lineage import build_lineage

            graph = build_lineage(reg.root).graph
        except MvtoolsError as exc:
            gerr = str(exc)
    return Feed(models, [(b.name, b.error) for b in show.broken], timeline, rep, err, graph, gerr,
                tuple(reg.config.stages))
