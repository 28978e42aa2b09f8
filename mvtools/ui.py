"""Terminal rendering for the read commands (rich is imported only here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mvtools.domain import Comparison


def print_compare(doc: Comparison) -> None:
    from rich.console import Console
    from rich.table import Table

    from mvtools.domain import thaw  # values as JSON shows them: a list metric prints as [..]

    con = Console()
    t = Table(title=f"{doc.model}: {doc.a} (A, baseline) vs {doc.b} (B, candidate)")
    for col in ("metric", "A", "B", "B - A", ""):
        t.add_column(col)
    for name, m in doc.metrics.items():
        delta = "-" if m["delta"] is None else f"{m['delta']:+.6g}"
        style = "green" if m["improved"] else ("red" if m.get("worse") else "")
        mark = "better" if m["improved"] else ("worse" if m.get("worse") else "")
        t.add_row(name, str(thaw(m["a"])), str(thaw(m["b"])), f"[{style}]{delta}[/]" if style else delta,
                  f"[{style}]{mark}[/]" if style else mark)
    con.print(t)
    for k, v in doc.params.items():
        con.print(f"params: {k}: {thaw(v['a'])} -> {thaw(v['b'])}")
    for kind in ("data", "code", "params"):
        for k, v in doc.lineage[kind].items():
            if kind != "params":
                con.print(f"lineage {kind}: {k}: {str(thaw(v['a']))[:12]} -> {str(thaw(v['b']))[:12]}")
    art = doc.artifact
    con.print(f"artifact: {'changed' if art['changed'] else 'identical'} "
              f"({art['size']['a']} -> {art['size']['b']} bytes)")
    con.print(f"similarity {doc.similarity:.3f}, importance {doc.importance:+.6g}, "
              f"recommendation [bold]{doc.recommendation}[/]")
