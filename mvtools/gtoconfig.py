"""GTO's repository config, ``.gto`` at the repository root, as GTO reads it (gto/config.py).

Only the keys that change what a registry means are read: ``stages`` (when given, GTO ignores
stage tags outside the list and refuses to assign them) and ``types``. Other keys (emojis,
enrichments) are GTO's own business. A missing file, or a key left out, means "any".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mvtools.errors import ConfigError
from mvtools.yamlio import load_yaml

FILE = ".gto"
_NAME_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9_/-]*[a-zA-Z0-9])?$")  # gto/constants.py `name`


@dataclass(frozen=True)
class GtoConfig:
    """The stages and types a repository's .gto file allows (None: any)."""

    stages: tuple[str, ...] | None = None  # None: any stage name
    types: tuple[str, ...] | None = None

    def allows_stage(self, stage: str) -> bool:
        return self.stages is None or stage in self.stages


def _names(doc: dict[str, object], key: str, source: str) -> tuple[str, ...] | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and _NAME_RE.match(v) for v in value):
        raise ConfigError(f"{source}: {key}: must be a list of names (letters, digits, -, _, /)")
    return tuple(value)


def parse_gto_config(text: str | bytes, source: str = FILE) -> GtoConfig:
    doc = load_yaml(text, source)
    if doc is None:
        return GtoConfig()
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: must be a mapping (stages:, types:)")
    return GtoConfig(stages=_names(doc, "stages", source), types=_names(doc, "types", source))


def read_gto_config(root: Path) -> GtoConfig:
    """The ``.gto`` of the working tree at ``root`` (an empty config when there is none)."""
    path = root / FILE
    if not path.is_file():
        return GtoConfig()
    return parse_gto_config(path.read_bytes(), str(FILE))
