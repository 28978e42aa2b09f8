"""Tables and the small things a new user hits: `history`'s stage, environment and action
columns, `show --environments` (what runs where), every table at 80 columns (long model
names, stages, environments and metrics), compare's title, `deploy status`'s blue/green
slots, `archive` of a stage holder, and `-C REPO get` writing into REPO as `git -C` does.
The progress bars of `push` and `get` are in test_progress.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import git, init_repo, mvtools, template_copy, write_model

LONG = "customer-churn-gradient-boosting-classifier"  # 43 characters: fits 80 alone, not beside others
STAGES = "stages: [development, pre-production-validation, production]\n"
ENVS = """\
environments:
  prod: {}
  europe-west-production-cluster: {}
"""
METRICS = [{"accuracy": 0.80, "validation_area_under_the_precision_recall_curve": 0.5, "latency": 0.1},
           {"accuracy": 0.85, "validation_area_under_the_precision_recall_curve": 0.6, "latency": 0.2},
           {"accuracy": 0.86, "validation_area_under_the_precision_recall_curve": 0.7, "latency": 0.2}]


def build(r: Path) -> None:
    """`clf` and a model with a long name and a long path, three versions each."""
    init_repo(r, f"  - name: clf\n    path: models/clf.bin\n    metrics: [metrics.json]\n"
                 f"  - name: {LONG}\n    path: models/a/very/deeply/nested/folder/{LONG}.pkl\n"
                 f"    metrics: [metrics.json]")
    cfg = (r / "mvtools.yaml").read_text()
    (r / "mvtools.yaml").write_text(cfg.replace("stages: [development, staging, production]\n", STAGES) + ENVS)
    assert "pre-production-validation" in (r / "mvtools.yaml").read_text()
    for i, m in enumerate(METRICS):
        write_model(r, "models/clf.bin", f"clf {i}\n")
        write_model(r, f"models/a/very/deeply/nested/folder/{LONG}.pkl", f"long {i}\n")
        (r / "metrics.json").write_text(json.dumps(m))
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", f"v{i}")


@pytest.fixture(autouse=True)
def _no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-xdist's workers export COLUMNS=80; each test here sets the width it means."""
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture
def r(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_copy("tables", tmp_path_factory, tmp_path / "repo", build)


def cols(r: Path, *args: str, width: int = 80) -> str:
    """A command's stdout at ``width`` columns ($COLUMNS, as a terminal of that width)."""
    return mvtools(r, *args, env={"COLUMNS": str(width)}).stdout


def assert_fits(text: str, width: int = 80) -> None:
    """No line over ``width`` unless one word alone is too long for it."""
    for line in text.splitlines():
        if len(line) > width:
            assert max(len(w) for w in line.split()) > width - 20, f"{len(line)} columns: {line!r}"


def lifecycle(r: Path, name: str = "clf") -> None:
    """Promotions (one version twice), an archive and deployments in both environments."""
    for args in (["promote", name, "v0.1.1", "development"], ["promote", name, "v0.1.1", "pre-production-validation"],
                 ["promote", name, "v0.1.1", "production"], ["promote", name, "v0.1.2", "development"],
                 ["deploy", "start", name, "v0.1.0", "--env", "prod"],
                 ["deploy", "start", name, "v0.1.1", "--env", "prod"],
                 ["deploy", "start", name, "v0.1.2", "--env", "prod", "--strategy", "canary", "--percent", "10"],
                 ["deploy", "step", name, "--env", "prod", "--by", "30"],
                 ["deploy", "start", name, "v0.1.1", "--env", "europe-west-production-cluster"]):
        mvtools(r, *args)


# -- history --------------------------------------------------------------------------------
@pytest.mark.slow
def test_history_has_stage_env_and_action_columns(r: Path) -> None:
    lifecycle(r)
    out = cols(r, "history", "clf", width=200)
    lines = out.splitlines()
    assert lines[0].split() == ["WHEN", "EVENT", "VERSION", "STAGE", "ENV", "ACTION", "ACTOR"]
    rows = [line.split() for line in lines[1:]]  # the date and time are two words; the actor is "Test User"
    got = [row[2:8] for row in rows]
    assert got[:3] == [["register", "v0.1.0", "-", "-", "-", "Test"]] + [
        ["register", v, "-", "-", "-", "Test"] for v in ("v0.1.1", "v0.1.2")][:2]
    promotes = [row[2:7] for row in rows if row[2] == "promote"]
    # two (three) promotions of one version look different: their stages
    assert promotes == [["promote", "v0.1.1", "development", "-", "-"],
                        ["promote", "v0.1.1", "pre-production-validation", "-", "-"],
                        ["promote", "v0.1.1", "production", "-", "-"],
                        ["promote", "v0.1.2", "development", "-", "-"]]
    deploys = [row[2:] for row in rows if row[2] == "deploy"]
    assert [d[:5] for d in deploys] == [
        ["deploy", "v0.1.0", "-", "prod", "start"],
        ["deploy", "v0.1.1", "-", "prod", "start"],
        ["deploy", "v0.1.2", "-", "prod", "start"],  # a canary's share follows its action
        ["deploy", "v0.1.2", "-", "prod", "step"],
        ["deploy", "v0.1.1", "-", "europe-west-production-cluster", "start"]]
    assert [d[5] for d in deploys[2:4]] == ["10%", "40%"]
    assert len(set(lines[1:])) == len(lines) - 1  # no two rows alike
    # --json keeps every field (commit, sha256...), unchanged by the table
    hist = json.loads(mvtools(r, "history", "clf", "--json").stdout)["events"]
    assert [e["event"] for e in hist].count("promote") == 4 and all("commit" in e for e in hist)


@pytest.mark.slow
def test_history_fits_80_columns(r: Path) -> None:
    lifecycle(r, LONG)
    out = cols(r, "history", LONG)
    assert_fits(out)
    assert max(len(line) for line in out.splitlines()) <= 80
    # wrapped cells continue in their own column: every stage and environment is whole
    assert "pre-production-validation" in out and "europe-west-production-cluster" in out


@pytest.mark.slow
def test_piped_tables_keep_one_line_per_row(r: Path) -> None:
    """Without $COLUMNS or a terminal, a row is one line (grep finds it whole)."""
    lifecycle(r, LONG)
    out = mvtools(r, "history", LONG).stdout
    promotes = [line for line in out.splitlines() if " promote " in line]
    assert len(promotes) == 4 and all("Test User" in line for line in promotes), out


# -- show, show --environments ----------------------------------------------------------------
@pytest.mark.slow
def test_show_fits_80_columns(r: Path) -> None:
    lifecycle(r, LONG)
    out = cols(r, "show")
    assert_fits(out)
    assert LONG in out and f"models/a/very/deeply/nested/folder/{LONG}.pkl" in out
    wide = cols(r, "show", width=300)
    assert len(wide.splitlines()) == 3  # header, two models: one line each when it fits


@pytest.mark.slow
def test_show_environments_what_runs_where(r: Path) -> None:
    lifecycle(r)
    doc = json.loads(mvtools(r, "show", "--environments", "--json").stdout)
    prod, eu = doc["environments"]["prod"], doc["environments"]["europe-west-production-cluster"]
    assert list(doc["environments"]) == ["prod", "europe-west-production-cluster"]  # mvtools.yaml's order
    assert prod == [{"model": "clf", "env": "prod", "strategy": "canary", "stable": "v0.1.1", "candidate": "v0.1.2",
                     "percent": 40, "slots": {"blue": "v0.1.0", "green": "v0.1.1"}, "live_slot": "green"}]
    assert [(s["model"], s["stable"], s["live_slot"]) for s in eu] == [("clf", "v0.1.1", "blue")]
    lines = cols(r, "show", "--environments", width=120).splitlines()
    assert lines[0].split() == ["ENV", "MODEL", "STABLE", "CANARY", "BLUE", "GREEN"]
    assert lines[1].split() == ["prod", "clf", "v0.1.1", "v0.1.2", "at", "40%", "v0.1.0", "v0.1.1", "(live)"]
    assert lines[2].split() == ["europe-west-production-cluster", "clf", "v0.1.1", "-", "v0.1.1", "(live)", "-"]
    out = cols(r, "show", "--environments")  # at 80 columns the slots wrap in their own columns
    assert_fits(out)
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "europe-west-production-cluster" in out and out.splitlines()[2].split() == ["40%", "(live)"]
    # one model; a model deployed nowhere leaves each environment a row of dashes
    assert json.loads(mvtools(r, "show", LONG, "--environments", "--json").stdout)["environments"] == {
        "prod": [], "europe-west-production-cluster": []}
    assert cols(r, "show", LONG, "--environments").splitlines()[1].split() == ["prod", "-", "-", "-", "-", "-"]


@pytest.mark.slow
def test_show_environments_long_names_fit(r: Path) -> None:
    lifecycle(r, LONG)
    lifecycle(r, "clf")
    out = cols(r, "show", "--environments")
    assert_fits(out)
    assert out.count(LONG) == 2


@pytest.mark.slow
def test_show_environments_without_environments(tmp_path: Path) -> None:
    r = init_repo(tmp_path / "r", "  - name: clf\n    path: models/clf.bin")
    assert mvtools(r, "show", "--environments").stdout.strip() == "no environments in mvtools.yaml and no deployments"
    assert json.loads(mvtools(r, "show", "--environments", "--json").stdout) == {"environments": {}}


# -- compare ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_compare_title_one_line_and_table_fits(r: Path) -> None:
    out = cols(r, "compare", "clf", "v0.1.0", "v0.1.1")
    lines = out.splitlines()
    title = "clf: v0.1.0 (A, baseline) vs v0.1.1 (B, candidate)"
    assert any(line.strip() == title for line in lines), out  # not wrapped at 80 columns
    table_lines = lines[:lines.index(next(x for x in lines if x.startswith("artifact") or x.startswith("similarity")))]
    assert_fits("\n".join(table_lines))
    assert max(len(x) for x in table_lines) <= 80
    # the long metric is there whole or folded across lines of its cell, never cut
    cells = "".join(x.split("┃")[1] if "┃" in x else x.split("│")[1] for x in table_lines
                    if ("│" in x or "┃" in x) and len(x.split("│" if "│" in x else "┃")) > 2)
    assert "validation_area_under_the_precision_recall_curve" in cells.replace(" ", "")


@pytest.mark.slow
def test_compare_long_model_name_title_wraps_at_spaces(r: Path) -> None:
    out = cols(r, "compare", LONG, "v0.1.0", "v0.1.1")
    assert_fits(out.split("artifact")[0])
    assert f"{LONG}:" in out


# -- deploy status, archive -----------------------------------------------------------------
@pytest.mark.slow
def test_deploy_status_shows_slots(r: Path) -> None:
    assert mvtools(r, "deploy", "status", "clf", "--env", "prod").stdout.strip() == \
        "clf in prod: stable - (no deployment)"
    mvtools(r, "deploy", "start", "clf", "v0.1.0", "--env", "prod")
    mvtools(r, "deploy", "start", "clf", "v0.1.1", "--env", "prod")
    assert mvtools(r, "deploy", "status", "clf", "--env", "prod").stdout.strip() == \
        "clf in prod: stable v0.1.1 (blue-green); slots: blue v0.1.0, green v0.1.1 (live)"
    # a canary runs beside stable; promoted, it goes live in the idle slot as a blue-green switch does
    mvtools(r, "deploy", "start", "clf", "v0.1.2", "--env", "prod", "--strategy", "canary", "--percent", "10")
    assert mvtools(r, "deploy", "status", "clf", "--env", "prod").stdout.strip() == \
        "clf in prod: stable v0.1.1 (canary), canary v0.1.2 at 10%; slots: blue v0.1.0, green v0.1.1 (live)"
    mvtools(r, "deploy", "promote", "clf", "--env", "prod")
    assert mvtools(r, "deploy", "status", "clf", "--env", "prod").stdout.strip() == \
        "clf in prod: stable v0.1.2 (canary); slots: blue v0.1.2 (live), green v0.1.1"
    mvtools(r, "deploy", "rollback", "clf", "--env", "prod")  # the canary again, green live
    assert "green v0.1.1 (live)" in mvtools(r, "deploy", "status", "clf", "--env", "prod").stdout
    # the JSON document is unchanged (its slots are in show --environments --json)
    assert set(json.loads(mvtools(r, "deploy", "status", "clf", "--env", "prod", "--json").stdout)) == {
        "model", "env", "strategy", "stable", "candidate", "percent"}


@pytest.mark.slow
def test_archive_of_a_stage_holder_says_what_is_left(r: Path) -> None:
    mvtools(r, "promote", "clf", "v0.1.0", "production")
    mvtools(r, "promote", "clf", "v0.1.1", "production")
    mvtools(r, "promote", "clf", "v0.1.1", "development")
    out = mvtools(r, "archive", "clf", "v0.1.1").stdout.strip()
    assert out == ("archive clf v0.1.1 (tag clf@v0.1.1!); development is left empty; "
                   "production falls back to v0.1.0")
    doc = json.loads(mvtools(r, "archive", "clf", "v0.1.0", "--json").stdout)
    assert doc["vacated"] == {"production": None}
    assert json.loads(mvtools(r, "show", "clf", "--json").stdout)["models"][0]["stages"] == {}
    # an archive of a version holding no stage says nothing more
    assert mvtools(r, "archive", "clf", "v0.1.2").stdout.strip() == "archive clf v0.1.2 (tag clf@v0.1.2!)"


# -- -C REPO get ----------------------------------------------------------------------------
@pytest.mark.slow
def test_dash_c_get_writes_into_repo_like_git_dash_c(r: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    out.mkdir()
    proc = mvtools(out, "-C", str(r), "get", "clf@v0.1.0")
    assert (r / "clf.bin").read_text() == "clf 0\n" and not (out / "clf.bin").exists()
    assert proc.stdout.strip() == "clf v0.1.0 -> clf.bin (sha256 verified)"
    mvtools(out, "-C", str(r), "get", "clf@v0.1.1", "-o", "sub.bin")  # a relative -o: against REPO too
    assert (r / "sub.bin").read_text() == "clf 1\n" and not (out / "sub.bin").exists()
    mvtools(out, "-C", str(r / "models"), "get", "clf@v0.1.2", "-o", "x.bin")  # a folder inside REPO, as git -C
    assert (r / "models" / "x.bin").read_text() == "clf 2\n"
    mvtools(out, "-C", str(r), "get", "clf@v0.1.2", "-o", str(out / "abs.bin"))  # absolute: where it says
    assert (out / "abs.bin").read_text() == "clf 2\n"
    # relative -C: against the cwd, then the paths against it
    mvtools(tmp_path, "-C", os.path.relpath(r, tmp_path), "get", "clf@v0.1.0", "-o", "rel.bin")
    assert (r / "rel.bin").read_text() == "clf 0\n"


def test_dash_c_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    for bad, why in (("nope", "no such file or directory"), ("f", "not a directory")):
        proc = mvtools(tmp_path, "-C", str(tmp_path / bad), "show", check=False)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr == f"mvtools: error: -C {tmp_path / bad}: {why}\n"


@pytest.mark.slow
def test_in_process_main_restores_the_cwd(r: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from mvtools.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["-C", str(r), "get", "clf@v0.1.0", "-o", "in.bin"]) == 0
    assert Path.cwd() == tmp_path and (r / "in.bin").exists()
    assert "clf v0.1.0 -> in.bin" in capsys.readouterr().out


# -- the table renderer itself ----------------------------------------------------------------
def test_table_wraps_widest_columns_then_falls_back_to_blocks() -> None:
    from mvtools.ui import table

    rows = [("A", "B", "C"), ("x" * 10, "one two three four five six", "y" * 10)]
    assert table(rows) == table(rows, 200)  # fits: unchanged
    narrow = table(rows, 30)
    assert all(len(line) <= 30 for line in narrow.splitlines())
    assert narrow.splitlines()[:3] == ["A           B       C", "xxxxxxxxxx  one     yyyyyyyyyy", "            two"]
    assert " ".join(line[12:18].strip() for line in narrow.splitlines()[1:]) == "one two three four five six"
    blocks = table(rows, 20)  # the words cannot fit side by side: a block per row
    assert blocks.splitlines()[0] == "A  " + "x" * 10
    assert all(len(line) <= 20 for line in blocks.splitlines())
    assert table([("H",), ("z" * 50,)], 20) == "H  " + "z" * 50  # one long word: over, alone
    # a block leaves out its empty cells (history: a register has no stage, env or action)
    assert table([("A", "B", "C"), ("a" * 15, "-", "c" * 15)], 20) == f"A  {'a' * 15}\nC  {'c' * 15}"


def test_table_counts_terminal_cells_not_characters() -> None:
    """A CJK character takes two terminal cells, a combining accent none: the columns line up
    and the table fits ``width`` by what the terminal shows (an actor named in Chinese made
    history 82 cells wide at COLUMNS=80)."""
    from mvtools.ui import cells, table

    assert cells("模型") == 4 and cells("e\u0301") == 1 and cells("abc") == 3
    rows = [("WHEN", "EVENT", "ACTOR"), ("2026-12-02 07:21:00", "promote", "模型模型模型模型模型 Maintainer"),
            ("2026-12-02 07:21:01", "register", "Jürgen Maintainer")]
    assert [cells(line) for line in table(rows).splitlines()] == [36, 62, 48]
    assert table(rows).splitlines()[1].index("模") == table(rows).splitlines()[2].index("J")  # aligned: cells
    narrow = table(rows, 44)
    assert all(cells(line) <= 44 for line in narrow.splitlines()), narrow
    assert narrow.splitlines()[1].endswith("模型模型模型模型模型")
    tight = table(rows, 30)  # the words do not fit side by side: blocks
    assert tight.splitlines()[0] == "WHEN   2026-12-02 07:21:00"
    assert all(cells(line) <= 30 for line in tight.splitlines()), tight


@pytest.mark.slow
def test_quickstart_hint_works_as_printed_with_dash_c_and_spaces(tmp_path: Path) -> None:
    """`mvtools -C base quickstart "my demo"` builds base/my demo; its closing hint is run as
    printed from where the user typed it (it said `cd my demo && ...`: no such directory)."""
    import subprocess
    import sys

    (tmp_path / "base").mkdir()
    out = mvtools(tmp_path, "-C", "base", "quickstart", "my demo").stdout
    assert (tmp_path / "base" / "my demo" / "registry").is_dir()
    hint = out.strip().splitlines()[-1].removeprefix("next: ")
    assert hint == "cd 'base/my demo' && mvtools get churn@v0.1.0 -o old-model.pkl"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-c", hint], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "base" / "my demo" / "old-model.pkl").is_file()


def test_quickstart_refuses_an_empty_dir_argument(tmp_path: Path) -> None:
    proc = mvtools(tmp_path, "quickstart", "", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("mvtools: error: quickstart: DIR is empty"), proc.stderr
    assert list(tmp_path.iterdir()) == []  # was ": exists and is not empty"


def test_table_shows_control_characters_instead_of_sending_them(r: Path) -> None:
    """A ledger's actor comes from the committer's name, which a cloned repository chooses:
    `history` sent its escape sequences to the terminal (colours, the window title, clearing
    the screen; a bidi override reorders what is read). A table prints them escaped."""
    from mvtools.ui import table

    evil = "\x1b[31mRED\x1b[0m\x1b]0;pwned\x07 X \u202egnp.exe"
    out = table([("ACTOR",), (evil,)])
    assert out.splitlines()[1] == "\\x1b[31mRED\\x1b[0m\\x1b]0;pwned\\x07 X \\u202egnp.exe"
    assert all(line.isprintable() for line in table([("A", "B"), (evil, "x")], 30).splitlines())
    name = "X\x1b[2J\x1b]0;pwned\x07 Mallory"  # git drops a leading escape, not the others
    mvtools(r, "promote", "clf", "v0.1.0", "development", env={"GIT_AUTHOR_NAME": name, "GIT_COMMITTER_NAME": name})
    hist = mvtools(r, "history", "clf").stdout
    assert "\x1b" not in hist and "X\\x1b[2J\\x1b]0;pwned\\x07 Mallory" in hist
