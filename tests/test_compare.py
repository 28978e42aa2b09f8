"""`mvtools compare NAME A B`: metric directions, deltas, params, artifact, lineage (data, code,
params) from a real `dvc repro` pipeline, Jaccard similarity, importance, recommendation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from conftest import dvc, git, init_repo, mvtools, refused, template_copy, write_model

def compare(r: Path, a: str, b: str) -> dict:
    return json.loads(mvtools(r, "compare", "clf" if (r / "models/clf.bin").exists() else "churn",
                              a, b, "--json").stdout)


# -- a git-tracked model with crafted metrics ------------------------------------------
M0 = {"accuracy": 0.80, "latency": 0.10, "loss": 0.5, "val_error": 0.2, "p95_latency_ms": 30, "mse": 1.0,
      "mae": 0.5, "rmse": 1.0, "train_time": 100, "f1": 0.7, "perplexity": 12.0, "eval": {"loss": 0.4}}
M1 = {"accuracy": 0.85, "latency": 0.12, "loss": 0.4, "val_error": 0.25, "p95_latency_ms": 25, "mse": 1.2,
      "mae": 0.4, "rmse": 0.9, "train_time": 120, "f1": 0.7, "perplexity": 10.0, "eval": {"loss": 0.5},
      "new_metric": 1}
M2 = {"f1": 0.8, "auc": 0.9}
M3 = {"f1": 0.9, "auc": 0.9}
PARAMS = ["lr: 0.1\ndepth: 3\n", "lr: 0.2\ndepth: 3\n", "lr: 0.2\ndepth: 3\n", "lr: 0.2\ndepth: 3\n"]


def build_clf(r: Path) -> None:
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n    metrics: [metrics.json]\n    params: [params.yaml]")
    for i, m in enumerate((M0, M1, M2, M3)):
        write_model(r, "models/clf.bin", f"clf model {i}\n" * (i + 1))
        (r / "metrics.json").write_text(json.dumps(m))
        (r / "params.yaml").write_text(PARAMS[i])
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", f"clf {i}")


@pytest.fixture
def clf(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_copy("compare-clf", tmp_path_factory, tmp_path / "repo", build_clf)


def set_compare(r: Path, text: str) -> None:
    """compare settings in mvtools.yaml (read at compare time; no commit needed)."""
    with open(r / "mvtools.yaml", "a") as fh:
        fh.write(text)


def test_metric_directions_deltas_and_default_importance(clf: Path) -> None:
    d = compare(clf, "v0.1.0", "v0.1.1")
    assert (d["model"], d["a"], d["b"]) == ("clf", "v0.1.0", "v0.1.1")
    m = d["metrics"]
    improved = {k: v["improved"] for k, v in m.items()}
    assert improved == {
        "accuracy": True, "latency": False, "loss": True, "val_error": False, "p95_latency_ms": True,
        "mse": False, "mae": True, "rmse": True, "train_time": False, "f1": False, "perplexity": False,
        "eval.loss": False, "new_metric": None}
    assert m["accuracy"]["a"] == 0.80 and m["accuracy"]["b"] == 0.85
    assert m["accuracy"]["delta"] == pytest.approx(0.05)
    assert m["latency"]["delta"] == pytest.approx(0.02)
    assert m["f1"]["delta"] == 0
    assert m["new_metric"] == {**m["new_metric"], "a": None, "b": 1, "delta": None}
    # 0.7 x accuracy gain - 0.3 x latency change
    assert d["importance"] == pytest.approx(0.7 * 0.05 - 0.3 * 0.02)
    # score(A) = 0.7*0.8 - 0.3*0.1 = 0.53; 0.029 / 0.53 = 5.5 % > 5 %
    assert d["recommendation"] == "RECOMMEND_B"
    assert d["params"] == {"lr": {"a": 0.1, "b": 0.2}}
    art = d["artifact"]
    sha = [hashlib.sha256((f"clf model {i}\n" * (i + 1)).encode()).hexdigest() for i in (0, 1)]
    assert art["changed"] is True and art["sha256"] == {"a": sha[0], "b": sha[1]}
    assert (art["size"]["a"], art["size"]["b"]) == (12, 24) and art["size"]["delta"] == 12
    # params lr=0.1|0.2, depth=3; 12 metric names in A, 13 in B: 13 shared of 16
    assert d["similarity"] == pytest.approx(13 / 16)


def test_reverse_order_recommends_a(clf: Path) -> None:
    d = compare(clf, "v0.1.1", "v0.1.0")
    assert d["importance"] == pytest.approx(-(0.7 * 0.05 - 0.3 * 0.02))
    assert d["recommendation"] == "RECOMMEND_A"
    assert d["metrics"]["accuracy"]["improved"] is False and d["metrics"]["loss"]["improved"] is False


def test_configured_lower_better_threshold_and_weights(clf: Path) -> None:
    set_compare(clf, "compare:\n  lower_better: [perplexity]\n  threshold: 0.06\n")
    d = compare(clf, "v0.1.0", "v0.1.1")
    assert d["metrics"]["perplexity"]["improved"] is True
    assert d["recommendation"] == "SIMILAR_PERFORMANCE"  # 5.5 % is within 6 %
    (clf / "mvtools.yaml").write_text((clf / "mvtools.yaml").read_text().replace(
        "  threshold: 0.06\n", "  weights: {latency: -1.0}\n"))
    d = compare(clf, "v0.1.0", "v0.1.1")
    assert d["importance"] == pytest.approx(-0.02)  # latency up by 0.02 s
    assert d["recommendation"] == "RECOMMEND_A"
    (clf / "mvtools.yaml").write_text((clf / "mvtools.yaml").read_text().replace(
        "{latency: -1.0}", "{f1: 1.0}"))
    d = compare(clf, "v0.1.0", "v0.1.1")
    assert d["importance"] == 0 and d["recommendation"] == "SIMILAR_PERFORMANCE"


def test_without_weighted_metrics_mean_relative_improvement(clf: Path) -> None:
    d = compare(clf, "v0.1.2", "v0.1.3")
    assert d["importance"] == pytest.approx((0.1 / 0.8 + 0) / 2)  # 6.25 %
    assert d["recommendation"] == "RECOMMEND_B"
    d = compare(clf, "v0.1.3", "v0.1.2")
    assert d["recommendation"] == "RECOMMEND_A"
    assert d["params"] == {}


def test_version_with_itself(clf: Path) -> None:
    for v in ("v0.1.0", "0.1.2"):
        d = compare(clf, v, v)
        assert d["similarity"] == 1
        assert d["recommendation"] == "SIMILAR_PERFORMANCE"
        assert d["importance"] == 0
        assert d["artifact"]["changed"] is False and d["params"] == {}
        assert all(m["delta"] == 0 and m["improved"] is False for m in d["metrics"].values())


def test_table_output_and_refusals(clf: Path) -> None:
    out = mvtools(clf, "compare", "clf", "v0.1.0", "v0.1.1").stdout
    assert "RECOMMEND_B" in out and "accuracy" in out
    refused(clf, ["compare", "clf", "v0.1.0", "v9.0.0"], 2)
    refused(clf, ["compare", "clf", "v9.0.0", "v0.1.0"], 2)
    refused(clf, ["compare", "nope", "v0.1.0", "v0.1.1"], 2)
    refused(clf, ["compare", "clf", "v0.1.0", "garbage"], 2)
    refused(clf, ["compare", "clf", "v0.1.0"], 2)


def test_bad_compare_config_is_exit_2(clf: Path) -> None:
    set_compare(clf, "compare:\n  threshold: -1\n")
    refused(clf, ["compare", "clf", "v0.1.0", "v0.1.1"], 2)
    (clf / "mvtools.yaml").write_text((clf / "mvtools.yaml").read_text().replace(
        "threshold: -1", "weights: {accuracy: high}"))
    refused(clf, ["compare", "clf", "v0.1.0", "v0.1.1"], 2)


# -- a real DVC pipeline: lineage and params through dvc.lock -------------------------
TRAIN_PY = """\
import json, pathlib, yaml
p = yaml.safe_load(open("params.yaml"))
rows = pathlib.Path("data/data.csv").read_text().splitlines()[1:]
pathlib.Path("models").mkdir(exist_ok=True)
pathlib.Path("models/model.pkl").write_text(json.dumps({"rows": len(rows), "p": p}, sort_keys=True))
t = p["target"]
json.dump({"accuracy": t["accuracy"], "latency": t["latency"], "loss": round(1 - t["accuracy"], 4)},
          open("metrics.json", "w"))
"""
DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [data/data.csv, train.py]
    params: [train.lr, target.accuracy, target.latency]
    outs: [models/model.pkl]
    metrics:
      - metrics.json:
          cache: false
artifacts:
  churn:
    path: models/model.pkl
    type: model
"""
# (lr, accuracy, latency): v0.1.0 baseline; v0.1.1 new data and lr, much better;
# v0.1.2 new code, a little better than v0.1.0 and faster, clearly worse than v0.1.1
RUNS = [(0.01, 0.80, 0.10), (0.02, 0.90, 0.10), (0.02, 0.81, 0.05)]


def params_text(lr: float, acc: float, lat: float) -> str:
    return f"train:\n  lr: {lr}\ntarget:\n  accuracy: {acc}\n  latency: {lat}\n"


def build_pipeline(r: Path) -> None:
    init_repo(r, "")
    (r / "train.py").write_text(TRAIN_PY)
    (r / "dvc.yaml").write_text(DVC_YAML)
    write_model(r, "data/data.csv", "a,b\n" + "".join(f"{i},{i * 3}\n" for i in range(20)))
    dvc(r, "add", "-q", "data/data.csv")
    for i, run in enumerate(RUNS):
        if i == 1:
            write_model(r, "data/data.csv", "a,b\n" + "".join(f"{i},{i * 5}\n" for i in range(30)))
            dvc(r, "add", "-q", "data/data.csv")
        if i == 2:
            (r / "train.py").write_text(TRAIN_PY + "# v3: refactored\n")
        (r / "params.yaml").write_text(params_text(*run))
        dvc(r, "repro", "-q")
        git(r, "add", "-A")
        assert f"registered churn v0.1.{i}" in git(r, "commit", "-q", "-m", f"train {i}").stderr


@pytest.fixture
def pipeline(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_copy("compare-pipeline", tmp_path_factory, tmp_path / "repo", build_pipeline)


def features_at(r: Path, tag: str) -> set[str]:
    """The characteristics of a version, computed from the commit itself (not the ledger)."""
    lock = yaml.safe_load(git(r, "show", f"{tag}:dvc.lock").stdout)["stages"]["train"]
    metrics = json.loads(git(r, "show", f"{tag}:metrics.json").stdout)
    params = {f"{sec}.{k}": v for sec, d in lock["params"]["params.yaml"].items() for k, v in d.items()} \
        if all(isinstance(v, dict) for v in lock["params"]["params.yaml"].values()) else lock["params"]["params.yaml"]
    return ({f"param:{k}={v}" for k, v in params.items()} | {f"dep:{d['path']}={d['md5']}" for d in lock["deps"]}
            | {f"metric:{m}" for m in metrics})


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b)


@pytest.mark.slow
def test_pipeline_lineage_params_similarity_and_recommendations(pipeline: Path) -> None:
    r = pipeline
    lock_md5 = {}
    for i in range(3):
        lock = yaml.safe_load(git(r, "show", f"churn@v0.1.{i}:dvc.lock").stdout)["stages"]["train"]
        lock_md5[i] = {d["path"]: d["md5"] for d in lock["deps"]}

    d = compare(r, "v0.1.0", "v0.1.1")
    assert d["recommendation"] == "RECOMMEND_B"
    assert d["importance"] == pytest.approx(0.7 * 0.10)
    assert d["metrics"]["loss"]["improved"] is True and d["metrics"]["loss"]["direction"] == "lower"
    assert d["lineage"]["data"] == {"data/data.csv": {"a": lock_md5[0]["data/data.csv"],
                                                      "b": lock_md5[1]["data/data.csv"]}}
    assert d["lineage"]["code"] == {}
    assert d["lineage"]["params"] == d["params"] == {
        "train.lr": {"a": 0.01, "b": 0.02}, "target.accuracy": {"a": 0.8, "b": 0.9}}
    assert d["artifact"]["changed"] is True
    assert d["similarity"] == pytest.approx(jaccard(features_at(r, "churn@v0.1.0"), features_at(r, "churn@v0.1.1")),
                                            abs=1e-6)

    d = compare(r, "v0.1.1", "v0.1.2")
    # 0.7 x (-0.09) - 0.3 x (-0.05) = -0.048, 8 % of score(A) = 0.60
    assert d["importance"] == pytest.approx(-0.048)
    assert d["recommendation"] == "RECOMMEND_A"
    assert d["metrics"]["latency"]["improved"] is True and d["metrics"]["accuracy"]["improved"] is False
    assert d["lineage"]["data"] == {}
    assert d["lineage"]["code"] == {"train.py": {"a": lock_md5[1]["train.py"], "b": lock_md5[2]["train.py"]}}
    assert set(d["lineage"]["params"]) == {"target.accuracy", "target.latency"}
    assert d["similarity"] == pytest.approx(jaccard(features_at(r, "churn@v0.1.1"), features_at(r, "churn@v0.1.2")),
                                            abs=1e-6)

    d = compare(r, "v0.1.0", "v0.1.2")
    # 0.7 x 0.01 + 0.3 x 0.05 = 0.022: 4.2 % of 0.53, within the 5 % threshold
    assert d["importance"] == pytest.approx(0.022)
    assert d["recommendation"] == "SIMILAR_PERFORMANCE"
    assert set(d["lineage"]["data"]) == {"data/data.csv"} and set(d["lineage"]["code"]) == {"train.py"}

    d = compare(r, "v0.1.2", "v0.1.2")
    assert d["similarity"] == 1 and d["recommendation"] == "SIMILAR_PERFORMANCE"
    assert d["lineage"] == {"data": {}, "code": {}, "params": {}, "upstream": {}, "unknown": [],
                            "upstream_unknown": []}


def test_a_stage_name_compares_the_version_holding_it(clf: Path) -> None:
    """`compare --help` says A and B are "a version, latest or a stage name" and its example is
    `mvtools compare clf production latest`; completion offers the stages too. A stage
    compares the version holding it; an empty stage is refused, naming it."""
    mvtools(clf, "promote", "clf", "v0.1.1", "production")
    assert compare(clf, "production", "latest") == compare(clf, "v0.1.1", "v0.1.3")
    assert compare(clf, "v0.1.0", "production") == compare(clf, "v0.1.0", "v0.1.1")
    err = refused(clf, ["compare", "clf", "staging", "latest"], 2)
    assert "no version of clf is in stage 'staging'" in err
    assert "'prodution' is neither a version nor a stage (stages: development, staging, production)" in \
        refused(clf, ["compare", "clf", "prodution", "latest"], 2)
    assert "unknown stage 'prod' (stages: development" in refused(clf, ["get", "clf#prod"], 2)  # was "no version in"


def test_compare_prints_a_params_escape_sequence_escaped(tmp_path: Path) -> None:
    """A params value is the committer's text (params.yaml): compare sent its escape sequence
    (clear screen) to the terminal; it is printed as \\x1b."""
    r = init_repo(tmp_path / "repo", "  - name: clf\n    path: models/clf.bin\n    params: [params.yaml]")
    for i, lr in enumerate(("1", '"\\e[2J2"')):
        write_model(r, "models/clf.bin", f"clf {i}\n")
        (r / "params.yaml").write_text(f"lr: {lr}\n")
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", f"clf {i}")
    out = mvtools(r, "compare", "clf", "v0.1.0", "v0.1.1").stdout
    assert "\x1b" not in out and "params: lr: 1 -> \\x1b[2J2" in out, out
