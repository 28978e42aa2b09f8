"""The console script's entry point. ``mvtools hook TYPE`` runs on every commit: it starts
here without the command line's parser, renderers and completion; every other command goes
to :func:`mvtools.cli.main`. Both report errors through :func:`mvtools.errors.guarded`."""

from __future__ import annotations

import sys
from typing import Sequence

from mvtools.errors import guarded


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["hook"] and len(args) >= 2 and not args[1].startswith("-"):
        def hook() -> int:
            from mvtools.hooks import run

            return run(args[1], args[2:])

        return guarded(hook, debug="--debug" in args)
    from mvtools.cli import main as cli_main

    return cli_main(args)
