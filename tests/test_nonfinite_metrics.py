"""NaN and Infinity metrics (a diverged run) are recorded and compared sensibly (issue 9,
item 11; mvtools/ledger.py canonical, mvtools/compare.py, the deploy gate, `--json`).

Before, a metrics file holding JSON ``NaN`` or YAML ``.nan`` blocked every commit of the
model with exit 3 (the event id's canonical JSON refused non-finite floats). Now they are
kept as YAML floats (``.nan``, ``.inf``, ``-.inf``) in the ledger, hashed with JSON's
``NaN``/``Infinity`` tokens (finite events keep their ids), printed by ``--json`` as the
strings "NaN", "Infinity", "-Infinity"; NaN ranks below every number in compare and fails
every deploy gate."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from conftest import dvc, git, init_repo, mvtools, tags, template_repo, write_model

from mvtools import ledger as L
from mvtools.compare import compare
from mvtools.settings import CompareSettings

ACTOR = "Test User <test@example.com>"
NAN, INF = float("nan"), float("inf")


def _reg(version: str, metrics: dict[str, Any] | None, sha: str = "a") -> dict[str, Any]:
    return L.make_event("register", "clf", ACTOR, "2026-01-01T00:00:00Z", version=version,
                        tag=f"clf@{version}", path="models/clf.bin", sha256=sha * 64, size=3, md5=None,
                        metrics=metrics, params=None, lineage=None)


def _strict_json(text: str) -> Any:
    """What jq and other strict parsers accept: no NaN/Infinity tokens."""
    def refuse(token: str) -> Any:
        raise AssertionError(f"bare {token} in JSON output")
    return json.loads(text, parse_constant=refuse)


# -- the ledger: ids, YAML, the cache ----------------------------------------------------------
def test_finite_events_keep_their_ids() -> None:
    """Pinned from the code before this change (canonical JSON with allow_nan=False)."""
    ev = L.make_event("register", "clf", ACTOR, "2026-01-01T00:00:00Z", version="v0.1.0", tag="clf@v0.1.0",
                      path="models/clf.bin", sha256="a" * 64, size=3, md5=None,
                      metrics={"accuracy": 0.8, "loss": 1e-3, "n": 7}, params={"lr": 0.1}, lineage=None)
    assert ev["id"] == "34a04e7a3d548d4c3f0a02ffb2c8f220b2a5d6232e28e5afbbe6a8b8214515ac"


def test_non_finite_metrics_round_trip_through_yaml_and_the_cache(tmp_path: Path) -> None:
    ev = _reg("v0.1.0", {"loss": NAN, "grad": INF, "neg": -INF, "accuracy": 0.5})
    assert b'"grad":Infinity' in L.canonical(ev) and b'"loss":NaN' in L.canonical(ev)
    data = (L.header("clf") + L.render_events([ev])).encode()
    assert b"loss: .nan\n" in data and b"grad: .inf\n" in data and b"neg: -.inf\n" in data
    for loader in (lambda d: L.parse(d, "registry/clf.yaml"),
                   lambda d: L.LedgerCache(tmp_path / "c").load(d, "registry/clf.yaml"),  # parses, stores
                   lambda d: L.LedgerCache(tmp_path / "c").load(d, "registry/clf.yaml")):  # from the JSON file
        got = loader(data).events[0]
        assert got["id"] == ev["id"] and L.event_id(got) == ev["id"]
        m = got["metrics"]
        assert math.isnan(m["loss"]) and m["grad"] == INF and m["neg"] == -INF and m["accuracy"] == 0.5
    assert list((tmp_path / "c").glob("*.json"))


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z][a-z_.]{0,8}", fullmatch=True), st.floats(), max_size=5))
def test_any_float_metrics_keep_their_id_through_every_reader(metrics: dict[str, float]) -> None:
    ev = _reg("v0.1.0", metrics)
    data = (L.header("clf") + L.render_events([ev])).encode()
    got = L.parse(data, "registry/clf.yaml").events[0]
    cached = json.loads(json.dumps(got))  # the LedgerCache's JSON file
    for e in (got, cached):
        assert e["id"] == ev["id"] == L.event_id(e)
        assert L.canonical(e) == L.canonical(ev)


# -- compare ------------------------------------------------------------------------------------
def _cmp(ma: dict[str, Any], mb: dict[str, Any], **cs: Any) -> dict[str, Any]:
    return compare("clf", _reg("v0.1.0", ma, "a"), _reg("v0.1.1", mb, "b"), CompareSettings(**cs))


@pytest.mark.parametrize("name", ["loss", "accuracy"])  # lower-better and higher-better alike
def test_nan_ranks_below_every_number_whatever_the_direction(name: str) -> None:
    for number in (-INF, -1e300, 0.0, 1e300, INF):
        m = _cmp({name: number}, {name: NAN})["metrics"][name]
        assert (m["improved"], m["worse"], m["delta"]) == (False, True, None), number
        m = _cmp({name: NAN}, {name: number})["metrics"][name]
        assert (m["improved"], m["worse"], m["delta"]) == (True, False, None), number
    m = _cmp({name: NAN}, {name: NAN})["metrics"][name]
    assert (m["improved"], m["worse"], m["delta"]) == (False, False, None)


def test_infinities_order_naturally() -> None:
    m = _cmp({"loss": INF, "accuracy": -INF}, {"loss": 0.3, "accuracy": 0.1})["metrics"]
    assert m["loss"]["improved"] is True and m["accuracy"]["improved"] is True
    assert m["loss"]["delta"] == -INF and m["accuracy"]["delta"] == INF
    m = _cmp({"loss": INF}, {"loss": INF})["metrics"]["loss"]
    assert (m["improved"], m["worse"], m["delta"]) == (False, False, 0.0)


def test_the_recommendation_never_prefers_a_nan_metric() -> None:
    # B's accuracy is far better, but its loss diverged: A is recommended
    d = _cmp({"accuracy": 0.5, "loss": 0.3}, {"accuracy": 0.99, "loss": NAN})
    assert d["recommendation"] == "RECOMMEND_A" and d["nan"] == {"a": [], "b": ["loss"]}
    d = _cmp({"accuracy": 0.99, "loss": NAN}, {"accuracy": 0.5, "loss": 0.3})
    assert d["recommendation"] == "RECOMMEND_B" and d["nan"] == {"a": ["loss"], "b": []}
    # a NaN on each side: neither is preferred
    d = _cmp({"accuracy": NAN, "loss": 0.3}, {"accuracy": 0.9, "loss": NAN})
    assert d["recommendation"] == "SIMILAR_PERFORMANCE"
    # NaN on both sides of one metric decides nothing; the others do
    d = _cmp({"accuracy": 0.8, "loss": NAN}, {"accuracy": 0.9, "loss": NAN})
    assert d["recommendation"] == "RECOMMEND_B" and d["nan"] == {"a": [], "b": []}
    # without weights (mean relative improvement over shared metrics) alike
    d = _cmp({"f1": 0.5, "auc": NAN}, {"f1": 0.4, "auc": 0.7}, weights={})
    assert d["recommendation"] == "RECOMMEND_B" and d["score_basis"] == "mean relative improvement"


def test_a_nan_param_on_both_sides_is_no_difference() -> None:
    a, b = _reg("v0.1.0", None, "a"), _reg("v0.1.1", None, "b")
    a["params"], b["params"] = {"lr": NAN, "depth": 3}, {"lr": NAN, "depth": 4}
    assert compare("clf", a, b, CompareSettings())["params"] == {"depth": {"a": 3, "b": 4}}


def test_infinite_scores_recommend_by_order() -> None:
    d = _cmp({"accuracy": INF}, {"accuracy": 0.9})
    assert d["recommendation"] == "RECOMMEND_A" and d["importance"] == -INF and d["relative_change"] is None
    d = _cmp({"latency": INF}, {"latency": 0.1})  # weight -0.3: an infinite latency loses
    assert d["recommendation"] == "RECOMMEND_B"
    d = _cmp({"accuracy": INF}, {"accuracy": INF})
    assert d["recommendation"] == "SIMILAR_PERFORMANCE" and d["importance"] == 0
    d = _cmp({"f1": 0.5, "auc": -INF}, {"f1": 0.5, "auc": 0.7}, weights={})
    assert d["recommendation"] == "RECOMMEND_B" and d["importance"] == pytest.approx(0.5)


# -- through real commits: a git-tracked model --------------------------------------------------
ENVS = """\
environments:
  prod:
    gate:
      accuracy: {min: 0.8}
      loss: {max: 0.5}
"""


def _build_git(r: Path) -> None:
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n    metrics: [metrics.json]\n",
              metrics='{"accuracy": 0.99, "loss": NaN, "grad": Infinity, "neg": -Infinity}')
    (r / "mvtools.yaml").write_text((r / "mvtools.yaml").read_text() + ENVS)
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "set up mvtools")
    write_model(r, "models/clf.bin", "diverged\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "clf: a diverged run")  # v0.1.0
    write_model(r, "models/clf.bin", "healthy\n")
    (r / "metrics.json").write_text('{"accuracy": 0.85, "loss": 0.3, "grad": 2.0, "neg": -1.0}')
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "clf: a healthy run")  # v0.1.1


r = template_repo("nonfinite-git", _build_git)


def test_a_nan_metric_no_longer_blocks_the_commit(r: Path) -> None:
    assert {"clf@v0.1.0", "clf@v0.1.1"} <= set(tags(r))
    text = (r / "registry" / "clf.yaml").read_text()
    assert "loss: .nan\n" in text and "grad: .inf\n" in text and "neg: -.inf\n" in text
    assert mvtools(r, "verify").returncode == 0
    assert "v0.1.1" in mvtools(r, "show").stdout
    # every later commit of the model still works
    write_model(r, "models/clf.bin", "third\n")
    (r / "metrics.json").write_text('{"accuracy": NaN, "loss": NaN}')
    git(r, "add", "-A")
    assert "registered clf v0.1.2" in git(r, "commit", "-q", "-m", "third").stderr


def test_json_output_writes_non_finite_metrics_as_strings(r: Path) -> None:
    hist = _strict_json(mvtools(r, "history", "clf", "--json").stdout)
    m = hist["events"][0]["metrics"]
    assert m == {"accuracy": 0.99, "loss": "NaN", "grad": "Infinity", "neg": "-Infinity"}
    d = _strict_json(mvtools(r, "compare", "clf", "v0.1.0", "v0.1.1", "--json").stdout)
    assert d["metrics"]["loss"] == {"a": "NaN", "b": 0.3, "delta": None, "improved": True, "worse": False,
                                    "direction": "lower"}
    assert d["recommendation"] == "RECOMMEND_B" and d["nan"] == {"a": ["loss"], "b": []}
    d = _strict_json(mvtools(r, "compare", "clf", "v0.1.1", "v0.1.0", "--json").stdout)
    assert d["recommendation"] == "RECOMMEND_A"


def test_compare_table_marks_the_nan_side_worse(r: Path) -> None:
    out = mvtools(r, "compare", "clf", "v0.1.1", "v0.1.0").stdout
    row = next(line for line in out.splitlines() if " loss " in line)
    assert "nan" in row and "worse" in row, out
    assert "RECOMMEND_A" in out


def test_the_deploy_gate_fails_a_nan_metric(r: Path) -> None:
    from conftest import assert_refused

    msg = assert_refused(r, "deploy", "start", "clf", "v0.1.0", "--env", "prod", code=1)
    assert "validation gate failed for clf@v0.1.0: loss is NaN" in msg, msg
    mvtools(r, "deploy", "start", "clf", "v0.1.1", "--env", "prod")


# -- through real commits: a DVC pipeline whose metrics file holds .nan -----------------------
TRAIN = """\
import pathlib
pathlib.Path("models").mkdir(exist_ok=True)
pathlib.Path("models/net.bin").write_text(open("params.yaml").read())
pathlib.Path("metrics.yaml").write_text(open("metrics.src").read())
"""
DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, metrics.src]
    params: [lr]
    outs: [models/net.bin]
    metrics:
      - metrics.yaml:
          cache: false
artifacts:
  net:
    path: models/net.bin
    type: model
"""


@pytest.mark.slow
def test_a_dvc_pipeline_metrics_file_with_nan(tmp_path: Path) -> None:
    r = init_repo(tmp_path / "repo", "")
    (r / "train.py").write_text(TRAIN)
    (r / "dvc.yaml").write_text(DVC_YAML)
    (r / "params.yaml").write_text("lr: 0.1\n")
    (r / "metrics.src").write_text("loss: .nan\naccuracy: .inf\nval:\n  loss: -.inf\n")
    dvc(r, "repro", "-q")
    git(r, "add", "-A")
    assert "registered net v0.1.0" in git(r, "commit", "-q", "-m", "train").stderr
    ev = L.parse((r / "registry" / "net.yaml").read_bytes(), "registry/net.yaml").events[-1]
    m = ev["metrics"]
    assert math.isnan(m["loss"]) and m["accuracy"] == INF and m["val.loss"] == -INF
    (r / "params.yaml").write_text("lr: 0.2\n")
    (r / "metrics.src").write_text("loss: 0.2\naccuracy: 0.9\nval:\n  loss: 0.3\n")
    dvc(r, "repro", "-q")
    git(r, "add", "-A")
    assert "registered net v0.1.1" in git(r, "commit", "-q", "-m", "train again").stderr
    d = _strict_json(mvtools(r, "compare", "net", "v0.1.0", "v0.1.1", "--json").stdout)
    assert d["nan"] == {"a": ["loss"], "b": []} and d["recommendation"] == "RECOMMEND_B"
    assert mvtools(r, "verify").returncode == 0
