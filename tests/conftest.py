"""Fixtures: real git, real DVC, real pre-commit in temporary repos.

Every test runs with a pinned git identity, DVC analytics off and no inherited GIT_*
variables, so a developer's own git setup (or a hook that runs the suite) cannot leak in.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "dvc-pipelines"
BIN = Path(sys.executable).parent
IDENT = {
    "GIT_AUTHOR_NAME": "Test User", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User", "GIT_COMMITTER_EMAIL": "test@example.com",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for key in list(os.environ):
        if key.startswith("GIT_") or key.startswith("MVTOOLS_") or key.startswith("PRE_COMMIT"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)  # pytest-xdist's workers export COLUMNS=80: tables fit $COLUMNS
    for k, v in IDENT.items():
        monkeypatch.setenv(k, v)
    _DVC_INIT["factory"] = tmp_path_factory
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(home / "dvc-site"))
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")


def run(args: list[str], cwd: Path, *, check: bool = True, input: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, input=input,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def git(repo: Path, *args: str, **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return run(["git", *args], repo, **kw)


def dvc(repo: Path, *args: str, **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return run([str(BIN / "dvc"), *args], repo, **kw)


def mvtools(repo: Path, *args: str, **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return run([sys.executable, "-m", "mvtools", *args], repo, **kw)


def tags(repo: Path) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname:strip=2) %(*objectname)", "refs/tags").stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repo with an initial commit."""
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    (r / "README.md").write_text("demo\n")
    git(r, "add", "README.md")
    git(r, "commit", "-q", "-m", "initial")
    return r


def write_model(repo: Path, rel: str, content: bytes | str) -> None:
    p = repo / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content.encode() if isinstance(content, str) else content)


_DVC_INIT: dict[str, Any] = {}
_DVC_INIT_FILES = (".dvc/.gitignore", ".dvc/config", ".dvc/config.local", ".dvcignore")


def dvc_initialized(repo: Path) -> None:
    """What `dvc init` and `dvc config --local core.analytics false` leave in a git repo
    (their files, the first three staged), copied from a repo where real DVC made them once
    per test process: `mvtools init` then finds DVC set up and starts no DVC process (about
    1.5 s of CPU each). Tests of `mvtools init` itself call it on a bare repo instead."""
    if (repo / ".dvc").exists():
        return
    if "template" not in _DVC_INIT:
        t = _DVC_INIT["factory"].mktemp("dvc-init") / "repo"
        t.mkdir()
        git(t, "init", "-q", "-b", "main")
        dvc(t, "init", "-q")
        dvc(t, "config", "--local", "core.analytics", "false")
        _DVC_INIT["template"] = t
    for rel in _DVC_INIT_FILES:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_DVC_INIT["template"] / rel, repo / rel)
    git(repo, "add", "-f", "--", ".dvc/.gitignore", ".dvc/config", ".dvcignore")


def set_up_mvtools(repo: Path, models: str) -> Path:
    """`mvtools init` (plain git hooks) in ``repo`` with ``models`` (mvtools.yaml text that
    replaces `models: []`), committed."""
    dvc_initialized(repo)
    mvtools(repo, "init")
    cfg = (repo / "mvtools.yaml").read_text().replace("models: []", models)
    (repo / "mvtools.yaml").write_text(cfg)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "set up mvtools")
    return repo


@pytest.fixture
def git_model_repo(repo: Path) -> Path:
    """mvtools with plain git hooks and a git-tracked model `clf` at models/clf.bin."""
    (repo / "metrics.json").write_text('{"accuracy": 0.8, "latency": 0.1}')
    return set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin\n    metrics: [metrics.json]")


@pytest.fixture
def dvc_model_repo(repo: Path) -> Path:
    """mvtools with plain git hooks and a DVC-tracked (dvc add) model `net` at models/net.bin."""
    return set_up_mvtools(repo, "models:\n  - name: net\n    path: models/net.bin")


# -- template repos: built once per test process, copied per test ------------------------
_TEMPLATES: dict[str, Path] = {}


def template_copy(key: str, factory: pytest.TempPathFactory, dest: Path, build) -> Path:  # type: ignore[no-untyped-def]
    """A fresh copy of the repo ``build(path)`` makes, built once per key and process
    (`mvtools init` runs DVC, which is slow). Hooks and the watch file hold no repo path."""
    if key not in _TEMPLATES:
        base = factory.mktemp(f"{key}-template") / "repo"
        build(base)
        _TEMPLATES[key] = base
    shutil.copytree(_TEMPLATES[key], dest, symlinks=True)
    return dest


def init_repo(r: Path, models: str, metrics: str | None = None) -> Path:
    """git init + an initial commit + `mvtools init` with ``models`` (YAML list items, each
    line indented by two spaces) declared in mvtools.yaml; metrics.json when given."""
    r.mkdir(parents=True, exist_ok=True)
    git(r, "init", "-q", "-b", "main")
    (r / "README.md").write_text("demo\n")
    git(r, "add", "README.md")
    git(r, "commit", "-q", "-m", "initial")
    dvc_initialized(r)
    mvtools(r, "init")
    if models:
        cfg = (r / "mvtools.yaml").read_text().replace("models: []", "models:\n" + models.rstrip("\n"))
        (r / "mvtools.yaml").write_text(cfg)
    if metrics is not None:
        (r / "metrics.json").write_text(metrics)
    return r


# -- refusals: one line, the right exit code, nothing written --------------------------------
def repo_snapshot(repo: Path) -> dict[str, object]:
    """Everything a refused command must leave alone: work-tree files (outside .git), refs,
    the index, HEAD and git status."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for f in filenames:
            p = Path(dirpath) / f
            rel = p.relative_to(repo).as_posix()
            if p.is_symlink():
                files[rel] = "link:" + os.readlink(p)
            elif p.is_file():
                files[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                files[rel] = "special"
    return {"files": files,
            "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)").stdout,
            # (a bare repository has no index or status: check=False)
            "index": git(repo, "ls-files", "--stage", check=False).stdout,
            "head": git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False).stdout,
            "status": git(repo, "status", "--porcelain", "--untracked-files=all", check=False).stdout}


def assert_refused(repo: Path, *args: str, code: int = 2, want: str | None = None, cwd: Path | None = None,
                   env: dict[str, str] | None = None, timeout: float = 120) -> str:
    """Run mvtools; expect exit ``code``, exactly one stderr line `mvtools: error: ...`, no
    traceback, and ``repo`` unchanged. Returns the error line."""
    before = repo_snapshot(repo)
    proc = subprocess.run([sys.executable, "-m", "mvtools", *args], cwd=cwd or repo, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    assert proc.returncode == code, (args, proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mvtools: error: "), proc.stderr
    assert proc.stdout == "", proc.stdout
    if want is not None:
        assert want in proc.stderr, proc.stderr
    assert repo_snapshot(repo) == before, f"{args} wrote something"
    return lines[0]



# -- helpers shared by the test files ------------------------------------------------------
def template_repo(key: str, build: Callable[[Path], None]) -> Any:
    """A test file's `r` fixture: ``r = template_repo(KEY, build)`` gives each test a fresh
    copy of the repo ``build`` makes (see :func:`template_copy`)."""
    @pytest.fixture
    def r(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
        return template_copy(key, tmp_path_factory, tmp_path / "repo", build)
    return r


def refused(r: Path, args: list[str], code: int, env: dict[str, str] | None = None) -> str:
    """:func:`assert_refused` with the command as a list."""
    return assert_refused(r, *args, code=code, env=env)


def commit_model(r: Path, content: str, msg: str, *args: str, **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    """Write models/clf.bin, `git add -A`, commit (the hooks register it)."""
    write_model(r, "models/clf.bin", content)
    git(r, "add", "-A")
    return git(r, "commit", "-q", "-m", msg, *args, **kw)


def ledger_events(repo: Path, name: str = "clf", rev: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    """The events of ``name``'s ledger in the work tree, or at ``rev``."""
    rel = f"registry/{name.replace(':', '=')}.yaml"
    text = git(repo, "show", f"{rev}:{rel}").stdout if rev else (repo / rel).read_text()
    return yaml.safe_load(text)["events"] or []


def ledger_bytes(*events: dict[str, Any], model: str = "clf") -> bytes:
    """A ledger file's bytes holding ``events``, as mvtools writes it."""
    from mvtools import ledger as L

    return (L.header(model) + L.render_events(list(events))).encode()


def gto_show(r: Path) -> dict[str, dict[str, object]]:
    """`gto show --json` as {name: {latest, stages (the non-empty ones)}}."""
    out = subprocess.run([str(BIN / "gto"), "show", "--json"], cwd=r, capture_output=True, text=True, check=True)
    return {n: {"latest": v["version"], "stages": {s: h for s, h in v["stage"].items() if h}}
            for n, v in json.loads(out.stdout).items()}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fuzz-sequences", type=int, default=0, metavar="N",
                     help="tests/test_state_machine.py: a long random search of N sequences (nightly)")
from servers import add_dvc_s3_remote, git_daemon, s3_endpoint, s3_remote  # noqa: E402,F401 (tests/servers.py)
