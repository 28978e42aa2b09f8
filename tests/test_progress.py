"""Progress bars of `push` and `get` for a large DVC-tracked artifact: drawn on stderr when it
is a terminal (a real pty), never with --json, and nothing extra when stderr is a pipe."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from conftest import dvc, git, init_repo, mvtools, template_copy, write_model

SIZE = 24 * 1024 * 1024  # over mvtools.progress.MIN_BYTES (16 MiB)


def build(r: Path) -> None:
    init_repo(r, "  - name: net\n    path: models/net.bin")
    write_model(r, "models/net.bin", os.urandom(SIZE))
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "net v1")


@pytest.fixture
def r(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repo with a git remote (bare) and a DVC remote (a folder), both committed."""
    repo = template_copy("progress", tmp_path_factory, tmp_path / "repo", build)
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    dvc(repo, "remote", "add", "-d", "store", str(tmp_path / "store"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "remote")
    return repo


def on_pty(cwd: Path, *args: str) -> tuple[int, str, str]:
    """mvtools with stderr on a pty of 80x24 (stdout a pipe): exit code, stdout, what the
    terminal received."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "mvtools", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, env={**os.environ, "TERM": "xterm-256color"})
    os.close(slave)
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read() if proc.stdout else b""))
    reader.start()
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every end of the pty's other side is closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    reader.join(timeout=120)
    rc = proc.wait(timeout=120)
    return rc, b"".join(out).decode(), seen.decode("utf-8", "replace")


def last_count(term: str) -> tuple[str, str]:
    """The bar's last "done/total MB"."""
    done, total = re.findall(r"([0-9.]+)/([0-9.]+) MB", term)[-1]
    return done, total


def drop_cache(r: Path) -> None:
    shutil.rmtree(r / ".dvc" / "cache")


@pytest.mark.slow
def test_push_and_get_draw_a_bar_on_a_terminal(r: Path) -> None:
    rc, out, term = on_pty(r, "push")
    assert rc == 0, term
    assert "pushed main" in out
    assert "push 1 version(s)" in term and "━" in term, term
    assert last_count(term) == ("25.2", "25.2")  # every byte counted
    drop_cache(r)  # get fetches from the DVC remote, then copies out of the cache
    rc, out, term = on_pty(r, "get", "net", "-o", "net.out")
    assert rc == 0, term
    assert out.strip() == "net v0.1.0 -> net.out (sha256 verified)"
    assert "net v0.1.0" in term and "━" in term, term
    assert last_count(term) == ("50.3", "50.3")  # fetched into the cache, then copied out
    assert (r / "net.out").stat().st_size == SIZE


@pytest.mark.slow
def test_no_bar_with_json_or_off_a_terminal(r: Path) -> None:
    rc, out, term = on_pty(r, "push", "--json")
    assert rc == 0 and term == "", term
    assert json.loads(out)["dvc_files_pushed"] == 1
    drop_cache(r)
    rc, out, term = on_pty(r, "get", "net", "-o", "a.bin", "--json")
    assert rc == 0 and term == "", term
    assert json.loads(out)["path"] == "a.bin"
    drop_cache(r)
    proc = mvtools(r, "get", "net", "-o", "b.bin")  # stderr a pipe
    assert proc.stderr == "" and proc.stdout == "net v0.1.0 -> b.bin (sha256 verified)\n"
    assert (r / "b.bin").stat().st_size == SIZE


@pytest.mark.slow
def test_small_artifact_draws_no_bar(tmp_path: Path) -> None:
    r = init_repo(tmp_path / "r", "  - name: net\n    path: models/net.bin")
    write_model(r, "models/net.bin", b"small")
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "net v1")
    rc, out, term = on_pty(r, "get", "net", "-o", "s.bin")
    assert rc == 0 and term == "" and out.strip() == "net v0.1.0 -> s.bin (sha256 verified)"
