"""Compare two versions of a model: A is the baseline, B the candidate, deltas are B - A.

Direction: a metric is lower-better when mvtools.yaml says so (``compare.lower_better``) or
when its name says loss, error, latency, mse, mae, rmse or time; otherwise higher-better.
Score: the weighted sum of metrics (``compare.weights``, default accuracy 0.7, latency
-0.3); ``importance`` is score(B) - score(A) = 0.7 x accuracy gain - 0.3 x latency change.
B is recommended when its score beats A's by more than the threshold (default 5 %,
relative to |score(A)|), A when the reverse, otherwise the two perform similarly. Without
any weighted metric the score is the mean relative improvement over shared metrics.
"""

from __future__ import annotations

import re
from typing import Any

from mvtools.settings import CompareSettings

LOWER_RE = re.compile(r"loss|error|latency|mse|mae|rmse|time", re.I)


def lower_is_better(name: str, cs: CompareSettings) -> bool:
    if name in cs.lower_better:
        return True
    if name in cs.higher_better:
        return False
    return LOWER_RE.search(name.rsplit(".", 1)[-1]) is not None


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def characteristics(ev: dict[str, Any]) -> set[str]:
    feats = {f"param:{k}={v}" for k, v in (ev.get("params") or {}).items()}
    deps = ((ev.get("lineage") or {}).get("deps")) or {}
    feats |= {f"dep:{p}={h}" for p, h in deps.items()}
    feats |= {f"metric:{m}" for m in (ev.get("metrics") or {})}
    return feats


def _diff_map(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: {"a": a.get(k), "b": b.get(k)} for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def lineage_diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """What differs between two register events' lineage snapshots: data, code, params."""
    la, lb = a.get("lineage") or {}, b.get("lineage") or {}
    deps = _diff_map(la.get("deps") or {}, lb.get("deps") or {})
    code_ext = (".py", ".ipynb", ".r", ".R", ".sh", ".jl", ".scala", ".java", ".cpp", ".c", ".js", ".ts")
    code = {k: v for k, v in deps.items() if k.endswith(code_ext)}
    data = {k: v for k, v in deps.items() if k not in code}
    return {"data": data, "code": code, "params": _diff_map(a.get("params") or {}, b.get("params") or {})}


def compare(model: str, a: dict[str, Any], b: dict[str, Any], cs: CompareSettings) -> dict[str, Any]:
    weights, threshold = cs.weights, cs.threshold
    ma, mb = a.get("metrics") or {}, b.get("metrics") or {}
    metrics: dict[str, dict[str, Any]] = {}
    for name in sorted(set(ma) | set(mb)):
        va, vb = _num(ma.get(name)), _num(mb.get(name))
        delta = vb - va if va is not None and vb is not None else None
        improved = None
        if delta is not None:
            improved = (delta < 0) if lower_is_better(name, cs) else (delta > 0)
            if delta == 0:
                improved = False
        metrics[name] = {"a": ma.get(name), "b": mb.get(name), "delta": delta, "improved": improved,
                         "direction": "lower" if lower_is_better(name, cs) else "higher"}
    shared_w = {k: w for k, w in weights.items() if _num(ma.get(k)) is not None and _num(mb.get(k)) is not None}
    if shared_w:
        sa = sum(w * float(ma[k]) for k, w in shared_w.items())
        sb = sum(w * float(mb[k]) for k, w in shared_w.items())
        importance = sb - sa
        rel = importance / abs(sa) if sa else (0.0 if importance == 0 else float("inf") * importance)
        basis = "weights"
    else:
        rels = []
        for name, m in metrics.items():
            va, vb = _num(m["a"]), _num(m["b"])
            if va is None or vb is None:
                continue
            r = (vb - va) / abs(va) if va else (0.0 if vb == va else (1.0 if vb > va else -1.0))
            rels.append(-r if m["direction"] == "lower" else r)
        importance = sum(rels) / len(rels) if rels else 0.0
        rel = importance
        basis = "mean relative improvement"
    if rel > threshold:
        rec = "RECOMMEND_B"
    elif rel < -threshold:
        rec = "RECOMMEND_A"
    else:
        rec = "SIMILAR_PERFORMANCE"
    fa, fb = characteristics(a), characteristics(b)
    similarity = 1.0 if not (fa | fb) else len(fa & fb) / len(fa | fb)
    return {
        "model": model, "a": a["version"], "b": b["version"],
        "metrics": metrics,
        "params": _diff_map(a.get("params") or {}, b.get("params") or {}),
        "artifact": {"changed": a["sha256"] != b["sha256"],
                     "sha256": {"a": a["sha256"], "b": b["sha256"]},
                     "size": {"a": a["size"], "b": b["size"], "delta": b["size"] - a["size"]}},
        "lineage": lineage_diff(a, b),
        "similarity": round(similarity, 6),
        "importance": importance,
        "relative_change": rel if rel not in (float("inf"), float("-inf")) else None,
        "score_basis": basis,
        "threshold": threshold,
        "recommendation": rec,
    }
