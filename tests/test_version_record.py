"""A version's full record (issue 11, items 2 and 3): the lineage snapshot holds every
upstream stage (deps' hashes, params) and the environment (platform, Python, environment
files); `lineage --diff` and `compare` name the upstream change and the environment change;
what a version does not record is unknown, never identical (mvtools/upstream.py,
mvtools/environment.py, mvtools/compare.py)."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import dvc, git, init_repo, mvtools, refused, template_repo, write_model
from conftest import ledger_events

from mvtools import ledger as L
from mvtools.compare import compare
from mvtools.settings import CompareSettings

# -- a real prepare -> train -> evaluate pipeline --------------------------------------------
PREPARE_PY = """\
import pathlib, random, yaml
p = yaml.safe_load(open("params.yaml"))["prepare"]
rows = pathlib.Path("data/raw.csv").read_text().splitlines()[1:]
random.Random(p["seed"]).shuffle(rows)
n = int(len(rows) * (1 - p["split"]))
out = pathlib.Path("data/prepared")
out.mkdir(parents=True, exist_ok=True)
(out / "train.csv").write_text("\\n".join(rows[:n]) + "\\n")
(out / "test.csv").write_text("\\n".join(rows[n:]) + "\\n")
"""
TRAIN_PY = """\
import hashlib, json, pathlib, yaml
lr = yaml.safe_load(open("params.yaml"))["train"]["lr"]
rows = pathlib.Path("data/prepared/train.csv").read_text()
pathlib.Path("models").mkdir(exist_ok=True)
pathlib.Path("models/clf.pkl").write_text(json.dumps({"lr": lr, "data": hashlib.md5(rows.encode()).hexdigest()}))
"""
EVALUATE_PY = """\
import json, pathlib
m = json.loads(pathlib.Path("models/clf.pkl").read_text())
json.dump({"accuracy": 0.5 + int(m["data"][:2], 16) / 1000}, open("metrics.json", "w"))
"""
DVC_YAML = """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py, data/raw.csv]
    params: [prepare]
    outs: [data/prepared]
  train:
    cmd: python train.py
    deps: [train.py, data/prepared/train.csv]
    params: [train.lr]
    outs: [models/clf.pkl]
  evaluate:
    cmd: python evaluate.py
    deps: [evaluate.py, models/clf.pkl, data/prepared/test.csv]
    metrics:
      - metrics.json:
          cache: false
artifacts:
  clf:
    path: models/clf.pkl
    type: model
"""
PARAMS = "prepare:\n  seed: {seed}\n  split: 0.25\ntrain:\n  lr: 0.01\n"


def repro_commit(r: Path, msg: str) -> None:
    dvc(r, "repro", "-q")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", msg)


def build_pipeline(r: Path) -> None:
    init_repo(r, "")
    for name, text in (("prepare.py", PREPARE_PY), ("train.py", TRAIN_PY), ("evaluate.py", EVALUATE_PY),
                       ("dvc.yaml", DVC_YAML), ("params.yaml", PARAMS.format(seed=1)),
                       ("requirements.txt", "pyyaml==6.0.1\n")):
        (r / name).write_text(text)
    write_model(r, "data/raw.csv", "x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(40)))
    dvc(r, "add", "-q", "data/raw.csv")
    repro_commit(r, "v0.1.0")
    (r / "params.yaml").write_text(PARAMS.format(seed=2))
    repro_commit(r, "seed 2")  # v0.1.1: only an upstream param changed
    (r / "requirements.txt").write_text("pyyaml==6.0.2\n")
    write_model(r, "data/raw.csv", "x,y\n" + "".join(f"{i},{i % 5}\n" for i in range(40)))
    dvc(r, "add", "-q", "data/raw.csv")
    repro_commit(r, "new raw data, new pyyaml")  # v0.1.2


pipeline = template_repo("record-pipeline", build_pipeline)


def lock_stage(r: Path, tag: str, stage: str) -> dict[str, Any]:
    return yaml.safe_load(git(r, "show", f"{tag}:dvc.lock").stdout)["stages"][stage]


@pytest.mark.slow
def test_the_snapshot_holds_every_upstream_stage(pipeline: Path) -> None:
    r = pipeline
    ev = ledger_events(r, "clf")[0]
    assert ev["version"] == "v0.1.0" and ev["lineage"]["stage"] == "train"
    up = ev["lineage"]["upstream"]
    assert list(up) == ["prepare"]  # evaluate is downstream, train is the producing stage
    # DVC's own graph agrees: the stages `dvc dag train` draws, train itself aside (and the
    # .dvc file of data/raw.csv, whose hash prepare's deps record)
    dot = dvc(r, "dag", "--dot", "train").stdout
    drawn = {ln.split('"')[1] for ln in dot.splitlines() if ln.strip().startswith('"')}
    assert drawn - {"train", "data/raw.csv.dvc"} == set(up) and "data/raw.csv.dvc" in drawn
    prep = lock_stage(r, "clf@v0.1.0", "prepare")
    assert up["prepare"]["deps"] == {d["path"]: d["md5"] for d in prep["deps"]}
    assert up["prepare"]["params"] == {"params.yaml": {"prepare": {"seed": 1, "split": 0.25}}}
    doc = json.loads(mvtools(r, "lineage", "--model", "clf@v0.1.0", "--json").stdout)
    assert doc["upstream"] == up
    assert "upstream stage prepare: data/raw.csv, prepare.py, params.yaml" in \
        mvtools(r, "lineage", "--model", "clf@v0.1.0").stdout


@pytest.mark.slow
def test_diff_and_compare_name_the_upstream_param(pipeline: Path) -> None:
    r = pipeline
    d = json.loads(mvtools(r, "lineage", "--model", "clf", "--diff", "v0.1.0", "v0.1.1", "--json").stdout)
    # the producing stage saw only a new hash of its input; the cause is upstream
    assert set(d["data"]) == {"data/prepared/train.csv"} and d["params"] == {}
    assert d["upstream"] == {"prepare": {"status": "changed", "deps": {},
                                         "params": {"params.yaml:prepare.seed": {"a": 1, "b": 2}}}}
    text = mvtools(r, "lineage", "--model", "clf", "--diff", "v0.1.0", "v0.1.1").stdout
    assert "prepare: params.yaml:prepare.seed 1 -> 2" in text
    c = json.loads(mvtools(r, "compare", "clf", "v0.1.0", "v0.1.1", "--json").stdout)
    assert c["lineage"]["upstream"] == d["upstream"]
    assert c["environment"] == {"known": True, "files": {}}
    out = mvtools(r, "compare", "clf", "v0.1.0", "v0.1.1").stdout
    assert "lineage prepare: params.yaml:prepare.seed 1 -> 2" in out
    assert "environment: identical environment" in out

    d = json.loads(mvtools(r, "lineage", "--model", "clf", "--diff", "v0.1.1", "v0.1.2", "--json").stdout)
    raw = [lock_stage(r, f"clf@v0.1.{i}", "prepare")["deps"] for i in (1, 2)]
    md5 = [next(x["md5"] for x in deps if x["path"] == "data/raw.csv") for deps in raw]
    assert d["upstream"]["prepare"]["deps"] == {"data/raw.csv": {"a": md5[0], "b": md5[1]}}
    assert "prepare: data/raw.csv " + md5[0][:12] in \
        mvtools(r, "lineage", "--model", "clf", "--diff", "v0.1.1", "v0.1.2").stdout


@pytest.mark.slow
def test_compare_shows_the_environment_change(pipeline: Path) -> None:
    r = pipeline
    ev = ledger_events(r, "clf")[2]
    env = ev["environment"]
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert env["platform"] == f"{platform.system()}-{platform.machine()}"
    assert env["files"] == {"requirements.txt": {"sha256": hashlib.sha256(b"pyyaml==6.0.2\n").hexdigest(),
                                                 "size": 14, "content": "pyyaml==6.0.2\n"}}
    c = json.loads(mvtools(r, "compare", "clf", "v0.1.1", "v0.1.2", "--json").stdout)
    ch = c["environment"]["files"]["requirements.txt"]
    assert ch["changes"] == ["-pyyaml==6.0.1", "+pyyaml==6.0.2"]
    assert ch["a"] == hashlib.sha256(b"pyyaml==6.0.1\n").hexdigest()
    out = mvtools(r, "compare", "clf", "v0.1.1", "v0.1.2").stdout
    assert "environment: requirements.txt changed" in out and "+pyyaml==6.0.2" in out


# -- environment files of a git-tracked model, through the pre-commit hook -------------------
def build_git_model(r: Path) -> None:
    init_repo(r, "  - name: clf\n    path: models/clf.bin")
    with open(r / "mvtools.yaml", "a") as fh:
        fh.write("environment_files: [docker/Dockerfile.gpu, envs/*.yml]\n")
    (r / "Dockerfile").write_text("FROM python:3.12\n")
    (r / "uv.lock").write_text("# big\n" + "x" * 5000 + "\n")
    write_model(r, "envs/train.yml", "name: train\n")
    write_model(r, "models/clf.bin", "one\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "v0.1.0")


git_model = template_repo("record-git-model", build_git_model)


@pytest.mark.slow
def test_environment_files_found_declared_and_as_committed(git_model: Path) -> None:
    r = git_model
    env = ledger_events(r)[0]["environment"]
    assert sorted(env["files"]) == ["Dockerfile", "docker/Dockerfile.gpu", "envs/train.yml", "uv.lock"]
    assert env["files"]["docker/Dockerfile.gpu"] is None  # declared, absent
    assert env["files"]["Dockerfile"]["content"] == "FROM python:3.12\n"
    big = env["files"]["uv.lock"]
    assert "content" not in big and big["size"] == 5007  # over 4 KiB: the hash only
    # a partial commit (git commit PATHS: git's temporary index) records what it commits,
    # not the work tree's uncommitted edit of the Dockerfile
    write_model(r, "docker/Dockerfile.gpu", "FROM nvidia/cuda\n")
    (r / "uv.lock").write_text("# big\n" + "y" * 5000 + "\n")
    write_model(r, "models/clf.bin", "two\n")
    (r / "Dockerfile").write_text("FROM python:3.13\n")
    git(r, "add", "docker/Dockerfile.gpu")
    git(r, "commit", "-q", "-m", "v0.1.1", "--", "models/clf.bin", "uv.lock", "docker/Dockerfile.gpu")
    env = ledger_events(r)[1]["environment"]
    assert env["files"]["Dockerfile"]["content"] == "FROM python:3.12\n"
    c = json.loads(mvtools(r, "compare", "clf", "v0.1.0", "v0.1.1", "--json").stdout)
    files = c["environment"]["files"]
    assert set(files) == {"docker/Dockerfile.gpu", "uv.lock"}
    assert files["docker/Dockerfile.gpu"]["a"] is None and files["docker/Dockerfile.gpu"]["changes"] == \
        ["+FROM nvidia/cuda"]
    assert "changes" not in files["uv.lock"]
    out = mvtools(r, "compare", "clf", "v0.1.0", "v0.1.1").stdout
    assert "docker/Dockerfile.gpu added" in out and "uv.lock changed" in out


def test_register_command_records_the_environment(git_model: Path) -> None:
    r = git_model
    (r / "requirements-dev.txt").write_text("pytest\n")
    write_model(r, "models/clf.bin", "three\n")
    git(r, "add", "requirements-dev.txt")
    mvtools(r, "register", "clf")
    env = ledger_events(r)[-1]["environment"]
    assert env["files"]["requirements-dev.txt"]["content"] == "pytest\n"


def test_a_bad_environment_files_entry_is_exit_2(git_model: Path) -> None:
    with open(git_model / "mvtools.yaml", "a") as fh:
        fh.write("environment_files: [../outside.txt]\n")
    assert "environment_files" in refused(git_model, ["show"], 2)


# -- what is not recorded is unknown ----------------------------------------------------------
ACTOR = "Test User <test@example.com>"


def _reg(version: str, sha: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"metrics": None, "params": None, "lineage": None}
    return L.make_event("register", "clf", ACTOR, "2026-01-01T00:00:00Z", version=version, tag=f"clf@{version}",
                        path="models/clf.bin", sha256=sha * 64, size=3, md5=None, **{**base, **fields})


ENV = {"platform": "Linux-x86_64", "python": "3.12.3", "files": {}}
LIN = {"stage": "train", "dvc_yaml": "dvc.yaml", "deps": {"d.csv": "a" * 32}, "params": {}, "upstream": {}}


def test_an_imported_version_is_unknown_never_identical() -> None:
    imported = _reg("v0.1.0", "a", imported_from="gto")
    mine = _reg("v0.1.1", "b", metrics={"accuracy": 0.9}, params={"lr": 0.1}, lineage=LIN, environment=ENV)
    d = compare("clf", imported, mine, CompareSettings())
    assert d["unknown"] == {"a": ["metrics", "params", "lineage", "environment"], "b": []}
    assert d["similarity"] is None and d["importance"] is None and d["relative_change"] is None
    assert d["recommendation"] == "NO_SHARED_METRICS"
    assert d["params"] == {}  # not "everything added"
    assert d["lineage"]["unknown"] == ["a"] and d["lineage"]["upstream"] == {}
    assert d["environment"] == {"known": False, "unknown": ["a"]}
    # two imported versions: still unknown, not similarity 1
    d = compare("clf", imported, _reg("v0.1.2", "c", imported_from="gto"), CompareSettings())
    assert d["similarity"] is None and d["environment"]["unknown"] == ["a", "b"]


def test_a_version_older_than_the_fields() -> None:
    """Registered before mvtools recorded the environment and the upstream stages."""
    old = _reg("v0.1.0", "a", metrics={"accuracy": 0.8}, lineage={k: v for k, v in LIN.items() if k != "upstream"})
    up = {"prepare": {"deps": {"raw.csv": "b" * 32}, "params": {}}}
    new = _reg("v0.1.1", "b", metrics={"accuracy": 0.9}, lineage={**LIN, "upstream": up}, environment=ENV)
    d = compare("clf", old, new, CompareSettings())
    assert d["unknown"] == {"a": ["upstream", "environment"], "b": []}
    assert d["lineage"]["unknown"] == [] and d["lineage"]["upstream_unknown"] == ["a"]
    assert d["environment"]["known"] is False
    # the producing stage's deps and the metric names agree; B's upstream deps are left out
    assert d["similarity"] == 1.0 and d["recommendation"] == "RECOMMEND_B"
    assert d["lineage"]["upstream"] == {}
    from mvtools.ui import lineage_lines

    assert lineage_lines(d["lineage"], "v0.1.0", "v0.1.1") == ["upstream stages of v0.1.0 unknown (not recorded)"]


def test_no_shared_metric_says_so() -> None:
    a = _reg("v0.1.0", "a", metrics={"f1": 0.8}, environment=ENV)
    b = _reg("v0.1.1", "b", metrics={"auc": 0.9}, environment=ENV)
    d = compare("clf", a, b, CompareSettings())
    assert d["recommendation"] == "NO_SHARED_METRICS" and d["score_basis"] == "no shared metric"
    assert d["importance"] is None
    assert d["environment"] == {"known": True, "files": {}}


def test_ledger_refuses_a_malformed_environment() -> None:
    ev = _reg("v0.1.0", "a", environment=["not", "a", "mapping"])
    with pytest.raises(Exception, match="environment must be null or a mapping"):
        L.parse(L.header("clf").encode() + L.render_events([ev]).encode(), "registry/clf.yaml")
    ev = _reg("v0.1.0", "a", lineage={**LIN, "upstream": ["prepare"]})
    with pytest.raises(Exception, match="lineage.upstream must map stages"):
        L.parse(L.header("clf").encode() + L.render_events([ev]).encode(), "registry/clf.yaml")


@pytest.mark.slow
def test_compare_text_for_an_imported_version(tmp_path: Path) -> None:
    r = tmp_path / "repo"
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n    metrics: [metrics.json]", '{"accuracy": 0.8}')
    git(r, "add", "-A")
    git(r, "commit", "-q", "--no-verify", "-m", "set up")
    write_model(r, "models/clf.bin", "gto made me\n")
    git(r, "add", "-A")
    git(r, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "a GTO version")
    git(r, "tag", "-a", "clf@v0.1.0", "-m", "Registering artifact clf version v0.1.0")
    mvtools(r, "import-gto")
    write_model(r, "models/clf.bin", "mvtools made me\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "v0.1.1")
    out = mvtools(r, "compare", "clf", "v0.1.0", "v0.1.1").stdout
    # the import read v0.1.0's metrics at its tagged commit; what GTO's commit cannot tell is unknown
    assert "│ accuracy │ 0.8 │ 0.8 │" in out.replace("  ", " ").replace("  ", " ")
    assert "environment: environment of v0.1.0 (A) unknown" in out
    # (no params, no pipeline: all either side records alike is the metric's name, so the setups'
    # similarity may well be 1; the bytes differ and say so)
    assert "identical" not in out.replace("artifact: changed", "")


# -- upstream stages from dvc.lock alone --------------------------------------------------------
def _lock_stage(deps: list[str], outs: list[str], params: dict[str, Any] | None = None) -> dict[str, Any]:
    st: dict[str, Any] = {"cmd": "true", "deps": [{"path": d, "md5": hashlib.md5(d.encode()).hexdigest()}
                                                  for d in deps],
                          "outs": [{"path": o, "md5": "0" * 32} for o in outs]}
    if params:
        st["params"] = params
    return st


def test_upstream_across_dvc_yamls_wdirs_and_a_long_chain(tmp_path: Path) -> None:
    from mvtools.artifacts import WORKTREE, Record, Source
    from mvtools.gitops import Repo
    from mvtools.upstream import upstream_of

    git(tmp_path, "init", "-q")
    n = 2000
    chain = {f"s{i}": _lock_stage([f"d{i - 1}" if i else "raw"], [f"d{i}"]) for i in range(n)}
    chain["other"] = _lock_stage(["elsewhere"], ["unrelated"])
    chain["feat"] = _lock_stage(["shared/feats.csv"], ["out/x"], {"params.yaml": {"feat.k": 3}})
    (tmp_path / "sub").mkdir()
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "sub" / "dvc.yaml").write_text("stages:\n  make:\n    cmd: true\n    wdir: inner\n")
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": chain}))
    (tmp_path / "sub" / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        "make": _lock_stage(["src.py"], ["../../shared"])}}))
    rec = Record("dvclock", file="dvc.lock", stage="train", dvc_yaml="dvc.yaml",
                 deps={f"d{n - 1}": None, "out": None})  # "out" holds feat's out/x
    src = Source(Repo.discover(tmp_path), WORKTREE)
    src.yaml("dvc.lock")  # the hook has read it already (find_record): the walk itself must be quick
    up = upstream_of(src, rec, ["dvc.yaml", "sub/dvc.yaml"])
    assert set(up) == {f"s{i}" for i in range(n)} | {"feat", "sub/dvc.yaml:make"}
    assert up["sub/dvc.yaml:make"]["deps"] == {"sub/inner/src.py": hashlib.md5(b"src.py").hexdigest()}
    assert up["feat"]["params"] == {"params.yaml": {"feat.k": 3}}
