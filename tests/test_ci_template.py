"""templates/ci-verify.yml runs as written: the test parses the workflow and runs its
`run:` steps, in order, with bash -e (as GitHub Actions does), in a full clone (what
`actions/checkout` with fetch-depth: 0 and fetch-tags gives) of a real repository with a
DVC remote and an access policy.

Substituted: only the install step's `pip`. It runs with a `pip` on PATH that records
what it would install, because the test must not reach the network nor change the shared
environment, which already has mvtools installed (editable) for the `mvtools` the later
steps run. What the step would install is asserted: the pinned MVTOOLS_SOURCE in an
ordinary repository, the checked-out code in mvtools' own."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, dvc, git, mvtools, set_up_mvtools, write_model

TEMPLATE = ROOT / "templates" / "ci-verify.yml"
PINNED = "mvtools @ git+https://example.invalid/you/mvtools@v1.2.3"


def _workflow() -> dict[str, Any]:
    return yaml.safe_load(TEMPLATE.read_text())


def _steps() -> list[dict[str, Any]]:
    return _workflow()["jobs"]["verify"]["steps"]


def _run_step(step: dict[str, Any], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **env})


def _fake_pip(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bindir = tmp_path / "fake-bin"
    bindir.mkdir()
    log = tmp_path / "pip.log"
    (bindir / "pip").write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\n')
    (bindir / "pip").chmod(0o755)
    return {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}, log


def test_the_workflow_checks_out_full_history_and_tags_and_verifies_bytes_and_policy() -> None:
    steps = _steps()
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0 and checkout["with"]["fetch-tags"] is True
    runs = [s["run"] for s in steps if "run" in s]
    assert runs[-1].strip() == "mvtools verify --fetch --policy"
    assert "pip install mvtools\n" not in "\n".join(runs) + "\n"  # no index serves it


def test_the_install_step_installs_the_pinned_source_or_mvtools_itself(tmp_path: Path) -> None:
    install = next(s for s in _steps() if "install" in s.get("name", ""))
    env, log = _fake_pip(tmp_path)
    plain = tmp_path / "some-model-repo"
    plain.mkdir()
    # as shipped: the placeholders must be replaced, and the step says so
    proc = _run_step(install, plain, {**env, "MVTOOLS_SOURCE": _workflow()["env"]["MVTOOLS_SOURCE"]})
    assert proc.returncode != 0 and "set MVTOOLS_SOURCE" in proc.stdout and not log.exists()
    proc = _run_step(install, plain, {**env, "MVTOOLS_SOURCE": PINNED})
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().splitlines() == [f"install {PINNED}"]
    # mvtools' own repository names the checked-out code as its source
    own = tmp_path / "mvtools-checkout"
    own.mkdir()
    shutil.copy(ROOT / "pyproject.toml", own / "pyproject.toml")
    log.unlink()
    assert _run_step(install, own, {**env, "MVTOOLS_SOURCE": "."}).returncode == 0
    assert log.read_text().splitlines() == ["install ."]


def test_a_checkout_that_calls_itself_mvtools_does_not_replace_the_pinned_verifier(tmp_path: Path) -> None:
    """A pull request that adds a pyproject.toml named mvtools (with a verify that always
    passes) must not get its own code installed as the verifier: the source is the
    workflow's pinned MVTOOLS_SOURCE, whatever the checkout holds."""
    install = next(s for s in _steps() if "install" in s.get("name", ""))
    env, log = _fake_pip(tmp_path)
    pr = tmp_path / "pull-request-checkout"
    pr.mkdir()
    (pr / "pyproject.toml").write_text('[project]\nname = "mvtools"\n')
    assert _run_step(install, pr, {**env, "MVTOOLS_SOURCE": PINNED}).returncode == 0
    assert log.read_text().splitlines() == [f"install {PINNED}"]


def test_the_install_step_brings_the_dvc_remote_plugin(tmp_path: Path) -> None:
    """A fresh runner has no dvc-s3: verify --fetch of an S3 remote needs it installed."""
    wf = _workflow()
    assert "DVC_REMOTE_PLUGINS" in wf["env"]
    install = next(s for s in _steps() if "install" in s.get("name", ""))
    env, log = _fake_pip(tmp_path)
    d = tmp_path / "repo"
    d.mkdir()
    assert _run_step(install, d, {**env, "MVTOOLS_SOURCE": PINNED, "DVC_REMOTE_PLUGINS": "dvc-s3"}).returncode == 0
    assert log.read_text().splitlines() == [f"install {PINNED} dvc-s3"]


@pytest.mark.slow
def test_the_workflow_steps_pass_on_a_sound_registry_and_fail_on_lost_bytes(repo: Path, tmp_path: Path) -> None:
    r = set_up_mvtools(repo, "models:\n  - name: net\n    path: models/net.bin\n"
                             "policy:\n  promote:\n    production: [test@example.com]")
    store = tmp_path / "dvc-store"
    dvc(r, "remote", "add", "-d", "store", str(store))
    git(r, "add", ".dvc/config")
    git(r, "commit", "-q", "-m", "dvc remote")
    for i in range(2):
        write_model(r, "models/net.bin", f"weights {i}".encode())
        dvc(r, "add", "-q", "models/net.bin")
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", f"net {i}")
    mvtools(r, "promote", "net", "v0.1.1", "production")
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(r, "remote", "add", "origin", str(bare))
    mvtools(r, "push")
    ws = tmp_path / "workspace"  # actions/checkout, fetch-depth: 0, fetch-tags: true
    git(tmp_path, "clone", "-q", str(bare), str(ws))
    env, log = _fake_pip(tmp_path)
    env["MVTOOLS_SOURCE"] = PINNED
    for step in _steps():
        if "run" in step:
            proc = _run_step(step, ws, env)
            assert proc.returncode == 0, (step["run"], proc.stdout, proc.stderr)
    assert log.read_text().splitlines() == [f"install {PINNED}"]
    # the bytes are checked (--fetch): an object lost from the DVC remote fails the next
    # run (a fresh checkout: no DVC cache)
    for p in store.rglob("*"):
        if p.is_file():
            p.chmod(0o644)
            p.unlink()
            break
    ws2 = tmp_path / "workspace2"
    git(tmp_path, "clone", "-q", str(bare), str(ws2))
    verify = next(s for s in _steps() if "verify" in s.get("run", ""))
    proc = _run_step(verify, ws2, env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
