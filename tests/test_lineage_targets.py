"""mvtools.lineage against real DVC: a params key reaches the stages `dvc status` and
`dvc repro` find changed, targets resolve from the current directory as `dvc dag` resolves
them, and model nodes speak the registry's names and versions."""

from __future__ import annotations

import json
import posixpath
import re
import textwrap
from pathlib import Path

import pytest

from conftest import dvc, git, mvtools, set_up_mvtools

PARAMS = "train: {lr: 0.1, epochs: 3}\nprepare: {seed: 1}\n"

# every stage copies params.yaml, so each one DVC reruns writes a new output
PIPELINE = """\
stages:
  group:
    cmd: cp params.yaml group.txt
    params: [train]
    outs: [group.txt]
  key_lr:
    cmd: cp params.yaml key_lr.txt
    params: [train.lr]
    outs: [key_lr.txt]
  key_epochs:
    cmd: cp params.yaml key_epochs.txt
    params: [train.epochs]
    outs: [key_epochs.txt]
  file_group:
    cmd: cp params.yaml file_group.txt
    params:
      - params.yaml: [train]
    outs: [file_group.txt]
  whole_file:
    cmd: cp params.yaml whole_file.txt
    params:
      - params.yaml:
    outs: [whole_file.txt]
  seed:
    cmd: cp params.yaml seed.txt
    params: [prepare.seed]
    outs: [seed.txt]
  interpolated:
    cmd: echo ${train.epochs} > interpolated.txt
    outs: [interpolated.txt]
  down:
    cmd: cp group.txt down.txt
    deps: [group.txt]
    outs: [down.txt]
"""

SUB = """\
stages:
  train:
    cmd: cp ../group.txt model.bin
    deps: [../group.txt]
    outs: [model.bin]
  evaluate:
    foreach: [a, b]
    do:
      cmd: cp model.bin eval-${item}.txt
      deps: [model.bin]
      outs: ["eval-${item}.txt"]
"""


def pipeline_repo(r: Path, sub: bool = False) -> Path:
    dvc(r, "init", "-q")
    (r / "params.yaml").write_text(PARAMS)
    (r / "dvc.yaml").write_text(PIPELINE)
    if sub:
        (r / "sub").mkdir()
        (r / "sub" / "dvc.yaml").write_text(SUB)
    return r


def impact(cwd: Path, target: str) -> dict:
    return json.loads(mvtools(cwd, "lineage", "--impact", target, "--json").stdout)


@pytest.mark.slow
def test_a_params_key_reaches_what_dvc_status_and_repro_find_changed(repo: Path) -> None:
    r = pipeline_repo(repo)
    dvc(r, "repro", "-q")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "pipeline")
    group = set(impact(r, "params.yaml:train")["stages"])
    for key, old, new in (("train.lr", "lr: 0.1", "lr: 0.2"),
                          ("train.epochs", "epochs: 3", "epochs: 4"),
                          ("prepare.seed", "seed: 1", "seed: 2")):
        (r / "params.yaml").write_text((r / "params.yaml").read_text().replace(old, new))
        got = impact(r, f"params.yaml:{key}")
        changed = set(json.loads(dvc(r, "status", "--json").stdout))
        assert changed <= set(got["stages"]), (key, changed, got)
        ran = set(re.findall(r"Running stage '([^']+)'", dvc(r, "repro").stdout))
        assert set(got["stages"]) == ran, (key, got, ran)
        if key.startswith("train."):
            assert ran <= group
    assert group == {"group", "key_lr", "key_epochs", "file_group", "whole_file", "interpolated",
                     "down"}


def _repo_id(address: str, cwd: str) -> str:
    """A stage as `dvc dag` run in ``cwd`` prints it, as a repo-root address."""
    file, sep, name = address.partition("@")[0].rpartition(":")
    suffix = address[len(address.partition("@")[0]):]
    f = posixpath.normpath(posixpath.join(cwd, file if sep else "dvc.yaml"))
    return (name if f == "dvc.yaml" else f"{f}:{name}") + suffix


def dvc_dag(cwd: Path, target: str, here: str) -> set[str]:
    dot = dvc(cwd, "dag", "--dot", target).stdout
    return {_repo_id(n, here) for n in re.findall(r'^"([^"]+)";$', dot, re.M)}


def lineage_stages(cwd: Path, target: str) -> set[str]:
    doc = json.loads(mvtools(cwd, "lineage", target, "--upstream", "--json").stdout)
    return {n["id"] for n in doc["nodes"] if n["type"] == "stage"}


@pytest.mark.slow
def test_stage_targets_resolve_from_the_current_directory_as_dvc_dag(repo: Path) -> None:
    r = pipeline_repo(repo, sub=True)
    sub = r / "sub"
    for target in ("train", "evaluate", "evaluate@b", "dvc.yaml:train", "../dvc.yaml:down",
                   "../dvc.yaml:group"):
        want = dvc_dag(sub, target, "sub")
        assert lineage_stages(sub, target) == want, target
    assert "sub/dvc.yaml:train" in dvc_dag(sub, "train", "sub")
    for target in ("sub/dvc.yaml:train", "down"):
        assert lineage_stages(r, target) == dvc_dag(r, target, ""), target
    # `train` names no stage of the root dvc.yaml: DVC and mvtools both refuse it there
    assert dvc(r, "dag", "train", check=False).returncode != 0
    proc = mvtools(r, "lineage", "train", check=False)
    assert proc.returncode == 2 and "no node 'train'" in proc.stderr
    # --impact resolves its target the same way
    assert impact(sub, "train")["stages"] == ["sub/dvc.yaml:evaluate@a", "sub/dvc.yaml:evaluate@b"]
    assert impact(sub, "model.bin")["stages"] == impact(r, "sub/model.bin")["stages"]


@pytest.mark.slow
def test_model_nodes_speak_registry_names_and_versions(repo: Path) -> None:
    r = set_up_mvtools(repo, "models:\n  - name: report\n    path: report.txt")
    (r / "params.yaml").write_text(PARAMS)
    (r / "dvc.yaml").write_text(textwrap.dedent("""\
        stages:
          train:
            cmd: cp params.yaml models/clf.pkl
            params: [train]
            outs: [models/clf.pkl]
          evaluate:
            cmd: cp models/clf.pkl report.txt
            deps: [models/clf.pkl]
            outs: [report.txt]
        artifacts:
          clf:
            path: models/clf.pkl
            type: model
        """))
    (r / "models").mkdir()
    dvc(r, "repro", "-q")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "pipeline")  # the hooks register clf v0.1.0
    (r / "params.yaml").write_text(PARAMS.replace("lr: 0.1", "lr: 0.2"))
    dvc(r, "repro", "-q")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "retrain")  # clf v0.1.1
    versions = {"clf": ["v0.1.0", "v0.1.1"], "report": ["v0.1.0", "v0.1.1"]}

    got = impact(r, "params.yaml:train.lr")
    assert got["stages"] == ["train", "evaluate"]
    assert got["models"] == [{"name": "clf", "path": "models/clf.pkl", "versions": versions["clf"]},
                             {"name": "report", "path": "report.txt",
                              "versions": versions["report"]}]
    text = mvtools(r, "lineage", "--impact", "params.yaml:train.lr").stdout
    assert "  model clf (models/clf.pkl): v0.1.0, v0.1.1\n" in text
    # a model name is a node: its lineage, and what changes with it
    assert lineage_stages(r, "clf") == {"train"}
    assert impact(r, "clf")["stages"] == ["evaluate"]
    doc = json.loads(mvtools(r, "lineage", "report", "--json").stdout)
    assert {n["id"]: n.get("names") for n in doc["nodes"] if n["type"] == "model"} == {
        "models/clf.pkl": ["clf"], "report.txt": ["report"]}
    assert "models/clf.pkl (model clf)" in mvtools(r, "lineage").stdout
