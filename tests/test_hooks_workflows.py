"""Commit workflows through the installed hooks (issue 2): every way git makes a commit.

Real git, real DVC, the real pre-commit framework; nothing mocked. Each workflow checks the
same invariants where they apply:

* no duplicate version in the ledger;
* every register event's tag sits on a commit whose ledger holds the event AND whose model
  bytes are the ones the event records (``assert_consistent``);
* where an event points at content no commit holds, ``mvtools verify`` says so.

Behaviours as implemented (and asserted below):

* ``git commit -a``: git runs pre-commit on its temporary index; the ledger lands in the
  commit and the real index is clean afterwards.
* ``git commit PATH``: git commits from a temporary index; the ledger lands in the commit,
  HEAD is tagged, and post-commit puts the committed ledger into the real index, so
  ``git status`` is clean (what else was staged stays staged).
* ``--amend``: the pre-commit hook recognises git's ``--amend`` argv and compares with
  HEAD's parents. A reword keeps the version (the tag moves to the amended commit). New
  model bytes replace the pending event with a *new* number (the old number is skipped; its
  tag stays on the replaced commit, which holds its bytes).
* rebase: post-rewrite moves every tag to the rebased commit that holds its event and its
  bytes (squashes and fixups: see test_rewrites.py); a dropped registering commit leaves its
  tag behind on a commit whose own ledger registers it (``verify``: a note, not a problem)
  and the number is never reused.
* cherry-pick: the event is copied; the tag stays on the original commit (a note is
  printed; ``verify`` on the target branch notes the tag outside its history).
* revert: see ``test_revert_of_registering_commit``.
* ``--no-verify``: post-commit warns ``run: mvtools register NAME``; running it registers.
* ``MVTOOLS_SKIP=1``: no hook does anything, not even the warning.
* linked worktrees: hooks live in the common dir; registering in a worktree works and the
  tags are shared.
"""

from __future__ import annotations

import hashlib
import os
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import commit_model, dvc, git, head, init_repo, mvtools, run, set_up_mvtools, tags, template_copy, write_model

TS_VERSION = re.compile(r"^v\d{14}_[0-9a-f]{8}$")


# -- fixtures ---------------------------------------------------------------------------
def _build(r: Path) -> None:
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n    metrics: [metrics.json]",
              metrics='{"accuracy": 0.8, "latency": 0.1}')
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "set up mvtools")


@pytest.fixture
def clf_repo(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """conftest's ``git_model_repo`` (model ``clf`` at models/clf.bin, plain git hooks),
    built once per process and copied: ``mvtools init`` runs DVC, which costs seconds."""
    return template_copy("hooks-workflows", tmp_path_factory, tmp_path / "repo", _build)


# -- helpers ----------------------------------------------------------------------------
def events(r: Path, name: str = "clf", rev: str | None = None) -> list[dict]:
    """The register events of ``name``'s ledger in the work tree (or at ``rev``)."""
    if rev is None:
        p = r / "registry" / f"{name}.yaml"
        if not p.exists():
            return []
        text = p.read_text()
    else:
        proc = git(r, "show", f"{rev}:registry/{name}.yaml", check=False)
        if proc.returncode != 0:
            return []
        text = proc.stdout
    doc = yaml.safe_load(text) or {}
    return [e for e in doc.get("events") or [] if e["event"] == "register"]


def versions(r: Path, name: str = "clf", rev: str | None = None) -> list[str]:
    return [e["version"] for e in events(r, name, rev)]


def sha256_at(r: Path, rev: str, path: str) -> str | None:
    proc = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=r, capture_output=True)
    return hashlib.sha256(proc.stdout).hexdigest() if proc.returncode == 0 else None


def assert_consistent(r: Path, name: str = "clf", path: str = "models/clf.bin") -> None:
    """No duplicate version; each version's tag is on a commit that holds both the event
    and the very bytes the event records (git-tracked models)."""
    evs = events(r, name)
    vs = [e["version"] for e in evs]
    assert len(vs) == len(set(vs)), f"duplicate versions: {vs}"
    t = tags(r)
    for e in evs:
        assert e["tag"] in t, f"{e['tag']} missing (tags: {sorted(t)})"
        commit = t[e["tag"]]
        held = {x["id"] for x in events(r, name, commit)}
        assert e["id"] in held, f"{e['tag']} is on {commit[:12]}, whose ledger lacks the event"
        assert sha256_at(r, commit, path) == e["sha256"], \
            f"{e['tag']} is on {commit[:12]}, which does not hold the registered bytes"


def verify(r: Path) -> tuple[int, list[str]]:
    proc = mvtools(r, "verify", "--json", check=False)
    doc = json.loads(proc.stdout)
    return proc.returncode, sorted(p["kind"] for p in doc["problems"])


def status(r: Path) -> str:
    return git(r, "status", "--porcelain").stdout


# -- commit -a and git commit PATH ----------------------------------------------------------
def test_commit_all_registers_into_the_commit_and_leaves_index_clean(clf_repo: Path) -> None:
    r = clf_repo
    commit_model(r, "v1", "m1")
    write_model(r, "models/clf.bin", "v2")
    proc = git(r, "commit", "-q", "-a", "-m", "m2 via -a")
    assert "registered clf v0.1.1" in proc.stderr
    assert status(r) == ""
    assert versions(r, rev="HEAD") == ["v0.1.0", "v0.1.1"]
    assert tags(r)["clf@v0.1.1"] == head(r)
    assert_consistent(r)
    assert verify(r) == (0, [])


def test_partial_commit_registers_in_the_commit(clf_repo: Path) -> None:
    """`git commit PATH` (git's temporary index): the ledger lands in the commit, HEAD is
    tagged, and what else was staged stays staged and out of the commit."""
    r = clf_repo
    commit_model(r, "v1", "m1")
    write_model(r, "models/clf.bin", "v2")
    (r / "other.txt").write_text("staged, not committed\n")
    git(r, "add", "other.txt")
    proc = git(r, "commit", "-q", "-m", "partial", "models/clf.bin")
    assert "registered clf v0.1.1" in proc.stderr
    changed = git(r, "show", "--name-only", "--format=", "HEAD").stdout.split()
    assert sorted(changed) == ["models/clf.bin", "registry/clf.yaml"]
    assert tags(r)["clf@v0.1.1"] == head(r)
    assert_consistent(r)
    assert "A  other.txt" in status(r)


def test_partial_commit_leaves_index_clean(clf_repo: Path) -> None:
    """post-commit puts the committed ledger into the real index (git commits PATH from a
    temporary index and sets GIT_INDEX_FILE=.git/index for post-commit)."""
    r = clf_repo
    commit_model(r, "v1", "m1")
    write_model(r, "models/clf.bin", "v2")
    git(r, "commit", "-q", "-m", "partial", "models/clf.bin")
    assert status(r) == ""


@pytest.mark.slow
def test_partial_commit_of_dvc_file_registers(dvc_model_repo: Path) -> None:
    r = dvc_model_repo
    write_model(r, "models/net.bin", b"\x00w1")
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "net v1")
    write_model(r, "models/net.bin", b"\x00w2")
    dvc(r, "add", "-q", "models/net.bin")
    proc = git(r, "commit", "-q", "-m", "net v2", "models/net.bin.dvc")
    assert "registered net v0.1.1" in proc.stderr
    assert versions(r, "net", "HEAD") == ["v0.1.0", "v0.1.1"]
    assert tags(r)["net@v0.1.1"] == head(r)
    assert status(r) == ""


# -- amend -----------------------------------------------------------------------------------
def test_amend_reword_keeps_the_version_and_moves_the_tag(clf_repo: Path) -> None:
    r = clf_repo
    commit_model(r, "v1", "m1")
    proc = git(r, "commit", "-q", "--amend", "-m", "m1 reworded")
    assert "registered" not in proc.stderr
    assert "moved tag clf@v0.1.0" in proc.stderr
    assert versions(r, rev="HEAD") == ["v0.1.0"]
    assert tags(r)["clf@v0.1.0"] == head(r)
    assert_consistent(r)
    assert verify(r) == (0, [])


def test_amend_with_new_bytes_uses_a_new_number(clf_repo: Path) -> None:
    """The pending event is replaced; v0.1.0 is skipped (never reused), its tag stays on the
    replaced commit, which holds its bytes."""
    r = clf_repo
    commit_model(r, "v1", "m1")
    first = head(r)
    proc = commit_model(r, "v1b", "m1 fixed", "--amend")
    assert "registered clf v0.1.1" in proc.stderr
    assert f"tag clf@v0.1.0 stays on {first[:12]}" in proc.stderr
    assert versions(r, rev="HEAD") == ["v0.1.1"]
    assert tags(r)["clf@v0.1.0"] == first
    assert_consistent(r)
    assert verify(r) == (0, [])
    commit_model(r, "v2", "m2")
    assert versions(r) == ["v0.1.1", "v0.1.2"]
    assert_consistent(r)


def test_amend_adding_a_model_to_a_plain_commit(clf_repo: Path) -> None:
    r = clf_repo
    (r / "notes.txt").write_text("n\n")
    git(r, "add", "notes.txt")
    git(r, "commit", "-q", "-m", "notes")
    proc = commit_model(r, "v1", "notes + model", "--amend")
    assert "registered clf v0.1.0" in proc.stderr
    assert tags(r)["clf@v0.1.0"] == head(r)
    assert_consistent(r)


def test_amend_that_drops_the_model_change(clf_repo: Path) -> None:
    """Amending the model change out of a registering commit drops its pending register
    event too; the tag stays on the replaced commit, which holds the version's bytes."""
    r = clf_repo
    commit_model(r, "v1", "m1")
    first = head(r)
    git(r, "rm", "-q", "--cached", "models/clf.bin")
    proc = git(r, "commit", "-q", "--amend", "-m", "no model after all")
    assert "pending version is dropped" in proc.stderr
    assert "models/clf.bin" not in git(r, "ls-files").stdout
    assert versions(r) == []
    assert tags(r)["clf@v0.1.0"] == first
    assert verify(r) == (0, [])
    assert git(r, "status", "--porcelain", "--untracked-files=no").stdout == ""


def test_amend_spelled_as_an_abbreviation(clf_repo: Path) -> None:
    """git accepts unique prefixes (`--amen`); the hook recognises them as `--amend`: the
    pending v0.1.0 is replaced by v0.1.1 (the number is skipped, never reused)."""
    r = clf_repo
    commit_model(r, "v1", "m1")
    first = head(r)
    commit_model(r, "v1b", "m1 fixed", "--amen")
    assert versions(r) == ["v0.1.1"]
    assert tags(r)["clf@v0.1.0"] == first
    assert verify(r) == (0, [])


# -- rebase, cherry-pick, revert ----------------------------------------------------------
@pytest.mark.slow
def test_rebase_moves_tags_to_the_rebased_commits(clf_repo: Path) -> None:
    r = clf_repo
    base = head(r)
    commit_model(r, "v1", "m1")
    commit_model(r, "v2", "m2")
    old = dict(tags(r))
    git(r, "checkout", "-q", "-b", "side", base)
    (r / "side.txt").write_text("s\n")
    git(r, "add", "side.txt")
    git(r, "commit", "-q", "-m", "side")
    git(r, "checkout", "-q", "main")
    proc = git(r, "rebase", "-q", "side")
    assert "moved tag clf@v0.1.0" in proc.stderr and "moved tag clf@v0.1.1" in proc.stderr
    new = tags(r)
    assert new["clf@v0.1.0"] != old["clf@v0.1.0"] and new["clf@v0.1.1"] == head(r)
    assert versions(r) == ["v0.1.0", "v0.1.1"]
    assert_consistent(r)
    assert verify(r) == (0, [])


def test_rebase_dropping_a_registering_commit(clf_repo: Path) -> None:
    """The dropped commit's tag stays where it was, on a commit whose own ledger registers it:
    verify notes it (no problem) and the number is not reused."""
    r = clf_repo
    commit_model(r, "v1", "m1")
    commit_model(r, "v2", "m2")
    (r / "notes.txt").write_text("n\n")
    git(r, "add", "notes.txt")
    git(r, "commit", "-q", "-m", "notes")
    git(r, "rebase", "-q", "-i", "HEAD~2", env={"GIT_SEQUENCE_EDITOR": "sed -i '/ m2$/d'"})
    assert versions(r) == ["v0.1.0"]
    assert verify(r) == (0, [])
    commit_model(r, "v3", "m3")
    assert versions(r) == ["v0.1.0", "v0.1.2"]


@pytest.mark.slow
def test_rebase_edit_of_a_registering_commit_with_new_bytes(clf_repo: Path) -> None:
    r = clf_repo
    commit_model(r, "v1", "m1")
    (r / "notes.txt").write_text("n\n")
    git(r, "add", "notes.txt")
    git(r, "commit", "-q", "-m", "notes")
    commit_model(r, "v2", "m2")
    git(r, "rebase", "-q", "-i", "HEAD~3",
        env={"GIT_SEQUENCE_EDITOR": "sed -i 's/^pick \\(.*\\) m1$/edit \\1 m1/'"})
    commit_model(r, "v1b", "m1 fixed", "--amend")  # registers v0.1.2; clf@v0.1.0 stays on m1
    cont = git(r, "rebase", "--continue", check=False, env={"GIT_EDITOR": "true"})
    if cont.returncode != 0:  # m2 conflicts on the model bytes: keep m2's
        git(r, "checkout", "--theirs", "models/clf.bin")
        git(r, "add", "models/clf.bin")
        git(r, "rebase", "--continue", env={"GIT_EDITOR": "true"})
    assert sha256_at(r, "HEAD", "models/clf.bin") == hashlib.sha256(b"v2").hexdigest()
    assert_consistent(r)
    assert verify(r) == (0, [])


def test_cherry_pick_copies_the_event_and_keeps_the_tag(clf_repo: Path) -> None:
    r = clf_repo
    git(r, "checkout", "-q", "-b", "feat")
    commit_model(r, "v1", "m1")
    picked = head(r)
    git(r, "checkout", "-q", "main")
    (r / "x.txt").write_text("x\n")
    git(r, "add", "x.txt")
    git(r, "commit", "-q", "-m", "x")
    proc = git(r, "cherry-pick", picked)
    assert f"tag clf@v0.1.0 stays on {picked[:12]}" in proc.stderr
    assert versions(r) == ["v0.1.0"]
    assert tags(r)["clf@v0.1.0"] == picked
    assert [t for t in tags(r) if t.startswith("clf@")] == ["clf@v0.1.0"]  # nothing registered twice
    assert verify(r) == (0, [])  # a note: the tag's commit is on feat, its ledger registers it
    git(r, "checkout", "-q", "feat")
    assert verify(r) == (0, [])
    git(r, "checkout", "-q", "main")
    commit_model(r, "v2", "m2")
    assert versions(r) == ["v0.1.0", "v0.1.1"]


def test_revert_of_registering_commit(clf_repo: Path) -> None:
    """What happens: `git revert` commits without the pre-commit hook, so the revert commit's
    ledger drops the reverted commit's event. post-commit warns with the amend that keeps
    the ledger (no `mvtools register`: the reverted-to bytes are v0.1.0's, registered). If
    the revert is kept, `verify` reports the dropped event (rewrite) with `mvtools
    restore-events clf` (test_revert.py runs it). The reverted version's tag is no problem:
    its own commit's ledger registers it (its number stays taken)."""
    r = clf_repo
    commit_model(r, "v1", "m1")
    commit_model(r, "v2", "m2")
    proc = git(r, "revert", "--no-edit", "HEAD")
    assert "run: mvtools register clf" not in proc.stderr and "--allow-empty" in proc.stderr, proc.stderr
    assert versions(r, rev="HEAD") == ["v0.1.0"]
    rc, problems = verify(r)
    assert rc == 1 and problems == ["rewrite"]
    again = mvtools(r, "register", "clf", check=False)
    assert again.returncode == 2 and "already registered as v0.1.0" in again.stderr


def test_revert_warning_names_a_command_that_repairs(clf_repo: Path) -> None:
    r = clf_repo
    commit_model(r, "v1", "m1")
    commit_model(r, "v2", "m2")
    proc = git(r, "revert", "--no-edit", "HEAD")
    cmd = re.search(r"run: (.+)$", proc.stderr, re.M)
    assert cmd
    fix = run(["sh", "-c", cmd.group(1)], r, check=False)
    assert fix.returncode == 0, fix.stderr
    assert verify(r) == (0, [])


def test_revert_without_commit_is_refused_with_the_fix(clf_repo: Path) -> None:
    """`git revert -n` then `git commit` runs the hook: the dropped event is refused, and
    the named fix (restore the ledger) registers the reverted-to bytes as a new version."""
    r = clf_repo
    commit_model(r, "v1", "m1")
    commit_model(r, "v2", "m2")
    git(r, "revert", "-n", "HEAD")
    proc = git(r, "commit", "-q", "-m", "revert m2", check=False)
    assert proc.returncode == 1
    assert "git checkout HEAD -- registry" in proc.stderr
    git(r, "checkout", "HEAD", "--", "registry")
    proc = git(r, "commit", "-q", "-m", "revert m2")
    assert "registered clf v0.1.2" in proc.stderr
    assert_consistent(r)
    assert verify(r) == (0, [])


# -- append-only ledger ------------------------------------------------------------------------
def _edit(text: str) -> str:
    return text.replace("size: 2", "size: 3", 1)


def _reorder(text: str) -> str:
    head_, *items = re.split(r"(?m)^(?=- event:)", text)
    return head_ + "".join([items[1], items[0], *items[2:]])


def _drop(text: str) -> str:
    head_, *items = re.split(r"(?m)^(?=- event:)", text)
    return head_ + "".join(items[1:])


@pytest.mark.parametrize("change", [_edit, _reorder, _drop], ids=["edit", "reorder", "drop"])
def test_ledger_rewrite_is_refused(clf_repo: Path, change) -> None:  # type: ignore[no-untyped-def]
    r = clf_repo
    commit_model(r, "v1", "m1")
    commit_model(r, "v2", "m2")
    led = r / "registry" / "clf.yaml"
    before = led.read_text()
    led.write_text(change(before))
    assert led.read_text() != before
    h = head(r)
    proc = git(r, "commit", "-q", "-a", "-m", "tamper", check=False)
    assert proc.returncode == 1
    assert "commit refused" in proc.stderr and "append-only" in proc.stderr
    assert head(r) == h


# -- --no-verify, MVTOOLS_SKIP ----------------------------------------------------------------
def test_no_verify_warns_with_the_command_that_registers(clf_repo: Path) -> None:
    r = clf_repo
    proc = commit_model(r, "v1", "m1", "--no-verify")
    assert f"commit {head(r)[:12]} changed model clf without registering it; run: mvtools register clf" \
        in proc.stderr
    assert versions(r) == [] and tags(r) == {}
    assert verify(r) == (1, ["unregistered"])
    out = mvtools(r, "register", "clf")
    assert "registered clf v0.1.0" in out.stdout
    assert status(r) == ""
    assert tags(r)["clf@v0.1.0"] == head(r)
    assert_consistent(r)
    assert verify(r) == (0, [])


def test_mvtools_skip_skips_every_hook(clf_repo: Path) -> None:
    r = clf_repo
    commit_model(r, "v1", "m1")
    proc = commit_model(r, "v2", "m2", env={"MVTOOLS_SKIP": "1"})
    assert proc.stderr == ""
    assert versions(r) == ["v0.1.0"] and set(tags(r)) == {"clf@v0.1.0"}
    proc = git(r, "commit", "-q", "--amend", "-m", "m2 reworded", env={"MVTOOLS_SKIP": "1"})
    assert proc.stderr == ""
    rc, problems = verify(r)  # verify notices the bytes no event records
    assert rc == 1 and problems == ["unregistered"]
    mvtools(r, "register", "clf")
    assert versions(r) == ["v0.1.0", "v0.1.1"]
    assert_consistent(r)


# -- linked worktrees, detached HEAD ----------------------------------------------------------
def test_linked_worktree_registers_and_shares_tags(clf_repo: Path, tmp_path: Path) -> None:
    r = clf_repo
    wt = tmp_path / "wt"
    git(r, "worktree", "add", "-q", str(wt), "-b", "wt")
    proc = commit_model(wt, "v1", "m1 in worktree")
    assert "registered clf v0.1.0" in proc.stderr
    assert tags(r)["clf@v0.1.0"] == head(wt)
    assert status(wt) == ""
    write_model(wt, "models/clf.bin", "v2")
    mvtools(wt, "register", "clf")
    assert versions(wt) == ["v0.1.0", "v0.1.1"]
    assert_consistent(wt)
    assert verify(wt) == (0, [])
    # the main worktree sees the tags; its next version does not collide
    commit_model(r, "main-1", "model on main")
    assert versions(r) == ["v0.1.2"]


def test_linked_worktree_model_declared_on_its_branch(clf_repo: Path, tmp_path: Path) -> None:
    r = clf_repo
    wt = tmp_path / "wt"
    git(r, "worktree", "add", "-q", str(wt), "-b", "wt")
    with open(wt / "mvtools.yaml", "a") as fh:
        fh.write("  - name: gbm\n    path: models/gbm.bin\n")
    git(wt, "commit", "-q", "-a", "-m", "declare gbm")
    commit_model(r, "v1", "clf on main")  # the main worktree's hook rewrites watch.re
    write_model(wt, "models/gbm.bin", "g1")
    git(wt, "add", "-A")
    proc = git(wt, "commit", "-q", "-m", "gbm v1")
    assert "registered gbm v0.1.0" in proc.stderr


def test_detached_head_commit_and_register(clf_repo: Path) -> None:
    r = clf_repo
    git(r, "checkout", "-q", "--detach")
    proc = commit_model(r, "v1", "m1 detached")
    assert "registered clf v0.1.0" in proc.stderr
    write_model(r, "models/clf.bin", "v2")
    mvtools(r, "register", "clf")
    assert git(r, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip() == "HEAD"
    assert tags(r)["clf@v0.1.1"] == head(r)
    assert_consistent(r)
    assert verify(r) == (0, [])


# -- fast path ----------------------------------------------------------------------------------
_PROBE = """
import sys
from mvtools.hooks import run
rc = run(sys.argv[1], [])
heavy = sorted({m.split('.')[0] for m in sys.modules}
               & {'dvc', 'dvc_data', 'scmrepo', 'networkx', 'git', 'gto', 'pygit2', 'dulwich'})
print(rc, ' '.join(heavy))
"""


def _probe(r: Path, hook: str) -> str:
    return run([sys.executable, "-c", _PROBE, hook], r).stdout.strip()


def test_hooks_import_no_dvc_networkx_or_gitpython(clf_repo: Path) -> None:
    r = clf_repo
    (r / "notes.txt").write_text("n\n")
    git(r, "add", "notes.txt")
    assert _probe(r, "pre-commit") == "0"
    git(r, "commit", "-q", "--no-verify", "-m", "notes")
    assert _probe(r, "post-commit") == "0"
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "-A")
    assert _probe(r, "pre-commit") == "0"
    assert "A  registry/clf.yaml" in status(r)
    git(r, "commit", "-q", "--no-verify", "-m", "m1")
    assert _probe(r, "post-commit") == "0"
    assert tags(r)["clf@v0.1.0"] == head(r)


def test_hooks_import_no_dvc_for_a_dvc_tracked_model(dvc_model_repo: Path) -> None:
    r = dvc_model_repo
    write_model(r, "models/net.bin", b"\x00w1")
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "-A")
    assert _probe(r, "pre-commit") == "0"
    git(r, "commit", "-q", "--no-verify", "-m", "net v1")
    assert _probe(r, "post-commit") == "0"
    assert "net@v0.1.0" in tags(r)


def test_shell_hooks_decide_before_starting_python(clf_repo: Path) -> None:
    """With a broken interpreter path in the installed hooks, a commit that touches nothing
    watched still succeeds (Python never started), while a model commit fails."""
    r = clf_repo
    hooks = Path(git(r, "rev-parse", "--git-path", "hooks").stdout.strip())
    hooks = hooks if hooks.is_absolute() else r / hooks
    for h in ("pre-commit", "post-commit"):
        text = (hooks / h).read_text()
        assert "MVTOOLS='" in text
        (hooks / h).write_text(re.sub(r"MVTOOLS='[^']*'", "MVTOOLS='/nonexistent/mvtools'", text))
    (r / "notes.txt").write_text("n\n")
    git(r, "add", "notes.txt")
    proc = git(r, "commit", "-q", "-m", "notes")
    assert proc.stderr == ""
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "m1", check=False)
    assert proc.returncode != 0 and "nonexistent" in proc.stderr


# -- versions -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_semver_bumps_env_rule_and_default(clf_repo: Path) -> None:
    r = clf_repo
    commit_model(r, "v1", "m1")
    commit_model(r, "v3", "m3", env={"MVTOOLS_BUMP": "minor"})
    commit_model(r, "v4", "m4", env={"MVTOOLS_BUMP": "major"})
    cfg = r / "mvtools.yaml"
    cfg.write_text(cfg.read_text().replace("    path: models/clf.bin\n",
                                           "    path: models/clf.bin\n    bump: minor\n"))
    git(r, "commit", "-q", "-a", "-m", "bump rule")
    commit_model(r, "v5", "m5")
    commit_model(r, "v6", "m6", env={"MVTOOLS_BUMP": "patch"})
    assert versions(r) == ["v0.1.0", "v0.2.0", "v1.0.0", "v1.1.0", "v1.1.1"]
    assert_consistent(r)


def test_invalid_bump_refuses_the_commit(clf_repo: Path) -> None:
    r = clf_repo
    h = head(r)
    proc = commit_model(r, "v1", "m1", env={"MVTOOLS_BUMP": "huge"}, check=False)
    assert proc.returncode != 0 and "invalid bump 'huge'" in proc.stderr
    assert head(r) == h and tags(r) == {}


def test_next_version_counts_tags_including_archived(clf_repo: Path) -> None:
    r = clf_repo
    commit_model(r, "v1", "m1")
    git(r, "tag", "-a", "-m", "foreign", "clf@v1.4.0", "HEAD")  # e.g. made by GTO
    commit_model(r, "v2", "m2")
    assert versions(r)[-1] == "v1.4.1"
    git(r, "tag", "-a", "-m", "archived", "clf@v2.0.0!", "HEAD")
    commit_model(r, "v3", "m3")
    assert versions(r)[-1] == "v2.0.1"


@pytest.mark.slow
def test_timestamp_scheme(repo: Path) -> None:
    r = repo
    mvtools(r, "init", "--scheme", "timestamp")
    cfg = r / "mvtools.yaml"
    cfg.write_text(cfg.read_text().replace("models: []", "models:\n  - name: clf\n    path: models/clf.bin"))
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "setup")
    commit_model(r, "v1", "m1")
    (v,) = versions(r)
    sha = hashlib.sha256(b"v1").hexdigest()
    assert TS_VERSION.match(v) and v.endswith("_" + sha[:8])
    assert tags(r)[f"clf@{v}"] == head(r)
    assert_consistent(r)


# -- register outside a commit, sync-tags, verify -----------------------------------------------
def test_register_outside_a_commit(clf_repo: Path) -> None:
    r = clf_repo
    write_model(r, "models/clf.bin", "v1")
    out = json.loads(mvtools(r, "register", "clf", "--bump", "minor", "-m", "first cut", "--json").stdout)
    assert out["version"] == "v0.1.0" and out["commit"] == head(r)
    assert git(r, "log", "-1", "--format=%s").stdout.strip() == "first cut"
    assert status(r) == ""
    write_model(r, "models/clf.bin", "v2")
    out = json.loads(mvtools(r, "register", "clf", "--bump", "minor", "--json").stdout)
    assert out["version"] == "v0.2.0"
    write_model(r, "models/clf.bin", "v3")
    out = json.loads(mvtools(r, "register", "clf", "--version", "1.0.0", "--json").stdout)
    assert out["version"] == "v1.0.0" and out["tag"] == "clf@v1.0.0"
    assert_consistent(r)
    assert verify(r) == (0, [])


def test_register_refusals_write_nothing(clf_repo: Path) -> None:
    r = clf_repo
    write_model(r, "models/clf.bin", "v1")
    mvtools(r, "register", "clf")
    h, t = head(r), tags(r)
    proc = mvtools(r, "register", "clf", check=False)
    assert proc.returncode == 2 and "already registered as v0.1.0" in proc.stderr
    write_model(r, "models/clf.bin", "v2")
    proc = mvtools(r, "register", "clf", "--version", "v0.1.0", check=False)
    assert proc.returncode == 2 and "already taken" in proc.stderr
    assert proc.stderr.startswith("mvtools: error: ") and "Traceback" not in proc.stderr
    assert (head(r), tags(r)) == (h, t)
    assert status(r) == " M models/clf.bin\n"


def test_register_with_path_declares_a_new_model(clf_repo: Path) -> None:
    r = clf_repo
    write_model(r, "models/gbm.bin", "g1")
    out = json.loads(mvtools(r, "register", "gbm", "--path", "models/gbm.bin", "--json").stdout)
    assert out["version"] == "v0.1.0"
    assert "gbm:\n    path: models/gbm.bin\n    type: model\n" in git(r, "show", "HEAD:dvc.yaml").stdout
    assert status(r) == ""
    assert_consistent(r, "gbm", "models/gbm.bin")


def test_sync_tags_recreates_a_deleted_tag_and_verify(clf_repo: Path) -> None:
    r = clf_repo
    commit_model(r, "v1", "m1")
    holder = head(r)
    commit_model(r, "v2", "m2")
    assert verify(r) == (0, [])
    git(r, "tag", "-d", "clf@v0.1.0")
    proc = mvtools(r, "verify", check=False)
    assert proc.returncode == 1 and "tag-missing: clf@v0.1.0" in proc.stdout
    assert "mvtools sync-tags" in proc.stdout
    made = json.loads(mvtools(r, "sync-tags", "--json").stdout)["created"]
    assert made == [{"tag": "clf@v0.1.0", "commit": holder}]
    assert tags(r)["clf@v0.1.0"] == holder
    assert git(r, "cat-file", "-t", "clf@v0.1.0").stdout.strip() == "tag"  # annotated
    assert verify(r) == (0, [])
    assert "tags agree with the ledger" in mvtools(r, "sync-tags").stdout


# -- the pre-commit framework ---------------------------------------------------------------------
def _pre_commit_repo(r: Path) -> Path:
    mvtools(r, "init", "--hooks", "pre-commit")
    cfg = r / "mvtools.yaml"
    cfg.write_text(cfg.read_text().replace("models: []", "models:\n  - name: clf\n    path: models/clf.bin"))
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "setup")
    return r


@pytest.mark.slow
def test_pre_commit_framework_commit_and_amend(repo: Path) -> None:
    r = _pre_commit_repo(repo)
    commit_model(r, "v1", "m1")
    assert tags(r)["clf@v0.1.0"] == head(r)
    first = head(r)
    commit_model(r, "v1b", "m1 fixed", "--amend")
    assert versions(r, rev="HEAD") == ["v0.1.1"] and tags(r)["clf@v0.1.0"] == first
    git(r, "commit", "-q", "--amend", "-m", "m1 reworded")  # post-rewrite without git's map
    assert status(r) == ""
    assert_consistent(r)
    assert tags(r)["clf@v0.1.0"] == first
    assert verify(r) == (0, [])


@pytest.mark.slow
def test_pre_commit_framework_no_verify_warning_is_shown(repo: Path) -> None:
    r = _pre_commit_repo(repo)
    proc = commit_model(r, "v1", "m1", "--no-verify")
    assert "run: mvtools register clf" in proc.stderr + proc.stdout



@pytest.mark.parametrize("path", ["models/modèle.bin", "models/with space.bin", 'models/q"uote.bin'])
def test_model_paths_git_would_quote_still_register(repo: Path, path: str) -> None:
    """The shell fast path reads git's path list NUL-separated: before, it grepped git's
    C-quoted output, so a model path with non-ASCII characters (or a quote) never
    registered, and nothing warned."""
    set_up_mvtools(repo, f"models:\n  - name: clf\n    path: '{path}'")
    write_model(repo, path, b"weights")
    git(repo, "add", "-A")
    proc = git(repo, "commit", "-q", "-m", "train")
    assert "registered clf v0.1.0" in proc.stderr, proc.stderr
    assert tags(repo)["clf@v0.1.0"] == head(repo)
    # and a commit made without the hook is still noticed by post-commit
    write_model(repo, path, b"weights 2")
    git(repo, "add", "-A")
    proc = git(repo, "commit", "-q", "--no-verify", "-m", "retrain")
    assert "changed model clf without registering it" in proc.stderr, proc.stderr


@pytest.mark.slow
def test_large_git_tracked_model_warns_and_the_hint_works(repo: Path) -> None:
    """A model committed to git directly above git_model_warn_mib gets a warning naming
    `dvc add`; the printed command works as printed and the next commit registers the
    model as DVC-tracked."""
    set_up_mvtools(repo, "git_model_warn_mib: 1\nmodels:\n  - name: big\n    path: models/big.bin")
    write_model(repo, "models/big.bin", os.urandom(2 * 1024 * 1024))
    git(repo, "add", "-A")
    proc = git(repo, "commit", "-q", "-m", "big model")
    assert "registered big v0.1.0" in proc.stderr
    hint = re.search(r"warning: models/big.bin is 2 MiB and committed to git directly .*run: (.*)$",
                     proc.stderr, re.M)
    assert hint is not None, proc.stderr
    subprocess.run(["sh", "-c", hint.group(1)], cwd=repo, check=True, capture_output=True)
    git(repo, "add", "-A")
    proc = git(repo, "commit", "-q", "-m", "track it with DVC")
    assert "committed to git directly" not in proc.stderr, proc.stderr
    assert (repo / "models" / "big.bin.dvc").exists()
    assert git(repo, "ls-files", "models/big.bin").stdout == ""  # out of git's index now
