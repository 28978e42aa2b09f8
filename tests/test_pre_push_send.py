"""A plain `git push` of registering commits: the pre-push hook sends their tags and DVC
bytes along (the default, `push: {on_git_push: send}`) or refuses naming the one command
that does (`refuse`); a registry tag pushed on its own is checked the same way. Real git
(a bare repository on disk as the shared remote), real DVC (a local-directory remote)."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from conftest import commit_model, dvc, git, mvtools, set_up_mvtools, tags, write_model


def _remote_tags(bare: Path) -> set[str]:
    return set(git(bare, "tag", "-l").stdout.split())


def _bare(tmp_path: Path, r: Path) -> Path:
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(r, "remote", "add", "origin", str(bare))
    return bare


def _git_repo(repo: Path, tmp_path: Path, extra: str = "") -> tuple[Path, Path]:
    r = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin" + extra)
    return r, _bare(tmp_path, r)


def _dvc_repo(repo: Path, tmp_path: Path, extra: str = "") -> tuple[Path, Path, Path]:
    """A DVC-tracked model `net`, a local DVC remote committed in .dvc/config, a bare origin."""
    r = set_up_mvtools(repo, "models:\n  - name: net\n    path: models/net.bin" + extra)
    store = tmp_path / "dvc-store"
    store.mkdir()
    dvc(r, "remote", "add", "-d", "store", str(store))
    git(r, "add", ".dvc/config")
    git(r, "commit", "-q", "-m", "dvc remote")
    return r, store, _bare(tmp_path, r)


def _dvc_version(r: Path, content: bytes, msg: str) -> None:
    write_model(r, "models/net.bin", content)
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "models/net.bin.dvc", "models/.gitignore")
    git(r, "commit", "-q", "-m", msg)


def _hint(stderr: str) -> str:
    """The command a refusal names (after 'run: ')."""
    line = next(ln for ln in stderr.splitlines() if "mvtools: error:" in ln)
    return line.split("run: ", 1)[1].split(" (")[0].strip()


def test_a_plain_push_sends_the_tags_of_its_registrations(repo: Path, tmp_path: Path) -> None:
    r, bare = _git_repo(repo, tmp_path)
    commit_model(r, "one\n", "m1")
    mvtools(r, "promote", "clf", "v0.1.0", "staging")
    commit_model(r, "two\n", "m2")
    proc = git(r, "push", "origin", "main")  # no --tags, no --follow-tags
    assert "sent the tags" in proc.stderr
    local = tags(r)
    assert {"clf@v0.1.0", "clf@v0.1.1", "clf#staging#1"} <= _remote_tags(bare)
    for t in ("clf@v0.1.0", "clf@v0.1.1", "clf#staging#1"):
        assert git(bare, "rev-parse", t + "^{commit}").stdout.strip() == local[t]
    # another clone sees every version with its tag, and gets it
    c = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(c))
    assert json.loads(mvtools(c, "show", "--json").stdout)["models"][0]["latest"] == "v0.1.1"
    mvtools(c, "get", "clf@v0.1.1", "-o", "got.bin")
    assert (c / "got.bin").read_text() == "two\n"
    assert mvtools(c, "verify").returncode == 0
    # nothing new registered: nothing more to send
    (r / "README.md").write_text("more\n")
    git(r, "commit", "-qam", "docs")
    assert "sent" not in git(r, "push", "origin", "main").stderr


@pytest.mark.slow
def test_a_plain_push_sends_the_dvc_bytes_and_a_clone_gets_them(repo: Path, tmp_path: Path) -> None:
    r, store, bare = _dvc_repo(repo, tmp_path)
    _dvc_version(r, b"net weights 1", "net v0.1.0")
    proc = git(r, "push", "-u", "origin", "main")
    assert "net@v0.1.0" in proc.stderr and "DVC remote" in proc.stderr
    assert "net@v0.1.0" in _remote_tags(bare)
    assert any(p.is_file() for p in store.rglob("*"))
    c = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(c))
    mvtools(c, "get", "net@v0.1.0", "-o", "got.bin")
    assert (c / "got.bin").read_bytes() == b"net weights 1"


@pytest.mark.slow
def test_refuse_mode_names_the_one_command_that_pushes_it_all(repo: Path, tmp_path: Path) -> None:
    r, store, bare = _dvc_repo(repo, tmp_path, "\npush:\n  on_git_push: refuse")
    _dvc_version(r, b"net weights 1", "net v0.1.0")
    proc = git(r, "push", "origin", "main", check=False)
    assert proc.returncode != 0
    assert "refusing to push" in proc.stderr and "net@v0.1.0" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert git(bare, "rev-parse", "-q", "--verify", "main", check=False).returncode != 0  # nothing pushed
    assert not _remote_tags(bare) and not any(p.is_file() for p in store.rglob("*"))
    hint = _hint(proc.stderr)
    assert hint == "mvtools push origin"
    subprocess.run(hint, shell=True, cwd=r, check=True, capture_output=True)  # as printed
    assert "net@v0.1.0" in _remote_tags(bare) and any(p.is_file() for p in store.rglob("*"))
    assert git(bare, "rev-parse", "main").stdout == git(r, "rev-parse", "main").stdout
    git(r, "push", "origin", "main")  # all there: a plain push passes


@pytest.mark.slow
def test_a_tag_pushed_alone_needs_its_commit_on_the_remote_and_its_bytes(repo: Path, tmp_path: Path) -> None:
    r, store, bare = _dvc_repo(repo, tmp_path)
    git(r, "push", "-q", "origin", "main")
    _dvc_version(r, b"net weights 1", "net v0.1.0")
    proc = git(r, "push", "--tags", "origin", check=False)  # the branch holding its event stays behind
    assert proc.returncode != 0
    assert "refusing to push net@v0.1.0: no branch of origin records their events" in proc.stderr
    assert "net@v0.1.0" not in _remote_tags(bare)
    hint = _hint(proc.stderr)
    assert hint == "git push origin main"
    subprocess.run(shlex.split(hint), cwd=r, check=True, capture_output=True)
    assert "net@v0.1.0" in _remote_tags(bare) and any(p.is_file() for p in store.rglob("*"))
    git(r, "push", "--tags", "origin")


def test_a_version_another_clone_published_first_is_refused(repo: Path, tmp_path: Path) -> None:
    a, bare = _git_repo(repo, tmp_path)
    commit_model(a, "one\n", "m1")
    git(a, "push", "-q", "origin", "main")
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(bare), str(b))
    mvtools(b, "install-hooks")
    commit_model(a, "two from a\n", "a2")  # clf@v0.1.1 in a
    commit_model(b, "two from b\n", "b2")  # clf@v0.1.1 in b, other bytes
    git(b, "push", "-q", "origin", "main")  # b publishes v0.1.1 (its tag sent by the hook)
    published = git(bare, "rev-parse", "clf@v0.1.1^{commit}").stdout
    proc = git(a, "push", "origin", "main:refs/heads/a-work", check=False)  # a new branch: git lets it through
    assert proc.returncode != 0
    assert "origin publishes clf@v0.1.1 on commit" in proc.stderr and "another clone took v0.1.1 first" in proc.stderr
    assert git(bare, "rev-parse", "-q", "--verify", "a-work", check=False).returncode != 0
    assert git(bare, "rev-parse", "clf@v0.1.1^{commit}").stdout == published


def test_the_hook_starts_python_only_for_registering_pushes(repo: Path, tmp_path: Path) -> None:
    """The shell fast path: with the hook's mvtools gone, a push that registers nothing still
    passes (Python never started); one that carries a registration needs Python."""
    r, bare = _git_repo(repo, tmp_path)
    commit_model(r, "one\n", "m1")
    git(r, "push", "-q", "origin", "main")
    hook = Path(git(r, "rev-parse", "--git-path", "hooks/pre-push").stdout.strip())
    hook = hook if hook.is_absolute() else r / hook
    text = hook.read_text()
    cmd = next(ln for ln in text.splitlines() if ln.startswith("MVTOOLS='"))
    hook.write_text(text.replace(cmd, "MVTOOLS='/nonexistent/bin/mvtools'"))
    (r / "README.md").write_text("docs only\n")
    git(r, "commit", "-qam", "docs")
    git(r, "push", "-q", "origin", "main")
    git(r, "tag", "plain-tag")
    git(r, "push", "-q", "origin", "plain-tag")
    git(r, "push", "-q", "origin", "main:refs/heads/other")  # a new branch of commits the remote has
    commit_model(r, "two\n", "m2")
    proc = git(r, "push", "origin", "main", check=False)
    assert proc.returncode != 0 and "/nonexistent/bin/mvtools is not there any more" in proc.stderr


def test_a_push_git_will_reject_as_behind_sends_no_tags_and_names_mvtools_push(repo: Path, tmp_path: Path) -> None:
    """The remote branch moved on (another clone pushed): git will reject this push as not a
    fast-forward, so the hook must not publish its tags first (they would bind versions to
    commits no remote branch holds); it refuses, naming mvtools push, which integrates."""
    a, bare = _git_repo(repo, tmp_path)
    commit_model(a, "one\n", "m1")
    git(a, "push", "-q", "origin", "main")
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(bare), str(b))
    mvtools(b, "install-hooks")
    (b / "README.md").write_text("from b\n")
    git(b, "commit", "-qam", "b's docs")
    git(b, "push", "-q", "origin", "main")
    before = _remote_tags(bare)
    commit_model(a, "two\n", "m2")  # clf@v0.1.1, on a branch behind the remote's
    proc = git(a, "push", "origin", "main", check=False)
    assert proc.returncode != 0
    assert _remote_tags(bare) == before, proc.stderr
    hint = _hint(proc.stderr)
    assert hint == "mvtools push origin", proc.stderr
    subprocess.run(shlex.split(hint), cwd=a, check=True, capture_output=True)
    assert git(bare, "rev-parse", "clf@v0.1.1^{commit}").stdout == git(a, "rev-parse", "HEAD").stdout
    assert git(bare, "show", "main:README.md").stdout == "from b\n"
    assert git(bare, "merge-base", "--is-ancestor", "clf@v0.1.1", "main", check=False).returncode == 0
