"""The command line: a thin view over the Python API (``mvtools.registry.Registry``).

Errors are one line on stderr (``mvtools: error: ...``) with DESIGN.md's exit codes:
0 ok, 1 a check or hook refused, 2 bad usage or input, 3 internal or I/O error, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from mvtools import ui
from mvtools.errors import UsageError, guarded

if TYPE_CHECKING:  # the commands import the registry when they run, not at startup
    from mvtools.registry import Registry


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
    if args.environments:
        return _show_environments(args)
    from mvtools.reading import RegistryReader  # reading only: not the writers' imports

    res = RegistryReader(args.repo).show(args.name, include_deprecated=args.all)
    doc: dict[str, Any] = {"models": [{k: m[k] for k in ("name", "latest", "versions", "stages")}
                                      for m in res.to_json()["models"]]}
    if res.broken:
        doc["broken"] = [b.to_json() for b in res.broken]
    _emit(args, doc, ui.render_show(res, ui.width()))
    return _errors([b.error for b in res.broken])


def _show_environments(args: argparse.Namespace) -> int:
    """``show --environments``: what runs where (mvtools.deploy.environments)."""
    from mvtools import deploy

    envs, broken = deploy.environments(_registry(args), args.name)
    doc: dict[str, Any] = {"environments": {e: [st.to_json() for st in sts] for e, sts in envs.items()}}
    if broken:
        doc["broken"] = [{"name": n, "error": str(e)} for n, e in broken.items()]
    _emit(args, doc, ui.render_environments(envs, ui.width()))
    return _errors([str(e) for e in broken.values()])


def cmd_history(args: argparse.Namespace) -> int:
    res = _registry(args).history(args.name)
    _emit(args, res, ui.render_history(res, ui.width()))
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

    return quickstart(args.dir, getattr(args, "started_in", None))


@contextlib.contextmanager
def _entered(args: argparse.Namespace) -> Iterator[None]:
    """``-C PATH`` runs as if started in PATH, as ``git -C`` does: relative paths (``get -o``,
    ``get``'s default output, ``publish --to``) resolve against PATH. ``--json``: no progress bar."""
    from mvtools import progress

    progress.quiet(getattr(args, "json", False))
    if args.repo == ".":
        yield
        return
    cwd = os.getcwd()
    try:
        os.chdir(args.repo)
    except OSError as exc:
        raise UsageError(f"-C {args.repo}: {(exc.strerror or str(exc)).lower()}") from None
    args.repo, args.started_in = ".", cwd  # quickstart's hint names DIR from where the user is
    try:
        yield
    finally:
        os.chdir(cwd)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return guarded(lambda: _dispatch(argv), debug="--debug" in argv)


def _dispatch(argv: list[str]) -> int:
    from mvtools.cliparser import build_parser  # not on the hooks' path (mvtools.entry)

    if "_ARGCOMPLETE" in os.environ:  # a shell's completion request (mvtools.completion)
        from mvtools.completion import complete

        complete(build_parser())
    if argv[:1] == ["merge-driver"]:
        from mvtools.merge import main as merge_main

        return merge_main(argv[1:])
    args = build_parser().parse_args(argv)
    with _entered(args):
        if getattr(args, "func", None) is None and hasattr(args, "run"):
            return int(args.run(args))
        return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
