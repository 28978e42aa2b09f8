"""verify checks registered bytes from the DVC cache, or from the DVC remote with --fetch;
without --fetch, bytes absent from the cache are listed as unchecked, not as problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import dvc, git, mvtools


def verify(r: Path, *args: str) -> tuple[int, dict]:
    proc = mvtools(r, "verify", "--json", *args, check=False)
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.slow
def test_verify_fetch_checks_the_remote(tmp_path: Path) -> None:
    demo, bare, store = tmp_path / "demo", tmp_path / "bare.git", tmp_path / "dvc-store"
    mvtools(tmp_path, "quickstart", str(demo))
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(demo, "remote", "add", "origin", str(bare))
    dvc(demo, "remote", "add", "-d", "store", str(store))
    git(demo, "commit", "-q", "-m", "DVC remote", "--", ".dvc/config")
    mvtools(demo, "push")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-b", "main", str(bare), str(clone))
    rc, rep = verify(clone)
    assert rc == 0 and rep["problems"] == []
    assert {u["where"] for u in rep["unchecked"] if u["kind"] == "bytes"} == {"churn@v0.1.0", "churn@v0.1.1"}
    rc, rep = verify(clone, "--fetch")
    assert rc == 0 and rep["problems"] == [] and not [u for u in rep["unchecked"] if u["kind"] == "bytes"]

    # a corrupted object in the remote is a problem, found from a fresh clone
    obj = next(p for p in store.rglob("*") if p.is_file() and "055dd1e4" not in str(p) and p.stat().st_size > 500)
    obj.chmod(0o644)
    obj.write_bytes(obj.read_bytes() + b"tampered")
    clone2 = tmp_path / "clone2"
    git(tmp_path, "clone", "-q", "-b", "main", str(bare), str(clone2))
    rc, rep = verify(clone2, "--fetch")
    assert rc == 1 and [p["kind"] for p in rep["problems"]] == ["bytes"]


@pytest.mark.parametrize("manifest", ["not json\n", '[{"relpath": "a"}]\n', '{"md5": 1}\n'])
def test_a_corrupt_cached_directory_manifest_is_a_problem_not_a_crash(repo: Path, manifest: str) -> None:
    """A DVC-tracked directory whose cached `.dir` manifest is damaged: verify names the
    version's bytes as a problem (exit 1), never an internal error."""
    dvc(repo, "init", "-q")
    (repo / "m").mkdir()
    (repo / "m" / "a").write_text("a\n")
    (repo / "m" / "b").write_text("b\n")
    dvc(repo, "add", "-q", "m")
    (repo / "mvtools.yaml").write_text("mvtools: 1\nmodels:\n  - name: dm\n    path: m\n")
    mvtools(repo, "init")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    assert verify(repo)[0] == 0
    (obj,) = (repo / ".dvc" / "cache").rglob("*.dir")
    obj.chmod(0o644)
    obj.write_text(manifest)
    code, doc = verify(repo)
    assert code == 1 and [p["kind"] for p in doc["problems"]] == ["bytes"], doc
    assert "manifest" in doc["problems"][0]["message"]
