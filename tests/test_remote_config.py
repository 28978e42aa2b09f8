"""The DVC remote must be committed for clones to fetch: README's steps for one's own
repository commit it (followed here line by line), and `mvtools init` / `mvtools push`
warn when the remote in use is not committed, with commands that work as printed.
Real git (a bare repository on disk), real DVC (a local-directory remote)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, ROOT, commit_model, dvc, git, mvtools, set_up_mvtools


def _sh(cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["sh", "-c", cmd], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, (cmd, proc.stdout, proc.stderr)
    return proc


def _readme_steps() -> list[str]:
    """The command lines of README's "In your own repository" block."""
    text = (ROOT / "README.md").read_text()
    block = text.split("In your own repository:", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [ln for ln in block.splitlines() if ln.strip()]


def _warning(stderr: str) -> str | None:
    return next((ln for ln in stderr.splitlines() if "mvtools: warning: the DVC remote" in ln), None)


def _hint(line: str) -> str:
    return line.split("; run: ", 1)[1]


@pytest.mark.slow
def test_readme_steps_for_ones_own_repository(tmp_path: Path) -> None:
    """Each line of the README block runs as written, except: URL is a bare repository or
    a directory, `$EDITOR mvtools.yaml` is skipped (the pipeline's dvc.yaml declares the
    model), and params.yaml changes before "retrain" (what the user would edit)."""
    r = tmp_path / "own"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    for name in ("train.py", "dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / "templates" / "quickstart" / name, r / name)
    (r / "data").mkdir()
    (r / "data" / "data.csv").write_text("tenure,charges,churn\n" + "".join(f"{i},{i * 3},{i % 2}\n"
                                                                          for i in range(50)))
    (r / ".gitignore").write_text("/models/\n")
    bare, store = tmp_path / "origin.git", tmp_path / "dvc-store"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    steps = _readme_steps()
    assert any(s.startswith("git add .dvc/config") for s in steps)
    seen_remote = False
    for line in steps:
        if line.startswith("$EDITOR"):
            continue
        cmd = line.replace("git remote add origin URL", f"git remote add origin {bare}")
        cmd = cmd.replace("dvc remote add -d storage URL", f"dvc remote add -d storage {store}")
        if '"retrain"' in cmd:
            (r / "params.yaml").write_text("train:\n  lr: 0.02\n  epochs: 12\n")
        proc = _sh(cmd, r)
        seen_remote = seen_remote or "dvc remote add" in cmd
        if cmd.startswith(("mvtools", "dvc repro")) and seen_remote:
            assert _warning(proc.stderr) is None, proc.stderr  # the remote is committed
    assert {"churn@v0.1.0", "churn@v0.1.1", "churn#staging#1"} <= set(git(bare, "tag").stdout.split())
    # a clone fetches every version: dvc pull, mvtools get, and DVC's own `dvc artifacts get`
    c = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(c))
    dvc(c, "pull", "-q")
    assert (c / "models" / "model.pkl").read_bytes() == (r / "models" / "model.pkl").read_bytes()
    mvtools(c, "get", "churn@v0.1.0", "-o", "old.pkl")
    assert (c / "old.pkl").read_bytes() == (r / "old.pkl").read_bytes()
    for version in ("v0.1.0", "v0.1.1"):
        out = tmp_path / f"dvc-{version}.pkl"
        subprocess.run([str(BIN / "dvc"), "artifacts", "get", str(bare), "churn", "--rev", version, "-o", str(out)],
                       check=True, capture_output=True, cwd=tmp_path)
        ev = next(e for e in json.loads(mvtools(c, "history", "churn", "--json").stdout)["events"]
                  if e["version"] == version and e["event"] == "register")
        assert __import__("hashlib").sha256(out.read_bytes()).hexdigest() == ev["sha256"]


@pytest.mark.slow
def test_a_remote_only_in_config_local_is_warned_about_and_the_fix_works(repo: Path, tmp_path: Path) -> None:
    r = set_up_mvtools(repo, "models:\n  - name: net\n    path: models/net.bin")
    store = tmp_path / "dvc store"  # a space: the printed commands quote it
    dvc(r, "remote", "add", "--local", "-d", "store", str(store))
    dvc(r, "remote", "modify", "--local", "store", "verify", "true")
    proc = mvtools(r, "init")
    line = _warning(proc.stderr)
    assert line is not None, proc.stderr
    assert "'store' is set in .dvc/config.local, which git does not commit" in line
    _sh(_hint(line), r)  # as printed
    committed = git(r, "show", "HEAD:.dvc/config").stdout
    assert "store" in committed and "verify = true" in committed.lower()
    assert git(r, "status", "--porcelain", "--", ".dvc").stdout == ""
    assert _warning(mvtools(r, "init").stderr) is None
    # a clone can fetch what this clone pushes
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(r, "remote", "add", "origin", str(bare))
    (r / "models").mkdir()
    (r / "models" / "net.bin").write_bytes(b"weights")
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "net")
    assert _warning(mvtools(r, "push").stderr) is None
    c = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(c))
    mvtools(c, "get", "net@v0.1.0", "-o", "got.bin")
    assert (c / "got.bin").read_bytes() == b"weights"


def test_push_warns_when_dvc_config_names_the_remote_uncommitted(repo: Path, tmp_path: Path) -> None:
    r = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin")
    commit_model(r, "one\n", "m1")
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(r, "remote", "add", "origin", str(bare))
    dvc(r, "remote", "add", "-d", "store", str(tmp_path / "store"))
    proc = mvtools(r, "push")
    line = _warning(proc.stderr)
    assert line is not None and "'store' is in .dvc/config but not committed" in line, proc.stderr
    assert _hint(line) == "git add .dvc/config && git commit -m 'DVC remote store' -- .dvc/config"
    _sh(_hint(line), r)
    assert re.search(r"remote = store", git(r, "show", "HEAD:.dvc/config").stdout)
    assert _warning(mvtools(r, "push").stderr) is None
    # a remote the committed config names with another URL is not the one in use
    dvc(r, "remote", "modify", "--local", "store", "url", str(tmp_path / "elsewhere"))
    line = _warning(mvtools(r, "push").stderr)
    assert line is not None and "set in .dvc/config.local" in line
