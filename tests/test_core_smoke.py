"""The main flows end to end: hooks register, tag, and the CLI reads it back."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import dvc, git, head, mvtools, tags, write_model


def test_git_tracked_model_registered_on_commit(git_model_repo: Path) -> None:
    r = git_model_repo
    write_model(r, "models/clf.bin", b"v1")
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "model v1")
    assert "registered clf v0.1.0" in proc.stderr
    assert tags(r)["clf@v0.1.0"] == head(r)
    assert git(r, "status", "--porcelain").stdout == ""
    write_model(r, "models/clf.bin", b"v2")
    git(r, "commit", "-qam", "model v2")
    show = json.loads(mvtools(r, "show", "--json").stdout)
    assert show == {"models": [{"name": "clf", "latest": "v0.1.1", "versions": 2, "stages": {}}]}
    hist = json.loads(mvtools(r, "history", "clf", "--json").stdout)
    assert [e["version"] for e in hist["events"]] == ["v0.1.0", "v0.1.1"]
    assert hist["events"][1]["commit"] == head(r)
    assert hist["events"][0]["metrics"] == {"accuracy": 0.8, "latency": 0.1}


def test_dvc_tracked_model_and_bump(dvc_model_repo: Path) -> None:
    r = dvc_model_repo
    write_model(r, "models/net.bin", b"\x00weights-1")
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "net v1")
    write_model(r, "models/net.bin", b"\x00weights-2")
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "net v2", env={"MVTOOLS_BUMP": "minor"})
    assert {"net@v0.1.0", "net@v0.2.0"} <= set(tags(r))
    ev = json.loads(mvtools(r, "history", "net", "--json").stdout)["events"][1]
    assert ev["md5"] and ev["size"] == 10


def test_workspace_mismatch_refused(dvc_model_repo: Path) -> None:
    r = dvc_model_repo
    write_model(r, "models/net.bin", b"one")
    dvc(r, "add", "-q", "models/net.bin")
    write_model(r, "models/net.bin", b"two")  # changed after dvc add
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "x", check=False)
    assert proc.returncode == 1
    assert "dvc add models/net.bin" in proc.stderr
    assert "net@v0.1.0" not in tags(r)


def test_commit_without_model_is_untouched(git_model_repo: Path) -> None:
    r = git_model_repo
    (r / "notes.txt").write_text("hi")
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "notes")
    assert proc.stderr == ""
    assert not (r / "registry" / "clf.yaml").exists()
