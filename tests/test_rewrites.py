"""History rewrites and merges through the installed hooks (issue 9, item 5 and I2 for merges).

A version tag follows a rewritten commit only when the new commit holds the version's bytes
(git-tracked: the same sha256; DVC-tracked: the same md5) and its ledger holds the register
event. Otherwise the tag stays on its original commit, so the bytes stay reachable: a tag is
never deleted by a rewrite, never moved onto other bytes. Stage and archive tags on the same
commit go where the version tag goes. Real git (rebase -i driven by GIT_SEQUENCE_EDITOR,
--fixup/--autosquash, --amend, reset --soft, merges, cherry-pick, revert) and real DVC.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import commit_model, dvc, git, head, init_repo, mvtools, tags, template_copy, template_repo, write_model

SQUASH_M2 = "sed -i 's/^pick \\([0-9a-f]*\\) m2$/squash \\1 m2/'"


def _build_git(r: Path) -> None:
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "set up mvtools")


def _build_dvc(r: Path) -> None:
    init_repo(r, "  - name: net\n    path: models/net.bin\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "set up mvtools")


# A git-tracked model clf at models/clf.bin, plain git hooks and the merge driver.
r = template_repo("rewrites-git", _build_git)


@pytest.fixture
def d(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DVC-tracked (dvc add) model net at models/net.bin."""
    return template_copy("rewrites-dvc", tmp_path_factory, tmp_path / "repo", _build_dvc)


# -- helpers ----------------------------------------------------------------------------
def commit_dvc_model(r: Path, content: str, msg: str) -> subprocess.CompletedProcess[str]:
    write_model(r, "models/net.bin", content)
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "-A")
    return git(r, "commit", "-q", "-m", msg)


def register_events(r: Path, name: str = "clf", rev: str = "HEAD") -> list[dict]:
    proc = git(r, "show", f"{rev}:registry/{name}.yaml", check=False)
    if proc.returncode != 0:
        return []
    return [e for e in yaml.safe_load(proc.stdout)["events"] if e["event"] == "register"]


def versions(r: Path, name: str = "clf", rev: str = "HEAD") -> list[str]:
    return [e["version"] for e in register_events(r, name, rev)]


def sha(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def tag_holds(r: Path, tag: str, content: str, path: str = "models/clf.bin") -> None:
    """The tag's commit holds the event (in its own ledger) and the bytes (git-tracked)."""
    commit = tags(r)[tag]
    name, version = tag.split("@")
    evs = {e["version"]: e for e in register_events(r, name, commit)}
    assert version in evs, f"{tag} is on {commit[:12]}, whose ledger lacks the event"
    assert evs[version]["sha256"] == sha(content)
    shown = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=r, capture_output=True)
    assert shown.returncode == 0 and shown.stdout == content.encode(), f"{tag} is on other bytes"


def gc(r: Path) -> None:
    """Forget every unreferenced object, as git eventually does."""
    git(r, "reflog", "expire", "--expire=now", "--all")
    git(r, "gc", "-q", "--prune=now")


def get_bytes(r: Path, spec: str) -> bytes:
    out = r.parent / ("got-" + spec.replace("@", "-").replace("#", "-"))
    proc = mvtools(r, "get", spec, "-o", str(out), check=False)
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes()


def verify_problems(r: Path) -> list[dict]:
    """verify's problems, except a tag on a commit whose own ledger records its event: the
    issue makes that a note (a version squashed away keeps its tag, so its bytes stay)."""
    proc = mvtools(r, "verify", "--json", check=False)
    doc = json.loads(proc.stdout)
    out = []
    for p in doc["problems"]:
        if p["kind"] in ("tag-orphan", "tag-unreachable") and "@" in p["where"]:
            name, version = p["where"].split("@")
            commit = tags(r).get(p["where"])
            if commit and version in versions(r, name, commit):
                continue
        out.append(p)
    return out


# -- squash and fixup ---------------------------------------------------------------------
@pytest.mark.slow
def test_squashing_two_registering_commits_keeps_the_older_tag_on_its_bytes(r: Path) -> None:
    commit_model(r, "v1", "m1")
    first = head(r)
    commit_model(r, "v2", "m2")
    proc = git(r, "rebase", "-q", "-i", "HEAD~2",
               env={"GIT_SEQUENCE_EDITOR": SQUASH_M2, "GIT_EDITOR": "true"})
    assert versions(r) == ["v0.1.0", "v0.1.1"]  # the squashed commit holds both events
    t = tags(r)
    assert t["clf@v0.1.1"] == head(r)
    assert t["clf@v0.1.0"] == first, proc.stderr  # its bytes are not in the squashed commit
    tag_holds(r, "clf@v0.1.0", "v1")
    tag_holds(r, "clf@v0.1.1", "v2")
    gc(r)
    assert get_bytes(r, "clf@v0.1.0") == b"v1"
    assert get_bytes(r, "clf@v0.1.1") == b"v2"
    assert verify_problems(r) == []


def test_fixup_with_autosquash_keeps_the_older_tag_on_its_bytes(r: Path) -> None:
    commit_model(r, "v1", "m1")
    first = head(r)
    commit_model(r, "v2", "fix", "--fixup", "HEAD")
    git(r, "rebase", "-q", "-i", "--autosquash", "HEAD~2", env={"GIT_SEQUENCE_EDITOR": "true"})
    assert git(r, "log", "-1", "--format=%s").stdout.strip() == "m1"
    assert tags(r)["clf@v0.1.0"] == first
    assert tags(r)["clf@v0.1.1"] == head(r)
    gc(r)
    assert get_bytes(r, "clf@v0.1.0") == b"v1"
    assert get_bytes(r, "clf@latest") == b"v2"


def test_squashing_a_plain_commit_into_a_registering_one_moves_the_tag(r: Path) -> None:
    """The squashed commit holds the version's bytes and event: the tag follows it."""
    commit_model(r, "v1", "m1")
    (r / "notes.txt").write_text("n\n")
    git(r, "add", "notes.txt")
    git(r, "commit", "-q", "-m", "m2")
    proc = git(r, "rebase", "-q", "-i", "HEAD~2",
               env={"GIT_SEQUENCE_EDITOR": SQUASH_M2, "GIT_EDITOR": "true"})
    assert "moved tag clf@v0.1.0" in proc.stderr
    assert tags(r)["clf@v0.1.0"] == head(r)
    tag_holds(r, "clf@v0.1.0", "v1")
    assert verify_problems(r) == []


@pytest.mark.slow
def test_squash_of_dvc_tracked_versions_keeps_the_older_tag(d: Path) -> None:
    commit_dvc_model(d, "net 1", "m1")
    first = head(d)
    commit_dvc_model(d, "net 2", "m2")
    git(d, "rebase", "-q", "-i", "HEAD~2", env={"GIT_SEQUENCE_EDITOR": SQUASH_M2, "GIT_EDITOR": "true"})
    t = tags(d)
    assert t["net@v0.1.0"] == first and t["net@v0.1.1"] == head(d)
    gc(d)
    assert get_bytes(d, "net@v0.1.0") == b"net 1"
    assert get_bytes(d, "net@v0.1.1") == b"net 2"


@pytest.mark.slow
def test_stage_and_archive_tags_move_with_their_version(r: Path) -> None:
    base = head(r)
    commit_model(r, "v1", "m1")
    mvtools(r, "promote", "clf", "v0.1.0", "production")
    mvtools(r, "archive", "clf", "v0.1.0")
    old = tags(r)
    assert old["clf#production#1"] == old["clf@v0.1.0"] == old["clf@v0.1.0!"]
    git(r, "checkout", "-q", "-b", "side", base)
    (r / "side.txt").write_text("s\n")
    git(r, "add", "side.txt")
    git(r, "commit", "-q", "-m", "side")
    git(r, "checkout", "-q", "main")
    git(r, "rebase", "-q", "side")
    new = tags(r)
    assert new["clf@v0.1.0"] != old["clf@v0.1.0"]
    assert new["clf#production#1"] == new["clf@v0.1.0"] == new["clf@v0.1.0!"]
    assert git(r, "merge-base", "--is-ancestor", new["clf@v0.1.0"], "HEAD", check=False).returncode == 0
    assert verify_problems(r) == []


def test_deprecation_tag_follows_its_rebased_commit(r: Path) -> None:
    base = head(r)
    commit_model(r, "v1", "m1")
    mvtools(r, "deprecate", "clf")
    git(r, "checkout", "-q", "-b", "side", base)
    (r / "side.txt").write_text("s\n")
    git(r, "add", "side.txt")
    git(r, "commit", "-q", "-m", "side")
    git(r, "checkout", "-q", "main")
    proc = git(r, "rebase", "-q", "side")
    assert "moved tag clf@deprecated" in proc.stderr
    assert tags(r)["clf@deprecated"] == head(r)
    assert git(r, "rev-parse", "HEAD^").stdout.strip() == tags(r)["clf@v0.1.0"]


def test_stage_tag_stays_with_a_version_squashed_away(r: Path) -> None:
    commit_model(r, "v1", "m1")
    first = head(r)
    mvtools(r, "promote", "clf", "v0.1.0", "production")
    commit_model(r, "v2", "m2")
    git(r, "rebase", "-q", "-i", "HEAD~3",
        env={"GIT_SEQUENCE_EDITOR": "sed -i 's/^pick \\([0-9a-f]*\\) m2$/fixup \\1 m2/'", "GIT_EDITOR": "true"})
    t = tags(r)
    assert t["clf@v0.1.0"] == t["clf#production#1"] == first
    gc(r)
    assert get_bytes(r, "clf#production") == b"v1"


# -- amend and reset --soft -----------------------------------------------------------------
def test_amend_with_new_bytes_keeps_the_old_tag_on_its_commit(r: Path) -> None:
    """The amended commit holds other bytes: the old version keeps its tag (and its bytes)
    on the replaced commit; the number is not reused."""
    commit_model(r, "v1", "m1")
    first = head(r)
    proc = commit_model(r, "v1b", "m1 fixed", "--amend")
    assert "registered clf v0.1.1" in proc.stderr
    assert tags(r)["clf@v0.1.0"] == first
    gc(r)
    assert get_bytes(r, "clf@v0.1.1") == b"v1b"
    commit_model(r, "v2", "m2")
    assert versions(r) == ["v0.1.1", "v0.1.2"]


def test_reset_soft_and_commit_is_handled_like_an_amend(r: Path) -> None:
    commit_model(r, "v1", "m1")
    git(r, "reset", "-q", "--soft", "HEAD~1")
    proc = git(r, "commit", "-q", "-m", "m1 again")
    assert "renumbering" not in proc.stderr and "stays on" not in proc.stderr, proc.stderr
    assert "moved tag clf@v0.1.0" in proc.stderr
    assert versions(r) == ["v0.1.0"]
    assert tags(r)["clf@v0.1.0"] == head(r)
    tag_holds(r, "clf@v0.1.0", "v1")
    assert verify_problems(r) == []
    proc = mvtools(r, "verify", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_reset_soft_and_commit_with_new_bytes(r: Path) -> None:
    commit_model(r, "v1", "m1")
    first = head(r)
    git(r, "reset", "-q", "--soft", "HEAD~1")
    proc = commit_model(r, "v1b", "m1 fixed")
    assert "registered clf v0.1.1" in proc.stderr
    assert versions(r) == ["v0.1.1"]
    assert tags(r)["clf@v0.1.0"] == first  # stays with its bytes
    tag_holds(r, "clf@v0.1.1", "v1b")


def test_reset_soft_of_a_pushed_commit_leaves_the_tag(r: Path) -> None:
    """The replaced commit is still on a branch: its tag is not taken from it."""
    commit_model(r, "v1", "m1")
    first = head(r)
    git(r, "branch", "keep")
    git(r, "reset", "-q", "--soft", "HEAD~1")
    git(r, "commit", "-q", "-m", "m1 again")
    assert tags(r)["clf@v0.1.0"] == first


# -- merges -----------------------------------------------------------------------------------
def _diverge(r: Path) -> tuple[str, str]:
    """side, then main register clf with their own bytes (v0.1.0 on side, v0.1.1 on main):
    the merged ledger (base, then the rest by time) does not extend main's."""
    git(r, "checkout", "-q", "-b", "side")
    commit_model(r, "side bytes", "side m")
    git(r, "checkout", "-q", "main")
    commit_model(r, "main bytes", "main m")
    return tags(r)["clf@v0.1.1"], tags(r)["clf@v0.1.0"]


def test_merge_resolved_with_one_sides_bytes_registers_nothing_and_warns_nothing(r: Path) -> None:
    _diverge(r)
    proc = git(r, "merge", "--no-edit", "side", check=False)
    assert proc.returncode != 0  # the model conflicts; the ledger merges through the driver
    git(r, "checkout", "--theirs", "models/clf.bin")
    git(r, "add", "models/clf.bin")
    proc = git(r, "commit", "-q", "--no-edit")
    assert "without registering" not in proc.stderr and "registered" not in proc.stderr, proc.stderr
    assert sorted(versions(r)) == ["v0.1.0", "v0.1.1"]
    assert verify_problems(r) == []


def test_merge_resolved_with_new_bytes_keeps_both_sides_and_registers(r: Path) -> None:
    _diverge(r)
    git(r, "merge", "--no-edit", "side", check=False)
    write_model(r, "models/clf.bin", "merged bytes")
    git(r, "add", "models/clf.bin")
    proc = git(r, "commit", "-q", "--no-edit")
    assert "registered clf v0.1.2" in proc.stderr, proc.stderr
    assert sorted(versions(r)) == ["v0.1.0", "v0.1.1", "v0.1.2"]
    tag_holds(r, "clf@v0.1.0", "side bytes")
    tag_holds(r, "clf@v0.1.1", "main bytes")
    tag_holds(r, "clf@v0.1.2", "merged bytes")
    assert verify_problems(r) == []


@pytest.mark.slow
def test_amending_a_merge_commit_is_allowed(r: Path) -> None:
    _diverge(r)
    git(r, "merge", "--no-edit", "side", check=False)
    git(r, "checkout", "--ours", "models/clf.bin")
    git(r, "add", "models/clf.bin")
    git(r, "commit", "-q", "--no-edit")
    proc = git(r, "commit", "-q", "--amend", "-m", "merge side, reworded", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "without registering" not in proc.stderr
    assert len(git(r, "rev-list", "--parents", "-n", "1", "HEAD").stdout.split()) == 3
    assert sorted(versions(r)) == ["v0.1.0", "v0.1.1"]
    # and with new bytes: the amended merge registers them, keeping both sides' events
    proc = commit_model(r, "merged bytes", "merge side, new bytes", "--amend")
    assert "registered clf v0.1.2" in proc.stderr, proc.stderr
    assert sorted(versions(r)) == ["v0.1.0", "v0.1.1", "v0.1.2"]
    tag_holds(r, "clf@v0.1.2", "merged bytes")
    assert verify_problems(r) == []


# -- cherry-pick and revert -------------------------------------------------------------------
def test_cherry_pick_of_an_unreachable_registering_commit_takes_its_tag(r: Path) -> None:
    """A commit registered on a detached HEAD, then left: cherry-picking it onto main gives
    the tag a commit on a branch that holds the same bytes and event."""
    git(r, "checkout", "-q", "--detach")
    commit_model(r, "v1", "m1")
    picked = head(r)
    git(r, "checkout", "-q", "main")
    proc = git(r, "cherry-pick", picked)
    assert tags(r)["clf@v0.1.0"] == head(r), proc.stderr
    tag_holds(r, "clf@v0.1.0", "v1")
    assert verify_problems(r) == []


def test_revert_of_a_registering_commit_keeps_every_version(r: Path) -> None:
    """git runs no pre-commit hook for `git revert`: the revert commit drops the reverted
    version's event and post-commit names the repair. Run as printed, it restores the ledger
    and registers the reverted-to bytes as the next version; every tag keeps its bytes."""
    import re

    commit_model(r, "v1", "m1")
    commit_model(r, "v2", "m2")
    m2 = head(r)
    proc = git(r, "revert", "--no-edit", "HEAD")
    fix = re.search(r"run: (git checkout .+)$", proc.stderr, re.M)
    assert fix, proc.stderr
    done = subprocess.run(["sh", "-c", fix.group(1)], cwd=r, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert versions(r) == ["v0.1.0", "v0.1.1", "v0.1.2"]
    assert tags(r)["clf@v0.1.1"] == m2
    tag_holds(r, "clf@v0.1.2", "v1")
    gc(r)
    assert get_bytes(r, "clf@v0.1.1") == b"v2"
    assert get_bytes(r, "clf@latest") == b"v1"
    assert verify_problems(r) == []
