"""mvtools.lineage: parsing, typed graph, DVC's errors, queries, exports, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import networkx as nx
import pytest

from mvtools.errors import ConfigError, NotFound, UsageError
from mvtools.lineage import build_lineage, stage_edges, stage_for_output, to_dot, to_mermaid

GIT_IDENT = {
    "GIT_AUTHOR_NAME": "Test User", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User", "GIT_COMMITTER_EMAIL": "test@example.com",
}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_IDENT, DVC_NO_ANALYTICS="1", **extra)
    return env


def make(root: Path, files: dict[str, str], git: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    if git and not (root / ".git").exists():
        subprocess.run(["git", "init", "-q"], cwd=root, env=clean_env(), check=True)
    return root


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mvtools.lineage", *args], cwd=root,
                          capture_output=True, text=True, env=clean_env(
                              PYTHONPATH=str(Path(__file__).resolve().parents[1])))


def types(g: nx.DiGraph) -> dict[str, str]:
    return {n: d["type"] for n, d in g.nodes(data=True)}


BASIC = {
    "params.yaml": """
        prepare: {split: 0.2, seed: 1e-3}
        train: {epochs: 3, lr: 0.1, flag: no}
    """,
    "dvc.yaml": """
        stages:
          prepare:
            cmd: python src/prepare.py data/raw.csv
            deps: [src/prepare.py, data/raw.csv]
            params: [prepare.split, prepare.seed]
            outs: [data/prepared]
          train:
            cmd:
              - python src/train.py --epochs ${train.epochs}
              - echo done
            deps: [src/train.py, data/prepared/train.csv]
            params: [train.lr]
            outs:
              - model.pkl:
                  cache: false
                  persist: true
                  push: false
                  remote: store
                  desc: the model
            metrics:
              - metrics.json:
                  cache: false
            plots:
              - plots/roc.csv:
                  x: fpr
                  y: tpr
          evaluate:
            cmd: python src/evaluate.py
            deps: [model.pkl, metrics.json, plots/]
            outs: [report.md]
        artifacts:
          clf:
            path: model.pkl
            type: model
          raw:
            path: data/raw.csv
            type: dataset
        metrics: [metrics.json]
        plots:
          - plots/roc.csv
          - Precision:
              x: {plots/prc.json: recall}
              y: {plots/prc.json: precision}
        params: [params.yaml]
    """,
    "data/raw.csv.dvc": """
        outs:
        - md5: 0123456789abcdef0123456789abcdef
          size: 10
          hash: md5
          path: raw.csv
    """,
}


@pytest.fixture
def basic(tmp_path: Path) -> Path:
    return make(tmp_path / "basic", BASIC)


# --------------------------------------------------------------------------- point 1 & 2


def test_basic_graph_types_and_edges(basic: Path) -> None:
    lin = build_lineage(basic)
    g = lin.graph
    assert isinstance(g, nx.DiGraph)
    t = types(g)
    assert t["prepare"] == t["train"] == t["evaluate"] == t["data/raw.csv.dvc"] == "stage"
    assert t["src/prepare.py"] == "code"
    assert t["data/raw.csv"] == "data"
    assert t["data/prepared"] == "data"
    assert t["model.pkl"] == "model"  # declared as a model artifact
    assert t["metrics.json"] == "metrics"
    assert t["plots/roc.csv"] == "plots"
    assert t["params.yaml:train.lr"] == t["params.yaml"] == "params"
    # edges run with the data
    assert g.has_edge("data/raw.csv.dvc", "data/raw.csv")
    assert g.has_edge("data/raw.csv", "prepare")
    assert g.has_edge("prepare", "data/prepared")
    assert g.has_edge("data/prepared", "data/prepared/train.csv")  # dep inside an output dir
    assert g.has_edge("data/prepared/train.csv", "train")
    assert g.has_edge("params.yaml", "params.yaml:train.lr")
    assert g.has_edge("params.yaml:train.lr", "train")
    assert g.has_edge("plots/roc.csv", "plots")  # a dep directory holding an output
    assert g.has_edge("metrics.json", "evaluate")  # metrics outputs connect stages
    assert stage_edges(g) == {("data/raw.csv.dvc", "prepare"), ("prepare", "train"),
                              ("train", "evaluate")}
    # node data: stage file, wdir, cmd; output flags; params values with YAML 1.2 typing
    assert g.nodes["train"]["file"] == "dvc.yaml"
    assert g.nodes["train"]["wdir"] == "."
    assert g.nodes["train"]["cmd"] == ["python src/train.py --epochs 3", "echo done"]
    m = g.nodes["model.pkl"]
    assert (m["cache"], m["persist"], m["push"], m["remote"], m["desc"]) == (
        False, True, False, "store", "the model")
    assert m["stage"] == "train" and m["artifact"] == "clf"
    assert g.nodes["params.yaml:prepare.seed"]["value"] == 0.001
    assert g.nodes["data/raw.csv"].get("artifact") == "raw"
    # params read only through ${} in cmd (DVC records none of them)
    assert g.nodes["params.yaml:train.epochs"]["value"] == 3
    assert g.edges["params.yaml:train.epochs", "train"]["interpolated"] is True
    # top-level metrics / plots (including files named in a plot's x/y) / params
    assert g.nodes["metrics.json"]["top_level"] is True
    assert t["plots/prc.json"] == "plots" and g.nodes["plots/prc.json"]["top_level"]
    assert g.nodes["params.yaml"]["top_level"] is True


PARAMS_FORMS = {
    "params.yaml": "a: {b: 1}\nsection: {x: 1, y: 2}\n",
    "conf/other.yaml": "k: on\nj: 010\n",
    "conf/whole.json": '{"z": 1}',
    "dvc.yaml": """
        stages:
          s:
            cmd: run
            params:
              - a.b
              - section
              - conf/other.yaml: [k, j]
              - conf/whole.json:
            outs: [o]
    """,
}


def test_params_forms_and_values(tmp_path: Path) -> None:
    root = make(tmp_path / "p", PARAMS_FORMS)
    g = build_lineage(root).graph
    assert g.nodes["params.yaml:section"]["value"] == {"x": 1, "y": 2}
    assert g.nodes["conf/other.yaml:k"]["value"] == "on"  # YAML 1.2: a string
    assert g.nodes["conf/other.yaml:j"]["value"] == 10  # YAML 1.2: not octal
    assert g.has_edge("conf/whole.json", "s")  # a whole file
    assert g.nodes["conf/whole.json"]["type"] == "params"
    assert {p for p in g.predecessors("s")} == {
        "params.yaml:a.b", "params.yaml:section", "conf/other.yaml:k", "conf/other.yaml:j",
        "conf/whole.json"}


VARS = {
    "params.yaml": "base: {dir: data}\nfreeze: true\n",
    "vars/extra.yaml": "extra: {n: 7}\nunused: 1\n",
    "vars/sel.yaml": "picked: {name: p}\nnot_picked: 2\n",
    "dvc.yaml": r"""
        vars:
          - vars/extra.yaml
          - vars/sel.yaml:picked
          - inline: {size: 3, flag: false, opts: {lr: 0.5, tag: a b, on: true, no: false}}
        stages:
          s:
            vars:
              - local: {suffix: csv}
            cmd: echo \${literal} ${extra.n} ${inline.flag} ${picked.name} ${inline.opts}
            deps: ["${base.dir}/in.${local.suffix}"]
            outs: ["${base.dir}/out-${inline.size}.txt"]
            meta: {frozen: "${freeze}", size: "${inline.size}", note: "n=${inline.size}"}
            desc: ${inline.size}
    """,
}


def test_vars_interpolation_escape_and_typing(tmp_path: Path) -> None:
    root = make(tmp_path / "v", VARS)
    g = build_lineage(root).graph
    s = g.nodes["s"]
    assert s["cmd"] == "echo ${literal} 7 false p --lr 0.5 --tag 'a b' --on"
    assert s["meta"] == {"frozen": True, "size": 3, "note": "n=3"}  # whole values keep types
    assert s["desc"] == 3
    assert g.has_edge("data/in.csv", "s") and g.has_edge("s", "data/out-3.txt")
    preds = set(g.predecessors("s"))
    assert {"vars/extra.yaml:extra.n", "vars/sel.yaml:picked.name",
            "params.yaml:base.dir", "params.yaml:freeze"} <= preds
    assert not any(p.startswith("inline") for p in preds)  # inline vars are not params


FOREACH_MATRIX = {
    "pipe/params.yaml": "models: [lin, tree]\nsizes: {small: 1, big: 9}\nflags: [true, false]\n",
    "pipe/dvc.yaml": """
        stages:
          plain:
            foreach: [a, b]
            do:
              cmd: echo ${item}
              outs: ["out/${item}.txt"]
          records:
            foreach:
              - {name: x, n: 1}
              - {name: y, n: 2}
            do:
              cmd: echo ${item.n}
              outs: ["rec/${item.name}"]
          sized:
            foreach: ${sizes}
            do:
              cmd: echo ${key} ${item}
              wdir: ..
              outs: ["sized/${key}"]
          ref:
            foreach: ${models}
            do:
              cmd: echo ${item}
              outs: ["../ref/${item}"]
          bools:
            foreach: ${flags}
            do:
              cmd: echo ${item}
              outs: ["bools/${item}"]
          grid:
            matrix:
              model: ${models}
              cfg: [{lr: 1}, {lr: 2}]
              seed: [1, 2]
            cmd: echo ${item.model} ${item.cfg.lr} ${key}
            deps: [out/a.txt]
            outs: ["grid/${key}"]
    """,
}


def test_foreach_forms_matrix_and_wdir(tmp_path: Path) -> None:
    root = make(tmp_path / "f", FOREACH_MATRIX)
    g = build_lineage(root).graph
    stages = {n for n, d in g.nodes(data=True) if d["type"] == "stage"}
    p = "pipe/dvc.yaml:"
    assert {p + "plain@a", p + "plain@b", p + "records@0", p + "records@1",
            p + "sized@small", p + "sized@big", p + "ref@lin", p + "ref@tree",
            p + "bools@True", p + "bools@False"} <= stages
    assert p + "grid@lin-cfg0-1" in stages and p + "grid@tree-cfg1-2" in stages
    assert len([s for s in stages if "grid@" in s]) == 8
    assert g.nodes[p + "sized@big"]["wdir"] == "."  # wdir: .. from pipe/
    assert g.has_edge(p + "sized@big", "sized/big")
    assert g.has_edge(p + "ref@lin", "ref/lin")  # ../ path
    assert g.has_edge(p + "records@1", "pipe/rec/y")
    assert g.nodes[p + "grid@lin-cfg1-2"]["cmd"] == "echo lin 2 lin-cfg1-2"
    assert g.nodes[p + "grid@lin-cfg1-2"]["group"] == p + "grid"
    assert g.has_edge("pipe/out/a.txt", p + "grid@tree-cfg0-1")
    # the foreach/matrix data read from params is a params dependency of every member
    assert g.has_edge("pipe/params.yaml:models", p + "ref@lin")


DVC_FILES = {
    "data/file.csv.dvc": "outs:\n- md5: aa\n  path: file.csv\n",
    "data/images.dvc": "outs:\n- md5: bb.dir\n  path: images\n  nfiles: 2\n",
    "ext/imp.dvc": """
        md5: cc
        frozen: true
        deps:
        - path: data/data.xml
          repo:
            url: https://github.com/iterative/dataset-registry
            rev_lock: f31f5c4cdae787b4bdeb97a717687d44667d9e62
        outs:
        - md5: dd
          path: data.xml
    """,
    "ext/url.dvc": """
        deps:
        - path: https://example.com/x.zip
        outs:
        - md5: ee
          path: x.zip
    """,
    "dvc.yaml": """
        stages:
          use:
            cmd: run
            deps: [data/images/cat.png, data/file.csv, ext/data.xml, ext/x.zip]
    """,
}


def test_dvc_files_plain_directory_and_imports(tmp_path: Path) -> None:
    root = make(tmp_path / "d", DVC_FILES)
    g = build_lineage(root).graph
    assert g.nodes["data/images.dvc"]["type"] == "stage"
    assert g.has_edge("data/images.dvc", "data/images")
    assert g.has_edge("data/images", "data/images/cat.png")
    assert g.nodes["ext/imp.dvc"]["frozen"] is True
    assert g.nodes["ext/imp.dvc"]["import"] is True
    url = "https://github.com/iterative/dataset-registry:data/data.xml"
    assert g.nodes[url]["external"] is True and g.has_edge(url, "ext/imp.dvc")
    assert g.nodes["https://example.com/x.zip"]["external"] is True
    assert stage_edges(g) == {("data/images.dvc", "use"), ("data/file.csv.dvc", "use"),
                              ("ext/imp.dvc", "use"), ("ext/url.dvc", "use")}


SUBDIRS = {
    "sub/dvc.yaml": """
        stages:
          train:
            cmd: train
            outs: [models/]
        artifacts:
          net: {path: models/net.pt, type: model}
    """,
    "dvc.yaml": """
        stages:
          serve:
            cmd: serve
            deps: [sub/models/net.pt, other.bin]
          other:
            cmd: make
            outs: [other.bin]
    """,
    "mvtools.yaml": "models:\n  - name: other\n    path: other.bin\n",
}


def test_subdir_addressing_models_config_and_stage_for_output(tmp_path: Path) -> None:
    root = make(tmp_path / "s", SUBDIRS)
    lin = build_lineage(root)
    g = lin.graph
    assert "sub/dvc.yaml:train" in g
    assert g.nodes["sub/models/net.pt"]["type"] == "model"
    assert g.nodes["sub/models/net.pt"]["artifact"] == "sub:net"
    assert g.nodes["other.bin"]["type"] == "model"  # from mvtools.yaml
    assert stage_for_output(lin, "sub/models/net.pt") == "sub/dvc.yaml:train"
    assert stage_for_output(lin, "sub/models/") == "sub/dvc.yaml:train"
    assert stage_for_output(lin, "other.bin") == "other"
    assert stage_for_output(lin, "nothing.txt") is None


SAME_NAME = {"dvc.yaml": """
    stages:
      data:
        cmd: fetch
        outs: [data]
      use:
        cmd: use
        deps: [data]
"""}


def test_stage_and_path_with_the_same_name(tmp_path: Path) -> None:
    root = make(tmp_path / "n", SAME_NAME)
    lin = build_lineage(root)
    assert lin.graph.nodes["data"]["type"] == "stage"
    assert lin.graph.nodes["./data"]["path"] == "data"
    assert stage_edges(lin.graph) == {("data", "use")}


EDGE_CASES = {
    "params.yaml": "k: 5\n",
    "conf/local.yaml": "lk: 1\n",
    "dvc.yaml": """
        stages:
          gen:
            cmd: gen
            outs: [conf/params.yaml, out/]
          use:
            cmd: use ${k} ${lk}
            wdir: conf
            vars: [local.yaml]
            params: [alpha]
            deps: [../out/part.csv]
            metrics: [../m.json]
          last:
            cmd: last
            deps: [m.json]
    """,
}


def test_generated_params_file_wdir_and_stage_vars(tmp_path: Path) -> None:
    root = make(tmp_path / "e", EDGE_CASES)
    g = build_lineage(root).graph
    assert g.nodes["use"]["cmd"] == "use 5 1"
    assert g.nodes["use"]["wdir"] == "conf"
    assert g.has_edge("conf/params.yaml", "conf/params.yaml:alpha")
    assert g.has_edge("conf/local.yaml:lk", "use")
    assert g.has_edge("out", "out/part.csv")
    assert stage_edges(g) == {("gen", "use"), ("use", "last")}


NO_GIT = {
    "dvc.yaml": "stages:\n  a:\n    cmd: x\n    outs: [o]\n",
    "empty/dvc.yaml": "stages: {}\n",
    "blank/dvc.yaml": "",
}


def test_no_git_fallback_and_empty_files(tmp_path: Path) -> None:
    root = make(tmp_path / "ng", NO_GIT, git=False)
    assert set(build_lineage(root).graph) == {"a", "o"}


GITIGNORED = {
    ".gitignore": "ignored/\n",
    "dvc.yaml": "stages:\n  a:\n    cmd: x\n",
    "ignored/dvc.yaml": "stages:\n  b:\n    cmd: y\n",
}


def test_gitignored_dvc_yaml_is_skipped(tmp_path: Path) -> None:
    root = make(tmp_path / "gi", GITIGNORED)
    assert set(build_lineage(root).graph) == {"a"}


# --------------------------------------------------------------------------- point 3


ERRORS = {
    "cycle": ({"dvc.yaml": """
        stages:
          a: {cmd: a, deps: [y], outs: [x]}
          b: {cmd: b, deps: [x], outs: [y]}
    """}, "cycle: 'a' -> 'b' -> 'a'"),
    "duplicate": ({"dvc.yaml": """
        stages:
          a: {cmd: a, outs: [x]}
          b: {cmd: b, outs: [x]}
    """}, "output 'x' is defined twice"),
    "overlap": ({"dvc.yaml": """
        stages:
          a: {cmd: a, outs: [dir]}
          b: {cmd: b, outs: [dir/file]}
    """}, "outputs 'dir' (stage 'a') and 'dir/file' (stage 'b') overlap"),
    "inside_output": ({
        "a/dvc.yaml": "stages:\n  a:\n    cmd: a\n    outs: [../b]\n",
        "b/dvc.yaml": "stages:\n  b:\n    cmd: b\n",
    }, "'b/dvc.yaml' is inside output 'b' of stage 'a/dvc.yaml:a'"),
    "interpolation": ({
        "params.yaml": "train: {lr: 1}\n",
        "dvc.yaml": "stages:\n  train:\n    cmd: python t.py ${train.epochs}\n",
    }, "dvc.yaml: stage 'train', key 'cmd': could not find 'train.epochs'"),
    "malformed": ({"dvc.yaml": "stages:\n  a: [unclosed\n"}, "dvc.yaml: malformed YAML"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_are_one_line_exit_2(tmp_path: Path, case: str) -> None:
    files, expected = ERRORS[case]
    root = make(tmp_path / case, files)
    with pytest.raises(ConfigError) as info:
        build_lineage(root)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)
    proc = cli(root, "--json")
    assert proc.returncode == 2
    assert proc.stderr.startswith("mvtools: error: ") and proc.stderr.count("\n") == 1
    assert proc.stdout == ""


def test_more_interpolation_errors(tmp_path: Path) -> None:
    cases = {
        "list": ("l: [1, 2]\n", "stages:\n  s:\n    cmd: echo ${l}\n",
                 "cannot interpolate data of type 'list'"),
        "syntax": ("a: 1\n", "stages:\n  s:\n    cmd: echo ${a..b}\n", "invalid expression"),
        "vars": ("", "vars: [missing.yaml]\nstages: {}\n", "vars file 'missing.yaml' does not exist"),
        "redefine": ("a: 1\n", "vars: [{a: 2}]\nstages: {}\n", "cannot redefine 'a'"),
        "foreach": ("n: 3\n", "stages:\n  s:\n    foreach: ${n}\n    do: {cmd: x}\n",
                    "expected list/dictionary"),
        "outside": ("", "vars: [../secret.yaml]\nstages: {}\n", "outside the repository"),
        "nocmd": ("", "stages:\n  s:\n    deps: [a]\n", "missing 'cmd'"),
        "unknown": ("", "stages:\n  s:\n    cmd: x\n    dep: [a]\n", "unknown key 'dep'"),
    }
    for name, (params, dvcyaml, expected) in cases.items():
        files = {"dvc.yaml": dvcyaml}
        if params:
            files["params.yaml"] = params
        root = make(tmp_path / name, files, git=False)
        with pytest.raises(ConfigError, match=expected):
            build_lineage(root)


OUTPUT_WALK = {
    "dvc.yaml": "stages:\n  a:\n    cmd: a\n    outs: [gen]\n",
    "gen/dvc.yaml": "stages:\n  b:\n    cmd: b\n",
}


def test_dvc_yaml_inside_an_output_declared_above_is_not_collected(tmp_path: Path) -> None:
    # DVC's walk never enters an output directory declared from a parent directory
    root = make(tmp_path / "w", OUTPUT_WALK)
    assert {n for n, d in build_lineage(root).graph.nodes(data=True)
            if d["type"] == "stage"} == {"a"}


# --------------------------------------------------------------------------- point 4


def test_queries_impact_and_collapse(basic: Path) -> None:
    lin = build_lineage(basic)
    up = lin.upstream("model.pkl")
    assert {"train", "prepare", "data/raw.csv", "data/raw.csv.dvc", "params.yaml:train.lr"} <= set(up)
    assert "evaluate" not in up
    down = lin.downstream("data/prepared/")  # a path as the user types it
    assert set(down) >= {"train", "evaluate", "model.pkl", "report.md"}
    assert "prepare" not in down
    sub = lin.subgraph("train")
    assert "prepare" in sub and "evaluate" in sub
    with pytest.raises(NotFound):
        lin.upstream("nope")
    imp = lin.impact("data/raw.csv")
    assert imp == {"path": "data/raw.csv", "stages": ["prepare", "train", "evaluate"],
                   "models": [{"name": "clf", "path": "model.pkl", "versions": []}]}
    assert lin.impact("params.yaml")["stages"] == ["prepare", "train", "evaluate"]
    assert lin.impact("params.yaml:train.lr")["stages"] == ["train", "evaluate"]
    assert lin.impact("data/prepared/train.csv")["stages"] == ["train", "evaluate"]
    assert lin.impact("src/evaluate.py") == {"path": "src/evaluate.py", "stages": [],
                                             "models": []}


COLLAPSE = {
    "params.yaml": "years: [2020, 2021]\nstates: ['01', '02', '03']\n",
    "dvc.yaml": """
        stages:
          fetch:
            matrix: {year: '${years}', state: '${states}'}
            cmd: fetch ${item.year} ${item.state}
            outs: ["raw/${item.year}/${item.state}.csv"]
          build:
            foreach: ${years}
            do:
              cmd: build ${item}
              deps: ["raw/${item}/"]
              outs: ["out/${item}.parquet"]
          report:
            cmd: report
            deps: [out/]
            outs: [report.html]
    """,
}


def test_collapse_folds_expansions(tmp_path: Path) -> None:
    root = make(tmp_path / "c", COLLAPSE)
    lin = build_lineage(root)
    assert len([n for n, d in lin.graph.nodes(data=True) if d["type"] == "stage"]) == 9
    col = lin.collapse()
    g = col.graph
    stages = {n for n, d in g.nodes(data=True) if d["type"] == "stage"}
    assert stages == {"fetch", "build", "report"}
    assert g.nodes["fetch"]["members"] == 6
    assert "raw/${item.year}/${item.state}.csv" in g
    assert g.has_edge("fetch", "raw/${item.year}/${item.state}.csv")
    assert stage_edges(g) == {("fetch", "build"), ("build", "report")}
    assert nx.is_directed_acyclic_graph(g)


def test_exports(basic: Path) -> None:
    lin = build_lineage(basic)
    doc = json.loads(lin.to_json())
    assert set(doc) >= {"nodes", "edges"}
    assert all("id" in n and n["type"] in {"stage", "data", "code", "params", "model",
                                           "metrics", "plots"} for n in doc["nodes"])
    assert {"source": "train", "target": "model.pkl", "kind": "out"} in doc["edges"]
    again = nx.node_link_graph(doc, edges="edges")
    assert set(again.edges) == set(lin.graph.edges)
    dot = to_dot(lin.graph)
    assert dot.startswith("digraph lineage {") and '"train" -> "model.pkl";' in dot
    mer = to_mermaid(lin.graph)
    assert mer.startswith("flowchart LR") and "-->" in mer and "-.->" in mer
    text = lin.to_text()
    assert text.index("stage prepare") < text.index("stage train") < text.index("stage evaluate")
    assert "model.pkl (model clf)" in text.split("stage train")[1].split("stage evaluate")[0]


@pytest.mark.slow
def test_cli_formats_and_queries(basic: Path) -> None:
    proc = cli(basic, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(build_lineage(basic).to_json())
    proc = cli(basic, "--format", "json", "model.pkl", "--upstream")
    ids = {n["id"] for n in json.loads(proc.stdout)["nodes"]}
    assert "prepare" in ids and "evaluate" not in ids
    proc = cli(basic / "data", "prepared", "--downstream", "--format", "text")
    assert proc.returncode == 0 and "stage evaluate" in proc.stdout
    assert "stage prepare" not in proc.stdout
    proc = cli(basic, "--impact", "data/raw.csv", "--json")
    assert json.loads(proc.stdout) == {"path": "data/raw.csv",
                                       "stages": ["prepare", "train", "evaluate"],
                                       "models": [{"name": "clf", "path": "model.pkl",
                                                   "versions": []}]}
    proc = cli(basic, "--impact", "data/raw.csv")
    assert "affects 3 stage(s) and 1 model(s)" in proc.stdout
    for fmt, head in (("dot", "digraph"), ("mermaid", "flowchart LR"), ("text", "stage")):
        proc = cli(basic, "--format", fmt, "--collapse")
        assert proc.returncode == 0 and proc.stdout.startswith(head), proc.stderr
    for args, msg in ((["--model", "clf@v1"], "invalid version"),
                      (["--diff", "a", "b"], "needs --model"),
                      (["--upstream"], "need a NODE"),
                      (["nope"], "no node 'nope'"),
                      (["--format", "yaml"], "invalid choice")):
        proc = cli(basic, *args)
        assert proc.returncode == 2 and msg in proc.stderr, (args, proc.stderr)


def test_svg_through_graphviz_or_install_hint(basic: Path, tmp_path: Path) -> None:
    import shutil

    proc = subprocess.run(
        [sys.executable, "-m", "mvtools.lineage", "--format", "svg"], cwd=basic,
        capture_output=True, text=True,
        env=clean_env(PATH=str(tmp_path / "nothing"),
                      PYTHONPATH=str(Path(__file__).resolve().parents[1])))
    assert proc.returncode == 2
    assert "install Graphviz" in proc.stderr
    if shutil.which("dot"):
        proc = cli(basic, "--format", "svg")
        assert proc.returncode == 0 and "<svg" in proc.stdout


def test_main_cli_wiring(basic: Path) -> None:
    import argparse

    from mvtools.lineage import cli as lineage_cli

    p = argparse.ArgumentParser()
    p.add_argument("-C", dest="repo", default=".")
    sub = p.add_subparsers(dest="command")
    lineage_cli.add_parser(sub)
    args = p.parse_args(["-C", str(basic), "lineage", "--model", "x"])
    with pytest.raises(UsageError, match="unknown model"):
        args.func(args)
