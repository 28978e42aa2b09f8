"""Lineage: every dvc.yaml of a repo as one typed networkx graph that agrees with DVC.

Nodes are typed (``stage``, ``data``, ``code``, ``params``, ``model``, ``metrics``,
``plots``) and edges run with the data: dependency -> stage -> output. Stage ids are DVC's
addressing (``train``, ``sub/dvc.yaml:train``, ``name@key``, ``data/raw.dvc``); path nodes
are repo-relative POSIX paths; a params key is ``<params file>:<key>``.

The parser mirrors DVC's own (``dvc/parsing``, ``dvc/repo/graph.py``, ``dvc/repo/trie.py``)
without importing DVC: YAML 1.2 typing, ``vars`` and ``${}`` interpolation, ``foreach``,
``matrix``, ``wdir``, and DVC's edge rule (a dependency that equals, lies inside or contains
an output connects the two stages), computed with a path index instead of pairwise checks.

The public names below are imported on first use: ``mvtools.cli`` imports
:mod:`mvtools.lineage.cli` to register ``mvtools lineage`` and must not pay for the parser.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from mvtools.lineage.build import NODE_TYPES, build_lineage
    from mvtools.lineage.exports import to_dot, to_json, to_mermaid, to_svg, to_text
    from mvtools.lineage.queries import Lineage, stage_edges, stage_for_output

# where each public name lives (and the constants that were public in mvtools/lineage.py)
_HOME = {
    "build_lineage": "build", "NODE_TYPES": "build", "CODE_SUFFIXES": "graph",
    "CODE_DIRS": "graph", "Lineage": "queries", "stage_edges": "queries",
    "stage_for_output": "queries", "to_dot": "exports", "to_json": "exports",
    "to_mermaid": "exports", "to_svg": "exports", "to_text": "exports",
    "STAGE_KEYS": "records", "TOP_KEYS": "records", "DEFAULT_PARAMS": "records",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})


__all__ = [
    "Lineage", "NODE_TYPES", "build_lineage", "stage_edges", "stage_for_output",
    "to_dot", "to_json", "to_mermaid", "to_svg", "to_text",
]
