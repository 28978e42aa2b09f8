"""Which git processes a registering commit's Python hook runs (issue 14a): what the shell
hook read for the same `git commit` (HEAD, the staged paths) and what git's layout tells
(the repository) is not asked again; one `git diff` says which sources and models differ
from the index; the index is read as the base commit but for the staged paths (git then
reads no index), the touched models' files and ledgers in one batch; the top-level
environment files are listed with the dvc.yaml files and read in one batch. Counted with
GIT_TRACE2_EVENT, never timed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import git, head, ledger_events, mvtools, tags, write_model

from mvtools.gitops import Repo


def _traced_commit(r: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    trace = r.parent / "trace2.json"
    trace.unlink(missing_ok=True)
    proc = git(r, "commit", "-q", *args, env={"GIT_TRACE2_EVENT": str(trace)})
    starts = [json.loads(line) for line in trace.read_text().splitlines()]
    return proc, [e["argv"][1:] for e in starts if e.get("event") == "start"]


def _verified(r: Path) -> None:
    proc = mvtools(r, "verify", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_registering_commit_asks_git_nothing_it_was_told(git_model_repo: Path) -> None:
    r = git_model_repo
    for i in range(2):  # the second commit: the shell hook's watch data is in place
        write_model(r, "models/clf.bin", f"v{i}")
        git(r, "add", "models/clf.bin")
        proc, argvs = _traced_commit(r, "-m", f"v{i}")
        assert f"registered clf v0.1.{i}" in proc.stderr
    assert not [a for a in argvs if a[:2] == ["rev-parse", "--show-toplevel"]], argvs
    assert not [a for a in argvs if a[:1] == ["rev-parse"] and "HEAD^{commit}" in a], argvs
    assert not [a for a in argvs if a[:1] == ["cat-file"] and any(x.endswith(".dvc") for x in a)], argvs
    # which sources and models differ from the index: one git diff for them all (not
    # `ls-files --modified`, which stats every file of the index)
    diffs = [a for a in argvs if a[:1] == ["diff"] and "--cached" not in a and "HEAD" not in a]
    assert len(diffs) == 1 and "models/clf.bin" in diffs[0] and "mvtools.yaml" in diffs[0], argvs
    assert not [a for a in argvs if "--modified" in a], argvs
    assert tags(r)["clf@v0.1.1"] == head(r)
    _verified(r)


def test_a_half_staged_git_model_is_still_refused(git_model_repo: Path) -> None:
    """The merged `git diff` still sees a model whose work tree differs from the index."""
    r = git_model_repo
    write_model(r, "models/clf.bin", "staged")
    git(r, "add", "models/clf.bin")
    write_model(r, "models/clf.bin", "not staged")
    proc = git(r, "commit", "-q", "-m", "half", check=False)
    assert proc.returncode != 0
    assert "models/clf.bin differs between the index and the work tree" in proc.stderr
    assert "clf@v0.1.0" not in tags(r)


def test_a_dvc_tracked_model_reads_its_dvc_file_and_registers(dvc_model_repo: Path) -> None:
    from conftest import dvc

    r = dvc_model_repo
    write_model(r, "models/net.bin", "v1")
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "models/net.bin.dvc")
    proc, argvs = _traced_commit(r, "-m", "v1")
    assert "registered net v0.1.0" in proc.stderr
    assert tags(r)["net@v0.1.0"] == head(r)
    _verified(r)


def test_environment_files_are_read_in_one_batch(git_model_repo: Path) -> None:
    r = git_model_repo
    for name in ("requirements.txt", "requirements-dev.txt", "Dockerfile"):
        write_model(r, name, f"{name}\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "env files")
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    proc, argvs = _traced_commit(r, "-m", "v1")
    assert "registered clf" in proc.stderr
    env_names = ("requirements.txt", "requirements-dev.txt", "Dockerfile")
    per_file = [a for a in argvs if a[:2] == ["cat-file", "blob"] and a[2].lstrip(":") in env_names]
    assert per_file == [], argvs
    # listed with the dvc.yaml files: one git ls-files in all
    assert len([a for a in argvs if a[:1] == ["ls-files"]]) == 1, argvs
    ev = ledger_events(r)[-1]
    assert set(ev["environment"]["files"]) == set(env_names)
    assert ev["environment"]["files"]["Dockerfile"]["content"] == "Dockerfile\n"
    _verified(r)


def _repo_of_hook(cwd: Path, env: dict[str, str] | None = None) -> tuple[Repo, Repo]:
    old, saved = os.getcwd(), dict(os.environ)
    os.chdir(cwd)
    os.environ.update(env or {})
    try:
        return Repo.for_hook(), Repo.discover(".")
    finally:
        os.chdir(old)
        os.environ.clear()
        os.environ.update(saved)


def _same(a: Repo, b: Repo) -> None:
    assert (a.root, a.git_dir.resolve(), a.common_dir.resolve()) == (b.root, b.git_dir.resolve(),
                                                                   b.common_dir.resolve())


@pytest.mark.parametrize("layout", ["plain", "worktree", "separate-git-dir", "core.worktree", "symlinked"])
def test_the_hooks_repository_is_what_git_says_in_every_layout(tmp_path: Path, layout: str) -> None:
    main = tmp_path / "main"
    main.mkdir()
    git(main, "init", "-q")
    write_model(main, "a.txt", "a")
    git(main, "add", "a.txt")
    git(main, "commit", "-q", "-m", "a")
    where = main
    if layout == "worktree":
        git(main, "worktree", "add", "-q", str(tmp_path / "wt"))
        where = tmp_path / "wt"
    elif layout == "separate-git-dir":
        where = tmp_path / "sep"
        subprocess.run(["git", "init", "-q", "--separate-git-dir", str(tmp_path / "sep.git"), str(where)],
                       check=True, capture_output=True)
    elif layout == "core.worktree":
        (tmp_path / "elsewhere").mkdir()
        git(main, "config", "core.worktree", str(tmp_path / "elsewhere"))
        where = tmp_path / "elsewhere"
    elif layout == "symlinked":
        (tmp_path / "link").symlink_to(main)
        where = tmp_path / "link"
    if layout == "core.worktree":
        a, b = _repo_of_hook(where, {"GIT_DIR": str(main / ".git")})
    else:
        a, b = _repo_of_hook(where)
    _same(a, b)


def test_the_index_read_as_the_base_but_for_the_staged_paths_is_the_index(repo: Path) -> None:
    """Source(INDEX, staged=(HEAD, the staged paths)) reads what the commit will hold: what
    `git cat-file blob :PATH` reads, for every kind of change a commit stages (and one it
    does not), but an intent-to-add entry (`git add -N`), which the commit leaves out and
    `git diff --cached` does not list: absent, as in the commit."""
    from mvtools.artifacts import INDEX, Source, preload

    r = repo
    for name in ("same.txt", "modified.txt", "deleted.txt", "unstaged.txt", "mode.sh", "sub/deep.txt"):
        write_model(r, name, f"{name} 1\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "base")
    write_model(r, "modified.txt", "modified 2\n")
    write_model(r, "added.txt", "added\n")
    write_model(r, "intent.txt", "intent\n")
    git(r, "add", "modified.txt", "added.txt")
    git(r, "add", "-N", "intent.txt")
    git(r, "rm", "-q", "deleted.txt")
    git(r, "update-index", "--chmod=+x", "mode.sh")
    write_model(r, "unstaged.txt", "not staged\n")  # the index keeps HEAD's
    rg = Repo.discover(r)
    staged = set(rg.changed_paths(rg.head, cached=True))
    paths = ["same.txt", "modified.txt", "deleted.txt", "unstaged.txt", "mode.sh", "sub/deep.txt", "added.txt",
             "intent.txt", "absent.txt"]
    truth = {p: (lambda proc: proc.stdout.encode() if proc.returncode == 0 else None)(
        git(r, "cat-file", "blob", f":{p}", check=False)) for p in paths}
    truth["intent.txt"] = None
    one = Source(rg, INDEX, staged=(str(rg.head), staged))
    assert {p: one.read(p) for p in paths} == truth
    batch = Source(rg, INDEX, staged=(str(rg.head), staged))
    preload([(batch, p) for p in paths])
    assert {p: batch.read(p) for p in paths} == truth
    git(r, "commit", "-q", "-m", "the commit", "--no-verify")
    held = {p: (lambda proc: proc.stdout.encode() if proc.returncode == 0 else None)(
        git(r, "cat-file", "blob", f"HEAD:{p}", check=False)) for p in paths}
    assert held == truth
