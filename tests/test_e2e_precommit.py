"""mvtools driven by the real pre-commit framework: `pre-commit try-repo` against this
checkout, a repo whose .pre-commit-config.yaml names this checkout as its hooks repo
(pre-commit clones it at a rev and pip-installs mvtools into its own venv), and the
local/system hooks that `mvtools init --hooks pre-commit` writes.

pre-commit builds the hook venv once per PRE_COMMIT_HOME; every test here shares one
(session-scoped; set MVTOOLS_TEST_PRE_COMMIT_HOME to reuse one across runs). Building it
needs the package index (or the local wheel mirror pip is configured with).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from conftest import git, head, mvtools, run, tags, write_model

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[1]
PRE_COMMIT = str(Path(sys.executable).parent / "pre-commit")


@pytest.fixture(scope="session")
def pc_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keep = os.environ.get("MVTOOLS_TEST_PRE_COMMIT_HOME")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return Path(keep)
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture(scope="session")
def pip_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return os.environ.get("PIP_CACHE_DIR") or str(tmp_path_factory.mktemp("pip-cache"))


@pytest.fixture(autouse=True)
def _pre_commit_env(_clean_env: None, pc_home: Path, pip_cache: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRE_COMMIT_HOME", str(pc_home))
    # try-repo installs into a throw-away store; a shared pip cache makes the second install cheap
    monkeypatch.setenv("PIP_CACHE_DIR", pip_cache)
    monkeypatch.setenv("PRE_COMMIT_COLOR", "never")


@pytest.fixture(scope="session")
def checkout_rev() -> str:
    """The commit pre-commit installs the hooks from (try-repo and `rev:` alike)."""
    proc = run(["git", "rev-parse", "HEAD"], CHECKOUT, check=False)
    if proc.returncode != 0:
        pytest.skip(f"{CHECKOUT} is not a git checkout: pre-commit needs one to install hooks from")
    return proc.stdout.strip()


def pre_commit(repo: Path, *args: str, **kw):  # type: ignore[no-untyped-def]
    return run([PRE_COMMIT, *args], repo, **kw)


def declare(repo: Path, name: str = "clf", path: str = "models/clf.bin") -> None:
    cfg = (repo / "mvtools.yaml").read_text().replace(
        "models: []", f"models:\n  - name: {name}\n    path: {path}\n    metrics: [metrics.json]")
    (repo / "mvtools.yaml").write_text(cfg)


def ledger_events(repo: Path, rev: str, name: str = "clf") -> list[dict]:
    text = git(repo, "show", f"{rev}:registry/{name}.yaml").stdout
    return yaml.safe_load(text)["events"]


def test_try_repo_register_and_tag(repo: Path, checkout_rev: str) -> None:
    """(a) `pre-commit try-repo <checkout> mvtools-register`: the hook stages the ledger."""
    r = repo
    mvtools(r, "init", "--hooks", "none")
    declare(r)
    (r / "metrics.json").write_text('{"accuracy": 0.9}')
    write_model(r, "models/clf.bin", b"weights-1")
    git(r, "add", "-A")
    proc = pre_commit(r, "try-repo", str(CHECKOUT), "mvtools-register", "--ref", checkout_rev,
                      "--hook-stage", "pre-commit", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mvtools register changed models" in proc.stdout and "Passed" in proc.stdout
    staged = git(r, "diff", "--cached", "--name-only").stdout.split()
    assert "registry/clf.yaml" in staged
    assert git(r, "diff", "--name-only").stdout == ""  # staged, not left in the work tree only
    ev = yaml.safe_load(git(r, "show", ":registry/clf.yaml").stdout)["events"][0]
    assert (ev["event"], ev["version"], ev["tag"]) == ("register", "v0.1.0", "clf@v0.1.0")
    assert ev["metrics"] == {"accuracy": 0.9}
    # (try-repo builds its hook venv in a throw-away store every time: one run only)
    # the staged ledger is what the post-commit hook tags from
    git(r, "commit", "-q", "-m", "clf v1")
    mvtools(r, "hook", "post-commit")
    assert tags(r) == {"clf@v0.1.0": head(r)}


def hooks_repo_config(rev: str) -> str:
    return (
        "repos:\n"
        f"  - repo: {CHECKOUT}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: mvtools-register\n"
        "      - id: mvtools-tag\n"
        "      - id: mvtools-retag\n"
    )


def test_checkout_as_hooks_repo_real_commits(repo: Path, checkout_rev: str) -> None:
    """(b) `repo: <checkout>`, `rev: <sha>`; install all three hook types; commit for real."""
    r = repo
    mvtools(r, "init", "--hooks", "none")
    declare(r)
    (r / ".pre-commit-config.yaml").write_text(hooks_repo_config(checkout_rev))
    pre_commit(r, "install", "-t", "pre-commit", "-t", "post-commit", "-t", "post-rewrite")
    for h in ("pre-commit", "post-commit", "post-rewrite"):
        assert "pre-commit" in (r / ".git" / "hooks" / h).read_text()
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "set up mvtools with pre-commit")
    assert tags(r) == {}

    (r / "metrics.json").write_text('{"accuracy": 0.8}')
    write_model(r, "models/clf.bin", b"weights-1")
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "clf v1")
    assert "mvtools register changed models" in proc.stderr and "Passed" in proc.stderr
    c1 = head(r)
    assert tags(r) == {"clf@v0.1.0": c1}
    # the ledger event is in the same commit as the model, and nothing is left over
    assert {"models/clf.bin", "registry/clf.yaml"} <= set(
        git(r, "show", "--name-only", "--format=", c1).stdout.split())
    assert git(r, "status", "--porcelain").stdout == ""
    ev = ledger_events(r, c1)[0]
    assert ev["version"] == "v0.1.0" and ev["metrics"] == {"accuracy": 0.8}

    # a commit that does not touch the model registers nothing
    (r / "notes.txt").write_text("hello")
    git(r, "add", "notes.txt")
    git(r, "commit", "-q", "-m", "notes")
    assert len(ledger_events(r, "HEAD")) == 1

    # v2 with a bump, then an amend: post-rewrite moves the tag to the amended commit
    write_model(r, "models/clf.bin", b"weights-2")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "clf v2", env={"MVTOOLS_BUMP": "minor"})
    c2 = head(r)
    assert tags(r)["clf@v0.2.0"] == c2
    git(r, "commit", "-q", "--amend", "-m", "clf v2 (reworded)")
    c2b = head(r)
    assert c2b != c2
    assert tags(r) == {"clf@v0.1.0": c1, "clf@v0.2.0": c2b}
    show = json.loads(mvtools(r, "show", "--json").stdout)
    assert show["models"] == [{"name": "clf", "latest": "v0.2.0", "versions": 2, "stages": {}}]
    assert mvtools(r, "verify").returncode == 0


def test_hooks_repo_refusal_blocks_commit(repo: Path, checkout_rev: str) -> None:
    """The pre-commit framework turns the hook's exit 1 into a refused commit."""
    r = repo
    mvtools(r, "init", "--hooks", "none")
    declare(r)
    (r / ".pre-commit-config.yaml").write_text(hooks_repo_config(checkout_rev))
    pre_commit(r, "install", "-t", "pre-commit", "-t", "post-commit", "-t", "post-rewrite")
    write_model(r, "models/clf.bin", b"weights-1")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "v1")
    c1 = head(r)
    led = r / "registry" / "clf.yaml"
    led.write_text(led.read_text().replace("size: 9", "size: 10"))  # tamper with the ledger
    git(r, "add", "registry/clf.yaml")
    proc = git(r, "commit", "-q", "-m", "tamper", check=False)
    assert proc.returncode == 1
    assert "commit refused" in proc.stdout + proc.stderr
    assert head(r) == c1


def test_init_hooks_pre_commit_local_system_hooks(repo: Path) -> None:
    """(c) `mvtools init --hooks pre-commit`: local/system hooks, installed by pre-commit."""
    r = repo
    out = mvtools(r, "init", "--hooks", "pre-commit").stdout
    assert "pre-commit install" in out
    cfg = yaml.safe_load((r / ".pre-commit-config.yaml").read_text())
    hooks = {h["id"]: h for repo_ in cfg["repos"] for h in repo_["hooks"]}
    assert {"mvtools-register", "mvtools-tag", "mvtools-retag"} <= set(hooks)
    assert {h["language"] for h in hooks.values()} == {"system"}
    for h in ("pre-commit", "post-commit", "post-rewrite"):
        text = (r / ".git" / "hooks" / h).read_text()
        assert "pre-commit" in text and "mvtools-hook" not in text
    declare(r)
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "set up")
    write_model(r, "models/clf.bin", b"weights-1")
    (r / "metrics.json").write_text('{"accuracy": 0.7}')
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "clf v1")
    c1 = head(r)
    assert tags(r) == {"clf@v0.1.0": c1}
    assert ledger_events(r, c1)[0]["sha256"] == hashlib.sha256(b"weights-1").hexdigest()
    write_model(r, "models/clf.bin", b"weights-2")
    git(r, "commit", "-qam", "clf v2")
    assert tags(r)["clf@v0.1.1"] == head(r)
    assert git(r, "status", "--porcelain").stdout == ""
    # a second init keeps the config as it is (no duplicated hooks)
    before = (r / ".pre-commit-config.yaml").read_text()
    mvtools(r, "init", "--hooks", "pre-commit")
    assert (r / ".pre-commit-config.yaml").read_text() == before
    # MVTOOLS_SKIP=1 skips registration
    write_model(r, "models/clf.bin", b"weights-3")
    git(r, "commit", "-qam", "skipped", env={"MVTOOLS_SKIP": "1"})
    assert len(ledger_events(r, "HEAD")) == 2
    assert "clf@v0.1.2" not in tags(r)
