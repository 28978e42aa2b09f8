"""What the command line says to a person: the help formatter, each command's examples,
"did you mean" for a mistyped command or option, and usage errors that say what is missing.

:mod:`mvtools.cliparser` builds the parser from :class:`Parser` and :class:`Formatter`;
every error stays one line, ``mvtools: error: ...``, exit 2 (:class:`UsageError`).
"""

from __future__ import annotations

import argparse
import difflib
import textwrap
from typing import Any, NoReturn, Sequence

from mvtools.errors import UsageError

# each command's examples: its help's epilog, and the generated reference (docs/reference.md)
EXAMPLES: dict[str, Sequence[str]] = {
    "mvtools": ("mvtools init                      # set up this git repo",
                "mvtools show                      # every model, its latest version and stages",
                "mvtools promote clf v1.2.0 production",
                "mvtools get clf#production -o model.bin",
                "mvtools COMMAND --help            # each command's arguments and examples"),
    "init": ("mvtools init", "mvtools init --scheme timestamp --hooks pre-commit"),
    "install-hooks": ("mvtools install-hooks", "mvtools install-hooks --hooks pre-commit"),
    "uninstall-hooks": ("mvtools uninstall-hooks",),
    "install-merge-driver": ("mvtools install-merge-driver",),
    "hook": ("mvtools hook pre-commit           # what .git/hooks/pre-commit runs",),
    "import-gto": ("mvtools import-gto", "mvtools import-gto --json"),
    "record-sha256": ("mvtools record-sha256             # every version imported without its sha256",
                      "mvtools record-sha256 clf@v1.0.0"),
    "quickstart": ("mvtools quickstart demo && cd demo && mvtools show",),
    "register": ("mvtools register clf --path models/clf.pkl   # a new model: v0.1.0",
                 "mvtools register clf --bump minor -m 'retrained on May data'",
                 "mvtools register clf --version v2.0.0"),
    "show": ("mvtools show", "mvtools show clf --json", "mvtools show --all       # with deprecated models"),
    "history": ("mvtools history clf", "mvtools history clf --json | jq '.events[-1]'"),
    "get": ("mvtools get clf                  # the latest version, into ./<its file name>",
            "mvtools get clf@v1.2.0 -o /tmp/clf.pkl",
            "mvtools get clf#production"),
    "restore-events": ("git revert HEAD && mvtools restore-events clf",),
    "sync-tags": ("mvtools sync-tags",),
    "push": ("mvtools push", "mvtools push upstream --json"),
    "resolve": ("mvtools resolve", "mvtools resolve origin"),
    "verify": ("mvtools verify", "mvtools verify --fetch --policy      # in CI",
               "mvtools verify --allow-shallow --json"),
    "compare": ("mvtools compare clf v1.0.0 v1.1.0", "mvtools compare clf production latest --json"),
    "promote": ("mvtools promote clf v1.2.0 staging", "mvtools promote clf latest production -m 'passed QA'",
                "mvtools promote clf v0.9.0 staging --force    # an archived version"),
    "archive": ("mvtools archive clf v1.0.0 -m 'leaks test data'",),
    "deprecate": ("mvtools deprecate old-clf",),
    "rollback": ("mvtools rollback clf --stage production",),
    "publish": ("mvtools publish clf@v1.2.0 --to s3://bucket/models/clf",
                "mvtools publish clf@v1.2.0 --to /srv/models/clf"),
    "deploy": ("mvtools deploy start clf v1.2.0 --env prod --strategy canary --percent 10",
               "mvtools deploy step clf --env prod --by 40",
               "mvtools deploy promote clf --env prod",
               "mvtools deploy status clf --env prod"),
    "deploy start": ("mvtools deploy start clf v1.2.0 --env prod",
                     "mvtools deploy start clf v1.2.0 --env prod --strategy canary --percent 10"),
    "deploy step": ("mvtools deploy step clf --env prod --by 40",),
    "deploy promote": ("mvtools deploy promote clf --env prod",),
    "deploy abort": ("mvtools deploy abort clf --env prod",),
    "deploy rollback": ("mvtools deploy rollback clf --env prod",),
    "deploy status": ("mvtools deploy status clf --env prod --json",),
    "lineage": ("mvtools lineage                          # the whole pipeline",
                "mvtools lineage train --upstream",
                "mvtools lineage --impact data/raw.csv     # what changes when it changes",
                "mvtools lineage --format svg > dag.svg",
                "mvtools lineage --model clf@v1.2.0",
                "mvtools lineage --model clf --diff v1.0.0 v1.1.0"),
    "report": ("mvtools report --open                   # write mvtools-report/ and open it",
               "mvtools -C repo report -o site/         # site/ inside repo, as git -C",
               "mvtools report --no-verify --json"),
    "completion": ("mvtools completion bash > ~/.local/share/bash-completion/completions/mvtools",
                   "mvtools completion zsh > \"${fpath[1]}/_mvtools\"",
                   "mvtools completion fish > ~/.config/fish/completions/mvtools.fish"),
}


def epilog(command: str) -> str | None:
    lines = EXAMPLES.get(command)
    return "examples:\n" + "\n".join(f"  {line}" for line in lines) if lines else None


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written, a prose line wider than the terminal wrapped at
    spaces (an indented line, an example, never: a pasted example must stay one command);
    each option's default appended to its help, unless the help already says it or there is
    none worth saying (None, False)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(textwrap.fill(line, width, initial_indent=indent, break_long_words=False,
                                       break_on_hyphens=False)
                         if len(indent + line) > width and not line.startswith(" ")
                         else (indent + line).rstrip() for line in text.splitlines())

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_ = action.help or ""
        default = action.default
        if ("%(default)" in help_ or default in (None, False, argparse.SUPPRESS) or default == []
                or isinstance(action, (argparse._VersionAction, argparse._HelpAction))):
            return help_
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{help_} (default: %(default)s)" if help_ else "default: %(default)s"
        return help_


def suggest(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean X?)`` for the closest of ``choices``, else ''."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]}?)" if match else ""


def synopsis(parser: argparse.ArgumentParser) -> str:
    """The usage line on one line, without ``usage:`` and ``[-h]``."""
    usage = " ".join(parser.format_usage().split())
    return usage.removeprefix("usage: ").replace(" [-h]", "")


def chosen(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost (sub)parser the parsed ``ns`` went through."""
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(ns, subs[0].dest, None) if subs else None
        if name is None:
            return parser
        parser = subs[0].choices[name]


def _command(parser: argparse.ArgumentParser) -> str:
    """``promote: `` for ``mvtools promote``'s parser, '' for the top level."""
    words = parser.prog.split()[1:]
    return f"{' '.join(words)}: " if words else ""


class Parser(argparse.ArgumentParser):
    """argparse with mvtools' one-line errors, exit 2, and what to do next on each."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:  # argparse exits 2 too; keep our one-line format
        if message.startswith("the following arguments are required"):
            message += f" ({synopsis(self)}; {self.prog} --help explains each)"
        raise UsageError(_command(self) + message)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is None or value in action.choices:
            return
        names = [str(c) for c in action.choices]
        if isinstance(action, argparse._SubParsersAction):
            raise UsageError(f"{_command(self)}unknown {str(action.metavar or 'command').lower()} {value!r}"
                             f"{suggest(str(value), names)}; {self.prog} --help lists them")
        raise argparse.ArgumentError(action, f"invalid choice: {value!r}{suggest(str(value), names)} "
                                             f"(choose from {', '.join(names)})")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """As argparse, but an unknown option names its closest real one, and a command
        left out prints the overview of the commands (stdout) before its error."""
        ns, extra = self.parse_known_args(args, namespace)
        inner = chosen(self, ns)
        if extra:
            options = [o for a in [*inner._actions, *self._actions] for o in a.option_strings]
            hints = "".join(suggest(x.split("=")[0], options) for x in extra if x.startswith("-"))
            inner.error(f"unrecognized arguments: {' '.join(extra)}{hints}"
                        + ("" if hints else f" ({synopsis(inner)})"))
        if getattr(ns, "func", None) is None and getattr(ns, "run", None) is None:
            subs = [a for a in inner._actions if isinstance(a, argparse._SubParsersAction)]
            metavar = str(subs[0].metavar or "COMMAND") if subs else "COMMAND"
            print(inner.format_help())
            raise UsageError(f"{_command(inner)}no {metavar.lower()} given: pick one of those above "
                             f"({inner.prog} {metavar} --help explains it)")
        return ns
