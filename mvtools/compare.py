"""Compare two versions of a model: A is the baseline, B the candidate, deltas are B - A.

Direction: a metric is lower-better when mvtools.yaml says so (``compare.lower_better``) or
when its name says loss, error, latency, mse, mae, rmse or time; otherwise higher-better.
Score: the weighted sum of metrics (``compare.weights``, default accuracy 0.7, latency
-0.3); ``importance`` is score(B) - score(A) = 0.7 x accuracy gain - 0.3 x latency change.
B is recommended when its score beats A's by more than the threshold (default 5 %,
relative to |score(A)|), A when the reverse, otherwise the two perform similarly. Without
any weighted metric the score is the mean relative improvement over shared metrics; with no
metric both versions report, there is no score and no recommendation (NO_SHARED_METRICS).

What a version does not record (one imported from GTO: metrics, params, lineage,
environment; one registered before mvtools recorded them: environment, upstream stages) is
unknown: left out of the diffs and the similarity and listed in ``unknown``, never reported
as identical.

Non-finite metrics (a diverged run: NaN, +/-inf): +/-inf order naturally; NaN ranks worse
than any number whatever the direction, and a version whose metric is NaN where the other
version's is a number is never recommended (``nan`` in the result names those metrics).
"""

from __future__ import annotations

import math
import re
from typing import Any

from mvtools.environment import diff as environment_diff
from mvtools.settings import CompareSettings
from mvtools.upstream import flat_params

NO_SHARED = "NO_SHARED_METRICS"  # no metric both versions report: no recommendation
LOWER_RE = re.compile(r"loss|error|latency|mse|mae|rmse|time", re.I)


def lower_is_better(name: str, cs: CompareSettings) -> bool:
    if name in cs.lower_better:
        return True
    if name in cs.higher_better:
        return False
    return LOWER_RE.search(name.rsplit(".", 1)[-1]) is not None


def _num(v: Any) -> float | None:
    """A metric value as a float (an integer too large for one is the infinity of its sign);
    None for anything that is not a number."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def unknown(ev: dict[str, Any]) -> list[str]:
    """What a version does not record: a version imported from GTO has the metrics, params
    and lineage its tagged commit records (null where it records none: unknown) and no
    environment; one registered before mvtools recorded them has no environment and no
    upstream stages. (A native event's null metrics is known: it had none.)"""
    gaps = []
    if ev.get("imported_from") == "gto":  # read at the tagged commit where it records them, else null
        gaps = [k for k in ("metrics", "params", "lineage") if ev.get(k) is None]
    lin = ev.get("lineage")
    gaps += ["upstream"] if isinstance(lin, dict) and "upstream" not in lin else []
    return gaps + ([] if isinstance(ev.get("environment"), dict) else ["environment"])


KINDS = ("params", "lineage", "upstream", "metrics")


def characteristics(ev: dict[str, Any], kinds: tuple[str, ...] = KINDS) -> set[str]:
    feats: set[str] = set()
    if "params" in kinds:
        feats |= {f"param:{k}={v}" for k, v in (ev.get("params") or {}).items()}
    if "lineage" in kinds:
        deps = dict(((ev.get("lineage") or {}).get("deps")) or {})
        if "upstream" in kinds:
            for snap in (((ev.get("lineage") or {}).get("upstream")) or {}).values():
                deps.update(snap.get("deps") or {})
        feats |= {f"dep:{p}={h}" for p, h in deps.items()}
    if "metrics" in kinds:
        feats |= {f"metric:{m}" for m in (ev.get("metrics") or {})}
    return feats


def similarity(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Jaccard similarity over what both versions record; None when they share nothing
    recorded to compare (an imported version, or nothing recorded at all)."""
    gaps = set(unknown(a)) | set(unknown(b))
    kinds = tuple(k for k in KINDS if k not in gaps)
    fa, fb = characteristics(a, kinds), characteristics(b, kinds)
    return round(len(fa & fb) / len(fa | fb), 6) if fa | fb else None


def _same(x: Any, y: Any) -> bool:
    return x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))


def _diff_map(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: {"a": a.get(k), "b": b.get(k)} for k in sorted(set(a) | set(b)) if not _same(a.get(k), b.get(k))}


def _artifact(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The bytes of two versions; one imported from GTO may know only DVC's md5 and size, or
    nothing (a remote path): then ``changed`` is by md5 and size, or None (unknown)."""
    sa, sb = a.get("size"), b.get("size")
    changed = (a["sha256"] != b["sha256"] if a.get("sha256") and b.get("sha256") else
               (a["md5"], sa) != (b["md5"], sb) if a.get("md5") and b.get("md5") else None)
    return {"changed": changed,
            "sha256": {"a": a.get("sha256"), "b": b.get("sha256")},
            "size": {"a": sa, "b": sb, "delta": sb - sa if sa is not None and sb is not None else None}}


CODE_EXT = (".py", ".ipynb", ".r", ".R", ".sh", ".jl", ".scala", ".java", ".cpp", ".c", ".js", ".ts")


def _stages(ev: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every upstream stage of a version's snapshot, deps and flattened params."""
    ups = ((ev.get("lineage") or {}).get("upstream")) or {}
    return {sid: {"deps": dict(snap.get("deps") or {}), "params": flat_params(dict(snap.get("params") or {}))}
            for sid, snap in ups.items()}


def upstream_diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per upstream stage: its changed deps and params ({a, b}), and ``status`` (changed,
    added: only B's pipeline has it upstream, removed: only A's)."""
    sa, sb = _stages(a), _stages(b)
    res: dict[str, dict[str, Any]] = {}
    for sid in sorted(set(sa) | set(sb), key=lambda s: (s not in sb, s)):
        xa, xb = sa.get(sid), sb.get(sid)
        deps = _diff_map((xa or {}).get("deps") or {}, (xb or {}).get("deps") or {})
        params = _diff_map((xa or {}).get("params") or {}, (xb or {}).get("params") or {})
        if deps or params or xa is None or xb is None:
            status = "added" if xa is None else "removed" if xb is None else "changed"
            res[sid] = {"status": status, "deps": deps, "params": params}
    return res


def lineage_diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What differs between two register events' lineage snapshots: the producing stage's
    data and code deps, the model's params, every upstream stage (``upstream``); ``unknown``
    lists the sides (a, b) whose lineage is not recorded, ``upstream_unknown`` those whose
    upstream stages are not. What an unknown side cannot tell is left out, never reported
    identical."""
    gaps = {side: unknown(ev) for side, ev in (("a", a), ("b", b))}
    no_lineage = [s for s, g in gaps.items() if "lineage" in g]
    no_upstream = [s for s, g in gaps.items() if "lineage" in g or "upstream" in g]
    if no_lineage:
        return {"data": {}, "code": {}, "params": {}, "upstream": {}, "unknown": no_lineage,
                "upstream_unknown": no_upstream}
    la, lb = a.get("lineage") or {}, b.get("lineage") or {}
    deps = _diff_map(la.get("deps") or {}, lb.get("deps") or {})
    code = {k: v for k, v in deps.items() if k.endswith(CODE_EXT)}
    data = {k: v for k, v in deps.items() if k not in code}
    return {"data": data, "code": code, "params": _diff_map(a.get("params") or {}, b.get("params") or {}),
            "upstream": {} if no_upstream else upstream_diff(a, b), "unknown": [], "upstream_unknown": no_upstream}


def _rank(v: float, lower: bool) -> tuple[int, float]:
    """Higher is better: NaN below every number, +/-inf in their natural place."""
    return (0, 0.0) if math.isnan(v) else (1, -v if lower else v)


def _delta(va: float, vb: float) -> float | None:
    """B - A; equal infinities differ by 0; anything involving NaN has no delta."""
    d = vb - va
    return d if not math.isnan(d) else (0.0 if va == vb else None)


def _relative(va: float, vb: float) -> float:
    """(B - A) / |A|; from 0 or with an infinity involved, +/-1 (or 0) by order alone."""
    if va == vb:
        return 0.0
    if va and math.isfinite(va) and math.isfinite(vb):
        return (vb - va) / abs(va)
    return 1.0 if vb > va else -1.0


def _recommend(rel: float, threshold: float, nan_a: list[str], nan_b: list[str]) -> str:
    if nan_a or nan_b:  # a NaN where the other has a number: never the one recommended
        return "RECOMMEND_A" if not nan_a else "RECOMMEND_B" if not nan_b else "SIMILAR_PERFORMANCE"
    if rel > threshold:
        return "RECOMMEND_B"
    if rel < -threshold:
        return "RECOMMEND_A"
    return "SIMILAR_PERFORMANCE"


def compare(model: str, a: dict[str, Any], b: dict[str, Any], cs: CompareSettings) -> dict[str, Any]:
    weights, threshold = cs.weights, cs.threshold
    # a side whose metrics are unknown (imported from GTO) scores nothing, whatever it holds
    ma, mb = ({} if "metrics" in unknown(ev) else ev.get("metrics") or {} for ev in (a, b))
    metrics: dict[str, dict[str, Any]] = {}
    nan: dict[str, list[str]] = {"a": [], "b": []}
    both: dict[str, tuple[float, float]] = {}  # metrics both versions give as numbers, NaN aside
    for name in sorted(set(ma) | set(mb)):
        va, vb = _num(ma.get(name)), _num(mb.get(name))
        lower = lower_is_better(name, cs)
        delta = improved = worse = None
        if va is not None and vb is not None:
            ra, rb = _rank(va, lower), _rank(vb, lower)
            delta, improved, worse = _delta(va, vb), rb > ra, rb < ra
            if math.isnan(va) != math.isnan(vb):
                nan["a" if math.isnan(va) else "b"].append(name)
            elif not math.isnan(va):
                both[name] = (va, vb)
        metrics[name] = {"a": ma.get(name), "b": mb.get(name), "delta": delta, "improved": improved,
                         "worse": worse, "direction": "lower" if lower else "higher"}
    shared = [k for k, m in metrics.items() if _num(m["a"]) is not None and _num(m["b"]) is not None]
    shared_w = {k: w for k, w in weights.items() if k in both}
    importance: float | None
    rel: float | None
    if not shared:  # nothing to score: say so rather than recommend
        importance = rel = None
        basis = "no shared metric"
    elif shared_w:
        sa = sum(w * both[k][0] for k, w in shared_w.items())
        sb = sum(w * both[k][1] for k, w in shared_w.items())
        importance = sb - sa
        if math.isnan(importance):  # equal infinities: no difference the score can measure
            importance = 0.0
        if not math.isfinite(importance) or not sa:
            rel = math.copysign(math.inf, importance) if importance else 0.0
        else:
            rel = importance / abs(sa) if math.isfinite(sa) else 0.0
        basis = "weights"
    else:
        rels = [_relative(va, vb) * (-1 if metrics[k]["direction"] == "lower" else 1)
                for k, (va, vb) in both.items()]
        importance = sum(rels) / len(rels) if rels else 0.0
        rel = importance
        basis = "mean relative improvement"
    rec = NO_SHARED if rel is None else _recommend(rel, threshold, nan["a"], nan["b"])
    no_params = any("params" in unknown(ev) for ev in (a, b))
    return {
        "model": model, "a": a["version"], "b": b["version"],
        "metrics": metrics,
        "params": {} if no_params else _diff_map(a.get("params") or {}, b.get("params") or {}),
        "artifact": _artifact(a, b),
        "lineage": lineage_diff(a, b),
        "environment": environment_diff(a, b),
        "unknown": {"a": unknown(a), "b": unknown(b)},
        "similarity": similarity(a, b),
        "importance": importance,
        "relative_change": rel if rel is not None and math.isfinite(rel) else None,
        "score_basis": basis,
        "threshold": threshold,
        "recommendation": rec,
        "nan": nan,
    }
