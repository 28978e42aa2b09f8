"""The console script's entry point. ``mvtools hook TYPE`` runs on every commit: it starts
here without the command line's parser, renderers and completion; every other command goes
to :func:`mvtools.cli.main`. Both report errors through :func:`mvtools.errors.guarded`."""

from __future__ import annotations

import os
import sys
from typing import Sequence

from mvtools.errors import guarded

# Hooks whose process ends without the interpreter's teardown (about a tenth of a registering
# commit's Python time goes to freeing some 130 modules): they leave nothing for it to do,
# every file they write is closed and every git process they start waited for. Not pre-push
# or post-rewrite, which can run DVC (threads, atexit handlers).
_QUICK_EXIT = ("pre-commit", "post-commit")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["hook"] and len(args) >= 2 and not args[1].startswith("-"):
        def hook() -> int:
            from mvtools.hooks import run

            return run(args[1], args[2:])

        rc = guarded(hook, debug="--debug" in args)
        if argv is None and args[1] in _QUICK_EXIT:  # the process's own entry, not a caller's
            _quick_exit(rc)
        return rc
    from mvtools.cli import main as cli_main

    return cli_main(args)


def _quick_exit(rc: int) -> None:
    for stream in (sys.stdout, sys.stderr):  # each on its own: a broken stdout still lets stderr out
        try:
            if stream is not None:  # None: Python started with that descriptor closed
                stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: what was said is lost either way
            pass
    os._exit(rc)
