"""Merges of the ledger (issue 5, point 2): the merge driver `mvtools init` registers unites
both sides' events in a deterministic order; the same NAME@VERSION registered with different
bytes on two sides is a conflict the driver names and leaves for the user.

Real branches, clones of a bare repo, merges, `git pull --rebase`; nothing mocked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from conftest import git, head, init_repo, ledger_events, mvtools, tags, template_repo, write_model

def _build(r: Path) -> None:
    """mvtools init (git hooks + merge driver), git-tracked models clf and m2; clf v0.1.0."""
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n  - name: m2\n    path: models/m2.bin\n")
    write_model(r, "models/clf.bin", b"clf weights 0")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "clf v0.1.0")
    assert "clf@v0.1.0" in tags(r)


r = template_repo("merge", _build)


@pytest.fixture
def clones(r: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A bare 'server' repo made from the template and two clones of it, each given the hooks
    and the merge driver (git config and hooks do not travel with a clone; `mvtools init`
    would do both, and run DVC, which costs seconds)."""
    bare = tmp_path / "server.git"
    git(tmp_path, "clone", "-q", "--bare", str(r), str(bare))
    out = []
    for name in ("alice", "bob"):
        c = tmp_path / name
        git(tmp_path, "clone", "-q", str(bare), str(c))
        mvtools(c, "install-hooks")
        mvtools(c, "install-merge-driver")
        assert git(c, "status", "--porcelain").stdout == ""
        out.append(c)
    return bare, out[0], out[1]


def ids(events: list[dict]) -> list[str]:
    return [e["id"] for e in events]


def verify_json(repo: Path) -> dict:
    import json

    proc = mvtools(repo, "verify", "--json", check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


# -- two clones register the same next version ---------------------------------------------
def test_two_clones_same_next_version_conflict_is_reported(clones: tuple[Path, Path, Path]) -> None:
    _bare, alice, bob = clones
    write_model(alice, "models/clf.bin", b"alice's weights")
    assert "clf v0.1.1" in mvtools(alice, "register", "clf").stdout
    git(alice, "push", "-q", "origin", "main", "clf@v0.1.1")
    write_model(bob, "models/clf.bin", b"bob's weights")
    assert "clf v0.1.1" in mvtools(bob, "register", "clf").stdout
    bob_head = head(bob)

    proc = git(bob, "pull", "--no-rebase", "--no-edit", "origin", "main", check=False)
    assert proc.returncode != 0
    # the driver names the version and the two byte hashes; git stops the merge
    assert "mvtools: error: registry/clf.yaml: clf@v0.1.1 registered twice with different bytes" in proc.stderr
    status = git(bob, "status", "--porcelain").stdout
    assert "UU registry/clf.yaml" in status
    assert head(bob) == bob_head  # nothing was committed: no silent pick
    # the driver wrote the union (both v0.1.1 events, no conflict markers) for the user to see
    text = (bob / "registry" / "clf.yaml").read_text()
    assert "<<<<<<<" not in text
    assert [e["version"] for e in yaml.safe_load(text)["events"]] == ["v0.1.0", "v0.1.1", "v0.1.1"]
    git(bob, "merge", "--abort")


@pytest.mark.slow
def test_two_clones_resolution_by_rebase_and_reregister(clones: tuple[Path, Path, Path]) -> None:
    """The README recipe: keep the published v0.1.1, re-register your bytes as v0.1.2."""
    _bare, alice, bob = clones
    write_model(alice, "models/clf.bin", b"alice's weights")
    mvtools(alice, "register", "clf")
    git(alice, "push", "-q", "origin", "main", "clf@v0.1.1")
    alice_commit = tags(alice)["clf@v0.1.1"]
    write_model(bob, "models/clf.bin", b"bob's weights")
    mvtools(bob, "register", "clf")

    proc = git(bob, "pull", "--rebase", "origin", "main", check=False)
    assert proc.returncode != 0 and "clf@v0.1.1 registered twice" in proc.stderr
    # during a rebase "ours" is the upstream (published) side, "theirs" the replayed commit
    git(bob, "checkout", "--ours", "registry/clf.yaml")
    git(bob, "checkout", "--theirs", "models/clf.bin")
    git(bob, "add", "registry/clf.yaml", "models/clf.bin")
    proc = git(bob, "rebase", "--continue", env={"GIT_EDITOR": "true"})
    git(bob, "fetch", "-q", "--force", "origin", "refs/tags/clf@v0.1.1:refs/tags/clf@v0.1.1")
    assert tags(bob)["clf@v0.1.1"] == alice_commit
    out = mvtools(bob, "register", "clf").stdout
    assert "clf v0.1.2" in out
    evs = ledger_events(bob)
    assert [e["version"] for e in evs] == ["v0.1.0", "v0.1.1", "v0.1.2"]
    assert evs[1]["sha256"] == ledger_events(alice)[1]["sha256"]
    assert (bob / "models" / "clf.bin").read_bytes() == b"bob's weights"
    assert verify_json(bob)["problems"] == []
    git(bob, "push", "-q", "origin", "main", "clf@v0.1.2")
    git(alice, "pull", "-q", "--no-rebase", "--tags", "origin", "main")
    assert verify_json(alice)["problems"] == []


def test_committing_the_conflicted_union_is_refused(clones: tuple[Path, Path, Path]) -> None:
    _bare, alice, bob = clones
    write_model(alice, "models/clf.bin", b"alice's weights")
    mvtools(alice, "register", "clf")
    git(alice, "push", "-q", "origin", "main")
    write_model(bob, "models/clf.bin", b"bob's weights")
    mvtools(bob, "register", "clf")
    git(bob, "pull", "--no-rebase", "--no-edit", "origin", "main", check=False)
    git(bob, "checkout", "--theirs", "models/clf.bin")
    git(bob, "add", "registry/clf.yaml", "models/clf.bin")
    before = head(bob)
    proc = git(bob, "commit", "-q", "--no-edit", check=False)
    assert proc.returncode != 0 and "v0.1.1" in proc.stderr
    assert head(bob) == before


def test_taking_one_side_of_the_ledger_in_a_merge_is_refused(clones: tuple[Path, Path, Path]) -> None:
    """A merge must keep the union: dropping the other side's event is refused (the
    conflict has to be resolved by a rebase, see the test above)."""
    _bare, alice, bob = clones
    write_model(alice, "models/clf.bin", b"alice's weights")
    mvtools(alice, "register", "clf")
    git(alice, "push", "-q", "origin", "main")
    write_model(bob, "models/clf.bin", b"bob's weights")
    mvtools(bob, "register", "clf")
    git(bob, "pull", "--no-rebase", "--no-edit", "origin", "main", check=False)
    git(bob, "checkout", "--theirs", "models/clf.bin", "registry/clf.yaml")
    git(bob, "add", "registry/clf.yaml", "models/clf.bin")
    before = head(bob)
    proc = git(bob, "commit", "-q", "--no-edit", check=False)
    assert proc.returncode == 1
    assert "the merge dropped 1 event(s) of its parents" in proc.stderr
    assert head(bob) == before


# -- branches in one repo -------------------------------------------------------------------
@pytest.mark.slow
def test_branches_registering_different_models_merge_cleanly(r: Path) -> None:
    git(r, "checkout", "-q", "-b", "feat-clf")
    write_model(r, "models/clf.bin", b"clf weights 1")
    git(r, "add", "models/clf.bin")
    git(r, "commit", "-q", "-m", "retrain clf")
    git(r, "checkout", "-q", "-b", "feat-m2", "main")
    write_model(r, "models/m2.bin", b"m2 weights 0")
    mvtools(r, "register", "m2")
    write_model(r, "models/m2.bin", b"m2 weights 1")
    git(r, "add", "models/m2.bin")
    git(r, "commit", "-q", "-m", "retrain m2")
    git(r, "checkout", "-q", "main")
    write_model(r, "models/clf.bin", b"clf weights 0")  # unchanged on main
    git(r, "merge", "-q", "--no-edit", "feat-clf")  # fast-forward
    git(r, "merge", "-q", "--no-edit", "--no-ff", "feat-m2")
    assert sorted(t for t in tags(r) if "@" in t) == ["clf@v0.1.0", "clf@v0.1.1", "m2@v0.1.0", "m2@v0.1.1"]
    v = verify_json(r)
    assert v["problems"] == [], v
    out = mvtools(r, "show", "--json").stdout
    assert '"latest": "v0.1.1"' in out


@pytest.mark.slow
def test_merge_commit_ledger_is_the_union_and_deterministic(r: Path) -> None:
    """Both branches register the same model (different versions, since tags are shared);
    the merge commit's ledger holds exactly the union of its parents' events, and the
    driver's result does not depend on which side is merged into which."""
    git(r, "branch", "b1")
    git(r, "branch", "b2")
    git(r, "checkout", "-q", "b1")
    write_model(r, "models/clf.bin", b"clf from b1")
    git(r, "add", "models/clf.bin")
    git(r, "commit", "-q", "-m", "b1 clf")
    mvtools(r, "promote", "clf", "v0.1.1", "staging")
    git(r, "checkout", "-q", "b2")
    write_model(r, "models/clf.bin", b"clf from b2")
    git(r, "add", "models/clf.bin")
    git(r, "commit", "-q", "-m", "b2 clf")
    write_model(r, "models/m2.bin", b"m2 on b2")
    mvtools(r, "register", "m2")
    assert [e["version"] for e in ledger_events(r, "clf", "b1")] == ["v0.1.0", "v0.1.1", "v0.1.1"]
    assert [e.get("version") for e in ledger_events(r, "clf", "b2")] == ["v0.1.0", "v0.1.2"]

    results = []
    for ours, theirs in (("b1", "b2"), ("b2", "b1")):
        git(r, "checkout", "-q", "-B", f"m-{ours}", ours)
        proc = git(r, "merge", "--no-edit", theirs, check=False)
        # the ledger merges through the driver; only the model file itself conflicts
        assert "registry/clf.yaml" not in git(r, "diff", "--name-only", "--diff-filter=U").stdout
        assert "registered twice" not in proc.stderr
        if proc.returncode != 0:
            git(r, "checkout", "--theirs" if ours == "b1" else "--ours", "models/clf.bin")  # b2's bytes
            git(r, "add", "models/clf.bin")
            git(r, "commit", "-q", "--no-edit")
        merged = ledger_events(r, "clf", "HEAD")
        union = set(ids(ledger_events(r, "clf", "HEAD^1"))) | set(ids(ledger_events(r, "clf", "HEAD^2")))
        assert set(ids(merged)) == union and len(merged) == len(union)
        assert len(git(r, "rev-list", "--parents", "-n", "1", "HEAD").stdout.split()) == 3
        results.append(git(r, "show", "HEAD:registry/clf.yaml").stdout)
        v = verify_json(r)
        assert v["problems"] == [], v
    assert results[0] == results[1]
    # the base's events first, then the rest by (timestamp, version, id): the driver's order
    from mvtools.merge import _order

    merged = yaml.safe_load(results[0])["events"]
    assert merged[0]["version"] == "v0.1.0"
    rest = merged[1:]
    assert rest == sorted(rest, key=_order)


def test_driver_direct_invocation_is_symmetric(r: Path, tmp_path: Path) -> None:
    """`mvtools merge-driver BASE OURS THEIRS PATH` as git calls it (%O %A %B %P)."""
    git(r, "checkout", "-q", "-b", "x")
    write_model(r, "models/clf.bin", b"x")
    mvtools(r, "register", "clf")
    x = git(r, "show", "HEAD:registry/clf.yaml").stdout
    git(r, "checkout", "-q", "-b", "y", "main")
    write_model(r, "models/clf.bin", b"y")
    mvtools(r, "register", "clf")
    y = git(r, "show", "HEAD:registry/clf.yaml").stdout
    base = git(r, "show", "main:registry/clf.yaml").stdout
    outs = []
    for a, b in ((x, y), (y, x)):
        d = tmp_path / f"d{len(outs)}"
        d.mkdir()
        (d / "O").write_text(base)
        (d / "A").write_text(a)
        (d / "B").write_text(b)
        proc = mvtools(d, "merge-driver", "O", "A", "B", "registry/clf.yaml", check=False)
        assert proc.returncode == 0, proc.stderr
        outs.append((d / "A").read_text())
    assert outs[0] == outs[1]
    assert [e["version"] for e in yaml.safe_load(outs[0])["events"]] == ["v0.1.0", "v0.1.1", "v0.1.2"]


def test_driver_refuses_a_malformed_side(r: Path, tmp_path: Path) -> None:
    base = (r / "registry" / "clf.yaml").read_text()
    for name, text in (("O", base), ("A", base), ("B", base + "- event: [\n")):
        (tmp_path / name).write_text(text)
    proc = mvtools(tmp_path, "merge-driver", "O", "A", "B", "registry/clf.yaml", check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("mvtools: error: merge driver: registry/clf.yaml") and "Traceback" not in proc.stderr
    assert (tmp_path / "A").read_text() == base  # "ours" left as it was: git keeps the conflict


# -- rebases --------------------------------------------------------------------------------
@pytest.mark.slow
def test_rebase_onto_a_branch_that_registered_keeps_tags_on_rebased_commits(r: Path) -> None:
    git(r, "checkout", "-q", "-b", "feature")
    write_model(r, "models/clf.bin", b"feature clf")
    git(r, "add", "models/clf.bin")
    git(r, "commit", "-q", "-m", "feature clf")
    (r / "notes.txt").write_text("more\n")
    git(r, "add", "notes.txt")
    git(r, "commit", "-q", "-m", "notes")
    old = tags(r)["clf@v0.1.1"]
    git(r, "checkout", "-q", "main")
    write_model(r, "models/m2.bin", b"m2 on main")
    mvtools(r, "register", "m2")
    git(r, "checkout", "-q", "feature")
    proc = git(r, "rebase", "main")
    assert "moved tag clf@v0.1.1" in proc.stderr
    new = tags(r)["clf@v0.1.1"]
    assert new != old
    assert git(r, "merge-base", "--is-ancestor", new, "HEAD", check=False).returncode == 0
    assert ids(ledger_events(r, "clf", new)) == ids(ledger_events(r, "clf"))
    assert git(r, "show", f"{new}:models/clf.bin").stdout == "feature clf"
    assert tags(r)["m2@v0.1.0"] == git(r, "rev-parse", "main").stdout.strip()
    v = verify_json(r)
    assert v["problems"] == [], v


def test_pull_rebase_of_an_unpublished_registration_other_model(clones: tuple[Path, Path, Path]) -> None:
    """alice registers clf, bob registers m2: `git pull --rebase` replays bob's registration;
    the tag follows the rebased commit and the two registries agree afterwards."""
    _bare, alice, bob = clones
    write_model(alice, "models/clf.bin", b"alice clf")
    mvtools(alice, "register", "clf")
    git(alice, "push", "-q", "origin", "main", "clf@v0.1.1")
    write_model(bob, "models/m2.bin", b"bob m2")
    mvtools(bob, "register", "m2")
    proc = git(bob, "pull", "--rebase", "origin", "main")
    assert "moved tag m2@v0.1.0" in proc.stderr
    git(bob, "fetch", "-q", "--tags", "origin")
    assert tags(bob)["m2@v0.1.0"] == head(bob)
    v = verify_json(bob)
    assert v["problems"] == [], v
    git(bob, "push", "-q", "origin", "main", "m2@v0.1.0")


# -- a clone without the driver -------------------------------------------------------------
def test_fresh_clone_without_driver_gets_the_hint(r: Path, tmp_path: Path) -> None:
    c = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(r), str(c))
    assert git(c, "config", "--get", "merge.mvtools-ledger.driver", check=False).returncode != 0
    mvtools(c, "install-hooks")  # hooks only: the driver is still missing
    write_model(c, "models/clf.bin", b"clone weights")
    git(c, "add", "models/clf.bin")
    proc = git(c, "commit", "-q", "-m", "retrain in a clone")
    assert "registered clf v0.1.1" in proc.stderr
    assert "no ledger merge driver configured; run: mvtools init" in proc.stderr
    out = mvtools(c, "install-merge-driver").stdout
    assert "merge driver" in out
    driver = git(c, "config", "--get", "merge.mvtools-ledger.driver").stdout
    assert "merge-driver %O %A %B %P" in driver
    write_model(c, "models/clf.bin", b"clone weights 2")
    git(c, "add", "models/clf.bin")
    proc = git(c, "commit", "-q", "-m", "retrain again")
    assert "registered clf v0.1.2" in proc.stderr and "merge driver" not in proc.stderr


def test_init_registers_the_driver_and_gitattributes(r: Path) -> None:
    attrs = (r / ".gitattributes").read_text().splitlines()
    assert "registry/**/*.yaml merge=mvtools-ledger" in attrs
    assert git(r, "check-attr", "merge", "registry/clf.yaml").stdout.strip().endswith("mvtools-ledger")
    driver = git(r, "config", "--get", "merge.mvtools-ledger.driver").stdout.strip()
    assert driver.split()[:3] == [sys.executable, "-m", "mvtools"] or "mvtools" in driver
    # a second init changes nothing
    before = (r / ".gitattributes").read_text(), (r / ".git" / "config").read_text()
    mvtools(r, "init")
    assert ((r / ".gitattributes").read_text(), (r / ".git" / "config").read_text()) == before


def test_without_the_driver_git_leaves_markers_and_the_hook_refuses_them(r: Path) -> None:
    """What the hint prevents: plain git merges the ledger as text (conflict markers), and
    the pre-commit hook refuses to commit a ledger that does not parse."""
    git(r, "config", "--remove-section", "merge.mvtools-ledger")  # as in a fresh clone
    git(r, "checkout", "-q", "-b", "a")
    write_model(r, "models/clf.bin", b"a")
    mvtools(r, "register", "clf")
    git(r, "checkout", "-q", "-b", "b", "main")
    write_model(r, "models/clf.bin", b"b")
    mvtools(r, "register", "clf")
    proc = git(r, "merge", "--no-edit", "a", check=False)
    assert proc.returncode != 0
    assert "<<<<<<<" in (r / "registry" / "clf.yaml").read_text()
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "--no-edit", check=False)
    assert proc.returncode == 1 and "commit refused" in proc.stderr
    git(r, "merge", "--abort")
