"""Tags derive from the ledger: verify finds any missing tag (versions, stages, archives,
deprecations), sync-tags recreates it at the event's time so GTO reads the same state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import git, gto_show, init_repo, mvtools, tags, template_repo, write_model


def _build(r: Path) -> None:
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n  - name: old\n    path: models/old.bin\n")
    for i in range(3):
        write_model(r, "models/clf.bin", f"clf {i}\n")
        write_model(r, "models/old.bin", f"old {i}\n")
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", f"v{i}")
    mvtools(r, "promote", "clf", "v0.1.0", "production")
    mvtools(r, "promote", "clf", "v0.1.1", "production")
    mvtools(r, "rollback", "clf", "--stage", "production")
    mvtools(r, "promote", "clf", "v0.1.2", "staging")
    mvtools(r, "archive", "clf", "v0.1.1")
    mvtools(r, "deprecate", "old")


r = template_repo("sync-tags", _build)


def mv_show(r: Path) -> dict:
    doc = json.loads(mvtools(r, "show", "--json").stdout)
    return {m["name"]: {"latest": m["latest"], "stages": m["stages"]} for m in doc["models"]}


@pytest.mark.slow
def test_every_missing_tag_is_found_and_recreated(r: Path) -> None:
    before = tags(r)
    assert mv_show(r) == gto_show(r)
    lost = [t for t in before if "#" in t or t.endswith("!") or "@deprecated" in t]
    assert len(lost) >= 6  # 4 assignments, 1 unassignment, an archive, a deprecation
    git(r, "tag", "-d", *lost)
    rep = json.loads(mvtools(r, "verify", "--json", check=False).stdout)
    assert sorted(p["where"] for p in rep["problems"] if p["kind"] == "tag-missing") == sorted(lost)
    made = json.loads(mvtools(r, "sync-tags", "--json").stdout)["created"]
    assert sorted(m["tag"] for m in made) == sorted(lost)
    assert tags(r) == before  # the same commits
    assert mv_show(r) == gto_show(r)
    assert json.loads(mvtools(r, "verify", "--json").stdout)["problems"] == []


def test_register_version_of_the_latest_bytes_is_refused(r: Path) -> None:
    proc = mvtools(r, "register", "clf", "--version", "v9.0.0", check=False)
    assert proc.returncode == 2 and "already registered" in proc.stderr
    assert "clf@v9.0.0" not in tags(r)


def test_timestamp_latest_follows_registration_order(tmp_path: Path) -> None:
    r = tmp_path / "ts"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    mvtools(r, "init", "--scheme", "timestamp", "--hooks", "none")
    for content in ("zz first\n", "aa second\n", "mm third\n"):  # sha8 suffixes in no order
        write_model(r, "a.bin", content)
        mvtools(r, "register", "a", "--path", "a.bin")
    doc = json.loads(mvtools(r, "history", "a", "--json").stdout)
    last = doc["events"][-1]["version"]
    assert json.loads(mvtools(r, "show", "--json").stdout)["models"][0]["latest"] == last
    mvtools(r, "get", "a", "-o", "out.bin")
    assert (r / "out.bin").read_text() == "mm third\n"
