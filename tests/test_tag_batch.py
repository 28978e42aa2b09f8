"""Tags are written in bulk (mvtools.tagwrite): the tag objects are the bytes `git tag -a`
writes, the refs move in one transaction (all or none, an existing tag never moved unless
forced), and `sync-tags` and `import-gto` run a number of git processes that does not grow
with the tags they write or read."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from conftest import git, head, init_repo, ledger_events, mvtools, tags, template_repo, write_model

from mvtools.artifacts import Source
from mvtools.environment import _listed
from mvtools.gitbulk import reading_in_bulk
from mvtools.gitops import GitError, Repo
from mvtools.tagwrite import TagWrite, cleanup, write_tags


def traced(r: Path, *args: str, check: bool = True) -> tuple[object, Counter[str]]:
    """`mvtools ARGS` with GIT_TRACE2_EVENT: the git processes it ran, by subcommand."""
    trace = r.parent / "trace2.json"
    trace.unlink(missing_ok=True)
    proc = mvtools(r, *args, check=check, env={"GIT_TRACE2_EVENT": str(trace)})
    starts = [json.loads(line) for line in trace.read_text().splitlines()] if trace.exists() else []
    return proc, Counter(e["argv"][1] for e in starts if e.get("event") == "start")


def tag_object(r: Path, name: str) -> str:
    return git(r, "cat-file", "tag", name).stdout


# -- the writer ---------------------------------------------------------------------------------
MESSAGES = ["Registering artifact clf version v0.1.0",
            "  \n\nAssigning stage prod to artifact clf#1  \n# a comment line\n\n\n; second\tline\t\n\n",
            "Deprecating artifact clf"]


@pytest.mark.parametrize("comment", [None, ";"])
def test_a_batched_tag_is_the_object_git_tag_writes(repo: Path, comment: str | None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if comment:
        git(repo, "config", "core.commentChar", comment)
    rp = Repo.discover(repo)
    monkeypatch.setenv("GIT_COMMITTER_DATE", "@1700000100 +0200")  # what "now" is, for both
    write_tags(rp, [TagWrite(f"b{i}", "HEAD", m, when) for i, m in enumerate(MESSAGES)
                    for when in [1700000000 + i]] + [TagWrite("now", rp.head or "", MESSAGES[1])])
    for i, m in enumerate(MESSAGES):
        git(repo, "tag", "-a", "-m", m, f"g{i}", "HEAD", env={"GIT_COMMITTER_DATE": f"@{1700000000 + i} +0000"})
        assert tag_object(repo, f"b{i}") == tag_object(repo, f"g{i}").replace(f"tag g{i}\n", f"tag b{i}\n")
    git(repo, "tag", "-a", "-m", MESSAGES[1], "git-now", "HEAD")
    assert tag_object(repo, "now") == tag_object(repo, "git-now").replace("tag git-now\n", "tag now\n")
    assert "+0200" in tag_object(repo, "now")
    assert cleanup(MESSAGES[1], comment or "#").startswith("Assigning")


def test_an_existing_tag_fails_the_whole_batch_and_nothing_moves(repo: Path) -> None:
    first = head(repo)
    git(repo, "commit", "-q", "--allow-empty", "-m", "two")
    git(repo, "tag", "-a", "-m", "kept", "b", first)
    before = tags(repo)
    rp = Repo.discover(repo)
    with pytest.raises(GitError, match="tag 'b' already exists"):
        write_tags(rp, [TagWrite("a", "HEAD", "m", 1), TagWrite("b", "HEAD", "m", 2), TagWrite("c", "HEAD", "m", 3)])
    assert tags(repo) == before  # a and c were not written either
    write_tags(rp, [TagWrite("a", "HEAD", "m", 1), TagWrite("b", "HEAD", "m", 2, force=True)], delete=["zz"])
    assert tags(repo) == {"a": head(repo), "b": head(repo)}
    write_tags(rp, [TagWrite("c", first, "m", 4)], delete=["a", "c"])  # c: deleted and written: replaced
    assert tags(repo) == {"b": head(repo), "c": first}


@pytest.mark.parametrize("bad", ["a b", "x..y", "ok\x01", "-x", "HEAD", "t\ndelete refs/heads/main", "t\0z"])
def test_an_invalid_tag_name_fails_the_batch_and_cannot_reach_another_ref(repo: Path, bad: str) -> None:
    """A name (a ledger's, hand-edited) is one field of update-ref's -z input: git refuses
    it as a ref name; it never becomes a command of its own (delete refs/heads/main)."""
    before = head(repo)
    with pytest.raises(GitError):
        write_tags(Repo.discover(repo), [TagWrite("fine", "HEAD", "m", 1), TagWrite(bad, "HEAD", "m", 2)])
    assert tags(repo) == {} and head(repo) == before


def test_a_refused_ref_update_leaves_every_tag_as_it_was(repo: Path) -> None:
    """git's reference-transaction hook refusing one ref: the whole batch is refused (one
    `git tag` per tag would have written those before it)."""
    hooks = Path(git(repo, "rev-parse", "--git-path", "hooks").stdout.strip())
    hooks = hooks if hooks.is_absolute() else repo / hooks
    hooks.mkdir(parents=True, exist_ok=True)
    hook = hooks / "reference-transaction"
    hook.write_text('#!/bin/sh\n[ "$1" = prepared ] || exit 0\n! grep -q "refs/tags/m2$"\n')
    hook.chmod(0o755)
    rp = Repo.discover(repo)
    with pytest.raises(GitError):
        write_tags(rp, [TagWrite(f"m{i}", "HEAD", "m", i) for i in range(4)])
    assert tags(repo) == {}


def test_where_git_would_sign_each_tag_is_git_tags_own(repo: Path) -> None:
    """tag.gpgSign: only git can sign, so each tag is its own `git tag` (here the signing
    program fails, as git tag fails with it)."""
    git(repo, "config", "tag.gpgSign", "true")
    git(repo, "config", "gpg.program", "false")
    with pytest.raises(GitError, match="git tag failed"):
        write_tags(Repo.discover(repo), [TagWrite("s", "HEAD", "m", 1), TagWrite("t", "HEAD", "m", 2)])
    assert tags(repo) == {}


# -- sync-tags ----------------------------------------------------------------------------------
def _build(r: Path) -> None:
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n")
    for i in range(6):
        write_model(r, "models/clf.bin", f"clf {i}\n")
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", f"v{i}")
    mvtools(r, "promote", "clf", "v0.1.4", "production")


r = template_repo("tag-batch", _build)


def test_sync_tags_runs_as_many_git_processes_for_six_missing_tags_as_for_two(r: Path) -> None:
    before = tags(r)
    versions = sorted(t for t in before if "@v" in t)
    assert len(versions) == 6
    counts = []
    for lost in (versions[:2], versions):
        git(r, "tag", "-d", *lost)
        _proc, seen = traced(r, "sync-tags", "--json")
        assert tags(r) == before
        counts.append(seen)
    assert counts[0] == counts[1]
    assert counts[1]["update-ref"] == 1 and counts[1]["hash-object"] == 1 and counts[1]["tag"] == 0


def test_sync_tags_keeps_a_version_tag_elsewhere_and_moves_a_stage_tag_back(r: Path) -> None:
    before = tags(r)
    stage = next(t for t in before if "#production#" in t)
    other = before["clf@v0.1.0"]
    git(r, "tag", "-f", "-a", "-m", "moved", stage, other)  # a stage tag re-pointed by hand
    git(r, "tag", "-d", "clf@v0.1.2", "clf@v0.1.5")
    git(r, "tag", "-f", "-a", "-m", "elsewhere", "clf@v0.1.3", other)  # a version tag elsewhere: kept
    doc = json.loads(mvtools(r, "sync-tags", "--json").stdout)
    assert sorted(m["tag"] for m in doc["created"]) == ["clf@v0.1.2", "clf@v0.1.5"]
    assert [m["tag"] for m in doc["moved"]] == [stage]
    assert tags(r) == {**before, "clf@v0.1.3": other}


def test_sync_tags_writes_no_tag_when_git_refuses_one(r: Path) -> None:
    before = tags(r)
    versions = sorted(t for t in before if "@v" in t)
    git(r, "tag", "-d", *versions)
    hooks = Path(git(r, "rev-parse", "--git-path", "hooks").stdout.strip())
    hooks = hooks if hooks.is_absolute() else r / hooks
    hooks.mkdir(parents=True, exist_ok=True)
    hook = hooks / "reference-transaction"
    hook.write_text(f'#!/bin/sh\n[ "$1" = prepared ] || exit 0\n! grep -q "refs/tags/{versions[3]}$"\n')
    hook.chmod(0o755)
    proc, _seen = traced(r, "sync-tags", check=False)
    assert proc.returncode == 3, proc  # type: ignore[attr-defined]
    assert sorted(tags(r)) == sorted(t for t in before if t not in versions)  # none of the six
    hook.unlink()
    mvtools(r, "sync-tags")
    assert tags(r) == before


# -- import-gto ---------------------------------------------------------------------------------
def gto_repo(r: Path, per_model: int) -> Path:
    """A GTO registry made with `git fast-import`: two models in dvc.yaml `artifacts:`, a
    commit and an annotated version tag per version (tagger times a second apart), one
    requirements file and Dockerfiles in some commits, then `mvtools init`."""
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    arts = "".join(f"  g{j}:\n    path: models/g{j}.bin\n    type: model\n" for j in range(2))
    data = (f"artifacts:\n{arts}").encode()
    t0 = 1_700_000_000
    stream = [b"commit refs/heads/main\nmark :1\ncommitter T <t@e> 1699999999 +0000\ndata 1\nx\n"
              b"M 100644 inline dvc.yaml\ndata %d\n%s\n" % (len(data), data)]
    marks = []
    for i in range(per_model):
        for j in range(2):
            k = len(marks) + 2
            body = f"g{j} {i}\n".encode()
            extra = b"M 100644 inline requirements-dev.txt\ndata 5\nnp==\n" if i % 2 else b""
            extra += b"M 100644 inline Dockerfile\ndata 5\nFROM \nM 100644 inline docker/Dockerfile\ndata 0\n" if j else b""
            stream.append(f"commit refs/heads/main\nmark :{k}\ncommitter T <t@e> {t0 + k} +0000\ndata 1\nv\n".encode()
                          + f"M 100644 inline models/g{j}.bin\ndata {len(body)}\n".encode() + body + b"\n" + extra)
            marks.append((f"g{j}@v0.0.{i}", k))
    for tag, k in marks:
        msg = f"Registering {tag}\n".encode()
        stream.append(f"tag {tag}\nfrom :{k}\ntagger T <t@e> {t0 + k} +0000\ndata {len(msg)}\n".encode() + msg)
    git(r, "fast-import", "--quiet", input=b"".join(stream).decode())
    git(r, "reset", "-q", "--hard", "main")
    mvtools(r, "init", "--hooks", "none")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "mvtools init")
    return r


@pytest.mark.slow
def test_import_gto_runs_as_many_git_processes_for_eight_versions_as_for_two(tmp_path: Path) -> None:
    counts = []
    for n in (1, 4):
        r = gto_repo(tmp_path / f"gto{n}", n)
        _proc, seen = traced(r, "import-gto", "--json")
        counts.append(seen)
        doc = json.loads(mvtools(r, "show", "--json").stdout)
        assert sorted((m["name"], m["versions"]) for m in doc["models"]) == [("g0", n), ("g1", n)]
    assert counts[0] == counts[1]
    events = [e for e in ledger_events(r, "g1") if e["event"] == "register"]
    files = [sorted((e.get("environment") or {}).get("files") or {}) for e in events]
    assert files == [["Dockerfile"]] + [["Dockerfile", "requirements-dev.txt"]] * 3  # the top's, as registering


def test_environment_files_listed_from_trees_are_those_git_lists(repo: Path) -> None:
    for rel in ("requirements.txt", "requirements-dev.txt", "requirementsXtxt", "sub/requirements.txt/inner",
                "é dir/Dockerfile", "é dir/uv.lock", "conf/a.yaml", "conf/deep/b.yaml", "Dockerfile.bak"):
        write_model(repo, rel, "x\n")
    os.symlink("requirements.txt", repo / "requirements-link.txt")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "files")
    rp = Repo.discover(repo)
    commit = rp.head or ""
    cases = [["requirements*.txt", "Dockerfile"], ["é dir/Dockerfile", "é dir/uv.lock", "é dir/requirements*.txt"],
             ["sub/requirements*.txt"], ["conf/*.yaml"], ["conf/**/*.yaml"], ["./requirements.txt"], ["missing/x"]]
    for patterns in cases:
        plain = _listed(Source(rp, commit), patterns)
        with reading_in_bulk(rp):
            assert _listed(Source(rp, commit), patterns) == plain, patterns
    assert _listed(Source(rp, commit), cases[0]) == ["requirements-dev.txt", "requirements-link.txt",
                                                      "requirements.txt"]
