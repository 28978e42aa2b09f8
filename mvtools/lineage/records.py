"""The vocabulary of dvc.yaml (its keys, the default params file, output flags) and what
the parser hands the graph builder: one record per stage, and the top-level entries of each
dvc.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STAGE_KEYS = frozenset(
    {"cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "vars", "frozen",
     "meta", "desc", "always_changed", "foreach", "do", "matrix"}
)

TOP_KEYS = frozenset({"stages", "vars", "params", "metrics", "plots", "artifacts", "datasets"})

DEFAULT_PARAMS = "params.yaml"

_OUT_FLAGS = ("cache", "persist", "push", "remote", "desc", "type", "labels", "meta",
              "checkpoint", "template", "x", "y", "title", "x_label", "y_label", "header")


@dataclass
class _Stage:
    id: str
    file: str
    name: str | None
    group: str | None
    wdir: str
    cmd: Any
    frozen: bool = False
    always_changed: bool = False
    desc: Any = None
    meta: Any = None
    repo_import: bool = False
    deps: list[tuple[str, str | None]] = field(default_factory=list)
    params: list[tuple[str, str | None]] = field(default_factory=list)
    outs: list[tuple[str, str, dict, str | None]] = field(default_factory=list)
    interp_params: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class _Collected:
    stages: list[_Stage] = field(default_factory=list)
    top_level: list[tuple[str, str, str]] = field(default_factory=list)
    artifacts: list[tuple[str, str, Any, str]] = field(default_factory=list)
    artifact_specs: dict[str, dict] = field(default_factory=dict)  # full name -> resolved entry
