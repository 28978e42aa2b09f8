"""Deployments with real git (and DVC for publish): blue-green, canary, gates, rollback,
status, publish and the committed KServe manifest; refusals write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import dvc, git, head, init_repo, mvtools, refused, tags, template_copy, write_model

# v0.1.0 ok; v0.1.1 better; v0.1.2 below min; v0.1.3 regresses 0.02 from v0.1.1; v0.1.4 too slow
METRICS = [(0.85, 0.02), (0.88, 0.02), (0.70, 0.02), (0.86, 0.02), (0.90, 0.09)]
ENVS = """\
environments:
  prod:
    namespace: ml
    format: sklearn
    gate:
      accuracy: {min: 0.8, max_regression: 0.01}
      latency: {max: 0.05}
  dev: {}
"""


def build(r: Path) -> None:
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n    metrics: [metrics.json]")
    (r / "mvtools.yaml").write_text((r / "mvtools.yaml").read_text() + ENVS)
    for i, (acc, lat) in enumerate(METRICS):
        write_model(r, "models/clf.bin", f"clf {i}\n")
        (r / "metrics.json").write_text(json.dumps({"accuracy": acc, "latency": lat}))
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", f"clf {i}")


@pytest.fixture
def r(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = template_copy("deploy", tmp_path_factory, tmp_path / "repo", build)
    assert "clf@v0.1.4" in tags(dst)
    return dst


def deploy(r: Path, *args: str) -> None:
    mvtools(r, "deploy", *args)
    # each step is one commit holding the ledger event and the manifest; nothing left over
    assert git(r, "status", "--porcelain", "-uall").stdout == ""
    changed = git(r, "show", "--name-only", "--format=", "HEAD").stdout.split()
    assert "registry/clf.yaml" in changed
    assert yaml.safe_load((r / "registry" / "clf.yaml").read_text())["events"][-1]["event"] == "deploy"


def status(r: Path, env: str = "prod") -> dict:
    return json.loads(mvtools(r, "deploy", "status", "clf", "--env", env, "--json").stdout)


def st(stable, candidate=None, percent=0, strategy="blue-green", env="prod") -> dict:  # type: ignore[no-untyped-def]
    return {"model": "clf", "env": env, "strategy": strategy, "stable": stable, "candidate": candidate,
            "percent": percent}


def manifest(r: Path, env: str = "prod") -> dict:
    return yaml.safe_load((r / "deploy" / env / "clf.yaml").read_text())


def test_status_before_anything(r: Path) -> None:
    assert status(r) == st(None, strategy=None)


@pytest.mark.slow
def test_blue_green_switch_and_rollback(r: Path) -> None:
    deploy(r, "start", "clf", "v0.1.0", "--env", "prod", "--strategy", "blue-green")
    assert status(r) == st("v0.1.0")
    assert "deploy/prod/clf.yaml" in git(r, "show", "--name-only", "--format=", "HEAD").stdout.split()
    m = manifest(r)
    assert m["kind"] == "InferenceService" and m["metadata"]["namespace"] == "ml"
    pred = m["spec"]["predictor"]
    assert "canaryTrafficPercent" not in pred
    assert pred["model"]["modelFormat"]["name"] == "sklearn"
    assert "v0.1.0" in pred["model"]["storageUri"]

    deploy(r, "start", "clf", "v0.1.1", "--env", "prod")  # blue-green is the default
    assert status(r) == st("v0.1.1")
    assert "v0.1.1" in manifest(r)["spec"]["predictor"]["model"]["storageUri"]
    ev = yaml.safe_load((r / "registry" / "clf.yaml").read_text())["events"][-1]
    assert (ev["env"], ev["action"], ev["version"]) == ("prod", "start", "v0.1.1")
    assert ev["actor"] == "Test User <test@example.com>"

    deploy(r, "rollback", "clf", "--env", "prod")  # the previous version is live again
    assert status(r) == st("v0.1.0")
    assert "v0.1.0" in manifest(r)["spec"]["predictor"]["model"]["storageUri"]
    assert "deploy/prod/clf.yaml" in git(r, "show", "--name-only", "--format=", "HEAD").stdout.split()
    deploy(r, "rollback", "clf", "--env", "prod")
    assert status(r) == st(None, strategy=None)
    assert not (r / "deploy" / "prod" / "clf.yaml").exists()
    refused(r, ["deploy", "rollback", "clf", "--env", "prod"], 2)
    assert status(r, "dev") == st(None, strategy=None, env="dev")  # environments are independent
    assert mvtools(r, "verify").returncode == 0


@pytest.mark.parametrize("version, why", [("v0.1.2", "min"), ("v0.1.3", "worse than live"), ("v0.1.4", "max")])
def test_gate_failure_changes_nothing(r: Path, version: str, why: str) -> None:
    mvtools(r, "deploy", "start", "clf", "v0.1.1", "--env", "prod")
    msg = refused(r, ["deploy", "start", "clf", version, "--env", "prod"], 1)
    assert "gate" in msg and why in msg
    refused(r, ["deploy", "start", "clf", version, "--env", "prod", "--strategy", "canary", "--percent", "10"], 1)
    assert status(r) == st("v0.1.1")
    # no gate in dev
    mvtools(r, "deploy", "start", "clf", version, "--env", "dev")
    assert status(r, "dev") == st(version, env="dev")


def test_max_regression_needs_a_live_version(r: Path) -> None:
    mvtools(r, "deploy", "start", "clf", "v0.1.3", "--env", "prod")  # nothing live: nothing to regress from
    assert status(r)["stable"] == "v0.1.3"


@pytest.mark.slow
def test_canary_step_cap_promote(r: Path, tmp_path: Path) -> None:
    deploy(r, "start", "clf", "v0.1.0", "--env", "prod")
    pub = tmp_path / "published"
    mvtools(r, "publish", "clf@v0.1.1", "--to", str(pub))
    deploy(r, "start", "clf", "v0.1.1", "--env", "prod", "--strategy", "canary", "--percent", "10")
    assert status(r) == st("v0.1.0", "v0.1.1", 10, "canary")
    pred = manifest(r)["spec"]["predictor"]
    assert pred["canaryTrafficPercent"] == 10
    assert pred["model"]["storageUri"] == (pub / "clf" / "v0.1.1").resolve().as_uri()
    deploy(r, "step", "clf", "--env", "prod", "--by", "30")
    assert status(r) == st("v0.1.0", "v0.1.1", 40, "canary")
    assert manifest(r)["spec"]["predictor"]["canaryTrafficPercent"] == 40
    deploy(r, "step", "clf", "--env", "prod", "--by", "100")
    assert status(r)["percent"] == 100  # capped
    refused(r, ["deploy", "start", "clf", "v0.1.4", "--env", "dev", "--strategy", "canary", "--percent", "5"], 2)
    refused(r, ["deploy", "start", "clf", "v0.1.0", "--env", "prod", "--strategy", "canary", "--percent", "5"], 2)
    deploy(r, "promote", "clf", "--env", "prod")
    assert status(r) == st("v0.1.1", None, 0, "canary")
    pred = manifest(r)["spec"]["predictor"]
    assert "canaryTrafficPercent" not in pred
    assert pred["model"]["storageUri"] == (pub / "clf" / "v0.1.1").resolve().as_uri()
    refused(r, ["deploy", "step", "clf", "--env", "prod", "--by", "10"], 2)
    refused(r, ["deploy", "promote", "clf", "--env", "prod"], 2)
    deploy(r, "rollback", "clf", "--env", "prod")  # back into the canary at 100 %
    assert status(r) == st("v0.1.0", "v0.1.1", 100, "canary")


def test_canary_abort(r: Path) -> None:
    deploy(r, "start", "clf", "v0.1.0", "--env", "prod")
    deploy(r, "start", "clf", "v0.1.1", "--env", "prod", "--strategy", "canary", "--percent", "25")
    deploy(r, "abort", "clf", "--env", "prod")
    assert status(r) == st("v0.1.0", None, 0, "canary")
    assert "canaryTrafficPercent" not in manifest(r)["spec"]["predictor"]
    assert "v0.1.0" in manifest(r)["spec"]["predictor"]["model"]["storageUri"]
    refused(r, ["deploy", "abort", "clf", "--env", "prod"], 2)


def test_rollback_after_abort_never_re_exposes_the_candidate(r: Path) -> None:
    """Before, rollback after abort undid the abort: the aborted canary took traffic again."""
    for args in (["start", "clf", "v0.1.0"], ["start", "clf", "v0.1.1"],
                 ["start", "clf", "v0.1.2", "--strategy", "canary", "--percent", "25"],
                 ["step", "clf", "--by", "25"], ["abort", "clf"]):
        deploy(r, *args, "--env", "dev")  # no gate in dev
    assert status(r, "dev") == st("v0.1.1", None, 0, "canary", env="dev")
    deploy(r, "rollback", "clf", "--env", "dev")  # undoes the step before the canary
    assert status(r, "dev") == st("v0.1.0", env="dev")
    pred = manifest(r, "dev")["spec"]["predictor"]
    assert "canaryTrafficPercent" not in pred and "v0.1.0" in pred["model"]["storageUri"]


@pytest.mark.parametrize("args", [
    ["deploy", "start", "clf", "v9.9.9", "--env", "prod"],                       # unknown version
    ["deploy", "start", "clf", "v0.1.0", "--env", "nope"],                       # unknown environment
    ["deploy", "start", "nope", "v0.1.0", "--env", "prod"],                      # unknown model
    ["deploy", "start", "clf", "v0.1.0", "--env", "prod", "--strategy", "canary", "--percent", "10"],  # nothing live
    ["deploy", "start", "clf", "v0.1.0", "--env", "prod", "--strategy", "rainbow"],
    ["deploy", "step", "clf", "--env", "prod", "--by", "10"],                    # no canary
    ["deploy", "promote", "clf", "--env", "prod"],
    ["deploy", "abort", "clf", "--env", "prod"],
    ["deploy", "rollback", "clf", "--env", "prod"],                              # nothing to roll back
    ["deploy", "status", "clf", "--env", "nope"],
    ["publish", "clf@v9.9.9", "--to", "PUB"],
])
def test_refusals(r: Path, tmp_path: Path, args: list[str]) -> None:
    args = [str(tmp_path / "pub") if a == "PUB" else a for a in args]
    refused(r, args, 2)
    assert not (tmp_path / "pub").exists()


@pytest.mark.parametrize("percent", ["0", "101", "-5"])
def test_canary_percent_out_of_range(r: Path, percent: str) -> None:
    mvtools(r, "deploy", "start", "clf", "v0.1.0", "--env", "prod")
    refused(r, ["deploy", "start", "clf", "v0.1.1", "--env", "prod", "--strategy", "canary", "--percent", percent], 2)
    mvtools(r, "deploy", "start", "clf", "v0.1.1", "--env", "prod", "--strategy", "canary", "--percent", "5")
    refused(r, ["deploy", "step", "clf", "--env", "prod", "--by", "0"], 2)


def test_already_live_and_archived(r: Path) -> None:
    mvtools(r, "deploy", "start", "clf", "v0.1.0", "--env", "prod")
    refused(r, ["deploy", "start", "clf", "v0.1.0", "--env", "prod"], 2)
    mvtools(r, "archive", "clf", "v0.1.1")
    msg = refused(r, ["deploy", "start", "clf", "v0.1.1", "--env", "prod"], 2)
    assert "archived" in msg
    mvtools(r, "deploy", "start", "clf", "v0.1.1", "--env", "prod", "--force")
    assert status(r)["stable"] == "v0.1.1"


def test_publish_git_tracked_version(r: Path, tmp_path: Path) -> None:
    pub = tmp_path / "store"
    h = head(r)
    out = json.loads(mvtools(r, "publish", "clf@0.1.1", "--to", str(pub), "--json").stdout)
    dest = pub / "clf" / "v0.1.1"
    assert sorted(p.name for p in dest.iterdir()) == ["clf.bin"]  # under its own name
    assert (dest / "clf.bin").read_bytes() == b"clf 1\n"
    assert out["uri"] == dest.resolve().as_uri()
    assert git(r, "rev-parse", "HEAD~1").stdout.strip() == h
    assert git(r, "status", "--porcelain", "-uall").stdout == ""
    ev = yaml.safe_load((r / "registry" / "clf.yaml").read_text())["events"][-1]
    assert (ev["event"], ev.get("action"), ev["version"], ev["uri"]) == ("deploy", "publish", "v0.1.1", out["uri"])
    # publishing does not deploy
    assert status(r) == st(None, strategy=None)
    mvtools(r, "deploy", "start", "clf", "v0.1.1", "--env", "prod")
    assert manifest(r)["spec"]["predictor"]["model"]["storageUri"] == out["uri"]
    assert mvtools(r, "verify").returncode == 0


@pytest.mark.slow
def test_publish_dvc_tracked_directory(repo: Path, tmp_path: Path) -> None:
    mvtools(repo, "init")
    cfg = (repo / "mvtools.yaml").read_text().replace("models: []", "models:\n  - name: net\n    path: models/net")
    (repo / "mvtools.yaml").write_text(cfg)
    write_model(repo, "models/net/weights.bin", b"\x00\x01weights")
    write_model(repo, "models/net/sub/config.json", "{}")
    dvc(repo, "add", "-q", "models/net")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "net")
    pub = tmp_path / "store"
    mvtools(repo, "publish", "net@v0.1.0", "--to", str(pub))
    dest = pub / "net" / "v0.1.0"
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == ["sub/config.json", "weights.bin"]
    assert (dest / "weights.bin").read_bytes() == b"\x00\x01weights"
    assert git(repo, "status", "--porcelain").stdout == ""
