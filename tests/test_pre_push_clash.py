"""I1 across clones, found by the state machine: two clones register the same provisional
number with different bytes; one publishes it. A plain `git push --follow-tags` from the
other then sent its *archive* tag `NAME@V!` (git refuses only the version tag, which the
remote has by name), binding V to other bytes on the remote. The pre-push hook refuses."""

from __future__ import annotations

from pathlib import Path

from conftest import git, mvtools, set_up_mvtools, write_model


def _commit(r: Path, content: str, msg: str) -> None:
    write_model(r, "models/clf.bin", content)
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", msg)


def _published(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A repo whose first version is pushed to a bare remote: (the repo, the remote)."""
    a = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin")
    _commit(a, "one\n", "m1")
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(a, "remote", "add", "origin", str(bare))
    git(a, "push", "-q", "--follow-tags", "origin", "main")
    return a, bare


def _remote_tags(bare: Path) -> set[str]:
    return set(git(bare, "tag", "-l").stdout.split())


def test_an_archive_tag_of_a_number_another_clone_published_is_not_pushed(repo: Path, tmp_path: Path) -> None:
    a, bare = _published(repo, tmp_path)
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(bare), str(b))
    mvtools(b, "install-hooks")
    _commit(a, "two from a\n", "a2")  # clf@v0.1.1 in a
    _commit(b, "two from b\n", "b2")  # clf@v0.1.1 in b, other bytes
    git(b, "push", "-q", "--follow-tags", "origin", "main")  # b publishes v0.1.1
    mvtools(a, "archive", "clf", "v0.1.1")
    git(a, "fetch", "-q", "origin")
    git(a, "merge", "-q", "--no-edit", "origin/main", check=False)
    proc = git(a, "push", "--atomic", "--follow-tags", "origin", "HEAD:refs/heads/main", check=False)
    assert proc.returncode != 0
    assert "refusing to push clf@v0.1.1!" in proc.stderr and "another clone took v0.1.1 first" in proc.stderr
    assert "clf@v0.1.1!" not in _remote_tags(bare)


def test_archiving_a_published_version_pushes(repo: Path, tmp_path: Path) -> None:
    a, bare = _published(repo, tmp_path)
    mvtools(a, "archive", "clf", "v0.1.0")
    git(a, "push", "-q", "--follow-tags", "origin", "main")
    assert "clf@v0.1.0!" in _remote_tags(bare)
