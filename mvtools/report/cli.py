"""``mvtools report [-o DIR] [--open]``: the argparse wiring, registered on the main CLI by
``add_parser(subparsers)`` (as :mod:`mvtools.lineage.cli`); this module never imports
:mod:`mvtools.cli`."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from mvtools.report import DEFAULT_DIR

HELP = "write the registry as a static HTML site (models, versions, charts, timeline, compare, lineage, verify)"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from mvtools.clihelp import epilog

    sp = subparsers.add_parser("report", help=HELP, description=HELP + "; it works offline, from file://, "
                               "as a CI artifact or on GitHub Pages", epilog=epilog("report"))
    sp.add_argument("-o", "--output", metavar="DIR", default=DEFAULT_DIR,
                    help="the folder to write; a relative DIR is taken from the current folder (from PATH "
                         "with -C PATH, as git -C); a report written there before is replaced")
    sp.add_argument("--open", action="store_true", help="open DIR/index.html in the web browser afterwards")
    sp.add_argument("--no-verify", action="store_true", help="do not run mvtools verify for the report's status")
    sp.add_argument("--json", action="store_true", help="print one JSON document")
    sp.set_defaults(func=run)
    return sp


def run(args: argparse.Namespace) -> int:
    from mvtools.registry import Registry
    from mvtools.report import write_report

    base = getattr(args, "repo", None) or "."
    out = Path(base, os.path.expanduser(args.output))  # an absolute -o stays as it is
    res = write_report(Registry(base), out, verify=not args.no_verify)
    if args.json:
        print(json.dumps(res.to_json(), indent=2))
    else:
        status = {None: "not run", True: "ok", False: "problems (see verify.html)"}[res.verify_ok]
        n = len(res.unreadable)
        bad = f", {n} ledger{'' if n == 1 else 's'} that cannot be read (see index.html)" if n else ""
        print(f"mvtools: wrote {res.index} ({res.models} model{'' if res.models == 1 else 's'}, "
              f"{len(res.files)} pages{bad}; verify: {status})")
    if args.open:
        import webbrowser

        webbrowser.open(res.index.as_uri())
    return 0
