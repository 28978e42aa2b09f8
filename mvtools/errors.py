"""The exception hierarchy. Each error carries the exit code DESIGN.md gives it.

The CLI prints ``mvtools: error: <message>`` (one line) and exits with ``exit_code``.
"""

from __future__ import annotations

import sys
from typing import Callable


class MvtoolsError(Exception):
    """Base class: an expected failure with a one-line message."""

    exit_code = 3

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # one line, always
        return " ".join(self.message.split("\n"))


class CheckFailed(MvtoolsError):
    """A check found problems, or a hook, gate or policy refused (exit 1)."""

    exit_code = 1


class UsageError(MvtoolsError):
    """Bad usage or bad input; nothing was written (exit 2)."""

    exit_code = 2


class NotFound(UsageError):
    """An unknown model, version, stage or path (exit 2)."""


class ConfigError(UsageError):
    """mvtools.yaml, dvc.yaml or a ledger that cannot be read as valid input (exit 2)."""


class InternalError(MvtoolsError):
    """An internal or I/O error (exit 3)."""

    exit_code = 3


class RemoteError(MvtoolsError):
    """A git or DVC remote failed or refused for a reason other than a check (unreachable,
    permission, a push that kept losing the race); nothing was lost. An I/O error in DESIGN.md's
    terms (exit 3), never a user's mistake; its cause is on the line."""

    exit_code = 3


def guarded(run: Callable[[], int], debug: bool = False) -> int:
    """Run a command and turn what it raises into DESIGN.md's exit codes, with one
    ``mvtools: error:`` line on stderr (a traceback too with ``--debug``)."""
    try:
        return run()
    except MvtoolsError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        print(f"mvtools: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mvtools: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except SystemExit as exc:  # --help / --version
        if isinstance(exc.code, str):
            print(f"mvtools: error: {exc.code}", file=sys.stderr)
            return 2
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if debug:
            import traceback

            traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"mvtools: error: internal error: {type(exc).__name__}: {first} (rerun with --debug)",
              file=sys.stderr)
        return 3
