"""One symlink rule for every command (issue 9, item 7).

A version's sha256 is of the bytes its store gives back, so `verify` and `get` can always
reproduce it:

* DVC stores what a link leads to (``dvc add`` follows links to files, skips links to
  directories inside a directory, and checks out links into its cache with
  ``cache.type = symlink``): mvtools hashes DVC-tracked models the same way.
* git stores a link as a link (a blob holding the target's name): a git-tracked model that
  is, or contains, a symlink is refused with one line naming the link (exit 2, nothing
  written), in `register` and in the hook alike, with a repair that works as printed.

Real git, real DVC; nothing mocked.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from conftest import assert_refused, dvc, git, head, mvtools, run, set_up_mvtools, tags, write_model


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _ledger_versions(r: Path, name: str) -> list[str]:
    import yaml

    p = r / "registry" / f"{name}.yaml"
    if not p.exists():
        return []
    return [e["version"] for e in (yaml.safe_load(p.read_text()) or {}).get("events") or []
            if e["event"] == "register"]


@pytest.fixture
def link_repo(repo: Path) -> Path:
    """Git-tracked models: `clf` (a file) and `bundle` (a directory); the real bytes in data/."""
    write_model(repo, "data/real.bin", b"\x00real model bytes")
    write_model(repo, "data/sub/w.bin", b"\x01weights")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "data")
    return set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin\n"
                                "  - name: bundle\n    path: models/bundle")


def _links(r: Path, case: str) -> str:
    """Make the model of ``case`` a symlink or hold one; return the link's path."""
    (r / "models").mkdir(exist_ok=True)
    if case == "model-is-link":
        os.symlink("../data/real.bin", r / "models" / "clf.bin")
        return "models/clf.bin"
    write_model(r, "models/bundle/a.bin", b"a")
    if case == "dir-holds-file-link":
        os.symlink("../../data/real.bin", r / "models" / "bundle" / "l.bin")
        return "models/bundle/l.bin"
    os.symlink("../../data/sub", r / "models" / "bundle" / "sub")
    return "models/bundle/sub"


CASES = ["model-is-link", "dir-holds-file-link", "dir-holds-dir-link"]


@pytest.mark.parametrize("case", CASES)
def test_register_refuses_a_git_tracked_model_with_a_symlink(link_repo: Path, case: str) -> None:
    """Issue 9: such a model got a sha256 of what the link leads to, which verify and get
    (reading the link blob git stores) could never reproduce."""
    r = link_repo
    link = _links(r, case)
    name = "clf" if case == "model-is-link" else "bundle"
    line = assert_refused(r, "register", name, want=link)
    assert "symlink" in line


@pytest.mark.parametrize("case", CASES)
def test_the_hook_refuses_it_and_its_repair_works_as_printed(link_repo: Path, case: str) -> None:
    r = link_repo
    link = _links(r, case)
    name = "clf" if case == "model-is-link" else "bundle"
    git(r, "add", "-A")
    before = head(r)
    proc = git(r, "commit", "-q", "-m", "linked model", check=False)
    assert proc.returncode == 1, proc.stderr  # a hook refusal (mvtools' exit codes)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mvtools: error: ") and link in lines[0], proc.stderr
    assert head(r) == before and not _ledger_versions(r, name)
    # the repair, exactly as printed: DVC stores what the link leads to
    run(["sh", "-c", lines[0].split("run: ", 1)[1]], r)
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "model through DVC")
    assert f"registered {name} v0.1.0" in proc.stderr, proc.stderr
    assert tags(r)[f"{name}@v0.1.0"] == head(r)
    proc = mvtools(r, "verify", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = r.parent / "got"
    mvtools(r, "get", f"{name}@v0.1.0", "-o", str(out))
    if case == "model-is-link":
        assert _sha(out) == _sha(r / "data" / "real.bin")


def test_a_symlink_beside_a_git_tracked_model_is_fine(link_repo: Path) -> None:
    """Only links in the model count: a link elsewhere in the commit changes nothing."""
    r = link_repo
    write_model(r, "models/clf.bin", b"c1")
    os.symlink("data/real.bin", r / "latest.bin")
    git(r, "add", "-A")
    assert "registered clf v0.1.0" in git(r, "commit", "-q", "-m", "clf v1").stderr
    assert mvtools(r, "verify", check=False).returncode == 0


# -- DVC-tracked: as DVC stores it ---------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["file", "dir"])
def test_dvc_symlink_checkouts_register_verify_and_get_agree(repo: Path, kind: str) -> None:
    """With ``cache.type = symlink`` DVC leaves links into its cache in the work tree: the
    hook hashes what they lead to, which is what verify and get read back."""
    path = "models/net.bin" if kind == "file" else "models/netdir"
    r = set_up_mvtools(repo, f"models:\n  - name: net\n    path: {path}")
    dvc(r, "config", "cache.type", "symlink")
    if kind == "file":
        write_model(r, path, b"\x00net weights")
    else:
        write_model(r, path + "/a.bin", b"\x00a")
        write_model(r, path + "/b/c.bin", b"\x00c")
    dvc(r, "add", "-q", path)
    probe = r / path if kind == "file" else r / path / "a.bin"
    assert probe.is_symlink()  # DVC's own link into its cache
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "net v1")
    assert "registered net v0.1.0" in proc.stderr, proc.stderr
    proc = mvtools(r, "verify", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = r.parent / "got"
    mvtools(r, "get", "net@v0.1.0", "-o", str(out))
    if kind == "file":
        assert not out.is_symlink() and out.read_bytes() == b"\x00net weights"
    else:
        assert (out / "b" / "c.bin").read_bytes() == b"\x00c"


@pytest.mark.slow
def test_dvc_add_of_a_link_stores_what_it_leads_to(repo: Path) -> None:
    """`dvc add` of an in-repo link (to a file) replaces it with the bytes: the version is
    those bytes, the same sha256 `get` gives back."""
    r = set_up_mvtools(repo, "models:\n  - name: net\n    path: models/net.bin")
    write_model(r, "data/real.bin", b"\x00real")
    (r / "models").mkdir(exist_ok=True)
    os.symlink("../data/real.bin", r / "models" / "net.bin")
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "-A")
    assert "registered net v0.1.0" in git(r, "commit", "-q", "-m", "net v1").stderr
    assert mvtools(r, "verify", check=False).returncode == 0
    out = r.parent / "got"
    mvtools(r, "get", "net@v0.1.0", "-o", str(out))
    assert out.read_bytes() == b"\x00real"

