"""verify reads history in bulk (issue 14 b): the same findings as reading it a git process
per commit, blob and tag (tests/verify_reference.py, the code before the change), on varied
histories; and a number of git processes that does not grow with the history."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import commit_model, git, mvtools, set_up_mvtools, write_model
from mvtools import ledger as L
from verify_reference import reference_verify

LEDGER = "registry/clf.yaml"


def _same(r: Path) -> list[str]:
    """verify's findings, after checking that the reference finds exactly the same."""
    from mvtools.registry import Registry
    from mvtools.verify import verify

    bulk, ref = verify(Registry(r)), reference_verify(Registry(r))
    for what in ("problems", "warnings", "notes", "unchecked"):
        assert [tuple(vars(f).values()) for f in getattr(bulk, what)] == \
            [tuple(vars(f).values()) for f in getattr(ref, what)], what
    assert bulk == ref
    return sorted(f.kind for f in bulk.problems)


def _event(version: str, content: bytes) -> bytes:
    ev = L.make_event("register", "clf", "Test User <test@example.com>", "2024-01-01T00:00:00Z",
                      version=version, tag=f"clf@{version}", path="models/clf.bin",
                      sha256=hashlib.sha256(content).hexdigest(), size=len(content), md5=None,
                      metrics={}, params={}, lineage=None)
    return L.render_events([ev]).encode()


def _hand_commit(r: Path, data: bytes, msg: str) -> None:
    """Commit ``data`` as clf's ledger with no hook (an edit mvtools did not make)."""
    (r / LEDGER).write_bytes(data)
    git(r, "add", LEDGER)
    git(r, "commit", "-q", "--no-verify", "-m", msg)


def _branch_registers(r: Path, branch: str, content: str, merge_args: tuple[str, ...] = ()) -> None:
    git(r, "checkout", "-q", "-b", branch)
    commit_model(r, content, branch)
    git(r, "checkout", "-q", "main")
    git(r, "merge", "-q", "--no-edit", *merge_args, branch)


@pytest.mark.slow
def test_bulk_reading_finds_what_the_per_commit_walk_found(repo: Path) -> None:
    """Merges (united by the driver, and `-s ours` dropping a side), hand edits that rewrite,
    append after a foreign key, register a number twice or drop the final newline, content
    committed with no hook, and a revert: after each step both readings agree."""
    r = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin\n"
                             "  - name: net\n    path: models/net.bin")
    for i in range(3):
        commit_model(r, f"bytes {i}\n", f"register {i}")
    mvtools(r, "promote", "clf", "v0.1.1", "staging")
    assert _same(r) == []
    git(r, "checkout", "-q", "-b", "feat")
    commit_model(r, "feat bytes\n", "feat registers")
    write_model(r, "models/net.bin", "net on feat\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "feat registers net")
    git(r, "checkout", "-q", "main")
    git(r, "merge", "-q", "--no-edit", "feat")
    write_model(r, "models/net.bin", "net on main\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "main registers")
    git(r, "checkout", "-q", "-b", "feat2", "HEAD~1")
    commit_model(r, "feat2 bytes\n", "feat2 registers")
    git(r, "checkout", "-q", "main")
    git(r, "merge", "-q", "--no-edit", "feat2")  # the merge driver unites both ledgers
    assert _same(r) == []
    write_model(r, "models/net.bin", "unregistered bytes\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "--no-verify", "-m", "no hook")
    assert _same(r) == ["unregistered"]
    _branch_registers(r, "dropped", "dropped side\n", ("-s", "ours"))
    assert "rewrite" in _same(r)
    registering = git(r, "log", "-1", "--format=%H", "--grep=main registers").stdout.strip()
    if git(r, "revert", "--no-edit", registering, check=False).returncode != 0:
        git(r, "revert", "--abort")
    _same(r)
    data = (r / LEDGER).read_bytes()
    _hand_commit(r, data + b"note: appended by hand\n", "a key after the events")
    _hand_commit(r, (r / LEDGER).read_bytes() + _event("v9.0.0", b"x"), "an event after it")
    _same(r)
    _hand_commit(r, data, "back")
    _hand_commit(r, data + _event("v0.1.0", b"other bytes"), "v0.1.0 registered twice")
    _same(r)
    _hand_commit(r, data.rstrip(b"\n"), "no final newline")
    _hand_commit(r, (r / LEDGER).read_bytes() + _event("v9.0.1", b"y"), "appended to it")
    _same(r)
    _hand_commit(r, data, "back again")
    assert "rewrite" in _same(r)


@pytest.mark.slow
def test_bulk_reading_agrees_on_a_repository_adopted_from_gto(tmp_path: Path) -> None:
    """A real GTO repository (shared/corpus/gto-repos), imported, then one more version."""
    from test_gto_bundles import BUNDLES, _adopt, _register_next, gto_registered

    bundle = next((b for b in BUNDLES if b.stem == "iterative__example-gto"), None)
    if bundle is None:
        pytest.skip("the GTO corpus is not here")
    r = tmp_path / "gto"
    subprocess.run(["git", "clone", "-q", str(bundle), str(r)], check=True, capture_output=True)
    _same(r)
    _adopt(r)
    _same(r)
    assert _register_next(r, sorted(gto_registered(r))) is not None
    _same(r)


def _git_processes(r: Path, shim: Path) -> int:
    count = shim / "count"
    count.write_text("")
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "COUNT_FILE": str(count)}
    proc = subprocess.run([shutil.which("mvtools") or "mvtools", "verify"], cwd=r, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return len(count.read_text().splitlines())


@pytest.mark.slow
def test_verify_starts_as_many_git_processes_for_a_long_history_as_for_a_short_one(repo: Path,
                                                                                   tmp_path: Path) -> None:
    """Counted by a `git` on PATH that logs each start: no process per commit, blob or tag."""
    shim = tmp_path / "shim"
    shim.mkdir()
    real = shutil.which("git")
    (shim / "git").write_text(f'#!/bin/sh\necho "$*" >> "$COUNT_FILE"\nexec {real} "$@"\n')
    (shim / "git").chmod(0o755)
    r = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin\n"
                             "  - name: net\n    path: models/net.bin")
    commit_model(r, "a\n", "one")
    short = _git_processes(r, shim)
    for i in range(6):
        commit_model(r, f"clf {i}\n", f"clf {i}")
        write_model(r, "models/net.bin", f"net {i}\n")
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", f"net {i}")
    _branch_registers(r, "side", "side bytes\n")
    mvtools(r, "promote", "clf", "v0.1.3", "production")
    assert _git_processes(r, shim) == short
