"""Review of batched tag writing (mvtools.tagwrite): attacks on "the bytes `git tag -a -m`
writes", all-or-nothing, and never moving a tag unless forced. Real git only."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git, tags

from mvtools.gitops import GitError, Repo
from mvtools.tagwrite import TagWrite, write_tags

# messages whose cleanup is where a hand-made stripspace could differ from git's
ODD = [
    "form feed at the end\f\nvertical tab at the end\v \nnext",  # git's isspace has no \f, \v
    "crlf\r\nlines\r\n\r\n\r\nend\r\n",
    "# only a comment",
    "\u00e9t\u00e9 \u2003\n\u00a0\nnbsp line above",  # unicode spaces are not git's whitespace
    "tab\t\n\t\n\tindented kept\n",
    "",
]


def _object(r: Path, name: str) -> str:
    return git(r, "cat-file", "tag", name).stdout


@pytest.mark.parametrize("i", range(len(ODD)))
def test_odd_messages_are_git_tags_bytes(repo: Path, i: int) -> None:
    rp = Repo.discover(repo)
    write_tags(rp, [TagWrite("b", "HEAD", ODD[i], 1700000000), TagWrite("pad", "HEAD", "x", 1700000000)])
    git(repo, "tag", "-a", "-m", ODD[i], "g", "HEAD", env={"GIT_COMMITTER_DATE": "@1700000000 +0000"})
    assert _object(repo, "b") == _object(repo, "g").replace("tag g\n", "tag b\n")


def test_a_prefix_clash_writes_nothing(repo: Path) -> None:
    """`a` exists: `a/b` cannot be created, and nothing else of the batch is either."""
    rp = Repo.discover(repo)
    git(repo, "tag", "-a", "-m", "x", "a", "HEAD")
    before = tags(repo)
    with pytest.raises(GitError):
        write_tags(rp, [TagWrite("ok", "HEAD", "m"), TagWrite("a/b", "HEAD", "m")])
    assert tags(repo) == before


def test_deleting_and_writing_together_keeps_others(repo: Path) -> None:
    rp = Repo.discover(repo)
    git(repo, "tag", "-a", "-m", "x", "old", "HEAD")
    git(repo, "tag", "-a", "-m", "x", "kept", "HEAD")
    kept = git(repo, "rev-parse", "refs/tags/kept").stdout
    with pytest.raises(GitError):  # `kept` exists and is not forced: the deletion is not done either
        write_tags(rp, [TagWrite("kept", "HEAD", "y"), TagWrite("n", "HEAD", "m")], delete=["old"])
    assert "old" in tags(repo) and git(repo, "rev-parse", "refs/tags/kept").stdout == kept
    write_tags(rp, [TagWrite("old", "HEAD", "again"), TagWrite("n", "HEAD", "m")], delete=["old", "absent"])
    assert "again" in _object(repo, "old") and "n" in tags(repo)
    assert git(repo, "rev-parse", "refs/tags/kept").stdout == kept


def test_a_batch_that_only_deletes_needs_no_identity(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`git tag -d` needs no committer identity; a batch of deletions must not either."""
    git(repo, "tag", "-a", "-m", "x", "a", "HEAD")
    git(repo, "tag", "-a", "-m", "x", "b", "HEAD")
    for k in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(k, raising=False)
    git(repo, "config", "user.useConfigOnly", "true")
    assert git(repo, "var", "GIT_COMMITTER_IDENT", check=False).returncode != 0
    write_tags(Repo.discover(repo), [], delete=["a", "b"])
    assert "a" not in tags(repo) and "b" not in tags(repo)
