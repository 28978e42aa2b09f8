"""Render the :class:`~mvtools.report.feed.Feed` to a static site with Jinja2 templates
(``mvtools/report/templates/``) and write it: every page self-contained (stylesheet, script
and SVG inline, no network), links relative so it works from ``file://``, as a CI artifact
and on GitHub Pages.

The site is built in a fresh folder beside DIR and put in DIR's place at the end: a failure
leaves the previous report (or nothing) and never half a site. DIR is replaced only when it
is absent, empty or a report written before (it holds the marker file)."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mvtools import __version__
from mvtools.errors import UsageError
from mvtools.report import svg
from mvtools.report.feed import Feed, ModelPage, number

MARKER = ".mvtools-report"
TEMPLATES = Path(__file__).parent / "templates"


def _env() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    env.filters["short"] = lambda s, n=12: (s or "")[:n]
    env.filters["value"] = _value
    env.filters["signed"] = lambda v: "" if v is None else _num(v) if v < 0 else "+" + _num(v)
    env.filters["size"] = _size
    env.filters["recommendation"] = _recommendation
    env.filters["sides"] = lambda sides, c: ", ".join(c.a if s == "a" else c.b for s in sides)  # "a" -> A's version
    return env


def _num(v: Any) -> str:
    if isinstance(v, float):
        return "NaN" if math.isnan(v) else ("∞" if v > 0 else "-∞") if math.isinf(v) else f"{v:.6g}"
    return "" if v is None else str(v)


def _value(v: Any) -> str:
    """A params or metrics value as text: numbers as _num, structures as compact JSON."""
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, default=str, sort_keys=True)
    return "–" if v is None else _num(v) if isinstance(v, float) else str(v)


def _size(n: int | None) -> str:
    if n is None:
        return "–"
    f = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if f < 1024 or unit == "GB":
            return f"{f:.0f} {unit}" if unit == "B" else f"{f:.1f} {unit}"
        f /= 1024
    return str(n)


def _recommendation(rec: str, a: str, b: str) -> str:
    return {"RECOMMEND_B": f"recommend {b} (the candidate)", "RECOMMEND_A": f"recommend {a} (keep the baseline)",
            "SIMILAR_PERFORMANCE": "similar performance", "NO_SHARED_METRICS": "no shared metric: no recommendation"
            }.get(rec, rec)


def _charts(m: ModelPage) -> list[tuple[str, Any]]:
    marks: dict[str, str] = {}
    for stage, v in m.stages.items():
        marks[v] = f"{marks[v]}, {stage}" if v in marks else stage
    marks.update({r.version: "archived" for r in m.versions if r.archived})
    out = []
    for name in m.metric_names:
        pts = [(r.version, r.metrics.get(name)) for r in m.versions]
        if any(number(v) is not None for _, v in pts):
            out.append((name, svg.metric_chart(name, pts, marks)))
    return out


def pages(feed: Feed, generated: str) -> dict[str, str]:
    """Every page's path in the site and its HTML."""
    env = _env()
    common = {"generated": generated, "mvtools_version": __version__, "feed": feed}
    out = {"index.html": env.get_template("index.html.j2").render(root="", **common)}
    for m in feed.models:
        out[f"models/{m.slug}.html"] = env.get_template("model.html.j2").render(
            root="../", m=m, charts=_charts(m), **common)
        out[f"models/{m.slug}-compare.html"] = env.get_template("compare.html.j2").render(root="../", m=m, **common)
    out["timeline.html"] = env.get_template("timeline.html.j2").render(
        root="", strip=svg.timeline_strip(feed.timeline, [m.name for m in feed.models]),
        kinds=sorted({e["kind"] for e in feed.timeline}), **common)
    graph = svg.lineage_graph(feed.lineage) if feed.lineage is not None else None
    out["lineage.html"] = env.get_template("lineage.html.j2").render(root="", graph=graph, **common)
    out["verify.html"] = env.get_template("verify.html.j2").render(root="", **common)
    return out


def _replaceable(out: Path) -> bool:
    return not out.exists() or (out.is_dir() and (not any(out.iterdir()) or (out / MARKER).is_file()))


def _foreign(out: Path) -> Path | None:
    """A file or folder in a report folder that no report writes (a CNAME, a checkout's .git):
    replacing the folder would delete it."""
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out)
        ours = (rel.name in (MARKER, ".nojekyll") and len(rel.parts) == 1) or rel.parts == ("models",) or (
            p.suffix == ".html" and p.is_file() and len(rel.parts) <= 2 and rel.parts[0] in (rel.name, "models"))
        if not ours or p.is_symlink():
            return p
    return None


def write_site(feed: Feed, out: Path) -> list[Path]:
    """Write the site to ``out`` (see the module docstring); the files written."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is a file; choose a folder with -o")
    if not _replaceable(out):
        raise UsageError(f"{out}: exists and is not an mvtools report (no {MARKER} in it); "
                         f"choose another folder with -o")
    foreign = _foreign(out) if out.is_dir() else None
    if foreign is not None:
        raise UsageError(f"{foreign}: not written by mvtools report, and replacing {out.name}/ would delete it; "
                         f"move it, or choose another folder with -o")
    if not out.parent.is_dir():
        missing = next(p for p in reversed(out.parents) if not p.is_dir())
        raise UsageError(f"{missing}: {'not a directory' if missing.exists() else 'no such directory'}")
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    site = pages(feed, generated)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise UsageError(f"{out.parent}: cannot write the report there ({exc.strerror})") from None
    try:
        for rel, html in site.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_text(html, encoding="utf-8")
        (tmp / ".nojekyll").write_text("")  # GitHub Pages: serve the files as they are
        (tmp / MARKER).write_text(f"written by mvtools {__version__} report; replaced by the next one\n")
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide it from a web server
        _swap(tmp, out)
    except OSError as exc:  # a full disk, a folder made read-only meanwhile: the old report stays
        shutil.rmtree(tmp, ignore_errors=True)
        raise UsageError(f"{out}: cannot write the report ({exc.strerror}); the previous one, if any, "
                         "is left as it was") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / rel for rel in site]


def _swap(new: Path, out: Path) -> None:
    """Put the folder ``new`` in ``out``'s place; if that fails, the previous ``out`` is put back."""
    if not out.exists():
        new.rename(out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.rename(old)
    try:
        new.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)
