"""``python -m mvtools.lineage [options]``: the same as ``mvtools lineage [options]``.

The standalone entry point runs the main CLI (its error conventions and exit codes); it
lives here, outside :mod:`mvtools.lineage.cli`, so that the lineage command module never
imports :mod:`mvtools.cli`, which imports it.
"""

from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from mvtools.cli import main as cli_main

    rest = list(sys.argv[1:] if argv is None else argv)
    front: list[str] = []
    while "-C" in rest[:-1]:  # `-C PATH` belongs before the subcommand in the main CLI
        i = rest.index("-C")
        front += rest[i:i + 2]
        del rest[i:i + 2]
    return cli_main([*front, "lineage", *rest])


if __name__ == "__main__":
    raise SystemExit(main())
