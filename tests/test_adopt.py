"""`mvtools init` in a repository GTO and DVC already use: it adopts GTO's stage names
(`.gto`, else the registry tags), says how to import the history (the hint works as
printed), and leaves DVC subrepos alone unless `--dvc-root` asks for a root project."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import BIN, dvc, git, mvtools, run, write_model


def stages(r: Path) -> list[str]:
    return yaml.safe_load((r / "mvtools.yaml").read_text())["stages"]


def tag(r: Path, name: str, rev: str = "HEAD") -> None:
    git(r, "tag", "-a", "-m", name, name, rev)


def test_init_adopts_the_stages_of_existing_tags(repo: Path) -> None:
    tag(repo, "clf@v0.0.1")
    tag(repo, "clf#dev#1")
    tag(repo, "clf#prod#2")
    tag(repo, "clf#dev!#3")
    out = mvtools(repo, "init", "--hooks", "none").stdout
    assert stages(repo) == ["dev", "prod"]
    assert "adopted the stages dev, prod from the registry tags" in out


def test_init_prefers_dot_gto_stages(repo: Path) -> None:
    """GTO ignores stage tags outside .gto's list; so does the adoption."""
    (repo / ".gto").write_text("stages: [dev, stage, prod]\n")
    tag(repo, "clf@v0.0.1")
    tag(repo, "clf#qa#1")
    out = mvtools(repo, "init", "--hooks", "none").stdout
    assert stages(repo) == ["dev", "stage", "prod"]
    assert "from .gto" in out


def test_init_without_gto_keeps_the_defaults_and_gives_no_import_hint(repo: Path) -> None:
    out = mvtools(repo, "init", "--hooks", "none").stdout
    assert stages(repo) == ["development", "staging", "production"]
    assert "import-gto" not in out and "adopted" not in out


def test_init_keeps_an_existing_config(repo: Path) -> None:
    (repo / "mvtools.yaml").write_text("mvtools: 1\nstages: [a, b]\n")
    tag(repo, "clf#dev#1")
    mvtools(repo, "init", "--hooks", "none")
    assert (repo / "mvtools.yaml").read_text() == "mvtools: 1\nstages: [a, b]\n"


def subrepo_layout(repo: Path) -> None:
    for sub in ("a", "b"):
        (repo / sub).mkdir()
        dvc(repo / sub, "init", "--subdir", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "two DVC subrepos")


def test_init_above_dvc_subrepos_creates_no_root_project(repo: Path) -> None:
    subrepo_layout(repo)
    out = mvtools(repo, "init", "--hooks", "none").stdout
    assert not (repo / ".dvc").exists()
    assert "the DVC projects here are a/, b/" in out and "--dvc-root" in out
    assert not (repo / "a" / ".dvc" / "config.local").exists()  # the subrepos are not touched


def test_init_dvc_root_makes_the_root_a_project_when_asked(repo: Path) -> None:
    subrepo_layout(repo)
    out = mvtools(repo, "init", "--hooks", "none", "--dvc-root").stdout
    assert (repo / ".dvc" / "config").is_file()
    assert "ran: dvc init" in out


@pytest.mark.slow
def test_init_in_a_gto_repo_hint_imports_and_promote_uses_its_stage(repo: Path) -> None:
    """The regression of the issue: init wrote development/staging/production, so `promote
    clf v0.0.2 dev` was refused in a repository whose GTO stages are dev and prod."""
    gto = str(BIN / "gto")
    dvc(repo, "init", "-q")
    (repo / "dvc.yaml").write_text("artifacts:\n  clf:\n    path: models/clf.bin\n    type: model\n")
    write_model(repo, "models/clf.bin", "one\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    run([gto, "register", "clf"], repo)
    run([gto, "assign", "clf", "--version", "v0.0.1", "--stage", "prod"], repo)
    time.sleep(1.1)
    write_model(repo, "models/clf.bin", "two\n")
    git(repo, "commit", "-q", "-am", "two")
    run([gto, "register", "clf"], repo)
    run([gto, "assign", "clf", "--version", "v0.0.2", "--stage", "dev"], repo)
    out = mvtools(repo, "init").stdout
    assert stages(repo) == ["prod", "dev"]
    hint = out.strip().splitlines()[-1]
    assert hint.endswith("run: mvtools import-gto"), out
    proc = subprocess.run(hint.split("run: ", 1)[1], shell=True, cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert mvtools(repo, "verify").returncode == 0
    mvtools(repo, "promote", "clf", "v0.0.1", "dev")
    assert "import-gto" not in mvtools(repo, "init").stdout  # the history is in the ledger now
