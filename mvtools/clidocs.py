"""docs/reference.md, rendered from the parser: each command's usage, arguments, options with
their defaults, and examples, exactly as ``--help`` says them, so help and docs cannot drift.

    python -m mvtools.clidocs > docs/reference.md

tests/test_cli_help.py fails when the committed page differs from what this renders.
"""

from __future__ import annotations

import argparse
from typing import Iterator

from mvtools.clihelp import Formatter

WIDTH = 88
HEADER = """# Command reference

<!-- Generated from the parser by `python -m mvtools.clidocs > docs/reference.md`: do not edit by
hand (tests/test_cli_help.py fails when it differs). The prose is in commands.md. -->

Every command, argument and option, with its default and examples, as `mvtools COMMAND --help`
prints them. What each command does, and why, is in [Commands](commands.md); shell completion
is in [Shell completion](completion.md).
"""


def _parsers(p: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield p
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in dict.fromkeys(a.choices.values()):
                yield from _parsers(sub)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _name(a: argparse.Action, fmt: Formatter) -> str:
    if not a.option_strings:
        return fmt._metavar_formatter(a, a.dest)(1)[0]
    if a.nargs == 0:
        return ", ".join(a.option_strings)
    return ", ".join(f"{o} {fmt._format_args(a, a.dest.upper())}" for o in a.option_strings)


def render_parser(p: argparse.ArgumentParser) -> str:
    fmt = Formatter(p.prog, width=WIDTH)
    fmt.add_usage(p.usage, p._actions, p._mutually_exclusive_groups, prefix="")
    paragraphs = [_cell(par) for par in (p.description or "").split("\n\n")]
    out = [f"## {p.prog}", "", *(x for par in paragraphs for x in (par, "")),
           "```text", fmt.format_help().rstrip(), "```", ""]
    rows = []
    for a in p._actions:
        if isinstance(a, argparse._HelpAction):
            continue
        if isinstance(a, argparse._SubParsersAction):
            rows += [(f"[`{c.dest}`](#{p.prog.replace(' ', '-')}-{c.dest})", _cell(c.help or ""))
                     for c in a._choices_actions]
            continue
        rows.append((f"`{_name(a, fmt)}`", _cell(fmt._expand_help(a))
                     + (" (required)" if a.required and a.option_strings and "required" not in (a.help or "")
                        else "")))
    if rows:
        out += ["| argument | description |", "|---|---|", *(f"| {n} | {d} |" for n, d in rows), ""]
    if p.epilog:
        out += ["Examples:", "", "```sh", *(line.strip() for line in p.epilog.splitlines()[1:]), "```", ""]
    return "\n".join(out)


def render() -> str:
    from mvtools.cliparser import build_parser

    return HEADER + "".join("\n" + render_parser(p) for p in _parsers(build_parser()))


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
