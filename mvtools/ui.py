"""Terminal rendering for the read commands (rich is imported only here)."""

from __future__ import annotations

from typing import Any


def print_compare(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = Table(title=f"{doc['model']}: {doc['a']} (A, baseline) vs {doc['b']} (B, candidate)")
    for col in ("metric", "A", "B", "B - A", ""):
        t.add_column(col)
    for name, m in doc["metrics"].items():
        delta = "-" if m["delta"] is None else f"{m['delta']:+.6g}"
        style = "green" if m["improved"] else ("red" if m.get("worse") else "")
        mark = "better" if m["improved"] else ("worse" if m.get("worse") else "")
        t.add_row(name, str(m["a"]), str(m["b"]), f"[{style}]{delta}[/]" if style else delta,
                  f"[{style}]{mark}[/]" if style else mark)
    con.print(t)
    for key, label in (("params", "params"),):
        for k, v in doc[key].items():
            con.print(f"{label}: {k}: {v['a']} -> {v['b']}")
    for kind in ("data", "code", "params"):
        for k, v in doc["lineage"][kind].items():
            if kind != "params":
                con.print(f"lineage {kind}: {k}: {str(v['a'])[:12]} -> {str(v['b'])[:12]}")
    art = doc["artifact"]
    con.print(f"artifact: {'changed' if art['changed'] else 'identical'} "
              f"({art['size']['a']} -> {art['size']['b']} bytes)")
    con.print(f"similarity {doc['similarity']:.3f}, importance {doc['importance']:+.6g}, "
              f"recommendation [bold]{doc['recommendation']}[/]")
