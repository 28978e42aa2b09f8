"""GTO reads mvtools' registry unchanged: the real `gto` CLI, run in a repo whose versions
were registered by commits through the hooks and by `mvtools register`, reports the same
models, versions, latest versions and stages as `mvtools show`.

`gto show --json` prints ``{NAME: {"version": LATEST|null, "stage": {STAGE: VERSION|null},
"registered": bool, "active": bool}}`` (every stage seen in any tag is a key for every
artifact); `gto show NAME --json` prints a list of versions, newest first, each with
``artifact``, ``version``, ``commit_hexsha``, ``registrations``, ``deregistrations``,
``stages`` (assignments), ``is_active``, ``ref`` ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import dvc, git, mvtools, run, tags, write_model

pytestmark = pytest.mark.slow

GTO = str(Path(sys.executable).parent / "gto")


def gto(repo: Path, *args: str):  # type: ignore[no-untyped-def]
    proc = run([GTO, *args], repo)
    return json.loads(proc.stdout)


def mv_show(repo: Path) -> dict[str, dict]:
    return {m["name"]: m for m in json.loads(mvtools(repo, "show", "--json").stdout)["models"]}


def mv_versions(repo: Path, name: str) -> dict[str, str]:
    """version -> commit, for the live register events of ``name``."""
    evs = json.loads(mvtools(repo, "history", name, "--json").stdout)["events"]
    return {e["version"]: e["commit"] for e in evs if e["event"] == "register"}


def build_registry(r: Path) -> None:
    """clf (git-tracked), net (dvc add), sub:enc (sub/dvc.yaml artifacts), extra (register --path)."""
    mvtools(r, "init")
    cfg = (r / "mvtools.yaml").read_text().replace(
        "models: []", "models:\n  - name: clf\n    path: models/clf.bin\n"
        "  - name: net\n    path: models/net.bin\n")
    (r / "mvtools.yaml").write_text(cfg)
    (r / "sub").mkdir()
    (r / "sub" / "dvc.yaml").write_text(
        "artifacts:\n  enc:\n    path: enc.bin\n    type: model\n    desc: encoder\n")
    write_model(r, "models/clf.bin", b"clf-1")
    write_model(r, "models/net.bin", b"net-1")
    write_model(r, "sub/enc.bin", b"enc-1")
    dvc(r, "add", "-q", "models/net.bin", "sub/enc.bin")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "three models")                            # clf, net, sub:enc v0.1.0
    write_model(r, "models/clf.bin", b"clf-2")
    git(r, "commit", "-qam", "clf 2")                                       # clf v0.1.1
    write_model(r, "models/net.bin", b"net-2")
    dvc(r, "add", "-q", "models/net.bin")
    mvtools(r, "register", "net", "--bump", "minor")                        # net v0.2.0
    write_model(r, "models/clf.bin", b"clf-3")
    mvtools(r, "register", "clf", "--version", "v1.0.0")                    # clf v1.0.0
    write_model(r, "sub/enc.bin", b"enc-2")
    dvc(r, "add", "-q", "sub/enc.bin")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "enc 2", env={"MVTOOLS_BUMP": "major"})   # sub:enc v1.0.0
    write_model(r, "models/clf.bin", b"clf-4")
    git(r, "commit", "-qam", "clf 4")                                       # clf v1.0.1
    write_model(r, "models/extra.bin", b"extra-1")
    mvtools(r, "register", "extra", "--path", "models/extra.bin")           # extra v0.1.0
    assert git(r, "status", "--porcelain").stdout == ""


EXPECTED = {
    "clf": ["v0.1.0", "v0.1.1", "v1.0.0", "v1.0.1"],
    "net": ["v0.1.0", "v0.2.0"],
    "sub:enc": ["v0.1.0", "v1.0.0"],
    "extra": ["v0.1.0"],
}


def test_gto_show_agrees_with_mvtools_show(repo: Path) -> None:
    r = repo
    build_registry(r)
    t = tags(r)
    assert {"sub=enc@v0.1.0", "sub=enc@v1.0.0", "clf@v1.0.1", "net@v0.2.0", "extra@v0.1.0"} <= set(t)

    mine = mv_show(r)
    assert {n: m["latest"] for n, m in mine.items()} == {n: v[-1] for n, v in EXPECTED.items()}
    assert {n: m["versions"] for n, m in mine.items()} == {n: len(v) for n, v in EXPECTED.items()}

    theirs = gto(r, "show", "--json")
    registered = {n: d for n, d in theirs.items() if d["registered"]}
    assert set(registered) == set(mine), theirs
    for name, d in registered.items():
        assert d["version"] == mine[name]["latest"], (name, d)
        assert d["active"] is True
        assert {s: v for s, v in d["stage"].items() if v} == mine[name]["stages"] == {}

    # every version, and the commit GTO finds it on, per model
    for name, versions in EXPECTED.items():
        per = gto(r, "show", name, "--json")
        gto_versions = {v["version"]: v["commit_hexsha"] for v in per if v["registrations"]}
        assert gto_versions == mv_versions(r, name), name
        assert sorted(gto_versions) == sorted(versions)
        assert {v["ref"] for v in per} == {f"{name.replace(':', '=')}@{v}" for v in versions}

    # gto's own consistency check finds nothing wrong with mvtools' tags
    proc = run([GTO, "doctor"], r)
    assert "ERROR" not in proc.stdout + proc.stderr
    assert mvtools(r, "verify").returncode == 0


def test_gto_agrees_on_stages_archive_and_deprecation(repo: Path) -> None:
    r = repo
    build_registry(r)
    # assignments in quick succession: GTO orders tags at one-second resolution
    mvtools(r, "promote", "clf", "v0.1.1", "staging")
    mvtools(r, "promote", "clf", "v1.0.0", "production")
    mvtools(r, "promote", "clf", "v1.0.1", "staging")
    mvtools(r, "promote", "net", "v0.1.0", "production")
    mvtools(r, "promote", "net", "v0.2.0", "production")
    mvtools(r, "promote", "sub:enc", "v1.0.0", "development")
    mine = mv_show(r)
    assert mine["clf"]["stages"] == {"staging": "v1.0.1", "production": "v1.0.0"}
    assert mine["net"]["stages"] == {"production": "v0.2.0"}
    assert mine["sub:enc"]["stages"] == {"development": "v1.0.0"}
    theirs = gto(r, "show", "--json")
    for name in EXPECTED:
        assert {s: v for s, v in theirs[name]["stage"].items() if v} == mine[name]["stages"], (name, theirs[name])
        assert theirs[name]["version"] == mine[name]["latest"]

    # archive the latest clf: both fall back to the version below it
    mvtools(r, "archive", "clf", "v1.0.1")
    assert "clf@v1.0.1!" in tags(r)
    mine = mv_show(r)
    assert mine["clf"]["latest"] == "v1.0.0"
    theirs = gto(r, "show", "--json")
    assert theirs["clf"]["version"] == "v1.0.0"

    # a deprecated model: mvtools show and gto show both leave it out (both list it with --all/-d)
    mvtools(r, "deprecate", "extra")
    assert "extra@deprecated" in tags(r)
    assert "extra" not in mv_show(r)
    assert "extra" not in gto(r, "show", "--json")
    assert "extra" in gto(r, "show", "--json", "-d")
    assert "extra" in {m["name"] for m in json.loads(mvtools(r, "show", "--all", "--json").stdout)["models"]}
