"""Per-version lineage from the ledger: `lineage --model NAME@VERSION` and `--diff A B`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import dvc, git, mvtools


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("lv") / "demo"
    mvtools(d.parent, "quickstart", str(d))  # v0.1.0 and v0.1.1 (params change)
    (d / "data" / "data.csv").write_text((d / "data" / "data.csv").read_text() + "1,2,0\n")
    (d / "train.py").write_text((d / "train.py").read_text() + "# tweak\n")
    dvc(d, "add", "-q", "data/data.csv")
    dvc(d, "repro", "-q")
    git(d, "add", "-A")
    git(d, "commit", "-q", "-m", "new data and code")  # v0.1.2
    return d


@pytest.mark.slow
def test_snapshot_of_a_version(demo: Path) -> None:
    doc = json.loads(mvtools(demo, "lineage", "--model", "churn@v0.1.0", "--json").stdout)
    lock0 = git(demo, "show", "churn@v0.1.0:dvc.lock").stdout
    assert doc["version"] == "v0.1.0" and doc["stage"] == "train"
    assert set(doc["deps"]) == {"data/data.csv", "train.py"}
    assert all(h in lock0 for h in doc["deps"].values())
    assert doc["params"] == {"train.epochs": 10, "train.lr": 0.01}
    text = mvtools(demo, "lineage", "--model", "churn@0.1.0").stdout
    assert "produced by stage train" in text and "param  train.lr = 0.01" in text


@pytest.mark.slow
def test_diff_between_versions(demo: Path) -> None:
    d01 = json.loads(mvtools(demo, "lineage", "--model", "churn", "--diff", "v0.1.0", "v0.1.1", "--json").stdout)
    assert d01["a"] == "v0.1.0" and d01["b"] == "v0.1.1"
    assert d01["data"] == {} and d01["code"] == {}
    assert d01["params"] == {"train.epochs": {"a": 10, "b": 12}, "train.lr": {"a": 0.01, "b": 0.02}}
    d12 = json.loads(mvtools(demo, "lineage", "--model", "churn", "--diff", "v0.1.1", "v0.1.2", "--json").stdout)
    assert set(d12["data"]) == {"data/data.csv"} and set(d12["code"]) == {"train.py"}
    assert d12["params"] == {}
    assert d12["data"]["data/data.csv"]["a"] != d12["data"]["data/data.csv"]["b"]


@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ["--model", "nope@v0.1.0"], ["--model", "churn@v9.9.9"], ["--model", "churn@bad"],
    ["--diff", "v0.1.0", "v0.1.1"], ["--model", "churn@v0.1.0", "--diff", "v0.1.0", "v0.1.1"],
    ["--model", "churn@v0.1.0", "--format", "dot"],
])
def test_bad_requests(demo: Path, args: list[str]) -> None:
    proc = mvtools(demo, "lineage", *args, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("mvtools: error: ") and len(proc.stderr.strip().splitlines()) == 1
