"""End to end with real DVC: a `dvc repro` pipeline committed through the hooks, dvc.yaml
artifacts in sub-directories, directory models, DVC 2 era `.dvc` files, a local DVC remote,
`mvtools push`, a fresh clone and `mvtools get` of an old version through DVC."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from conftest import dvc, git, head, mvtools, tags, write_model
from conftest import ledger_events as ledger

TRAIN_PY = """\
import hashlib, json, pathlib, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
rows = pathlib.Path("data/data.csv").read_text().splitlines()[1:]
model = {"w": [round(p["lr"] * (i + 1) * p["epochs"], 6) for i in range(len(rows))], "p": p}
pathlib.Path("models").mkdir(exist_ok=True)
blob = json.dumps(model, sort_keys=True).encode()
pathlib.Path("models/model.pkl").write_bytes(blob)
s = int(hashlib.sha256(blob).hexdigest()[:4], 16) / 65535
json.dump({"accuracy": round(0.8 + s * 0.15, 4), "loss": round(0.5 - s * 0.3, 4)},
          open("metrics.json", "w"))
"""

DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps:
      - data/data.csv
      - train.py
    params:
      - train.lr
      - train.epochs
    outs:
      - models/model.pkl
    metrics:
      - metrics.json:
          cache: false
artifacts:
  churn:
    path: models/model.pkl
    type: model
    desc: churn classifier
    labels: [tabular]
"""


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def lock_stage(r: Path, stage: str = "train", lock: str = "dvc.lock") -> dict:
    return yaml.safe_load((r / lock).read_text())["stages"][stage]


def out_md5(st: dict, path: str) -> str:
    return next(o["md5"] for o in st["outs"] if o["path"] == path)


def make_pipeline(r: Path, *, scheme: str = "semver") -> None:
    """mvtools init (git hooks), a DVC-tracked dataset and a training stage declaring `churn`."""
    mvtools(r, "init", "--scheme", scheme)
    (r / "train.py").write_text(TRAIN_PY)
    (r / "dvc.yaml").write_text(DVC_YAML)
    (r / "params.yaml").write_text("train:\n  lr: 0.01\n  epochs: 10\n")
    write_model(r, "data/data.csv", "a,b\n" + "".join(f"{i},{i * 7 % 13}\n" for i in range(50)))
    dvc(r, "add", "-q", "data/data.csv")


def commit_all(r: Path, msg: str, **kw):  # type: ignore[no-untyped-def]
    git(r, "add", "-A")
    return git(r, "commit", "-q", "-m", msg, **kw)


def train_twice(r: Path) -> tuple[bytes, bytes]:
    """Two `dvc repro` runs (params changed in between), each committed through the hooks."""
    dvc(r, "repro", "-q")
    v1 = (r / "models" / "model.pkl").read_bytes()
    proc = commit_all(r, "train v1")
    assert "registered churn v0.1.0" in proc.stderr
    (r / "params.yaml").write_text("train:\n  lr: 0.02\n  epochs: 12\n")
    dvc(r, "repro", "-q")
    v2 = (r / "models" / "model.pkl").read_bytes()
    assert v1 != v2
    proc = commit_all(r, "train v2")
    assert "registered churn v0.1.1" in proc.stderr
    return v1, v2


@pytest.mark.slow
def test_repro_pipeline_registered_twice_with_lineage(repo: Path) -> None:
    r = repo
    make_pipeline(r)
    dvc(r, "repro", "-q")
    commit_all(r, "train v1")
    st1 = lock_stage(r)
    sha1 = sha256(r / "models/model.pkl")
    metrics1 = json.loads((r / "metrics.json").read_text())
    c1 = head(r)
    (r / "params.yaml").write_text("train:\n  lr: 0.02\n  epochs: 12\n")
    dvc(r, "repro", "-q")
    commit_all(r, "train v2")
    st2 = lock_stage(r)
    c2 = head(r)
    assert git(r, "status", "--porcelain").stdout == ""

    evs = ledger(r, "churn")
    assert [(e["event"], e["version"]) for e in evs] == [("register", "v0.1.0"), ("register", "v0.1.1")]
    t = tags(r)
    assert t["churn@v0.1.0"] == c1 and t["churn@v0.1.1"] == c2
    # the ledger event landed in the same commit as the dvc.lock change
    assert "registry/churn.yaml" in git(r, "show", "--name-only", "--format=", c1).stdout.split()

    for ev, st, commit in ((evs[0], st1, c1), (evs[1], st2, c2)):
        model_bytes = git(r, "show", f"{commit}:dvc.lock").stdout  # sanity: lock is committed
        assert "models/model.pkl" in model_bytes
        assert ev["path"] == "models/model.pkl"
        assert ev["md5"] == out_md5(st, "models/model.pkl")
        deps = {d["path"]: d["md5"] for d in st["deps"]}
        assert ev["lineage"]["stage"] == "train"
        assert ev["lineage"]["dvc_yaml"] == "dvc.yaml"
        assert ev["lineage"]["deps"] == deps
        assert set(deps) == {"data/data.csv", "train.py"}
        assert ev["lineage"]["params"] == {"params.yaml": st["params"]["params.yaml"]}
        assert ev["tag"] == f"churn@{ev['version']}"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ev["timestamp"])
        assert ev["actor"] == "Test User <test@example.com>"
    assert evs[0]["sha256"] == sha1
    assert evs[1]["sha256"] == sha256(r / "models/model.pkl")
    assert evs[1]["size"] == (r / "models/model.pkl").stat().st_size
    assert evs[0]["metrics"] == metrics1
    assert evs[1]["metrics"] == json.loads((r / "metrics.json").read_text())
    assert evs[0]["params"] == {"train.lr": 0.01, "train.epochs": 10}
    assert evs[1]["params"] == {"train.lr": 0.02, "train.epochs": 12}
    assert evs[1]["lineage"]["params"]["params.yaml"] == {"train.lr": 0.02, "train.epochs": 12}
    # the dataset's md5 in the lineage is the one its .dvc file records
    data_md5 = yaml.safe_load((r / "data/data.csv.dvc").read_text())["outs"][0]["md5"]
    assert evs[1]["lineage"]["deps"]["data/data.csv"] == data_md5

    hist = json.loads(mvtools(r, "history", "churn", "--json").stdout)["events"]
    assert [h["commit"] for h in hist] == [c1, c2]
    show = json.loads(mvtools(r, "show", "--json").stdout)["models"]
    assert [(m["name"], m["latest"], m["versions"]) for m in show] == [("churn", "v0.1.1", 2)]
    assert mvtools(r, "verify").returncode == 0


@pytest.mark.slow
def test_sub_dvc_yaml_artifact_is_dir_colon_name(repo: Path) -> None:
    r = repo
    mvtools(r, "init")
    (r / "sub").mkdir()
    (r / "sub" / "dvc.yaml").write_text(
        "stages:\n"
        "  build:\n"
        "    cmd: python -c \"open('clf.bin','wb').write(open('seed.txt','rb').read()*3)\"\n"
        "    deps: [seed.txt]\n"
        "    outs: [clf.bin]\n"
        "artifacts:\n"
        "  clf:\n"
        "    path: clf.bin\n"
        "    type: model\n")
    (r / "sub" / "seed.txt").write_text("seed-1\n")
    dvc(r, "repro", "-q", "sub/dvc.yaml")
    proc = commit_all(r, "sub model")
    assert "registered sub:clf v0.1.0" in proc.stderr
    assert tags(r)["sub=clf@v0.1.0"] == head(r)
    evs = ledger(r, "sub:clf")
    assert len(evs) == 1
    ev = evs[0]
    assert ev["model"] == "sub:clf" and ev["tag"] == "sub=clf@v0.1.0"
    assert ev["path"] == "sub/clf.bin"
    assert ev["sha256"] == sha256(r / "sub/clf.bin")
    st = lock_stage(r, "build", "sub/dvc.lock")
    assert ev["md5"] == out_md5(st, "clf.bin")
    assert ev["lineage"]["deps"] == {"sub/seed.txt": st["deps"][0]["md5"]}
    # a second version, then the CLI reads the prefixed name back
    (r / "sub" / "seed.txt").write_text("seed-2\n")
    dvc(r, "repro", "-q", "sub/dvc.yaml")
    commit_all(r, "sub model 2")
    assert "sub=clf@v0.1.1" in tags(r)
    show = json.loads(mvtools(r, "show", "sub:clf", "--json").stdout)["models"]
    assert show == [{"name": "sub:clf", "latest": "v0.1.1", "versions": 2, "stages": {}}]
    hist = json.loads(mvtools(r, "history", "sub:clf", "--json").stdout)
    assert [e["version"] for e in hist["events"]] == ["v0.1.0", "v0.1.1"]


def tree_hash(d: Path) -> str:
    lines = sorted(
        (p.relative_to(d).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest())
        for p in d.rglob("*") if p.is_file())
    return hashlib.sha256("".join(f"{h}  {rel}\n" for rel, h in lines).encode()).hexdigest()


@pytest.mark.slow
def test_directory_model_dir_md5_and_tree_hash(repo: Path) -> None:
    r = repo
    mvtools(r, "init")
    cfg = (r / "mvtools.yaml").read_text().replace(
        "models: []", "models:\n  - name: bert\n    path: models/bert")
    (r / "mvtools.yaml").write_text(cfg)
    write_model(r, "models/bert/config.json", '{"layers": 2}')
    write_model(r, "models/bert/weights.bin", b"\x00\x01" * 1000)
    write_model(r, "models/bert/tok/vocab.txt", "a\nb\nc\n")
    dvc(r, "add", "-q", "models/bert")
    proc = commit_all(r, "bert v1")
    assert "registered bert v0.1.0" in proc.stderr
    ev = ledger(r, "bert")[0]
    dvcfile = yaml.safe_load((r / "models/bert.dvc").read_text())["outs"][0]
    assert ev["md5"] == dvcfile["md5"] and ev["md5"].endswith(".dir")
    assert ev["sha256"] == tree_hash(r / "models/bert")
    assert ev["size"] == dvcfile["size"] == 13 + 2000 + 6
    assert tags(r)["bert@v0.1.0"] == head(r)
    # one file changes: a new version with a new .dir md5 and tree hash
    write_model(r, "models/bert/tok/vocab.txt", "a\nb\nc\nd\n")
    dvc(r, "add", "-q", "models/bert")
    commit_all(r, "bert v2")
    ev2 = ledger(r, "bert")[1]
    assert ev2["version"] == "v0.1.1"
    assert ev2["md5"] == yaml.safe_load((r / "models/bert.dvc").read_text())["outs"][0]["md5"] != ev["md5"]
    assert ev2["sha256"] == tree_hash(r / "models/bert") != ev["sha256"]
    # get fetches the whole old directory from the DVC cache
    mvtools(r, "get", "bert@v0.1.0", "-o", "old-bert")
    assert tree_hash(r / "old-bert") == ev["sha256"]
    assert (r / "old-bert/tok/vocab.txt").read_text() == "a\nb\nc\n"


@pytest.mark.slow
def test_dvc2_era_dvc_file_md5_dos2unix(repo: Path) -> None:
    """A `.dvc` file written by DVC 2 has no `hash:` field; its md5 is of the LF-normalised text."""
    r = repo
    mvtools(r, "init")
    cfg = (r / "mvtools.yaml").read_text().replace(
        "models: []", "models:\n  - name: rules\n    path: models/rules.txt")
    (r / "mvtools.yaml").write_text(cfg)
    crlf = b"rule 1: if x then y\r\nrule 2: else z\r\n" * 20
    write_model(r, "models/rules.txt", crlf)
    lf_md5 = hashlib.md5(crlf.replace(b"\r\n", b"\n")).hexdigest()
    assert lf_md5 != hashlib.md5(crlf).hexdigest()
    (r / "models" / "rules.txt.dvc").write_text(
        f"outs:\n- md5: {lf_md5}\n  size: {len(crlf)}\n  path: rules.txt\n")
    (r / "models" / ".gitignore").write_text("/rules.txt\n")
    # DVC 2 cached the bytes as they were, under the dos2unix md5 (DVC 3's legacy cache dir)
    write_model(r, f".dvc/cache/{lf_md5[:2]}/{lf_md5[2:]}", crlf)
    proc = commit_all(r, "legacy model")
    assert proc.returncode == 0, proc.stderr
    assert "registered rules v0.1.0" in proc.stderr
    ev = ledger(r, "rules")[0]
    assert ev["md5"] == lf_md5
    assert ev["sha256"] == hashlib.sha256(crlf).hexdigest()
    assert ev["size"] == len(crlf)
    assert tags(r)["rules@v0.1.0"] == head(r)
    # DVC itself agrees the workspace matches the legacy record
    st = dvc(r, "status", "models/rules.txt.dvc", "--json").stdout
    assert "changed outs" not in st and "modified" not in st, st
    mvtools(r, "get", "rules@v0.1.0", "-o", "old.txt")
    assert (r / "old.txt").read_bytes() == crlf
    # a workspace that no longer matches the legacy md5 is refused
    # (a plain md5 under a legacy record: DVC 2 would have written the dos2unix one)
    crlf2 = crlf + b"rule 3\r\n"
    write_model(r, "models/rules.txt", crlf2)
    (r / "models" / "rules.txt.dvc").write_text(
        f"outs:\n- md5: {hashlib.md5(crlf2).hexdigest()}\n  size: {len(crlf2)}\n  path: rules.txt\n")
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "bad", check=False)
    assert proc.returncode == 1
    assert "dvc add models/rules.txt" in proc.stderr


def add_remotes(r: Path, tmp: Path) -> tuple[Path, Path]:
    store = tmp / "dvc-store"
    store.mkdir()
    dvc(r, "remote", "add", "-d", "store", str(store))
    bare = tmp / "origin.git"
    git(tmp, "init", "-q", "--bare", str(bare))
    git(r, "remote", "add", "origin", str(bare))
    git(r, "add", ".dvc/config")
    git(r, "commit", "-q", "-m", "dvc remote", "--", ".dvc/config")
    return store, bare


def store_objects(store: Path) -> dict[str, Path]:
    return {p.parent.name + p.name: p for p in store.rglob("*") if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize("remote_first", [
    pytest.param(True, id="remote-before-training"),
    # (DVC reads a commit's own .dvc/config when pushing it by rev: the old versions here were
    # committed before the remote existed, and must reach it all the same)
    pytest.param(False, id="remote-added-after-training"),
])
def test_push_clone_and_get_old_version_from_remote(repo: Path, tmp_path: Path, remote_first: bool) -> None:
    r = repo
    make_pipeline(r)
    if remote_first:
        store, bare = add_remotes(r, tmp_path)
    v1, v2 = train_twice(r)
    if not remote_first:
        store, bare = add_remotes(r, tmp_path)
    out = mvtools(r, "push", "--json")
    res = json.loads(out.stdout)
    assert res["remote"] == "origin" and res["branch"] == "main"
    assert res["tags"] == 2
    objs = store_objects(store)
    evs = ledger(r, "churn")
    for ev in evs:
        assert ev["md5"] in objs, f"{ev['version']} not pushed to the DVC remote"
    # branch and tags reached the bare repo
    assert git(bare, "rev-parse", "main").stdout.strip() == head(r)
    remote_tags = git(bare, "tag").stdout.split()
    assert {"churn@v0.1.0", "churn@v0.1.1"} <= set(remote_tags)

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    assert "store" in (clone / ".dvc" / "config").read_text()
    assert not (clone / ".dvc" / "cache").exists()
    assert not (clone / "models" / "model.pkl").exists()
    got = json.loads(mvtools(clone, "get", "churn@v0.1.0", "-o", "out.pkl", "--json").stdout)
    assert got["version"] == "v0.1.0" and got["sha256"] == evs[0]["sha256"]
    assert (clone / "out.pkl").read_bytes() == v1
    assert got["commit"] == tags(r)["churn@v0.1.0"]
    # NAME only: the latest version
    mvtools(clone, "get", "churn", "-o", "latest.pkl")
    assert (clone / "latest.pkl").read_bytes() == v2
    # 1.2.3 without the v works too
    mvtools(clone, "get", "churn@0.1.1", "-o", "v011.pkl")
    assert (clone / "v011.pkl").read_bytes() == v2
    # an existing destination is refused, and left alone
    proc = mvtools(clone, "get", "churn@v0.1.0", "-o", "latest.pkl", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("mvtools: error: ")
    assert (clone / "latest.pkl").read_bytes() == v2
    # an unknown version
    proc = mvtools(clone, "get", "churn@v9.9.9", "-o", "x.pkl", check=False)
    assert proc.returncode == 2 and not (clone / "x.pkl").exists()
    # pushing again is idempotent
    again = json.loads(mvtools(r, "push", "--json").stdout)
    assert again["tags"] == 2


def make_writable_and_corrupt(p: Path) -> None:
    p.chmod(p.stat().st_mode | stat.S_IWUSR)
    data = p.read_bytes()
    p.write_bytes(data[:-5] + b"XXXXX")


def leftovers(d: Path) -> list[str]:
    return sorted(n for n in os.listdir(d) if "out" in n or "mvtools-tmp" in n)


@pytest.mark.slow
def test_get_corrupted_cache_object_refused(repo: Path) -> None:
    r = repo
    make_pipeline(r)
    v1, _ = train_twice(r)
    md5 = ledger(r, "churn")[0]["md5"]
    obj = r / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    assert obj.read_bytes() == v1
    make_writable_and_corrupt(obj)
    before = git(r, "status", "--porcelain").stdout
    proc = mvtools(r, "get", "churn@v0.1.0", "-o", "out.pkl", check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("mvtools: error: ") and len(proc.stderr.splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert "sha256" in proc.stderr and "nothing written" in proc.stderr
    assert not (r / "out.pkl").exists()
    assert leftovers(r) == []
    assert git(r, "status", "--porcelain").stdout == before


@pytest.mark.slow
def test_get_corrupted_remote_object_refused(repo: Path, tmp_path: Path) -> None:
    r = repo
    make_pipeline(r)
    store, bare = add_remotes(r, tmp_path)
    train_twice(r)
    mvtools(r, "push")
    md5 = ledger(r, "churn")[0]["md5"]
    obj = store_objects(store)[md5]
    make_writable_and_corrupt(obj)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    proc = mvtools(clone, "get", "churn@v0.1.0", "-o", "out.pkl", check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("mvtools: error: ") and len(proc.stderr.splitlines()) == 1
    assert "sha256" in proc.stderr
    assert not (clone / "out.pkl").exists()
    assert leftovers(clone) == []
    assert git(clone, "status", "--porcelain").stdout == ""
    # the intact latest version still comes through
    mvtools(clone, "get", "churn", "-o", "ok.pkl")


@pytest.mark.slow
def test_get_without_remote_or_cache_refused(repo: Path, tmp_path: Path) -> None:
    """A clone whose DVC remote never received the bytes: exit 1, a hint, nothing written."""
    r = repo
    make_pipeline(r)
    train_twice(r)
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    # mvtools' pre-push hook refuses tags whose artifacts no DVC remote holds ...
    proc = git(r, "push", "-q", str(bare), "main", "--tags", check=False)
    assert proc.returncode != 0 and "mvtools: error:" in proc.stderr
    assert git(bare, "tag").stdout == ""
    # ... so push around it, as someone without mvtools would
    git(r, "push", "-q", "--no-verify", str(bare), "main", "--tags")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    proc = mvtools(clone, "get", "churn@v0.1.0", "-o", "out.pkl", check=False)
    assert proc.returncode == 2, proc.stderr  # no DVC remote configured: bad setup, exit 2
    assert proc.stderr.startswith("mvtools: error: ") and len(proc.stderr.splitlines()) == 1
    assert "remote" in proc.stderr
    assert not (clone / "out.pkl").exists()
    assert leftovers(clone) == []


@pytest.mark.slow
def test_timestamp_scheme_versions(repo: Path) -> None:
    r = repo
    make_pipeline(r, scheme="timestamp")
    assert "scheme: timestamp" in (r / "mvtools.yaml").read_text()
    dvc(r, "repro", "-q")
    t0 = datetime.now(timezone.utc).replace(microsecond=0)
    commit_all(r, "train v1")
    t1 = datetime.now(timezone.utc)
    ev = ledger(r, "churn")[0]
    m = re.fullmatch(r"v(\d{14})_([0-9a-f]{8})", ev["version"])
    assert m, ev["version"]
    assert m[2] == ev["sha256"][:8] == sha256(r / "models/model.pkl")[:8]
    when = datetime.strptime(m[1], "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    assert t0 - timedelta(seconds=1) <= when <= t1
    assert tags(r)[f"churn@{ev['version']}"] == head(r)
    (r / "params.yaml").write_text("train:\n  lr: 0.02\n  epochs: 12\n")
    dvc(r, "repro", "-q")
    commit_all(r, "train v2")
    ev2 = ledger(r, "churn")[1]
    assert re.fullmatch(r"v\d{14}_[0-9a-f]{8}", ev2["version"])
    assert ev2["version"] != ev["version"]
    show = json.loads(mvtools(r, "show", "--json").stdout)["models"][0]
    assert show["latest"] == ev2["version"] and show["versions"] == 2
    got = mvtools(r, "get", f"churn@{ev['version']}", "-o", "old.pkl", "--json")
    assert json.loads(got.stdout)["sha256"] == ev["sha256"] == sha256(r / "old.pkl")
