"""The hooks' work grows with the change, not the repository (issue 14a): no walk of the
work tree, as many git processes on the hundredth version as on the second, the registry
lock without the filelock import, and post-commit's tag written in shell from what
pre-commit left (.git/mvtools/pending), with Python as the fallback for anything else."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import dvc, git, head, mvtools, run, tags, write_model

from mvtools.errors import InternalError
from mvtools.reglock import RegistryLock


def _traced_commit(r: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """`git commit` with GIT_TRACE2_EVENT: the argv of every git process it and its hooks ran."""
    trace = r.parent / "trace2.json"
    trace.unlink(missing_ok=True)
    proc = git(r, "commit", "-q", *args, env={"GIT_TRACE2_EVENT": str(trace)})
    starts = [json.loads(line) for line in trace.read_text().splitlines()]
    return proc, [e["argv"] for e in starts if e.get("event") == "start"]


def _stub_python_of_post_commit(r: Path) -> Path:
    """Point the installed post-commit hook's mvtools at a wrapper that leaves a mark (then
    runs mvtools): the mark says the hook started Python."""
    hook = r / ".git" / "hooks" / "post-commit"
    mark = r.parent / "python-started"
    wrapper = r.parent / "mvtools-wrapper"
    wrapper.write_text(f"#!/bin/sh\ntouch '{mark}'\nexec '{sys.executable}' -m mvtools \"$@\"\n")
    wrapper.chmod(0o755)
    text = hook.read_text()
    start = text.index("MVTOOLS='") + len("MVTOOLS='")
    hook.write_text(text[:start] + str(wrapper) + text[text.index("'", start):])
    return mark


def _untracked_tree(r: Path, n: int = 200) -> None:
    """An untracked, not ignored folder (a data set not added yet): what a walk would read."""
    for i in range(n):
        write_model(r, f"scratch/d{i % 10}/f{i}.txt", str(i))


def _stage_dvc_model(r: Path, content: str) -> None:
    write_model(r, "models/net.bin", content)
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "models/net.bin.dvc", "models/.gitignore")


def _verified(r: Path) -> None:
    proc = mvtools(r, "verify", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("kind", ["git", "dvc"])
def test_registering_commit_never_walks_the_work_tree_and_tags_in_shell(
        kind: str, request: pytest.FixtureRequest) -> None:
    r = request.getfixturevalue("git_model_repo" if kind == "git" else "dvc_model_repo")
    name = "clf" if kind == "git" else "net"
    _untracked_tree(r)
    mark = _stub_python_of_post_commit(r)
    if kind == "git":
        write_model(r, "models/clf.bin", "v1")
        git(r, "add", "models/clf.bin")
    else:
        _stage_dvc_model(r, "v1")
    proc, argvs = _traced_commit(r, "-m", "v1")
    assert f"registered {name} v0.1.0" in proc.stderr
    walks = [a for a in argvs if "--others" in a or a[1:2] == ["status"]]
    assert walks == []
    assert not mark.exists()  # post-commit wrote the tag without Python
    assert tags(r)[f"{name}@v0.1.0"] == head(r)
    assert not (r / ".git" / "mvtools" / "pending").exists()
    _verified(r)


@pytest.mark.parametrize("plan", ["deleted", "garbage", "another commit's"])
def test_a_lost_or_foreign_plan_hands_the_tag_to_python(git_model_repo: Path, plan: str) -> None:
    """What post-commit's shell cannot trust (no plan, a line it cannot read, a plan another
    git process left) is left to Python, which tags from the committed ledger."""
    r = git_model_repo
    mark = _stub_python_of_post_commit(r)
    pending = r / ".git" / "mvtools" / "pending"
    body = {"deleted": f"rm -f '{pending}'\n",
            "garbage": f"printf 'no tabs here\\n' > '{pending}'\n",
            "another commit's": f"sed -i 's/^[0-9]*\t/1\t/' '{pending}'\n"}[plan]
    hook = r / ".git" / "hooks" / "commit-msg"  # runs after pre-commit, before post-commit
    hook.write_text("#!/bin/sh\n" + body)
    hook.chmod(0o755)
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    proc = git(r, "commit", "-q", "-m", "v1")
    assert proc.stderr.count("registered clf v0.1.0") == 1, proc.stderr
    assert mark.exists()
    assert tags(r)["clf@v0.1.0"] == head(r)
    assert not pending.exists()
    _verified(r)


def test_an_untracked_dvc_yaml_above_a_staged_model_still_declares_it(git_model_repo: Path) -> None:
    """Found from the staged paths' folders, not by a walk: a model declared in a dvc.yaml not
    added yet registers as it did when Python decides (the pre-commit framework's hook, or
    plain hooks without watch data); an ignored dvc.yaml declares nothing."""
    r = git_model_repo
    watch = r / ".git" / "mvtools" / "watch.re"
    write_model(r, "team/dvc.yaml", "artifacts:\n  gbm:\n    path: gbm.bin\n    type: model\n")
    write_model(r, "other/dvc.yaml", "artifacts:\n  skip:\n    path: skip.bin\n    type: model\n")
    write_model(r, ".gitignore", "other/\n")
    write_model(r, "team/gbm.bin", "g1")
    git(r, "add", "team/gbm.bin", ".gitignore")
    watch.unlink()
    proc = git(r, "commit", "-q", "-m", "gbm")
    assert "registered team:gbm v0.1.0" in proc.stderr, proc.stderr
    assert "team=gbm@v0.1.0" in tags(r)
    write_model(r, "other/skip.bin", "s1")
    git(r, "add", "-f", "other/skip.bin")
    watch.unlink()
    proc = git(r, "commit", "-q", "-m", "skip")
    assert "registered" not in proc.stderr


def test_the_hooks_git_processes_do_not_grow_with_the_history(git_model_repo: Path) -> None:
    """Each version's tag holds its own ledger blob: they are read in one git process."""
    r = git_model_repo
    counts = []
    for i in range(6):
        write_model(r, "models/clf.bin", f"v{i}")
        git(r, "add", "models/clf.bin")
        proc, argvs = _traced_commit(r, "-m", f"v{i}")
        assert f"registered clf v0.1.{i}" in proc.stderr
        counts.append(len(argvs))
    assert counts[1] == counts[5], counts
    _verified(r)


_HOLD = """
import sys, time
from pathlib import Path
kind, path = sys.argv[1], sys.argv[2]
if kind == "filelock":
    from filelock import FileLock
    lock = FileLock(path)
    lock.acquire()
else:
    from mvtools.reglock import RegistryLock
    lock = RegistryLock(Path(path), 5)
    lock.__enter__()
print("held", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("holder", ["filelock", "mvtools"])
def test_the_registry_lock_excludes_other_holders_and_dies_with_its_holder(tmp_path: Path, holder: str) -> None:
    """An flock: a process holding it with the filelock package (an older mvtools) or with
    mvtools' own lock excludes the hook; killed, it holds nothing (no stale lock file)."""
    path = tmp_path / "mvtools.lock"
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, holder, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        with pytest.raises(InternalError, match="another mvtools process has held"):
            with RegistryLock(path, 0.3):
                pass
        assert time.monotonic() - t0 >= 0.3
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with RegistryLock(path, 0.3):  # the kernel dropped the dead holder's lock
        with pytest.raises(InternalError):
            with RegistryLock(path, 0.1):  # one holder at a time, within a process too
                pass


_PROBE = """
import sys
from mvtools.hooks import run
rc = run("pre-commit", [])
print(rc, ' '.join(sorted(m for m in ('filelock', 'platform', 'difflib', 'dvc', 'networkx', 'git')
                          if m in sys.modules)))
"""


def test_a_registering_hook_imports_neither_filelock_platform_nor_difflib(git_model_repo: Path) -> None:
    r = git_model_repo
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    out = run([sys.executable, "-c", _PROBE], r).stdout.strip()
    assert out == "0"
    assert "A  registry/clf.yaml" in git(r, "status", "--porcelain").stdout


def _hook_gits(argvs: list[list[str]]) -> list[list[str]]:
    """The git processes the hooks ran (not `git commit` itself nor git's own maintenance)."""
    return [a for a in argvs[1:] if "maintenance" not in a]


def test_a_commit_touching_no_model_runs_two_git_processes_and_no_python(git_model_repo: Path) -> None:
    """pre-commit's staged diff and post-commit's `rev-parse HEAD HEAD^1`: the configuration
    diff is skipped while HEAD is the watch base, which post-commit moves along."""
    r = git_model_repo
    mark = _stub_python_of_post_commit(r)
    _untracked_tree(r)
    gitdir = r / ".git" / "mvtools"
    for i in range(3):
        write_model(r, "src/notes.txt", f"n{i}")
        git(r, "add", "src/notes.txt")
        proc, argvs = _traced_commit(r, "-m", f"notes {i}")
        assert proc.stderr == ""
        if i:  # the first commit after the set-up commit may diff the configuration once
            assert [a[1] for a in _hook_gits(argvs)] == ["diff", "rev-parse"], argvs
        assert (gitdir / "watch.base").read_text().split()[0] == head(r)
    assert not mark.exists()


def test_a_model_committed_with_no_verify_after_a_fast_commit_still_warns(git_model_repo: Path) -> None:
    """The `unwatched` note of an earlier commit's pre-commit says nothing about a commit that
    skipped pre-commit: post-commit checks it and warns."""
    r = git_model_repo
    write_model(r, "src/notes.txt", "n")
    git(r, "add", "src/notes.txt")
    git(r, "commit", "-q", "-m", "notes")
    assert (r / ".git" / "mvtools" / "unwatched").exists()
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    proc = git(r, "commit", "-q", "--no-verify", "-m", "m1")
    assert "changed model clf without registering it; run: mvtools register clf" in proc.stderr


def test_an_amend_that_stages_nothing_watched_keeps_the_tag_on_the_new_commit(git_model_repo: Path) -> None:
    """An amend replaces HEAD: post-commit does not take pre-commit's `unwatched` note for it
    (the new commit's parent is not the HEAD pre-commit compared with)."""
    r = git_model_repo
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    git(r, "commit", "-q", "-m", "m1")
    write_model(r, "src/notes.txt", "n")
    git(r, "add", "src/notes.txt")
    git(r, "commit", "-q", "--amend", "--no-edit")
    assert tags(r)["clf@v0.1.0"] == head(r)
    _verified(r)


def test_python_takes_the_shells_staged_list_only_for_its_own_commit(git_model_repo: Path) -> None:
    """A staged list another commit's pre-commit left (here: one that stages nothing) is not
    this commit's: Python lists the staged paths itself and registers."""
    r = git_model_repo
    d = r / ".git" / "mvtools"
    (d / "watch.re").unlink()  # the shell hook hands over to Python without listing anything
    (d / "staged").write_bytes(b"")
    (d / "staged.for").write_text(f"1 1 {head(r)}\n")
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    proc = git(r, "commit", "-q", "-m", "m1")
    assert "registered clf v0.1.0" in proc.stderr
    assert tags(r)["clf@v0.1.0"] == head(r)


def test_version_order_and_bumps_match_python_semver() -> None:
    """versioning orders and bumps semver versions itself (the semver import, with argparse's,
    cost every hook's Python start): python-semver is the oracle."""
    import random

    import semver

    from mvtools.versioning import Version, _sort_key

    rng = random.Random(14)
    words = ["0", "1", "2", "10", "alpha", "beta", "rc", "a1", "1a", "x-y"]

    def some() -> str:
        v = f"{rng.randint(0, 3)}.{rng.randint(0, 3)}.{rng.randint(0, 3)}"
        if rng.random() < 0.6:
            v += "-" + ".".join(rng.choice(words) for _ in range(rng.randint(1, 3)))
        return v + (f"+b{rng.randint(0, 2)}" if rng.random() < 0.3 else "")

    for _ in range(3000):
        a, b = some(), some()
        ka, kb = _sort_key("v" + a), _sort_key("v" + b)
        assert (ka > kb) - (ka < kb) == semver.Version.parse(a).compare(b), (a, b)
        for part in ("major", "minor", "patch"):
            assert str(Version("v" + a).bump(part)) == "v" + str(getattr(semver.Version.parse(a), "bump_" + part)())
