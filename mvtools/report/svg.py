"""Plain inline SVG for the report: a metric across versions, the timeline strip and the
lineage graph. Hand-written SVG keeps each chart a few KB and the page offline with no
script bundle (docs/report.md weighs this against Vega-Lite and plotly). Every text is
escaped; colours come from the page's stylesheet through class names."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Sequence

from markupsafe import Markup, escape

from mvtools.report.feed import number

if TYPE_CHECKING:
    import networkx as nx


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _svg(width: float, height: float, body: list[str], label: str, cls: str) -> Markup:
    return Markup(f'<svg class="{cls}" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
                  f'height="{height:.0f}" role="img" aria-label="{escape(label)}">'
                  f"<title>{escape(label)}</title>{''.join(body)}</svg>")


# -- a metric across versions -----------------------------------------------------------------
def metric_chart(metric: str, points: Sequence[tuple[str, Any]], marks: dict[str, str] | None = None) -> Markup:
    """A line over the versions (registration order) of ``metric``; a version without the
    metric is left out, a non-finite value is a cross on the axis. ``marks`` labels versions
    (a stage holder) under the axis."""
    w, h, left, right, top, bottom = 380.0, 178.0, 52.0, 24.0, 14.0, 36.0
    raw_vals = [number(v) for _, v in points]
    # drawn divided by the largest magnitude, so the span of ±1e308 does not overflow a float
    scale = max((abs(v) for v in raw_vals if v is not None), default=0.0) or 1.0
    vals = [None if v is None else v / scale for v in raw_vals]
    finite = [v for v in vals if v is not None]
    body: list[str] = []
    if finite:
        lo, hi = min(finite), max(finite)
        pad = (hi - lo) * 0.08 or abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    else:
        lo, hi = 0.0, 1.0
    n = len(points)
    step = (w - left - right) / max(n - 1, 1)

    def x(i: int) -> float:
        return left + (i * step if n > 1 else (w - left - right) / 2)

    def y(v: float) -> float:
        return top + (hi - v) / (hi - lo) * (h - top - bottom)

    base = h - bottom
    body.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{base}"/>'
                f'<line class="axis" x1="{left}" y1="{base}" x2="{w - right}" y2="{base}"/>')
    ticks = () if not finite else (lo + pad,) if min(finite) == max(finite) else (lo + pad, (lo + hi) / 2, hi - pad)
    for t in ticks:
        body.append(f'<line class="grid" x1="{left}" y1="{y(t):.1f}" x2="{w - right}" y2="{y(t):.1f}"/>'
                    f'<text class="tick" x="{left - 4}" y="{y(t) + 3:.1f}" text-anchor="end">{_fmt(t * scale)}</text>')
    every = max(1, (n + 7) // 8)
    segs: list[list[str]] = [[]]
    for i, ((version, raw), v) in enumerate(zip(points, vals)):
        if i == n - 1 or (i % every == 0 and n - 1 - i >= every):  # the last label never overlaps one
            body.append(f'<text class="tick" x="{x(i):.1f}" y="{base + 13}" text-anchor="middle">'
                        f"{escape(version)}</text>")
        if marks and version in marks:
            body.append(f'<text class="mark" x="{x(i):.1f}" y="{base + 26}" text-anchor="middle">'
                        f"{escape(marks[version])}</text>")
        if v is None:
            segs.append([])
            if raw is not None:  # NaN or an infinity: a cross on the axis
                body.append(f'<text class="nonfinite" x="{x(i):.1f}" y="{base - 3}" text-anchor="middle">×'
                            f"<title>{escape(version)}: {escape(str(raw))}</title></text>")
            continue
        segs[-1].append(f"{x(i):.1f},{y(v):.1f}")
        body.append(f'<circle class="point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5">'
                    f"<title>{escape(version)}: {escape(_fmt(v * scale))}</title></circle>")
    lines = [f'<polyline class="series" points="{" ".join(s)}"/>' for s in segs if len(s) > 1]
    return _svg(w, h, lines + body, f"{metric} across versions", "chart")


# -- the timeline strip -----------------------------------------------------------------------
def _when(ts: str) -> float:
    try:
        return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return 0.0


def timeline_strip(events: Sequence[dict[str, Any]], models: Sequence[str]) -> Markup:
    """One row per model, one dot per event at its time, coloured by kind."""
    w, left, right, row = 900.0, 140.0, 16.0, 26.0
    h = 30 + row * max(len(models), 1)
    times = [_when(e["timestamp"]) for e in events]
    t0, t1 = (min(times), max(times)) if times else (0.0, 1.0)
    span = (t1 - t0) or 1.0
    body = []
    for i, m in enumerate(models):
        yy = 20 + row * i + row / 2
        body.append(f'<text class="tick" x="{left - 8}" y="{yy + 4:.1f}" text-anchor="end">{escape(m)}</text>'
                    f'<line class="grid" x1="{left}" y1="{yy:.1f}" x2="{w - right}" y2="{yy:.1f}"/>')
    rows = {m: i for i, m in enumerate(models)}
    for e, t in zip(events, times):
        if e["model"] not in rows:
            continue
        xx = left + (t - t0) / span * (w - left - right) if t1 > t0 else (left + w - right) / 2
        yy = 20 + row * rows[e["model"]] + row / 2
        body.append(f'<circle class="ev ev-{escape(e["kind"])}" cx="{xx:.1f}" cy="{yy:.1f}" r="5">'
                    f'<title>{escape(e["timestamp"])} {escape(e["model"])}: {escape(e["what"])}</title></circle>')
    for t, anchor in ((t0, "start"), (t1, "end")):
        if times:
            xx = left if anchor == "start" else w - right
            stamp = datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M")
            body.append(f'<text class="tick" x="{xx}" y="12" text-anchor="{anchor}">{stamp}</text>')
    return _svg(w, h, body, "events over time, one row per model", "strip")


# -- the lineage graph ------------------------------------------------------------------------
def _layers(graph: nx.DiGraph) -> dict[str, int]:
    """Each node's column: the longest path from a source (edges run with the data)."""
    import networkx as nx

    col: dict[str, int] = {}
    for n in nx.topological_sort(graph):
        col[n] = max((col[p] + 1 for p in graph.predecessors(n)), default=0)
    return col


def _label(n: str, d: dict[str, Any]) -> str:
    names = ", ".join(d.get("names") or ())
    return f"{n} ({names})" if names else str(n)


def lineage_graph(graph: nx.DiGraph, limit: int = 400) -> Markup:
    """The lineage graph left to right, a column per depth; nodes coloured by type (stage,
    data, code, params, model, metrics, plots), each model node with its registry names."""
    if graph.number_of_nodes() == 0:
        return Markup("<p>No DVC pipeline here: no dvc.yaml or .dvc file.</p>")
    if graph.number_of_nodes() > limit:
        return Markup(f"<p>{graph.number_of_nodes()} nodes: too many to draw here; "
                      f"run <code>mvtools lineage --format svg</code>.</p>")
    col = _layers(graph)
    columns: dict[int, list[str]] = {}
    for n in sorted(graph, key=lambda n: (graph.nodes[n].get("type") != "stage", str(n))):
        columns.setdefault(col[n], []).append(n)
    # one pass of barycentre ordering keeps edges from crossing needlessly
    pos: dict[str, int] = {}
    for c in sorted(columns):
        nodes = columns[c]
        if c:
            nodes.sort(key=lambda n: sum(pos[p] for p in graph.predecessors(n)) /
                       max(1, graph.in_degree(n)))
        pos.update({n: i for i, n in enumerate(nodes)})
    char, pad, rowh, gap = 6.6, 14.0, 40.0, 56.0
    widths = {c: max(len(_label(n, graph.nodes[n])) * char + 2 * pad for n in ns) for c, ns in columns.items()}
    xs, x0 = {}, 10.0
    for c in sorted(columns):
        xs[c] = x0
        x0 += widths[c] + gap
    h = 20 + rowh * max(len(ns) for ns in columns.values())
    box: dict[str, tuple[float, float, float]] = {}
    for c, ns in columns.items():
        for i, n in enumerate(ns):
            box[n] = (xs[c], 10 + i * rowh, len(_label(n, graph.nodes[n])) * char + 2 * pad)
    body = ['<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
            'orient="auto"><path d="M0,0 L8,4 L0,8 z" class="arrowhead"/></marker></defs>']
    for u, v, d in graph.edges(data=True):
        (ux, uy, uw), (vx, vy, _) = box[u], box[v]
        x1, y1, x2, y2 = ux + uw, uy + 13, vx, vy + 13
        mid = (x1 + x2) / 2
        dash = ' stroke-dasharray="4 3"' if d.get("interpolated") else ""
        body.append(f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} '
                    f'{x2:.1f},{y2:.1f}"{dash} marker-end="url(#arrow)"/>')
    for n, (bx, by, bw) in box.items():
        d = graph.nodes[n]
        typ = str(d.get("type", "data"))
        rx = 3 if typ == "stage" else 13
        body.append(f'<g class="node node-{escape(typ)}"><rect x="{bx:.1f}" y="{by:.1f}" width="{bw:.1f}" '
                    f'height="26" rx="{rx}"/><text x="{bx + pad:.1f}" y="{by + 17:.1f}">'
                    f'{escape(_label(n, d))}</text><title>{escape(typ)}: {escape(str(n))}</title></g>')
    return _svg(x0, h, body, "lineage graph: dependencies flow left to right", "lineage")
