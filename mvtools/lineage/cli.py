"""``mvtools lineage``: the command-line view of :mod:`mvtools.lineage`.

``add_parser(subparsers)`` registers the subcommand on the main CLI (:mod:`mvtools.cli` calls
it; this module never imports :mod:`mvtools.cli`). ``python -m mvtools.lineage ...`` runs it
standalone with the same error conventions (:mod:`mvtools.lineage.__main__`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvtools.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from mvtools.lineage.queries import Lineage

FORMATS = ("text", "json", "dot", "mermaid", "svg")
HELP = "the DVC pipeline lineage graph: queries, impact and exports"


def _configure(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("node", nargs="?", metavar="NODE",
                    help="a stage (train, sub/dvc.yaml:train, name@key, a foreach group; "
                         "resolved from the current directory as dvc dag does), a path, a "
                         "params key (params.yaml:train.lr) or a model name; shows its "
                         "upstream and downstream")
    direction = sp.add_mutually_exclusive_group()
    direction.add_argument("--upstream", action="store_true",
                           help="only what NODE is derived from")
    direction.add_argument("--downstream", action="store_true",
                           help="only what is derived from NODE")
    sp.add_argument("--impact", metavar="PATH",
                    help="list the stages and models (names, registered versions) that change "
                         "when PATH (a file, directory, params key, stage or model) changes")
    sp.add_argument("--collapse", action="store_true",
                    help="fold each foreach/matrix expansion into one node")
    sp.add_argument("--format", choices=FORMATS, default=None, help="output format (default: text)")
    sp.add_argument("--json", action="store_true", help="same as --format json")
    model = sp.add_argument("--model", metavar="NAME[@VERSION]",
                            help="lineage recorded for a registered model version")
    from mvtools.completion import specs

    setattr(model, "completer", specs)  # shell completion of model names and versions
    sp.add_argument("--diff", nargs=2, metavar=("A", "B"),
                    help="compare the lineage of two model versions")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``lineage`` on an argparse subparsers object."""
    from mvtools.clihelp import epilog

    sp = subparsers.add_parser("lineage", help=HELP, description=HELP, epilog=epilog("lineage"))
    _configure(sp)
    sp.set_defaults(func=run, run=run)
    return sp


def _repo_root(start: Path) -> Path:
    """The DVC project ``start`` is in, as ``dvc dag`` run there finds it (the nearest
    directory holding ``.dvc/``), else the git root. A git root that is no DVC project but
    holds DVC subrepos (``dvc init --subdir``) has no pipeline of its own: DVC refuses to
    run there, and so does this, naming the projects."""
    from mvtools.dvcroots import find_project_root, subrepos

    start = start.resolve()
    found = find_project_root(start)
    if found is not None:
        return found
    top = next((p for p in (start, *start.parents) if (p / ".git").exists()), start)
    subs = subrepos(top)
    if subs:
        first = os.path.relpath(top / subs[0], start)
        raise UsageError(f"{start}: not inside a DVC project; the DVC projects here are "
                         f"{', '.join(s + '/' for s in subs)} (each its own, as dvc dag sees it); "
                         f"run: cd {shlex.quote(first)} && mvtools lineage")
    return top


def _here(root: Path, cwd: Path) -> str:
    """The current directory relative to the repo root ('' at the root): targets resolve
    from it as DVC resolves them."""
    try:
        rel = os.path.relpath(cwd, root).replace(os.sep, "/")
    except ValueError:
        return ""
    return "" if rel == "." or rel.startswith("../") else rel


def _model_lineage(args: argparse.Namespace, fmt: str) -> int:
    """Per-version lineage: the upstream snapshot the ledger recorded at registration."""
    import json

    from mvtools.registry import Registry

    if fmt not in ("text", "json"):
        raise UsageError("--model prints text or json")
    reg = Registry(getattr(args, "repo", None) or ".")
    if args.diff:
        if "@" in args.model:
            raise UsageError("with --diff A B, pass --model NAME without a version")
        doc = reg.lineage_diff(args.model, args.diff[0], args.diff[1])
        if fmt == "json":
            print(json.dumps(doc, indent=2))
            return 0
        from mvtools.ui import render_lineage_diff

        print(render_lineage_diff(args.model, doc))
        return 0
    doc = reg.lineage_snapshot(args.model)
    if fmt == "json":
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{doc['model']} {doc['version']}  ({doc['path']}, sha256 {doc['sha256'][:12]})")
    if doc["stage"]:
        print(f"  produced by stage {doc['stage']} ({doc['dvc_yaml']})")
    for path, h in doc["deps"].items():
        print(f"  dep    {path}  {h}")
    for key, value in doc["params"].items():
        print(f"  param  {key} = {value}")
    for sid, snap in doc["upstream"].items():  # every stage upstream of it (mvtools.upstream)
        print(f"  upstream stage {sid}: " + ", ".join([*snap["deps"], *snap["params"]]))
    return 0


def run(args: argparse.Namespace) -> int:
    fmt = "json" if getattr(args, "json", False) else (args.format or "text")
    if args.json and args.format not in (None, "json"):
        raise UsageError("--json conflicts with --format " + args.format)
    if args.diff and not args.model:
        raise UsageError("--diff A B needs --model NAME")
    if args.model:
        return _model_lineage(args, fmt)
    if (args.upstream or args.downstream) and not args.node:
        raise UsageError("--upstream/--downstream need a NODE")
    if args.impact is not None and (args.node or args.upstream or args.downstream):
        raise UsageError("--impact takes no NODE, --upstream or --downstream")
    if args.impact is not None and fmt not in ("text", "json"):
        raise UsageError("--impact prints text or json")

    from mvtools.lineage import build_lineage

    cwd = Path(getattr(args, "repo", None) or ".").resolve()
    root = _repo_root(cwd)
    lin = build_lineage(root)
    if args.impact is not None:
        return _impact(args, fmt, lin, root, cwd)
    return _view(args, fmt, lin, root, cwd)


def _impact(args: argparse.Namespace, fmt: str, lin: Lineage, root: Path, cwd: Path) -> int:
    """``--impact PATH``: the stages and models downstream of PATH."""
    here = _here(root, cwd)
    if (not lin.targets(args.impact, here) and not (cwd / args.impact).exists()
            and ":" not in args.impact):
        raise UsageError(f"{args.impact}: no such file, and no pipeline node or model of that name")
    result = lin.impact(args.impact, here)
    if fmt == "json":
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        stages, models = result["stages"], result["models"]
        if not stages and not models:
            print(f"nothing in the pipeline depends on {args.impact}")
        else:
            print(f"changing {args.impact} affects {len(stages)} stage(s) and "
                  f"{len(models)} model(s)")
            for s in stages:
                print(f"  stage {s}")
            for m in models:
                versions = ", ".join(m["versions"]) or "no versions registered"
                print(f"  model {m['name']} ({m['path']}): {versions}")
    return 0


def _view(args: argparse.Namespace, fmt: str, lin: Lineage, root: Path, cwd: Path) -> int:
    """The graph, or NODE's part of it, optionally collapsed, in the chosen format."""
    from mvtools.lineage import Lineage, to_dot, to_json, to_mermaid, to_svg, to_text

    view = lin
    if args.node:
        here = _here(root, cwd)
        if args.upstream:
            g = lin.upstream(args.node, here)
        elif args.downstream:
            g = lin.downstream(args.node, here)
        else:
            g = lin.subgraph(args.node, here)
        view = Lineage(g, root, lin._templates)
    if args.collapse:
        view = view.collapse()
    render = {"text": to_text, "json": to_json, "dot": to_dot, "mermaid": to_mermaid,
              "svg": to_svg}[fmt]
    out = render(view.graph)
    sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return 0
