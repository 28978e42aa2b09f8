"""verify fails closed, and judges a tag by its own commit's ledger (issue 9: I4, items 2, 3, 8).

* A version tag whose commit's own ledger registers that version (with the sha256 this
  branch's ledger records, if it records one) is right wherever the commit sits: another
  branch, a detached HEAD, a commit reset or squashed away. verify names it as a note and
  exits 0; sync-tags never deletes it; its number stays taken.
* A version tag no ledger records is a problem whose printed repair never frees a number
  that binds bytes (a GTO-created version: ``mvtools import-gto``; a stray tag on a commit
  without the model: ``git tag -d``, and the remote's copy when it was pushed).
* Stage, archive and deprecation tags must point where the ledger says; sync-tags re-points
  them so that ``gto show`` equals ``mvtools show``.
* What verify cannot see fails it: a shallow clone (unless ``--allow-shallow``); with
  ``--fetch``, bytes the DVC remote cannot give.
* One broken ledger is one problem, the root cause, and the other models are still checked.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import BIN, dvc, git, gto_show, head, init_repo, mvtools, tags, template_repo, write_model


def _build(r: Path) -> None:
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n  - name: gbm\n    path: models/gbm.bin\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "set up mvtools")


r = template_repo("verify-closed", _build)


def commit_model(r: Path, content: str, msg: str, path: str = "models/clf.bin") -> str:
    write_model(r, path, content)
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", msg)
    return head(r)


def verify(r: Path, *args: str) -> tuple[int, dict]:
    proc = mvtools(r, "verify", "--json", *args, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def kinds(rep: dict, key: str = "problems") -> list[str]:
    return sorted(p["kind"] for p in rep[key])


def versions(r: Path, name: str = "clf") -> list[str]:
    doc = yaml.safe_load((r / "registry" / f"{name}.yaml").read_text())
    return [e["version"] for e in doc["events"] if e["event"] == "register"]


def hints(text: str) -> list[str]:
    """The commands after each 'run: ' in verify's output (up to the end of the line or ')')."""
    return [m.strip() for m in re.findall(r"run: ([^);\n]*)", text)]


def run_hint(r: Path, cmd: str) -> None:
    """Run a printed repair exactly as printed (a shell line)."""
    proc = subprocess.run(cmd, shell=True, cwd=r, capture_output=True, text=True)
    assert proc.returncode == 0, (cmd, proc.stdout, proc.stderr)


# -- a tag is judged by its own commit's ledger --------------------------------------------------
def test_version_registered_on_a_detached_head_stays(r: Path) -> None:
    """The issue's repro: registered on a detached HEAD, reported as an orphan after switching
    back; sync-tags deleted its tag and the next commit reused the number."""
    commit_model(r, "m1", "m1")
    git(r, "checkout", "-q", "--detach")
    detached = commit_model(r, "m2 on a detached head", "m2")
    assert tags(r)["clf@v0.1.1"] == detached
    git(r, "checkout", "-q", "main")
    rc, rep = verify(r)
    assert (rc, rep["problems"]) == (0, [])
    assert [n["where"] for n in rep["notes"]] == ["clf@v0.1.1"]
    human = mvtools(r, "verify").stdout
    assert "note: " in human and "clf@v0.1.1" in human and "verify: ok" in human
    mvtools(r, "sync-tags")
    assert tags(r)["clf@v0.1.1"] == detached
    commit_model(r, "m3", "m3")
    assert versions(r) == ["v0.1.0", "v0.1.2"]  # v0.1.1 is taken: its tag, its commit's ledger


def test_number_taken_by_a_ledger_on_another_ref_without_its_tag(r: Path) -> None:
    """A number is taken when any ref's ledger registers it, even with its tag gone."""
    commit_model(r, "m1", "m1")
    git(r, "checkout", "-q", "-b", "side")
    commit_model(r, "side bytes", "side")
    git(r, "tag", "-d", "clf@v0.1.1")
    git(r, "checkout", "-q", "main")
    commit_model(r, "main bytes", "main")
    assert versions(r) == ["v0.1.0", "v0.1.2"]


def test_versions_reset_or_reverted_away_are_notes(r: Path) -> None:
    commit_model(r, "m1", "m1")
    commit_model(r, "m2", "m2")
    git(r, "reset", "-q", "--hard", "HEAD~1")  # v0.1.1's commit now only its tag keeps
    rc, rep = verify(r)
    assert (rc, rep["problems"]) == (0, [])
    assert [n["where"] for n in rep["notes"]] == ["clf@v0.1.1"]
    mvtools(r, "sync-tags")
    assert "clf@v0.1.1" in tags(r)
    commit_model(r, "m3", "m3")
    assert versions(r) == ["v0.1.0", "v0.1.2"]
    assert verify(r)[0] == 0


def test_stray_tag_on_a_commit_without_the_model(r: Path, tmp_path: Path) -> None:
    """No ledger records it and its commit holds no bytes of the model: the printed repair
    deletes it, here and (it was pushed) on the remote, and works as printed."""
    commit_model(r, "m1", "m1")
    initial = git(r, "rev-list", "--max-parents=0", "HEAD").stdout.strip()
    git(r, "tag", "-a", "-m", "stray", "clf@v0.1.7", initial)
    bare = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(r, "remote", "add", "origin", str(bare))
    git(r, "push", "-q", "--no-verify", "origin", "main", "clf@v0.1.7")
    rc, rep = verify(r)
    assert rc == 1 and kinds(rep) == ["tag-orphan"]
    human = mvtools(r, "verify", check=False).stdout
    cmds = hints(human)
    assert cmds and "re-register" not in human, human
    for cmd in cmds:
        run_hint(r, cmd)
    assert "clf@v0.1.7" not in tags(r)
    assert git(r, "ls-remote", "--tags", "origin").stdout.strip() == ""
    assert verify(r) == (0, verify(r)[1]) and verify(r)[1]["problems"] == []


def test_sync_tags_keeps_a_stray_tag_and_verify_says_how(r: Path) -> None:
    """A tag no ledger records, on a commit that holds the model's bytes (as `gto register`
    makes): sync-tags does not delete it (that would free a number bound to bytes); the
    printed repair records it in the ledger."""
    commit_model(r, "m1", "m1")
    commit_model(r, "notes", "notes", "notes.txt")  # holds clf's bytes, no version of its own
    proc = subprocess.run([str(BIN / "gto"), "register", "clf", "--version", "v0.5.0"], cwd=r,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "clf@v0.5.0" in tags(r)
    mvtools(r, "sync-tags")
    assert "clf@v0.5.0" in tags(r)
    rc, rep = verify(r)
    assert rc == 1 and kinds(rep) == ["tag-orphan"]
    human = mvtools(r, "verify", check=False).stdout
    cmds = hints(human)
    assert cmds == ["mvtools import-gto"], human
    run_hint(r, cmds[0])
    assert "v0.5.0" in versions(r)
    assert verify(r)[0] == 0
    commit_model(r, "m2", "m2")
    assert versions(r)[-1] == "v0.5.1"


def test_version_tag_moved_to_a_later_commit(r: Path) -> None:
    """A later commit's ledger registers the version too (ledgers only grow), but holds
    other bytes: the tag is wrong there; the printed repair puts it back."""
    c0 = commit_model(r, "m1", "m1")
    c1 = commit_model(r, "m2", "m2")
    git(r, "tag", "-f", "-a", "-m", "moved", "clf@v0.1.0", c1)
    rc, rep = verify(r)
    assert rc == 1 and [(p["kind"], p["where"]) for p in rep["problems"]] == [("tag-commit", "clf@v0.1.0")], rep
    cmds = hints(mvtools(r, "verify", check=False).stdout)
    assert len(cmds) == 1 and cmds[0].startswith("git tag -f"), cmds
    run_hint(r, cmds[0])
    assert tags(r)["clf@v0.1.0"] == c0
    assert verify(r)[1]["problems"] == []


# -- I4 for stage, archive and deprecation tags ------------------------------------------------------
def mv_show(r: Path) -> dict:
    doc = json.loads(mvtools(r, "show", "--json").stdout)
    return {m["name"]: {"latest": m["latest"], "stages": m["stages"]} for m in doc["models"] if m["latest"]}


@pytest.mark.slow
def test_moved_stage_and_archive_tags_are_reported_and_repointed(r: Path) -> None:
    c0 = commit_model(r, "m1", "m1")
    c1 = commit_model(r, "m2", "m2")
    c2 = commit_model(r, "m3", "m3")
    mvtools(r, "promote", "clf", "v0.1.0", "production")
    mvtools(r, "archive", "clf", "v0.1.1")
    commit_model(r, "g1", "g1", "models/gbm.bin")
    mvtools(r, "deprecate", "gbm")
    assert mv_show(r) == gto_show(r)
    before = tags(r)
    assert before["clf#production#1"] == c0 and before["clf@v0.1.1!"] == c1
    # moved by hand: the stage to v0.1.2's commit, the archive to v0.1.0's, the deprecation
    git(r, "tag", "-f", "-a", "-m", "moved", "clf#production#1", c2)
    git(r, "tag", "-f", "-a", "-m", "moved", "clf@v0.1.1!", c0)
    git(r, "tag", "-f", "-a", "-m", "moved", "gbm@deprecated", c0)
    assert mv_show(r) != gto_show(r)
    rc, rep = verify(r)
    assert rc == 1 and sorted(p["where"] for p in rep["problems"]) == \
        ["clf#production#1", "clf@v0.1.1!", "gbm@deprecated"], rep
    human = mvtools(r, "verify", check=False).stdout
    assert set(hints(human)) == {"mvtools sync-tags"}, human
    out = json.loads(mvtools(r, "sync-tags", "--json").stdout)
    assert sorted(m["tag"] for m in out["moved"]) == ["clf#production#1", "clf@v0.1.1!", "gbm@deprecated"]
    assert tags(r) == before
    assert mv_show(r) == gto_show(r)
    assert verify(r)[1]["problems"] == []


def test_registry_tag_without_an_event_is_a_problem(r: Path) -> None:
    c0 = commit_model(r, "m1", "m1")
    git(r, "tag", "-a", "-m", "stray", "clf#staging#5", c0)
    rc, rep = verify(r)
    assert rc == 1 and [p["where"] for p in rep["problems"]] == ["clf#staging#5"]
    cmds = hints(mvtools(r, "verify", check=False).stdout)
    assert cmds == ["mvtools import-gto", "git tag -d 'clf#staging#5'"]  # record it, or drop it instead
    for i, cmd in enumerate(cmds):  # each alternative mends it on its own, as printed
        copy = r.parent / f"alternative-{i}"
        shutil.copytree(r, copy, symlinks=True)
        run_hint(copy, cmd)
        assert verify(copy)[1]["problems"] == []


def test_sync_tags_tags_only_events_head_holds(r: Path) -> None:
    """A SIGKILLed promote can leave index and work-tree ledgers that differ, each with an
    event no commit holds: sync-tags must not tag it."""
    from mvtools import ledger as L

    commit_model(r, "m1", "m1")
    rel = r / "registry" / "clf.yaml"
    committed = rel.read_bytes()
    ev = L.make_event("promote", "clf", "Test User", "2026-01-01T00:00:00Z", version="v0.1.0",
                      stage="production", tag="clf#production#1")
    L.append(rel, "clf", [ev], expected=committed)
    git(r, "add", "registry/clf.yaml")
    staged = rel.read_bytes()
    ev2 = L.make_event("promote", "clf", "Test User", "2026-01-01T00:00:01Z", version="v0.1.0",
                       stage="staging", tag="clf#staging#2")
    L.append(rel, "clf", [ev2], expected=staged)
    mvtools(r, "sync-tags")
    assert not [t for t in tags(r) if "#" in t]


# -- two clones registered identical bytes as the same version ------------------------------------
@pytest.mark.slow
def test_identical_bytes_same_version_in_two_clones_passes(r: Path, tmp_path: Path) -> None:
    commit_model(r, "m1", "m1")
    bare = tmp_path / "server.git"
    git(tmp_path, "clone", "-q", "--bare", str(r), str(bare))
    clones = []
    for name in ("alice", "bob"):
        c = tmp_path / name
        git(tmp_path, "clone", "-q", str(bare), str(c))
        mvtools(c, "install-hooks")
        mvtools(c, "install-merge-driver")
        clones.append(c)
    alice, bob = clones
    commit_model(alice, "the same bytes", "alice")
    git(alice, "push", "-q", "origin", "main", "clf@v0.1.1")
    write_model(bob, "models/clf.bin", "the same bytes")  # bob's own event: another actor (and id)
    git(bob, "add", "-A")
    git(bob, "commit", "-q", "-m", "bob", env={"GIT_COMMITTER_NAME": "Bob", "GIT_AUTHOR_NAME": "Bob"})
    git(bob, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")
    evs = [e for e in yaml.safe_load((bob / "registry" / "clf.yaml").read_text())["events"]
           if e["version"] == "v0.1.1"]
    assert len(evs) == 2 and evs[0]["sha256"] == evs[1]["sha256"] and evs[0]["id"] != evs[1]["id"]
    rc, rep = verify(bob)
    assert (rc, rep["problems"]) == (0, [])


# -- fails closed ------------------------------------------------------------------------------------
def test_shallow_clone_fails_unless_allowed_and_the_hint_works(r: Path, tmp_path: Path) -> None:
    commit_model(r, "m1", "m1")
    commit_model(r, "m2", "m2")
    c = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-tags", f"file://{r}", str(c))
    rc, rep = verify(c)
    assert rc == 1 and "history" in kinds(rep), rep
    rc, rep = verify(c, "--allow-shallow")
    assert rc == 0 and rep["problems"] == [] and "history" in kinds(rep, "unchecked"), rep
    human = mvtools(c, "verify", check=False).stdout
    cmds = [h for h in hints(human) if h.startswith("git fetch")]
    assert cmds, human
    run_hint(c, cmds[0])
    assert verify(c) == (0, verify(c)[1])


@pytest.mark.slow
def test_verify_fetch_fails_when_the_remote_has_none_of_the_bytes(tmp_path: Path) -> None:
    demo, bare, store = tmp_path / "demo", tmp_path / "bare.git", tmp_path / "dvc-store"
    mvtools(tmp_path, "quickstart", str(demo))
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(demo, "remote", "add", "origin", str(bare))
    store.mkdir()
    dvc(demo, "remote", "add", "-d", "store", str(store))
    git(demo, "commit", "-q", "-m", "DVC remote", "--", ".dvc/config")
    git(demo, "push", "-q", "--no-verify", "origin", "main", "--tags")  # no DVC objects pushed
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-b", "main", str(bare), str(clone))
    rc, rep = verify(clone)
    assert rc == 0 and {u["where"] for u in rep["unchecked"] if u["kind"] == "bytes"} == \
        {"churn@v0.1.0", "churn@v0.1.1"}
    rc, rep = verify(clone, "--fetch")
    assert rc == 1 and sorted(p["where"] for p in rep["problems"] if p["kind"] == "bytes") == \
        ["churn@v0.1.0", "churn@v0.1.1"], rep


# -- a broken ledger is one problem ------------------------------------------------------------------
@pytest.mark.parametrize("committed", [False, True], ids=["work-tree", "committed"])
def test_one_broken_ledger_is_reported_once(r: Path, committed: bool) -> None:
    commit_model(r, "m1", "m1")
    commit_model(r, "m2", "m2")
    commit_model(r, "g1", "g1", "models/gbm.bin")
    git(r, "tag", "-d", "gbm@v0.1.0")  # the other model is still checked
    p = r / "registry" / "clf.yaml"
    p.write_text(p.read_text().replace("version: v0.1.1", "version: 1.0.0"))
    if committed:
        git(r, "commit", "-q", "--no-verify", "-am", "hand edit")
    rc, rep = verify(r)
    assert rc == 1
    mine = [x for x in rep["problems"] if "clf" in x["where"] or "clf" in x["message"]]
    assert len(mine) == 1 and mine[0]["where"] == "registry/clf.yaml", rep
    assert [x["where"] for x in rep["problems"] if x not in mine] == ["gbm@v0.1.0"]
    assert "registry/clf.yaml" not in mine[0]["message"].split(";")[0], mine  # the file named once
    if not committed:  # a hand edit in the work tree: the printed repair restores HEAD's ledger
        cmds = hints(mvtools(r, "verify", check=False).stdout)
        assert cmds == ["git checkout HEAD -- registry/clf.yaml", "mvtools sync-tags"], cmds
        for cmd in cmds:
            run_hint(r, cmd)
        assert verify(r) == (0, verify(r)[1])
