"""The command line: a thin view over the Python API (``mvtools.registry.Registry``).

Errors are one line on stderr (``mvtools: error: ...``) with DESIGN.md's exit codes:
0 ok, 1 a check or hook refused, 2 bad usage or input, 3 internal or I/O error, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence

from mvtools import __version__, ui
from mvtools.errors import MvtoolsError, UsageError

if TYPE_CHECKING:  # the commands import the registry when they run, not at startup
    from mvtools.registry import Registry


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2 too; keep our one-line format
        raise UsageError(message)


def _json_safe(doc: Any) -> Any:
    """JSON has no NaN or Infinity: a non-finite metric is printed as the string "NaN",
    "Infinity" or "-Infinity" (docs/ledger.md), so strict parsers (jq) read the output."""
    if isinstance(doc, float) and not math.isfinite(doc):
        return "NaN" if doc != doc else "Infinity" if doc > 0 else "-Infinity"
    if isinstance(doc, dict):
        return {k: _json_safe(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [_json_safe(v) for v in doc]
    return doc


def _print_json(doc: Any) -> None:
    """``doc``, or a typed API object's ``to_json()`` (mvtools.domain): the same document."""
    if hasattr(doc, "to_json"):
        doc = doc.to_json()
    sys.stdout.write(json.dumps(_json_safe(doc), indent=2, sort_keys=False, default=str, allow_nan=False) + "\n")


def _emit(args: argparse.Namespace, doc: Any, text: str) -> None:
    """One JSON document with --json, else the human text (a renderer's, mvtools.ui), if any."""
    if getattr(args, "json", False):
        _print_json(doc)
    elif text:
        print(text)


def _registry(args: argparse.Namespace) -> Registry:
    from mvtools.registry import Registry

    return Registry(args.repo)


def _errors(lines: Sequence[str]) -> int:
    """Print each cause as a ``mvtools: error:`` line on stderr, after stdout; 1 if any."""
    sys.stdout.flush()
    for line in lines:
        print(f"mvtools: error: {line}", file=sys.stderr)
    return 1 if lines else 0


def cmd_init(args: argparse.Namespace) -> int:
    from mvtools.config import load_config
    from mvtools.gitops import Repo
    from mvtools.install import import_hint, init
    from mvtools.remotes import warn_uncommitted_remote

    done = init(args.repo, scheme=args.scheme, hooks=args.hooks, dvc_root=args.dvc_root)
    hint = import_hint(args.repo)  # a GTO repository: its history is the next step
    print(ui.render_init(done or [], bool(load_config(Repo.discover(args.repo).root).models)) if hint is None
          else ui.render_done(done, "already set up: nothing to do") + "\n" + hint)
    warn_uncommitted_remote(Repo.discover(args.repo))
    return 0


def cmd_install_hooks(args: argparse.Namespace) -> int:
    from mvtools.gitops import Repo
    from mvtools.install import install_hooks

    print(ui.render_done(install_hooks(Repo.discover(args.repo), args.hooks) or [], "hooks already installed"))
    return 0


def cmd_install_merge_driver(args: argparse.Namespace) -> int:
    from mvtools.config import load_config
    from mvtools.gitops import Repo
    from mvtools.install import install_merge_driver

    repo = Repo.discover(args.repo)
    print(ui.render_done(install_merge_driver(repo, load_config(repo.root).registry_dir) or [],
                         "merge driver already set up"))
    return 0


def cmd_uninstall_hooks(args: argparse.Namespace) -> int:
    from mvtools.gitops import Repo
    from mvtools.install import uninstall_hooks

    print(ui.render_done(uninstall_hooks(Repo.discover(args.repo)) or [], "no mvtools hooks installed"))
    return 0


def cmd_hook(args: argparse.Namespace) -> int:
    from mvtools.hooks import run

    return run(args.type, args.hook_args)


def cmd_register(args: argparse.Namespace) -> int:
    ev = _registry(args).register(args.name, path=args.path, bump=args.bump, version=args.version,
                                  message=args.message)
    _emit(args, ev, ui.render_register(ev))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Every model, or one. A model whose ledger cannot be read does not hide the others:
    they are shown, its cause is one `mvtools: error:` line each, and the exit code is 1."""
    from mvtools.reading import RegistryReader  # reading only: not the writers' imports

    res = RegistryReader(args.repo).show(args.name, include_deprecated=args.all)
    doc: dict[str, Any] = {"models": [{k: m[k] for k in ("name", "latest", "versions", "stages")}
                                      for m in res.to_json()["models"]]}
    if res.broken:
        doc["broken"] = [b.to_json() for b in res.broken]
    _emit(args, doc, ui.render_show(res))
    return _errors([b.error for b in res.broken])


def cmd_history(args: argparse.Namespace) -> int:
    res = _registry(args).history(args.name)
    _emit(args, res, ui.render_history(res))
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    res = _registry(args).get(args.spec, args.output)
    _emit(args, res, ui.render_get(res))
    return 0


def cmd_sync_tags(args: argparse.Namespace) -> int:
    res = _registry(args).sync_tags()
    _emit(args, res, ui.render_sync(res))
    # the others were mended; a broken ledger is the user's to repair
    return _errors([m.reason for m in res.skipped])


def cmd_push(args: argparse.Namespace) -> int:
    from mvtools.remotes import warn_uncommitted_remote

    res = (reg := _registry(args)).push(args.remote)
    warn_uncommitted_remote(reg.repo)  # after: a refused push says one thing
    _emit(args, res, ui.render_push(res))
    return 0


def cmd_resolve(args: argparse.Namespace) -> int:
    res = _registry(args).resolve_race(args.remote)
    _emit(args, res, ui.render_resolved(res))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from mvtools.verify import verify

    rep = verify(_registry(args), fetch=args.fetch, policy=args.policy, allow_shallow=args.allow_shallow)
    _emit(args, rep, ui.render_verify(rep))
    return 0 if rep.ok else 1


def cmd_promote(args: argparse.Namespace) -> int:
    ev = _registry(args).promote(args.name, args.version, args.stage, force=args.force, message=args.message)
    _emit(args, ev, ui.render_event(ev))
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    ev = _registry(args).archive(args.name, args.version, message=args.message)
    _emit(args, ev, ui.render_event(ev))
    return 0


def cmd_deprecate(args: argparse.Namespace) -> int:
    ev = _registry(args).deprecate(args.name, message=args.message)
    _emit(args, ev, ui.render_event(ev))
    return 0


def cmd_restore_events(args: argparse.Namespace) -> int:
    res = _registry(args).restore_events(args.name)
    _emit(args, res, ui.render_restored(res))
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    ev = _registry(args).rollback(args.name, args.stage, message=args.message)
    _emit(args, ev, ui.render_rollback(ev))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    doc = _registry(args).compare(args.name, args.a, args.b)
    if args.json:
        _print_json(doc)
    else:
        ui.print_compare(doc)
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from mvtools import deploy

    reg = _registry(args)
    if args.action == "status":
        doc = deploy.status(reg, args.name, args.env)
        full = doc.to_json()
        _emit(args, {k: full[k] for k in ("model", "env", "strategy", "stable", "candidate", "percent")},
              ui.render_deploy_status(doc))
        return 0
    if args.action == "start":
        ev = deploy.start(reg, args.name, args.version, args.env, args.strategy, args.percent, force=args.force)
    elif args.action == "step":
        ev = deploy.step(reg, args.name, args.env, args.by)
    else:
        ev = getattr(deploy, args.action)(reg, args.name, args.env)
    _emit(args, ev, ui.render_deploy(args.action, ev))
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from mvtools import deploy

    ev = deploy.publish(_registry(args), args.spec, args.to)
    _emit(args, ev, ui.render_publish(ev))
    return 0


def cmd_import_gto(args: argparse.Namespace) -> int:
    from mvtools.gto_import import import_gto

    res = import_gto(_registry(args))
    _emit(args, res, ui.render_import_gto(res))
    return 0


def cmd_record_sha256(args: argparse.Namespace) -> int:
    from mvtools.record_sha256 import record_sha256

    res = record_sha256(_registry(args), args.spec)
    _emit(args, res, ui.render_record_sha256(res))
    return 1 if res["failed"] else 0


def cmd_quickstart(args: argparse.Namespace) -> int:
    from mvtools.quickstart import quickstart

    return quickstart(args.dir)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mvtools", description="Git-native model versioning on git, DVC and pre-commit.")
    p.add_argument("--version", action="version", version=f"mvtools {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument("-C", dest="repo", default=".", metavar="PATH", help="run in PATH (default: .)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str, json_flag: bool = False) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(func=func)
        if json_flag:
            sp.add_argument("--json", action="store_true", help="print one JSON document")
        return sp

    _setup_commands(add)
    _registry_commands(add)
    _lifecycle_commands(add)
    _deploy_commands(sub)
    from mvtools.lineage.cli import add_parser as add_lineage_parser

    add_lineage_parser(sub)
    return p


_Add = Callable[..., argparse.ArgumentParser]


def _setup_commands(add: _Add) -> None:
    sp = add("init", cmd_init, "set mvtools up in this git repo (commits nothing)")
    sp.add_argument("--scheme", choices=("semver", "timestamp"), default="semver")
    sp.add_argument("--hooks", choices=("git", "pre-commit", "none"), default="git")
    sp.add_argument("--dvc-root", action="store_true", help="run dvc init at the root even above DVC subrepos")
    sp = add("install-hooks", cmd_install_hooks, "install the commit hooks")
    sp.add_argument("--hooks", choices=("git", "pre-commit"), default="git")
    add("uninstall-hooks", cmd_uninstall_hooks, "remove the commit hooks (yours are restored)")
    add("install-merge-driver", cmd_install_merge_driver, "register the ledger merge driver in this clone")
    sp = add("hook", cmd_hook, "run a hook (called by git or pre-commit)")
    sp.add_argument("type", choices=("pre-commit", "post-commit", "post-rewrite", "pre-push"))
    sp.add_argument("hook_args", nargs="*")
    add("import-gto", cmd_import_gto, "turn an existing GTO-tagged repo into ledger events", True)
    sp = add("record-sha256", cmd_record_sha256, "record the sha256 of versions imported without their bytes", True)
    sp.add_argument("spec", nargs="?", metavar="NAME[@VERSION]")
    sp = add("quickstart", cmd_quickstart, "build a demo repo with two model versions")
    sp.add_argument("dir")


def _registry_commands(add: _Add) -> None:
    sp = add("register", cmd_register, "register the work tree's model as a new version and commit it", True)
    sp.add_argument("name")
    sp.add_argument("--path", help="the model's path (declares the model if it is new)")
    sp.add_argument("--bump", choices=("major", "minor", "patch"))
    sp.add_argument("--version", help="explicit version, e.g. v1.0.0")
    sp.add_argument("-m", "--message")
    sp = add("show", cmd_show, "models, their latest versions and stages", True)
    sp.add_argument("name", nargs="?")
    sp.add_argument("--all", action="store_true", help="include deprecated models")
    sp = add("history", cmd_history, "every event of a model, oldest first", True)
    sp.add_argument("name")
    sp = add("get", cmd_get, "fetch the bytes of NAME, NAME@VERSION or NAME#STAGE (sha256-checked)", True)
    sp.add_argument("spec", metavar="NAME[@VERSION|#STAGE]")
    sp.add_argument("-o", "--output", metavar="PATH")
    sp = add("restore-events", cmd_restore_events, "append again the ledger events a commit dropped (a git revert)",
             True)
    sp.add_argument("name")
    add("sync-tags", cmd_sync_tags, "create missing tags and re-point moved ones from HEAD's ledger", True)
    sp = add("push", cmd_push, "push the branch, its registry tags and the artifacts (DVC remote)", True)
    sp.add_argument("remote", nargs="?")
    sp = add("resolve", cmd_resolve, "rebase unpushed commits on the remote branch, renumbering clashing versions", True)
    sp.add_argument("remote", nargs="?")
    sp = add("verify", cmd_verify, "check ledgers, ids and tags; exit 1 on problems", True)
    sp.add_argument("--policy", action="store_true", help="also check every event against the access policy")
    sp.add_argument("--fetch", action="store_true",
                    help="fetch bytes absent from the DVC cache from the DVC remote; any it cannot fetch is a problem")
    sp.add_argument("--allow-shallow", action="store_true",
                    help="accept a shallow clone: check what is here, list the rest as unchecked")
    sp = add("compare", cmd_compare, "compare baseline A with candidate B and recommend one", True)
    sp.add_argument("name")
    sp.add_argument("a", metavar="A")
    sp.add_argument("b", metavar="B")


def _lifecycle_commands(add: _Add) -> None:
    sp = add("promote", cmd_promote, "assign VERSION of NAME to STAGE (tag NAME#STAGE#N)", True)
    sp.add_argument("name")
    sp.add_argument("version")
    sp.add_argument("stage")
    sp.add_argument("--force", action="store_true", help="allow archived versions and skip promotes_from")
    sp.add_argument("-m", "--message")
    sp = add("archive", cmd_archive, "archive a version (tag NAME@VERSION!)", True)
    sp.add_argument("name")
    sp.add_argument("version")
    sp.add_argument("-m", "--message")
    sp = add("deprecate", cmd_deprecate, "retire a whole model (tag NAME@deprecated)", True)
    sp.add_argument("name")
    sp.add_argument("-m", "--message")
    sp = add("rollback", cmd_rollback, "return STAGE to the version that held it before", True)
    sp.add_argument("name")
    sp.add_argument("--stage", required=True)
    sp.add_argument("-m", "--message")
    sp = add("publish", cmd_publish, "copy NAME@VERSION's files to a URL (local folder, s3://, gs://, ...)", True)
    sp.add_argument("spec", metavar="NAME@VERSION")
    sp.add_argument("--to", required=True, metavar="URL")


def _deploy_commands(sub: Any) -> None:
    dp = sub.add_parser("deploy", help="blue-green and canary deployments per environment",
                        description="blue-green and canary deployments per environment")
    dsub = dp.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    dsub.required = True
    for action, help_ in (("start", "deploy VERSION to ENV"), ("step", "add N points to the canary"),
                          ("promote", "make the canary the stable version"), ("abort", "send all traffic to stable"),
                          ("rollback", "undo the last deployment step"), ("status", "what runs in ENV")):
        a = dsub.add_parser(action, help=help_, description=help_)
        a.set_defaults(func=cmd_deploy)
        a.add_argument("name")
        if action == "start":
            a.add_argument("version")
            a.add_argument("--strategy", choices=("blue-green", "canary"), default="blue-green")
            a.add_argument("--percent", type=int)
            a.add_argument("--force", action="store_true")
        a.add_argument("--env", required=True)
        if action == "step":
            a.add_argument("--by", type=int, required=True)
        a.add_argument("--json", action="store_true")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        if argv[:1] == ["merge-driver"]:
            from mvtools.merge import main as merge_main

            return merge_main(argv[1:])
        if argv[:1] == ["hook"] and len(argv) >= 2 and not argv[1].startswith("-"):
            # the hot path: no parser for the other commands, no optional imports
            from mvtools.hooks import run

            return run(argv[1], argv[2:])
        args = build_parser().parse_args(argv)
        if getattr(args, "func", None) is None and hasattr(args, "run"):
            return int(args.run(args))
        return int(args.func(args))
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


if __name__ == "__main__":
    raise SystemExit(main())
