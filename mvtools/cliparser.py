"""The command line's argparse wiring: every command, argument and option of ``mvtools``,
each described with its default, and each command's examples (:mod:`mvtools.clihelp`).

:mod:`mvtools.cli` holds the ``cmd_*`` functions and ``main``; this module builds the parser
that dispatches to them (imported when ``build_parser`` runs, so the two modules do not
import each other at load time). docs/reference.md is generated from this parser
(:mod:`mvtools.clidocs`); shell completion reads it too (:mod:`mvtools.completion`).
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

from mvtools import __version__, completion
from mvtools.clihelp import Parser, epilog

_Parser = Parser  # the name mvtools.cli used before
JSON_HELP = "print one JSON document instead of the table"
MESSAGE_HELP = "the commit message and the event's message"


def _with(action: argparse.Action, completer: Callable[..., Any]) -> argparse.Action:
    """Give ``action`` a completer (argcomplete reads ``action.completer``)."""
    setattr(action, "completer", completer)
    return action


def build_parser() -> argparse.ArgumentParser:
    from mvtools import cli

    p = Parser(prog="mvtools", description="Git-native model versioning on git, DVC and pre-commit.\n\n"
               "Run without a COMMAND it prints this overview (exit 2); each command's --help\n"
               "describes its arguments and shows examples.", epilog=epilog("mvtools"))
    p.add_argument("--version", action="version", version=f"mvtools {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument("-C", dest="repo", default=".", metavar="PATH",
                   help="run as if mvtools was started in PATH, like git -C")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser, title="commands")

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str, json_flag: bool = False,
            description: str | None = None) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=description or help, epilog=epilog(name))
        sp.set_defaults(func=func)
        if json_flag:
            sp.add_argument("--json", action="store_true", help=JSON_HELP)
        return sp

    _setup_commands(add, cli)
    _registry_commands(add, cli)
    _lifecycle_commands(add, cli)
    _deploy_commands(sub, cli)
    from mvtools.lineage.cli import add_parser as add_lineage_parser

    add_lineage_parser(sub)
    from mvtools.report.cli import add_parser as add_report_parser

    add_report_parser(sub)
    sp = add("completion", completion.cmd_completion, "print the shell completion script for bash, zsh or fish",
             description="Print the script that makes SHELL complete mvtools' commands, options,\n"
                         "model names, versions, stages and environments (docs/completion.md).")
    sp.add_argument("shell", choices=completion.SHELLS, metavar="SHELL",
                    help="the shell: " + ", ".join(completion.SHELLS))
    return p


_Add = Callable[..., argparse.ArgumentParser]


def _name(sp: argparse.ArgumentParser, help: str = "the model's name (as in mvtools show)", **kw: Any) -> None:
    _with(sp.add_argument("name", metavar="NAME", help=help, **kw), completion.models)


def _message(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("-m", "--message", metavar="MESSAGE", help=MESSAGE_HELP)


def _setup_commands(add: _Add, cli: Any) -> None:
    sp = add("init", cli.cmd_init, "set mvtools up in this git repo (commits nothing)",
             description="Set mvtools up in this git repo: mvtools.yaml, registry/, dvc init when there\n"
                         "is no DVC, the hooks and the ledger merge driver. Commits nothing; a second run\n"
                         "changes nothing. In a GTO repository it adopts the stages GTO uses.")
    sp.add_argument("--scheme", choices=("semver", "timestamp"), default="semver",
                    help="how versions are numbered: semver (v1.2.3) or timestamp")
    sp.add_argument("--hooks", choices=("git", "pre-commit", "none"), default="git",
                    help="install plain git hooks, entries in .pre-commit-config.yaml, or none")
    sp.add_argument("--dvc-root", action="store_true", help="run dvc init at the root even above DVC subrepos")
    sp = add("install-hooks", cli.cmd_install_hooks, "install the commit hooks")
    sp.add_argument("--hooks", choices=("git", "pre-commit"), default="git",
                    help="plain git hooks (yours are chained) or pre-commit framework entries")
    add("uninstall-hooks", cli.cmd_uninstall_hooks, "remove the commit hooks (yours are restored)")
    add("install-merge-driver", cli.cmd_install_merge_driver, "register the ledger merge driver in this clone")
    sp = add("hook", cli.cmd_hook, "run a hook (called by git or pre-commit)")
    sp.add_argument("type", choices=("pre-commit", "post-commit", "post-rewrite", "pre-push"), metavar="TYPE",
                    help="which hook: pre-commit, post-commit, post-rewrite or pre-push")
    sp.add_argument("hook_args", nargs="*", metavar="ARG", help="the arguments git passed to the hook")
    add("import-gto", cli.cmd_import_gto, "turn an existing GTO-tagged repo into ledger events", True)
    sp = add("record-sha256", cli.cmd_record_sha256, "record the sha256 of versions imported without their bytes",
             True)
    _with(sp.add_argument("spec", nargs="?", metavar="NAME[@VERSION]",
                          help="one model or version (default: every version that lacks its sha256)"),
          completion.specs)
    sp = add("quickstart", cli.cmd_quickstart, "build a demo repo with two model versions")
    sp.add_argument("dir", metavar="DIR", help="a new directory to build the demo repo in")


def _registry_commands(add: _Add, cli: Any) -> None:
    sp = add("register", cli.cmd_register, "register the work tree's model as a new version and commit it", True)
    _name(sp, "the model's name; with --path, a new model to declare")
    sp.add_argument("--path", metavar="PATH", help="the model's path (declares the model if it is new)")
    sp.add_argument("--bump", choices=("major", "minor", "patch"),
                    help="which part of the version to increase (default: $MVTOOLS_BUMP, else the model's "
                         "bump: setting, else patch)")
    sp.add_argument("--version", metavar="VERSION", help="explicit version, e.g. v1.0.0")
    _message(sp)
    sp = add("show", cli.cmd_show, "models, their latest versions and stages", True)
    _name(sp, "only this model", nargs="?")
    sp.add_argument("--all", action="store_true", help="include deprecated models")
    sp.add_argument("--environments", action="store_true",
                    help="what runs where: each environment's deployments, slots and canary")
    sp = add("history", cli.cmd_history, "every event of a model, oldest first", True)
    _name(sp)
    sp = add("get", cli.cmd_get, "fetch the bytes of NAME, NAME@VERSION or NAME#STAGE (sha256-checked)", True)
    _with(sp.add_argument("spec", metavar="NAME[@VERSION|#STAGE]",
                          help="a model (its latest version), NAME@VERSION, NAME@latest or NAME#STAGE"),
          completion.specs)
    sp.add_argument("-o", "--output", metavar="PATH",
                    help="a new path to write to (default: the model's own file name, here)")
    sp = add("restore-events", cli.cmd_restore_events,
             "append again the ledger events a commit dropped (a git revert)", True)
    _name(sp)
    add("sync-tags", cli.cmd_sync_tags, "create missing tags and re-point moved ones from HEAD's ledger", True)
    sp = add("push", cli.cmd_push, "push the branch, its registry tags and the artifacts (DVC remote)", True)
    _with(sp.add_argument("remote", nargs="?", metavar="REMOTE",
                          help="the git remote (default: the branch's upstream, else origin)"), completion.remotes)
    sp = add("resolve", cli.cmd_resolve, "rebase unpushed commits on the remote branch, renumbering clashing versions",
             True)
    _with(sp.add_argument("remote", nargs="?", metavar="REMOTE",
                          help="the git remote (default: the branch's upstream, else origin)"), completion.remotes)
    sp = add("verify", cli.cmd_verify, "check ledgers, ids and tags; exit 1 on problems", True)
    sp.add_argument("--policy", action="store_true", help="also check every event against the access policy")
    sp.add_argument("--fetch", action="store_true",
                    help="fetch bytes absent from the DVC cache from the DVC remote; any it cannot fetch is a problem")
    sp.add_argument("--allow-shallow", action="store_true",
                    help="accept a shallow clone: check what is here, list the rest as unchecked")
    sp = add("compare", cli.cmd_compare, "compare baseline A with candidate B and recommend one", True)
    _name(sp)
    for metavar, role in (("A", "the baseline"), ("B", "the candidate")):
        _with(sp.add_argument(metavar.lower(), metavar=metavar,
                              help=f"{role}: a version, latest or a stage name"), completion.versions_or_stages)


def _lifecycle_commands(add: _Add, cli: Any) -> None:
    sp = add("promote", cli.cmd_promote, "assign VERSION of NAME to STAGE (tag NAME#STAGE#N)", True)
    _name(sp)
    _with(sp.add_argument("version", metavar="VERSION", help="a registered version, or latest"),
          completion.versions)
    _with(sp.add_argument("stage", metavar="STAGE", help="a stage from mvtools.yaml's stages: list"), completion.stages)
    sp.add_argument("--force", action="store_true",
                    help="allow archived versions and deprecated models, and skip promotes_from")
    _message(sp)
    sp = add("archive", cli.cmd_archive, "archive a version (tag NAME@VERSION!)", True)
    _name(sp)
    _with(sp.add_argument("version", metavar="VERSION", help="the version to archive"), completion.versions)
    _message(sp)
    sp = add("deprecate", cli.cmd_deprecate, "retire a whole model (tag NAME@deprecated)", True)
    _name(sp)
    _message(sp)
    sp = add("rollback", cli.cmd_rollback, "return STAGE to the version that held it before", True)
    _name(sp)
    _with(sp.add_argument("--stage", required=True, metavar="STAGE", help="the stage to roll back (required)"),
          completion.stages)
    _message(sp)
    sp = add("publish", cli.cmd_publish, "copy NAME@VERSION's files to a URL (local folder, s3://, gs://, ...)", True)
    _with(sp.add_argument("spec", metavar="NAME@VERSION", help="the version to publish"), completion.specs)
    sp.add_argument("--to", required=True, metavar="URL", help="where to copy it (required)")


DEPLOY_ACTIONS = (("start", "deploy VERSION to ENV"), ("step", "add N points to the canary"),
                  ("promote", "make the canary the stable version"), ("abort", "send all traffic to stable"),
                  ("rollback", "undo the last deployment step"), ("status", "what runs in ENV"))


def _deploy_commands(sub: Any, cli: Any) -> None:
    help_ = "blue-green and canary deployments per environment"
    dp = sub.add_parser("deploy", help=help_, description=help_, epilog=epilog("deploy"))
    dsub = dp.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser, title="actions")
    for action, ahelp in DEPLOY_ACTIONS:
        a = dsub.add_parser(action, help=ahelp, description=ahelp, epilog=epilog(f"deploy {action}"))
        a.set_defaults(func=cli.cmd_deploy)
        _name(a)
        if action == "start":
            _with(a.add_argument("version", metavar="VERSION", help="the version to deploy, or latest"),
                  completion.versions)
            a.add_argument("--strategy", choices=("blue-green", "canary"), default="blue-green",
                           help="switch all traffic at once, or send --percent of it to the new version")
            a.add_argument("--percent", type=int, metavar="N",
                           help="with --strategy canary (required there): the new version's share of traffic, 1-100")
            a.add_argument("--force", action="store_true", help="deploy an archived version or a deprecated model")
        _with(a.add_argument("--env", required=True, metavar="ENV",
                             help="an environment from mvtools.yaml's environments: section (required)"),
              completion.environments)
        if action == "step":
            a.add_argument("--by", type=int, required=True, metavar="N",
                           help="percentage points to add to the canary's share (required)")
        a.add_argument("--json", action="store_true", help=JSON_HELP)
