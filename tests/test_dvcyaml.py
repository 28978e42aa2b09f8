"""The one dvc.yaml reader (mvtools.dvcyaml) against real DVC: the stages `dvc stage list`
names (foreach over YAML 1.2 `1_000`, Python params files, the corpus pipelines), and what
the commit path takes from it: a model's metrics from the pipeline that makes it (the
evaluate stage downstream, DVCLive's top-level metrics), templated `${}` model paths,
.dvcignore in a directory model, and name-only mvtools.yaml entries."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import assert_refused, dvc, git, mvtools, tags, write_model
from conftest import ledger_events as ledger
from mvtools.config import load_config
from mvtools.dvcyaml import read_worktree_dvcyaml
from mvtools.lineage import build_lineage

CORPUS_CANDIDATES = [Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "dvc-pipelines",
                     Path("/work/shared/corpus/dvc-pipelines")]
CORPUS = next((p for p in CORPUS_CANDIDATES if p.is_dir()), CORPUS_CANDIDATES[0])
PIPELINES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []


def commit_all(r: Path, msg: str) -> subprocess.CompletedProcess[str]:
    git(r, "add", "-A")
    return git(r, "commit", "-q", "-m", msg)


def dvc_stage_names(r: Path) -> set[str]:
    """`dvc stage list --all --name-only`: every stage as DVC addresses it from the root."""
    out = dvc(r, "stage", "list", "--all", "--name-only").stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


def our_stage_names(r: Path) -> set[str]:
    names = set()
    for rel in git(r, "ls-files", "--cached", "--others", "--exclude-standard", "*dvc.yaml").stdout.split():
        for name in read_worktree_dvcyaml(r, rel).stages:
            names.add(name if rel == "dvc.yaml" else f"{rel}:{name}")
    return names


def dvc_repo(r: Path) -> Path:
    dvc(r, "init", "-q")
    commit_all(r, "dvc init")
    return r


# --- the reader against `dvc stage list` -------------------------------------------------

@pytest.mark.slow
def test_foreach_over_yaml12_underscore_ints_names_stages_as_dvc(repo: Path) -> None:
    r = dvc_repo(repo)
    (r / "dvc.yaml").write_text(
        "stages:\n"
        "  build:\n"
        "    foreach: [1_000, 0x1F, 0b11, 2.5_0]\n"
        "    do:\n"
        "      cmd: echo ${item}\n"
        "      outs:\n        - out-${item}.txt\n")
    doc = read_worktree_dvcyaml(r, "dvc.yaml")
    assert set(doc.stages) == {"build@1000", "build@31", "build@3", "build@2.5"}
    assert doc.stages["build@1000"].outs == ("out-1000.txt",)
    assert our_stage_names(r) == dvc_stage_names(r)


@pytest.mark.slow
def test_python_params_file_is_read_as_dvc_reads_it(repo: Path) -> None:
    r = dvc_repo(repo)
    (r / "params.py").write_text(
        "import os\n"
        "SEED = 1_0\n"
        "MODELS = ['a', 'b']\n"
        "COMPUTED = os.getcwd()  # not a literal: DVC skips it\n"
        "class Train:\n"
        "    lr = 0.1\n"
        "    def __init__(self):\n"
        "        self.epochs = 3\n")
    (r / "dvc.yaml").write_text(
        "vars: [params.py]\n"
        "stages:\n"
        "  train:\n"
        "    foreach: ${MODELS}\n"
        "    do:\n"
        "      cmd: echo ${Train.lr} ${Train.epochs} ${SEED}\n"
        "      params: [{params.py: [Train.lr]}]\n"
        "      outs:\n        - model-${item}.bin\n")
    doc = read_worktree_dvcyaml(r, "dvc.yaml")
    assert set(doc.stages) == {"train@a", "train@b"} == dvc_stage_names(r)
    assert doc.stages["train@a"].params == (("params.py", "Train.lr"),)
    # lineage reads it too (it exited 2 on any Python params file)
    g = build_lineage(r).graph
    assert "train@a" in g and "params.py:Train.lr" in g


@pytest.mark.slow
def test_wdir_and_vars_resolve_paths_repo_relative(repo: Path) -> None:
    r = dvc_repo(repo)
    (r / "sub").mkdir()
    (r / "sub" / "cfg.yaml").write_text("dir: work\nname: m\n")
    (r / "sub" / "dvc.yaml").write_text(
        "vars: [cfg.yaml]\n"
        "stages:\n"
        "  train:\n"
        "    wdir: ${dir}\n"
        "    cmd: echo\n"
        "    outs:\n      - ${name}.bin\n"
        "    metrics:\n      - ../eval/${name}.json\n")
    doc = read_worktree_dvcyaml(r, "sub/dvc.yaml")
    st = doc.stages["train"]
    assert (st.wdir, st.outs, st.metrics) == ("sub/work", ("sub/work/m.bin", "sub/eval/m.json"),
                                              ("sub/eval/m.json",))
    assert our_stage_names(r) == dvc_stage_names(r)


@pytest.mark.slow
@pytest.mark.skipif(not PIPELINES, reason=f"corpus not found at {CORPUS}")
def test_corpus_pipelines_read_with_dvcs_stages(tmp_path: Path) -> None:
    """Every corpus pipeline: the reader's stages and their outputs are DVC's own."""
    from dvc.repo import Repo

    compared = 0
    for name in PIPELINES:
        root = tmp_path / name
        shutil.copytree(CORPUS / name, root)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        if not (root / ".dvc").is_dir():
            Repo.init(str(root))
        cwd = os.getcwd()
        os.chdir(root)
        try:
            repo = Repo(str(root))
            try:
                theirs = {}
                for s in repo.index.stages:
                    if not s.path_in_repo.endswith("dvc.yaml"):
                        continue
                    outs = {Path(os.path.relpath(o.fs_path, root)).as_posix() for o in s.outs}
                    theirs[s.addressing] = (Path(os.path.relpath(s.wdir, root)).as_posix(), outs)
            finally:
                repo.close()
        finally:
            os.chdir(cwd)
        ours = {}
        for rel in {k.partition(":")[0] if ":" in k else "dvc.yaml" for k in theirs}:
            for sname, st in read_worktree_dvcyaml(root, rel).stages.items():
                ours[sname if rel == "dvc.yaml" else f"{rel}:{sname}"] = (st.wdir or ".", set(st.outs))
        assert ours == theirs, name
        compared += len(theirs)
    assert compared > len(PIPELINES)


# --- metrics from the pipeline that makes the model ---------------------------------------

PIPELINE = """\
stages:
  prepare:
    cmd: python -c "import shutil; shutil.copy('raw.csv', 'prepared.csv')"
    deps: [raw.csv]
    outs: [prepared.csv]
  train:
    cmd: python -c "open('${paths.model}', 'w').write(open('prepared.csv').read() + str(${train.lr}))"
    deps: [prepared.csv]
    params: [train.lr]
    outs:
      - ${paths.model}
  evaluate:
    cmd: >-
      python -c "import json; n = len(open('${paths.model}').read());
      json.dump({'accuracy': round(1 - 1 / n, 4), 'n': n}, open('${paths.metrics}', 'w'))"
    deps:
      - ${paths.model}
    metrics:
      - ${paths.metrics}:
          cache: false
artifacts:
  clf:
    path: ${paths.model}
    type: model
"""


def make_pipeline(r: Path) -> None:
    mvtools(r, "init")
    (r / "models").mkdir()
    (r / "params.yaml").write_text("paths:\n  model: models/clf.txt\n  metrics: eval/metrics.json\n"
                                   "train:\n  lr: 0.5\n")
    (r / "eval").mkdir()
    (r / "dvc.yaml").write_text(PIPELINE)
    (r / "raw.csv").write_text("a,b\n1,2\n")


@pytest.mark.slow
def test_evaluate_stage_metrics_and_templated_path_registered_by_the_hook(repo: Path) -> None:
    r = repo
    make_pipeline(r)
    dvc(r, "repro", "-q")
    proc = commit_all(r, "train v1")
    assert "registered clf v0.1.0" in proc.stderr, proc.stderr
    assert "warning" not in proc.stderr, proc.stderr
    ev = ledger(r, "clf")[-1]
    assert ev["path"] == "models/clf.txt"
    assert ev["metrics"] == json.loads((r / "eval/metrics.json").read_text())
    assert ev["lineage"]["stage"] == "train"
    # retrain: a new version with the evaluate stage's new metrics
    (r / "params.yaml").write_text((r / "params.yaml").read_text().replace("lr: 0.5", "lr: 0.25"))
    dvc(r, "repro", "-q")
    commit_all(r, "train v2")
    ev2 = ledger(r, "clf")[-1]
    assert ev2["version"] == "v0.1.1" and ev2["metrics"] == json.loads((r / "eval/metrics.json").read_text())
    assert ev2["metrics"] != ev["metrics"]
    assert "clf@v0.1.1" in tags(r)
    assert our_stage_names(r) == dvc_stage_names(r) == {"prepare", "train", "evaluate"}
    doc = read_worktree_dvcyaml(r, "dvc.yaml")
    assert [s.name for s in doc.upstream("train")] == ["prepare"]
    assert [s.name for s in doc.downstream("train")] == ["evaluate"]
    assert doc.metrics_of("train") == ["eval/metrics.json"]


@pytest.mark.slow
def test_dvclive_layout_top_level_metrics(repo: Path) -> None:
    """DVCLive's layout: a model `dvc add`ed, a dvc.yaml with only top-level metrics and
    artifacts (what `Live(...).log_artifact(type="model")` writes)."""
    r = repo
    mvtools(r, "init")
    write_model(r, "models/net.pt", b"weights-1")
    dvc(r, "add", "-q", "models/net.pt")
    write_model(r, "dvclive/metrics.json", json.dumps({"train": {"loss": 0.3}, "step": 4}))
    (r / "dvc.yaml").write_text("metrics:\n- dvclive/metrics.json\n"
                                "plots:\n- dvclive/plots/metrics:\n    x: step\n"
                                "artifacts:\n  net:\n    path: models/net.pt\n    type: model\n")
    proc = commit_all(r, "train")
    assert "registered net v0.1.0" in proc.stderr, proc.stderr
    assert ledger(r, "net")[-1]["metrics"] == {"train.loss": 0.3, "step": 4}


@pytest.mark.slow
def test_dvcignore_in_a_directory_model(repo: Path) -> None:
    r = repo
    mvtools(r, "init")
    (r / ".dvcignore").write_text("# scratch files\n*.tmp\n")
    # (DVC refuses a .dvcignore inside the directory it adds; one above it applies)
    write_model(r, "models/.dvcignore", "net/cache/\n!net/keep.tmp\n")
    write_model(r, "models/net/weights.bin", b"w" * 100)
    write_model(r, "models/net/config.json", "{}")
    write_model(r, "models/net/cache/x.bin", "scratch")
    write_model(r, "models/net/keep.tmp", "kept: re-included")
    write_model(r, "models/net/scratch.tmp", "ignored")
    (r / "mvtools.yaml").write_text((r / "mvtools.yaml").read_text().replace(
        "models: []", "models:\n  - name: net\n    path: models/net\n    metrics: []"))
    dvc(r, "add", "-q", "models/net")
    proc = commit_all(r, "net")
    assert "registered net v0.1.0" in proc.stderr, proc.stderr
    ev = ledger(r, "net")[-1]
    rec = yaml.safe_load((r / "models/net.dvc").read_text())["outs"][0]
    assert ev["md5"] == rec["md5"] and ev["size"] == rec["size"]
    assert rec["nfiles"] == 3  # weights.bin, config.json, keep.tmp


# --- declarations: name-only entries, no metrics -----------------------------------------

def test_name_only_entry_adds_settings_to_a_dvc_yaml_model(repo: Path) -> None:
    r = repo
    (r / "params.yaml").write_text("model_path: models/clf.pkl\n")
    (r / "dvc.yaml").write_text("artifacts:\n  clf:\n    path: ${model_path}\n    type: model\n    desc: d\n")
    (r / "mvtools.yaml").write_text("models:\n  - name: clf\n    metrics: [report.json]\n    bump: minor\n")
    m = load_config(r).model("clf")
    assert (m.path, m.metrics, m.bump, m.description, m.source) == (
        "models/clf.pkl", ["report.json"], "minor", "d", "dvc.yaml")
    # the same path again is fine; another one is refused naming file and key
    (r / "mvtools.yaml").write_text("models:\n  - name: clf\n    path: models/clf.pkl\n")
    assert load_config(r).model("clf").path == "models/clf.pkl"
    (r / "mvtools.yaml").write_text("models:\n  - name: clf\n    path: models/other.pkl\n")
    assert_refused(r, "show", want="mvtools: error: mvtools.yaml: models[0].path: model 'clf' is declared "
                   "in dvc.yaml artifacts with path models/clf.pkl, not models/other.pkl")
    # a name-only entry nothing else declares
    (r / "mvtools.yaml").write_text("models:\n  - name: ghost\n    bump: major\n")
    assert_refused(r, "show", want="mvtools.yaml: models[0]: model 'ghost' needs a 'path'")


def test_registering_without_metrics_warns(repo: Path) -> None:
    r = repo
    mvtools(r, "init")
    write_model(r, "models/m.bin", b"bytes")
    proc = mvtools(r, "register", "m", "--path", "models/m.bin")
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert warnings == ["mvtools: warning: model m: no metrics found (no metrics file declared by "
                        "its pipeline or in mvtools.yaml)"], proc.stderr
    assert ledger(r, "m")[-1]["metrics"] is None


def test_hook_path_does_not_import_dvc_or_networkx(repo: Path) -> None:
    code = ("import sys; from mvtools import hooks, registering, dvcyaml; "
            "print(sorted(m for m in ('dvc', 'networkx', 'pathspec') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- the file formats, against DVC's own parsers (in process) ---------------------------

SCALARS = ["1_000", "1_0.5", "0b101", "-0b11", "+0x1F", "0x_1F", "0o17", "017", "1e3", "1.5e-3", ".5",
           "-.5e+3", "+12", "_1", "1_", "0_", "1._5", "1__0", "1:30", "yes", "no", "on", "True", "null",
           "~", "1e3_", "12e3.0", "09.5", "0777"]


def test_yaml12_scalars_as_dvc_reads_them() -> None:
    from dvc.utils.serialize import parse_yaml

    from mvtools.yamlio import load_yaml

    for v in SCALARS:
        theirs, ours = parse_yaml(f"k: {v}\n", "x")["k"], load_yaml(f"k: {v}\n", "x")["k"]
        assert (ours, type(ours)) == (theirs, type(theirs)), v


def test_python_params_as_dvc_parses_them() -> None:
    from dvc.utils.serialize import parse_py

    from mvtools.paramsfile import parse_py as ours

    text = ("import os\nA = 1\nB: float = 2.5\nC = {'x': [1, 2], 'y': None}\nD = (1, 'a')\nE = {1, 2}\n"
            "F = os.sep\nG, H = 1, 2\nself.z = 3\nclass K:\n    lr = 1e-3\n    def __init__(self):\n"
            "        self.epochs = 4\n        other = 5\n    class Inner:\n        deep = True\n")
    assert ours(text.encode(), "p.py") == parse_py(text, "p.py")
