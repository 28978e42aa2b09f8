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


def test_init_keeps_an_existing_config_and_names_the_stages_it_lacks(repo: Path) -> None:
    (repo / "mvtools.yaml").write_text("mvtools: 1\nstages: [a, dev]\n")
    tag(repo, "clf#dev#1")
    tag(repo, "clf#prod#2")
    out = mvtools(repo, "init", "--hooks", "none").stdout
    assert (repo / "mvtools.yaml").read_text() == "mvtools: 1\nstages: [a, dev]\n"
    assert "mvtools.yaml's stages: lacks prod, which the registry tags use(s)" in out


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


# -- verify's baseline: the history GTO made before mvtools recorded it -------------------
def gto_history(r: Path) -> dict[str, str]:
    """GTO-made history (tags as GTO writes them): v0.0.1, an untagged model commit, v0.0.2,
    a stage tag on the untagged commit (no version there: the import leaves it out), and
    v0.0.3 on a branch never merged. Then `mvtools init` and `mvtools import-gto`."""
    dvc(r, "init", "-q")
    (r / "dvc.yaml").write_text("artifacts:\n  clf:\n    path: models/clf.bin\n    type: model\n")
    commits = {}
    for i, text in enumerate(["one", "untagged", "two"]):
        write_model(r, "models/clf.bin", text + "\n")
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", text)
        commits[text] = git(r, "rev-parse", "HEAD").stdout.strip()
    tag(r, "clf@v0.0.1", commits["one"])
    tag(r, "clf@v0.0.2", commits["two"])
    tag(r, "clf#dev#3", commits["untagged"])
    git(r, "checkout", "-q", "-b", "side", commits["one"])
    write_model(r, "models/clf.bin", "side\n")
    git(r, "commit", "-q", "-am", "side")
    tag(r, "clf@v0.0.3")
    git(r, "checkout", "-q", "main")
    time.sleep(1.1)  # the import comes in a later second than every GTO tag
    mvtools(r, "init")
    mvtools(r, "import-gto")
    return commits


def verify_json(r: Path) -> tuple[int, dict]:
    import json

    proc = mvtools(r, "verify", "--json", check=False)
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.slow
def test_a_freshly_adopted_repository_verifies_clean_with_its_baseline_as_notes(repo: Path) -> None:
    commits = gto_history(repo)
    code, doc = verify_json(repo)
    assert code == 0 and doc["problems"] == [], doc
    notes = {n["kind"]: n for n in doc["notes"]}
    assert commits["untagged"][:12] in notes["before-adoption"]["message"]
    assert notes["baseline-tag"]["where"] == "clf#dev#3"
    assert notes["tag-elsewhere"]["where"] == "clf@v0.0.3"


@pytest.mark.slow
def test_the_baseline_ends_at_adoption(repo: Path) -> None:
    """After the import the rules hold unchanged: a model change no hook registered is a
    problem, and so is a registry tag made outside mvtools after the import."""
    gto_history(repo)
    write_model(repo, "models/clf.bin", "bypassed\n")
    git(repo, "commit", "-q", "-am", "no hook", "--no-verify")
    tag(repo, "clf#dev#9", "HEAD~1")
    code, doc = verify_json(repo)
    kinds = {(p["kind"], p["where"]) for p in doc["problems"]}
    assert code == 1
    assert ("unregistered", git(repo, "rev-parse", "--short=12", "HEAD").stdout.strip()) in kinds, doc
    assert ("tag-orphan", "clf#dev#9") in kinds, doc


def test_without_an_import_there_is_no_baseline(git_model_repo: Path) -> None:
    """A repository mvtools set up itself (nothing imported from GTO) keeps every rule for
    its whole history: a model commit before the first registration is unregistered."""
    r = git_model_repo
    write_model(r, "models/clf.bin", "no hook\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "no hook", "--no-verify")
    code, doc = verify_json(r)
    assert code == 1 and [p["kind"] for p in doc["problems"]] == ["unregistered"], doc
    assert not any(n["kind"] in ("before-adoption", "baseline-tag") for n in doc["notes"]), doc
