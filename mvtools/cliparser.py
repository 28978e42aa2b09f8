"""The command line's argparse wiring: every command, argument and option of ``mvtools``.

:mod:`mvtools.cli` holds the ``cmd_*`` functions and ``main``; this module builds the parser
that dispatches to them (imported when ``build_parser`` runs, so the two modules do not
import each other at load time).
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, NoReturn

from mvtools import __version__
from mvtools.errors import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2 too; keep our one-line format
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    from mvtools import cli

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
    from mvtools import cli

    sp = add("init", cli.cmd_init, "set mvtools up in this git repo (commits nothing)")
    sp.add_argument("--scheme", choices=("semver", "timestamp"), default="semver")
    sp.add_argument("--hooks", choices=("git", "pre-commit", "none"), default="git")
    sp.add_argument("--dvc-root", action="store_true", help="run dvc init at the root even above DVC subrepos")
    sp = add("install-hooks", cli.cmd_install_hooks, "install the commit hooks")
    sp.add_argument("--hooks", choices=("git", "pre-commit"), default="git")
    add("uninstall-hooks", cli.cmd_uninstall_hooks, "remove the commit hooks (yours are restored)")
    add("install-merge-driver", cli.cmd_install_merge_driver, "register the ledger merge driver in this clone")
    sp = add("hook", cli.cmd_hook, "run a hook (called by git or pre-commit)")
    sp.add_argument("type", choices=("pre-commit", "post-commit", "post-rewrite", "pre-push"))
    sp.add_argument("hook_args", nargs="*")
    add("import-gto", cli.cmd_import_gto, "turn an existing GTO-tagged repo into ledger events", True)
    sp = add("record-sha256", cli.cmd_record_sha256, "record the sha256 of versions imported without their bytes", True)
    sp.add_argument("spec", nargs="?", metavar="NAME[@VERSION]")
    sp = add("quickstart", cli.cmd_quickstart, "build a demo repo with two model versions")
    sp.add_argument("dir")


def _registry_commands(add: _Add) -> None:
    from mvtools import cli

    sp = add("register", cli.cmd_register, "register the work tree's model as a new version and commit it", True)
    sp.add_argument("name")
    sp.add_argument("--path", help="the model's path (declares the model if it is new)")
    sp.add_argument("--bump", choices=("major", "minor", "patch"))
    sp.add_argument("--version", help="explicit version, e.g. v1.0.0")
    sp.add_argument("-m", "--message")
    sp = add("show", cli.cmd_show, "models, their latest versions and stages", True)
    sp.add_argument("name", nargs="?")
    sp.add_argument("--all", action="store_true", help="include deprecated models")
    sp = add("history", cli.cmd_history, "every event of a model, oldest first", True)
    sp.add_argument("name")
    sp = add("get", cli.cmd_get, "fetch the bytes of NAME, NAME@VERSION or NAME#STAGE (sha256-checked)", True)
    sp.add_argument("spec", metavar="NAME[@VERSION|#STAGE]")
    sp.add_argument("-o", "--output", metavar="PATH")
    sp = add("restore-events", cli.cmd_restore_events, "append again the ledger events a commit dropped (a git revert)",
             True)
    sp.add_argument("name")
    add("sync-tags", cli.cmd_sync_tags, "create missing tags and re-point moved ones from HEAD's ledger", True)
    sp = add("push", cli.cmd_push, "push the branch, its registry tags and the artifacts (DVC remote)", True)
    sp.add_argument("remote", nargs="?")
    sp = add("resolve", cli.cmd_resolve, "rebase unpushed commits on the remote branch, renumbering clashing versions", True)
    sp.add_argument("remote", nargs="?")
    sp = add("verify", cli.cmd_verify, "check ledgers, ids and tags; exit 1 on problems", True)
    sp.add_argument("--policy", action="store_true", help="also check every event against the access policy")
    sp.add_argument("--fetch", action="store_true",
                    help="fetch bytes absent from the DVC cache from the DVC remote; any it cannot fetch is a problem")
    sp.add_argument("--allow-shallow", action="store_true",
                    help="accept a shallow clone: check what is here, list the rest as unchecked")
    sp = add("compare", cli.cmd_compare, "compare baseline A with candidate B and recommend one", True)
    sp.add_argument("name")
    sp.add_argument("a", metavar="A")
    sp.add_argument("b", metavar="B")


def _lifecycle_commands(add: _Add) -> None:
    from mvtools import cli

    sp = add("promote", cli.cmd_promote, "assign VERSION of NAME to STAGE (tag NAME#STAGE#N)", True)
    sp.add_argument("name")
    sp.add_argument("version")
    sp.add_argument("stage")
    sp.add_argument("--force", action="store_true", help="allow archived versions and skip promotes_from")
    sp.add_argument("-m", "--message")
    sp = add("archive", cli.cmd_archive, "archive a version (tag NAME@VERSION!)", True)
    sp.add_argument("name")
    sp.add_argument("version")
    sp.add_argument("-m", "--message")
    sp = add("deprecate", cli.cmd_deprecate, "retire a whole model (tag NAME@deprecated)", True)
    sp.add_argument("name")
    sp.add_argument("-m", "--message")
    sp = add("rollback", cli.cmd_rollback, "return STAGE to the version that held it before", True)
    sp.add_argument("name")
    sp.add_argument("--stage", required=True)
    sp.add_argument("-m", "--message")
    sp = add("publish", cli.cmd_publish, "copy NAME@VERSION's files to a URL (local folder, s3://, gs://, ...)", True)
    sp.add_argument("spec", metavar="NAME@VERSION")
    sp.add_argument("--to", required=True, metavar="URL")


def _deploy_commands(sub: Any) -> None:
    from mvtools import cli

    dp = sub.add_parser("deploy", help="blue-green and canary deployments per environment",
                        description="blue-green and canary deployments per environment")
    dsub = dp.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    dsub.required = True
    for action, help_ in (("start", "deploy VERSION to ENV"), ("step", "add N points to the canary"),
                          ("promote", "make the canary the stable version"), ("abort", "send all traffic to stable"),
                          ("rollback", "undo the last deployment step"), ("status", "what runs in ENV")):
        a = dsub.add_parser(action, help=help_, description=help_)
        a.set_defaults(func=cli.cmd_deploy)
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
