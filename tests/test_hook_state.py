"""The installed shell hooks' own state (issue 9, items 6 and 7): the watch data that lets
them decide without Python is never stale, they survive the venv that installed them, and
they read paths as git writes them (NUL-separated, any bytes).

Real git, real hooks as `mvtools init` installs them; nothing mocked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import BIN, git, head, mvtools, run, set_up_mvtools, tags, template_copy, write_model

GBM_DVC_YAML = "artifacts:\n  gbm:\n    path: models/gbm.bin\n    type: model\n"


def _build(r: Path) -> None:
    r.mkdir(parents=True)
    git(r, "init", "-q", "-b", "main")
    (r / "README.md").write_text("demo\n")
    git(r, "add", "README.md")
    git(r, "commit", "-q", "-m", "initial")
    set_up_mvtools(r, "models:\n  - name: clf\n    path: models/clf.bin")


@pytest.fixture
def clf_repo(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git-tracked model `clf` (models/clf.bin), plain git hooks, one registered version:
    the watch file is fresh (the registering commit's hook wrote it)."""
    r = template_copy("hook-state", tmp_path_factory, tmp_path / "repo", _build)
    write_model(r, "models/clf.bin", "c1")
    git(r, "add", "-A")
    assert "registered clf v0.1.0" in git(r, "commit", "-q", "-m", "clf v1").stderr
    return r


def _upstream_declares_gbm(r: Path, tmp_path: Path) -> Path:
    """Another clone declares `gbm` in a dvc.yaml (no model bytes yet) and pushes it to
    branch `decl` of ``r``; returns the clone."""
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(r), str(other))
    (other / "dvc.yaml").write_text(GBM_DVC_YAML)
    git(other, "add", "dvc.yaml")
    git(other, "commit", "-q", "-m", "declare gbm")
    git(other, "push", "-q", "origin", "HEAD:refs/heads/decl")
    return other


def _other_commit(r: Path) -> None:
    (r / "notes.txt").write_text("a note\n")
    git(r, "add", "notes.txt")
    git(r, "commit", "-q", "-m", "notes")


def _commit_gbm(r: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    write_model(r, "models/gbm.bin", "g1")
    git(r, "add", "models/gbm.bin")
    return git(r, "commit", "-q", "-m", "gbm v1", check=check)


@pytest.mark.parametrize("how", ["pull", "checkout", "merge", "rebase", "reset"])
def test_a_model_declared_by_a_dvc_yaml_that_came_in_registers(clf_repo: Path, tmp_path: Path, how: str) -> None:
    """Issue 9: the watch file was refreshed only by pre-commit and init; a dvc.yaml that
    arrived by pull (checkout, merge, rebase, reset) declared a model the shell fast path
    did not know, so committing it registered nothing and nothing warned."""
    r = clf_repo
    other = _upstream_declares_gbm(r, tmp_path)
    if how == "pull":
        git(r, "pull", "-q", "--ff-only", str(other), "main")
    elif how == "checkout":
        git(r, "checkout", "-q", "decl")
    elif how == "merge":
        _other_commit(r)
        git(r, "merge", "-q", "--no-edit", "decl")
    elif how == "rebase":
        _other_commit(r)
        git(r, "rebase", "-q", "decl")
    else:
        git(r, "reset", "-q", "--hard", "decl")
    assert (r / "dvc.yaml").exists()
    proc = _commit_gbm(r)
    assert "registered gbm v0.1.0" in proc.stderr, proc.stderr
    assert tags(r)["gbm@v0.1.0"] == head(r)


def test_each_linked_worktree_sees_its_own_declarations(clf_repo: Path, tmp_path: Path) -> None:
    """Each worktree has its own git dir, index and watch data: a declaration that reaches
    one worktree by a merge makes that worktree register, and the main one keeps its own."""
    r = clf_repo
    _upstream_declares_gbm(r, tmp_path)
    wt = tmp_path / "wt"
    git(r, "worktree", "add", "-q", "-b", "side", str(wt), "main")
    _other_commit(wt)  # the linked worktree's hooks write its own watch data
    git(wt, "merge", "-q", "--no-edit", "decl")
    proc = _commit_gbm(wt)
    assert "registered gbm v0.1.0" in proc.stderr, proc.stderr
    # the main worktree declares no gbm: its models/gbm.bin is an ordinary file
    proc = _commit_gbm(r)
    assert "gbm" not in proc.stderr
    write_model(r, "models/clf.bin", "c2")
    git(r, "add", "-A")
    assert "registered clf v0.1.1" in git(r, "commit", "-q", "-m", "clf v2").stderr


def test_a_commit_touching_no_model_decides_in_shell_after_a_refresh(clf_repo: Path, tmp_path: Path) -> None:
    """Once Python has seen the new declarations, the fast path is back: a commit that
    touches nothing watched succeeds without starting Python (the hooks' mvtools is
    pointed at nothing to prove it)."""
    r = clf_repo
    other = _upstream_declares_gbm(r, tmp_path)
    git(r, "pull", "-q", "--ff-only", str(other), "main")
    _other_commit(r)  # the first commit after the pull hands over to Python once
    hooks, installed = _hooks_dir(r), _installed_command(r)
    for h in ("pre-commit", "post-commit"):
        text = (hooks / h).read_text()
        (hooks / h).write_text(text.replace(installed, "/nonexistent/mvtools"))
    (r / "notes.txt").write_text("another note\n")
    git(r, "add", "notes.txt")
    assert git(r, "commit", "-q", "-m", "notes 2").stderr == ""
    proc = _commit_gbm(r, check=False)  # but the newly declared model is watched: Python is needed
    assert proc.returncode != 0 and "mvtools install-hooks" in proc.stderr


# -- the venv that installed the hooks moves -------------------------------------------------
def _hooks_dir(r: Path) -> Path:
    p = Path(git(r, "rev-parse", "--git-path", "hooks").stdout.strip())
    return p if p.is_absolute() else r / p


def _installed_command(r: Path) -> str:
    text = (_hooks_dir(r) / "pre-commit").read_text()
    return text.split("MVTOOLS='", 1)[1].split("'", 1)[0]


def _throwaway_venv(where: Path) -> Path:
    """A second environment with mvtools (the test run's packages, through a .pth file)
    and its own `mvtools` console script; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    py = where / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # addsitedir, not a bare path: the outer site's own .pth files (an editable install's) run too
    Path(site, "outer.pth").write_text(f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n")
    script = where / "bin" / "mvtools"
    script.write_text(f"#!{py}\nimport sys\nfrom mvtools.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return py


@pytest.mark.slow
def test_hooks_of_a_removed_venv_refuse_in_one_line_and_the_repair_works(clf_repo: Path, tmp_path: Path) -> None:
    """Issue 9: the hooks hard-code the installing venv's mvtools; once that venv is gone,
    every commit touching a watched path failed with a raw `exec: ...: not found`."""
    r = clf_repo
    venv = tmp_path / "venv-old"
    py = _throwaway_venv(venv)
    run([str(py), "-m", "mvtools", "install-hooks"], r)
    assert _installed_command(r) == str(venv / "bin" / "mvtools")
    # still fine while the venv exists
    write_model(r, "models/clf.bin", "c2")
    git(r, "add", "-A")
    assert "registered clf v0.1.1" in git(r, "commit", "-q", "-m", "clf v2").stderr
    subprocess.run(["rm", "-rf", str(venv)], check=True)
    # a commit that touches nothing watched is not bothered
    _other_commit(r)
    # a model change is refused, in one line naming the repair
    before = head(r)
    write_model(r, "models/clf.bin", "c3")
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "clf v3", check=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("mvtools: error: ") and str(venv / "bin" / "mvtools") in lines[0], lines
    assert head(r) == before
    repair = lines[0].split("run: ", 1)[1]
    assert repair == "mvtools install-hooks"
    # the repair, exactly as printed, with the real environment's mvtools on PATH
    run(["sh", "-c", repair], r, env={"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"})
    assert _installed_command(r) == str(BIN / "mvtools")
    proc = git(r, "commit", "-q", "-m", "clf v3")
    assert "registered clf v0.1.2" in proc.stderr
    assert tags(r)["clf@v0.1.2"] == head(r)


def test_post_commit_and_pre_push_of_a_removed_venv_say_the_repair(clf_repo: Path, tmp_path: Path) -> None:
    r = clf_repo
    hooks, installed = _hooks_dir(r), _installed_command(r)
    gone = str(tmp_path / "gone" / "bin" / "mvtools")
    for h in ("pre-commit", "post-commit", "post-rewrite", "pre-push"):
        text = (hooks / h).read_text()
        (hooks / h).write_text(text.replace(installed, gone))
    write_model(r, "models/clf.bin", "c2")
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "--no-verify", "-m", "clf v2")  # post-commit needs Python
    assert proc.stderr.strip().splitlines() == [
        f"mvtools: error: {gone} is not there any more (moved, or its environment recreated); "
        "run: mvtools install-hooks"], proc.stderr
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(r, "remote", "add", "origin", str(bare))
    proc = git(r, "push", "-q", "origin", "main", "clf@v0.1.0", check=False)
    assert proc.returncode != 0 and "run: mvtools install-hooks" in proc.stderr, proc.stderr
    assert "not found" not in proc.stderr


def test_install_hooks_also_mends_the_merge_driver_path(clf_repo: Path) -> None:
    r = clf_repo
    git(r, "config", "merge.mvtools-ledger.driver", "'/gone/bin/mvtools' merge-driver %O %A %B %P")
    mvtools(r, "install-hooks")
    driver = git(r, "config", "--get", "merge.mvtools-ledger.driver").stdout.strip()
    assert driver.startswith(f"'{BIN / 'mvtools'}' merge-driver"), driver


# -- paths as git writes them ------------------------------------------------------------------
@pytest.mark.parametrize("path", ["models/modèle.pkl", "models/it's a \"quoted\" model.pkl", "modèles/ünï.bin"])
def test_non_ascii_and_quoted_model_paths_register_through_the_hook(tmp_path: Path, path: str) -> None:
    r = tmp_path / "repo"
    _build(r)
    cfg = r / "mvtools.yaml"
    cfg.write_text(cfg.read_text().replace(
        "models:\n", "models:\n  - name: odd\n    path: '" + path.replace("'", "''") + "'\n", 1))
    git(r, "commit", "-q", "-a", "-m", "declare odd")
    write_model(r, path, "o1")
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "odd v1")
    assert "registered odd v0.1.0" in proc.stderr, proc.stderr
    assert tags(r)["odd@v0.1.0"] == head(r)
    write_model(r, path, "o2")
    git(r, "add", "-A")
    assert "registered odd v0.1.1" in git(r, "commit", "-q", "-m", "odd v2").stderr
    proc = mvtools(r, "verify", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("base", ["0" * 40, "not a commit", ""])
def test_watch_data_whose_base_git_cannot_read_hands_over_to_python(clf_repo: Path, base: str) -> None:
    """A base pruned away (or a damaged file) stands for a changed configuration: Python
    decides and rewrites the watch data."""
    r = clf_repo
    gitdir = Path(git(r, "rev-parse", "--absolute-git-dir").stdout.strip())
    (gitdir / "mvtools" / "watch.base").write_text(base + "\n")
    _other_commit(r)
    assert (gitdir / "mvtools" / "watch.base").read_text().split()[0] == git(r, "rev-parse", "HEAD").stdout.strip()


def test_nested_dvc_yaml_declarations_survive_literal_pathspecs(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`git --literal-pathspecs` (Magit) exports GIT_LITERAL_PATHSPECS=1 to hooks, which turned
    off the glob that finds nested dvc.yaml files: their models were silently dropped."""
    from mvtools.config import load_config

    (repo / "sub").mkdir()
    (repo / "sub" / "dvc.yaml").write_text("artifacts:\n  gbm:\n    path: gbm.bin\n    type: model\n")
    assert list(load_config(repo).models) == ["sub:gbm"]
    monkeypatch.setenv("GIT_LITERAL_PATHSPECS", "1")
    assert list(load_config(repo).models) == ["sub:gbm"]
