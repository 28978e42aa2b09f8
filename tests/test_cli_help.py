"""Help that teaches (issue 15): every argument and option described with its default,
examples in each command's help that really parse, the command overview when no command is
given, "did you mean" for a mistyped command, option or choice, and usage errors that name
what is missing, all as one `mvtools: error:` line, exit 2."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from conftest import assert_refused, mvtools

from mvtools.cliparser import build_parser


def parsers(p: argparse.ArgumentParser | None = None) -> Iterator[argparse.ArgumentParser]:
    """The top-level parser and every (sub)command's, depth first."""
    p = p or build_parser()
    yield p
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in dict.fromkeys(a.choices.values()):
                yield from parsers(sub)


def command_of(p: argparse.ArgumentParser) -> str:
    return " ".join(p.prog.split()[1:]) or "mvtools"


def invocations(line: str) -> Iterator[list[str]]:
    """The mvtools commands of one example line (after `&&`, before `|` or `>`, comments off)."""
    line = re.split(r"\s+#\s", line)[0]
    for part in line.split("&&"):
        words = shlex.split(part.split("|")[0].split(">")[0])
        if words[:1] == ["mvtools"]:
            yield words[1:]


@pytest.mark.parametrize("p", list(parsers()), ids=command_of)
def test_every_argument_is_described(p: argparse.ArgumentParser) -> None:
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            assert all(c.help for c in a._choices_actions), command_of(p)
            continue
        assert a.help, f"{command_of(p)}: {a.option_strings or a.dest} has no help"
    text = p.format_help()
    for a in p._actions:  # a meaningful default is printed beside its option
        if a.option_strings and a.default not in (None, False, argparse.SUPPRESS) and a.dest != "help":
            assert f"(default: {a.default})" in " ".join(text.split()), (command_of(p), a.dest)


@pytest.mark.parametrize("p", list(parsers()), ids=command_of)
def test_every_help_fits_80_columns(p: argparse.ArgumentParser, monkeypatch: pytest.MonkeyPatch) -> None:
    """At COLUMNS=80 no line of any --help is wider (report's one-line description was 172
    characters, register's example 85); descriptions keep their own line breaks."""
    monkeypatch.setenv("COLUMNS", "80")
    wide = [line for line in p.format_help().splitlines() if len(line) > 80]
    assert not wide, (command_of(p), wide)
    # narrower, prose wraps but each example stays one line: pasted, it is one command
    monkeypatch.setenv("COLUMNS", "40")
    examples = [line.strip() for line in p.format_help().split("examples:\n")[-1].splitlines()]
    assert not p.epilog or examples == [x.strip() for x in p.epilog.splitlines()[1:]], examples


@pytest.mark.parametrize("p", [p for p in parsers() if p.prog != "mvtools"], ids=command_of)
def test_every_command_has_examples_that_parse(p: argparse.ArgumentParser) -> None:
    assert p.epilog and p.epilog.startswith("examples:"), command_of(p)
    lines = [x.strip() for x in p.epilog.splitlines()[1:]]
    assert lines and all(x.startswith(("mvtools ", "git ")) for x in lines), lines
    # each parses (a wrong one raises UsageError), and they show this command
    parsed = [build_parser().parse_args(argv) for line in lines for argv in invocations(line)]
    words = command_of(p).split()
    assert any([ns.command, getattr(ns, "action", None)][:len(words)] == words for ns in parsed), lines


def test_help_shows_defaults_and_examples(repo: Path) -> None:
    out = " ".join(mvtools(repo, "init", "--help").stdout.split())
    assert "--scheme {semver,timestamp} how versions are numbered: semver (v1.2.3) or timestamp (default: semver)" in out
    assert "(default: git)" in out and "examples: mvtools init" in out
    out = " ".join(mvtools(repo, "deploy", "start", "--help").stdout.split())
    assert "(default: blue-green)" in out and "--percent N" in out
    out = mvtools(repo, "promote", "--help").stdout
    assert re.search(r"^  NAME +the model's name", out, re.M) and re.search(r"^  STAGE +a stage", out, re.M)


def test_bare_mvtools_prints_the_overview(repo: Path) -> None:
    """Like git: the command overview (stdout) and a non-zero exit, here 2 (bad usage)."""
    proc = subprocess.run([sys.executable, "-m", "mvtools"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout.startswith("usage: mvtools") and "promote" in proc.stdout and "examples:" in proc.stdout
    assert proc.stderr == ("mvtools: error: no command given: pick one of those above "
                           "(mvtools COMMAND --help explains it)\n")
    proc = subprocess.run([sys.executable, "-m", "mvtools", "deploy"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 2 and "status" in proc.stdout and "no action given" in proc.stderr


@pytest.mark.parametrize("args,want", [
    (["promot", "clf"], "mvtools: error: unknown command 'promot' (did you mean promote?); "
                        "mvtools --help lists them"),
    (["deploy", "strat", "clf"], "deploy: unknown action 'strat' (did you mean start?)"),
    (["show", "--jsn"], "mvtools: error: show: unrecognized arguments: --jsn (did you mean --json?)"),
    (["deploy", "start", "clf", "v1", "--env", "x", "--stratgy", "canary"],
     "deploy start: unrecognized arguments: --stratgy canary (did you mean --strategy?)"),
    (["init", "--scheme", "semvr"], "argument --scheme: invalid choice: 'semvr' (did you mean semver?)"),
    (["--debugg", "show"], "unrecognized arguments: --debugg (did you mean --debug?)"),
    (["show", "a", "b"], "show: unrecognized arguments: b (mvtools show [--json] [--all] [--environments] [NAME])"),
    (["promote", "clf"], "mvtools: error: promote: the following arguments are required: VERSION, STAGE "
                         "(mvtools promote [--json] [--force] [-m MESSAGE] NAME VERSION STAGE; "
                         "mvtools promote --help explains each)"),
    (["rollback", "clf"], "rollback: the following arguments are required: --stage"),
    (["xyzzy"], "unknown command 'xyzzy'; mvtools --help lists them"),
])
def test_usage_errors_say_what_to_do(repo: Path, args: list[str], want: str) -> None:
    line = assert_refused(repo, *args, code=2)
    assert want in line, line


def test_lineage_standalone_has_the_same_help(repo: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "mvtools.lineage", "--help"], cwd=repo, capture_output=True,
                         text=True).stdout
    assert out.startswith("usage: mvtools lineage") and "mvtools lineage --impact data/raw.csv" in out


def test_reference_is_generated_from_the_parser() -> None:
    """docs/reference.md is what the parser renders: help and docs cannot drift."""
    from mvtools.clidocs import render

    page = Path(__file__).resolve().parents[1] / "docs" / "reference.md"
    assert page.read_text() == render(), "docs/reference.md is stale: run python -m mvtools.clidocs > docs/reference.md"
