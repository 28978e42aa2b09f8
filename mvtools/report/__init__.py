"""``mvtools report``: the registry as a static, self-contained HTML site.

:func:`write_report` reads the registry once through the typed API (:mod:`mvtools.report.feed`)
and writes ``DIR/index.html`` and its pages (:mod:`mvtools.report.render`, Jinja2 templates in
``templates/``, charts and the lineage graph as inline SVG from :mod:`mvtools.report.svg`).
The pages load nothing over the network: they work from ``file://``, as a CI artifact and on
GitHub Pages (docs/report.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mvtools.registry import Registry

DEFAULT_DIR = "mvtools-report"


@dataclass(frozen=True)
class Written:
    """What ``mvtools report`` wrote: the site's folder, its entry page and every file."""

    directory: Path
    index: Path
    files: tuple[Path, ...]
    models: int
    verify_ok: bool | None  # None: verify did not run
    unreadable: tuple[str, ...] = ()  # models whose ledger cannot be read (listed on the index)

    def to_json(self) -> dict[str, object]:
        return {"directory": str(self.directory), "index": str(self.index), "files": [str(f) for f in self.files],
                "models": self.models, "verify_ok": self.verify_ok, "unreadable": list(self.unreadable)}


def write_report(reg: Registry, out: str | Path = DEFAULT_DIR, *, verify: bool = True) -> Written:
    """Write the report of ``reg`` to the folder ``out`` (replacing a report written there
    before; any other non-empty folder is refused) and say what was written."""
    from mvtools.report.feed import collect
    from mvtools.report.render import write_site

    out = Path(out).resolve()  # a symlink is followed: the report replaces what it points to
    feed = collect(reg, verify=verify)
    files = write_site(feed, out)
    return Written(out, out / "index.html", tuple(files), len(feed.models),
                   None if feed.verify is None else feed.verify.ok, tuple(name for name, _ in feed.broken))


__all__ = ["DEFAULT_DIR", "Written", "write_report"]
