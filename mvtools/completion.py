"""Shell completion for bash, zsh and fish, through argcomplete (docs/completion.md).

``mvtools completion SHELL`` prints argcomplete's script for that shell; the script runs
``mvtools`` with ``_ARGCOMPLETE=1`` and the command line in ``COMP_LINE``/``COMP_POINT``, and
:func:`complete` (called by ``mvtools.cli.main`` before anything else) answers from the parser
and the completers below: model names, versions, stages, environments and git remotes read
from the work tree (mvtools.yaml, dvc.yaml, the ledgers) with plain YAML, never DVC or
networkx. A completer that cannot read the registry offers nothing rather than failing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

SHELLS = ("bash", "zsh", "fish")


def cmd_completion(args: argparse.Namespace) -> int:
    import argcomplete

    sys.stdout.write(argcomplete.shellcode(["mvtools"], shell=args.shell))
    return 0


def complete(parser: argparse.ArgumentParser) -> None:
    """Answer a completion request from the shell script and exit; a no-op otherwise."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete

    argcomplete.autocomplete(parser, always_complete_options=False)


def _safe(fn: Callable[[str, argparse.Namespace], list[str]]) -> Callable[..., list[str]]:
    """A completer never fails the shell: an unreadable registry completes nothing."""
    def completer(prefix: str = "", parsed_args: argparse.Namespace | None = None, **_: Any) -> list[str]:
        try:
            return [c for c in fn(prefix, parsed_args or argparse.Namespace()) if c.startswith(prefix)]
        except Exception:  # noqa: BLE001 - completion must not print a traceback into the shell
            return []
    completer.__name__ = fn.__name__
    return completer


def _root(ns: argparse.Namespace) -> Path:
    start = Path(getattr(ns, "repo", None) or ".").resolve()
    return next((p for p in (start, *start.parents) if (p / ".git").exists()), start)


def _config(ns: argparse.Namespace) -> Any:
    """mvtools.yaml only: the dvc.yaml files are not parsed on Tab (their registered models
    have ledgers, which name them)."""
    from mvtools.config import load_config

    return load_config(_root(ns), with_dvc=False)


def _model_names(ns: argparse.Namespace) -> list[str]:
    from mvtools.ledger import ledger_files, model_of_ledger

    cfg = _config(ns)
    names = set(cfg.models)
    names.update(model_of_ledger(cfg.registry_dir, f) for f in ledger_files(cfg.root, cfg.registry_dir))
    return sorted(names)


def _version_list(ns: argparse.Namespace, name: str) -> list[str]:
    """The registered versions of ``name``, newest first, then ``latest``."""
    from mvtools.yamlio import load_yaml, read_regular

    cfg = _config(ns)
    rel = cfg.ledger_path(name)
    doc = load_yaml(read_regular(cfg.root / rel, rel), rel, yaml12=False) or {}
    events = doc.get("events", []) if isinstance(doc, dict) else doc
    seen = [str(ev["version"]) for ev in events if isinstance(ev, dict) and ev.get("event") == "register"
            and ev.get("version")]
    return [*reversed(dict.fromkeys(seen)), "latest"]


def _stage_list(ns: argparse.Namespace) -> list[str]:
    return list(_config(ns).stages)


@_safe
def models(prefix: str, ns: argparse.Namespace) -> list[str]:
    return _model_names(ns)


@_safe
def versions(prefix: str, ns: argparse.Namespace) -> list[str]:
    return _version_list(ns, ns.name)


@_safe
def stages(prefix: str, ns: argparse.Namespace) -> list[str]:
    return _stage_list(ns)


@_safe
def versions_or_stages(prefix: str, ns: argparse.Namespace) -> list[str]:
    return [*_version_list(ns, ns.name), *_stage_list(ns)]


@_safe
def environments(prefix: str, ns: argparse.Namespace) -> list[str]:
    return sorted(_config(ns).environments)


@_safe
def specs(prefix: str, ns: argparse.Namespace) -> list[str]:
    """NAME, then NAME@VERSION once the prefix holds ``@`` (``NAME#STAGE`` never reaches a
    completer: argcomplete's lexer reads ``#`` as the start of a comment)."""
    for sep in ("@", "#"):
        if sep in prefix:
            name = prefix.split(sep, 1)[0]
            rest = _version_list(ns, name) if sep == "@" else _stage_list(ns)
            return [f"{name}{sep}{r}" for r in rest]
    return _model_names(ns)


@_safe
def remotes(prefix: str, ns: argparse.Namespace) -> list[str]:
    out = subprocess.run(["git", "-C", str(_root(ns)), "remote"], capture_output=True, text=True, timeout=5)
    return out.stdout.split()
