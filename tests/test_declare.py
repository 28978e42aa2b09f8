"""mvtools.declare: `register --path` declares a new model in dvc.yaml `artifacts:`, DVC's own
model-registry declaration, keeping every other line of the file; `dvc artifacts get` then
fetches the registered versions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import (BIN, CORPUS, assert_refused, dvc, git, mvtools, set_up_mvtools, tags,
                      write_model)
from mvtools.declare import declare_artifact
from mvtools.errors import ConfigError, UsageError

PIPELINE = """\
# the pipeline: comments, odd spacing and quoting stay as written
stages:
    prepare:   # makes the data
        cmd: python prepare.py --seed  7
        deps:
          - prepare.py
        outs:
          - 'data/prepared'
"""
ENTRY = "artifacts:\n    {name}:\n        path: {path}\n        type: model\n"


def declared(r: Path, rel: str = "dvc.yaml") -> dict:
    return yaml.safe_load((r / rel).read_text())["artifacts"]


@pytest.mark.slow
def test_register_path_declares_in_dvc_yaml_and_dvc_artifacts_get_fetches_it(
        repo: Path, tmp_path: Path) -> None:
    r = set_up_mvtools(repo, "models: []")
    (r / "dvc.yaml").write_text(PIPELINE)
    store = tmp_path / "dvc-store"
    store.mkdir()
    dvc(r, "remote", "add", "-d", "store", str(store))
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "pipeline and remote")
    config_before = (r / "mvtools.yaml").read_text()

    write_model(r, "models/clf.pkl", b"clf version one")
    dvc(r, "add", "-q", "models/clf.pkl")
    out = mvtools(r, "register", "clf", "--path", "models/clf.pkl").stdout
    assert "registered clf v0.1.0" in out
    # one entry added at the end, every line of the file as it was
    assert (r / "dvc.yaml").read_text() == PIPELINE + ENTRY.format(name="clf", path="models/clf.pkl")
    assert (r / "mvtools.yaml").read_text() == config_before  # mvtools-only settings stay there
    # the declaration, the .dvc file, dvc add's .gitignore and the ledger committed
    assert git(r, "status", "--porcelain").stdout == ""
    assert "dvc.yaml" in git(r, "show", "--name-only", "--format=", "HEAD").stdout.split()

    write_model(r, "models/clf.pkl", b"clf version two")
    dvc(r, "add", "-q", "models/clf.pkl")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "retrain")  # the hook reads the dvc.yaml declaration
    assert {"clf@v0.1.0", "clf@v0.1.1"} <= set(tags(r))
    dvc(r, "push", "-q")

    # DVC's own model registry reads the declaration and mvtools' tags
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for version, content in (("v0.1.0", b"clf version one"), ("v0.1.1", b"clf version two")):
        dest = elsewhere / f"clf-{version}.pkl"
        proc = subprocess.run([str(BIN / "dvc"), "artifacts", "get", str(r), "clf", "--rev", version,
                               "-o", str(dest)], cwd=elsewhere, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert dest.read_bytes() == content
    # and mvtools lists it as any other model
    assert "clf" in mvtools(r, "show").stdout


@pytest.mark.slow
def test_register_path_of_a_folder_name_declares_in_that_folders_dvc_yaml(repo: Path) -> None:
    r = set_up_mvtools(repo, "models: []")
    write_model(r, "sub/models/enc.bin", b"enc")
    (r / "sub" / "dvc.yaml").write_text("# sub pipeline\nstages: {}\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "sub")
    mvtools(r, "register", "sub:enc", "--path", "sub/models/enc.bin")
    assert (r / "sub" / "dvc.yaml").read_text() == (
        "# sub pipeline\nstages: {}\nartifacts:\n  enc:\n    path: models/enc.bin\n    type: model\n")
    assert not (r / "dvc.yaml").exists()
    assert "sub=enc@v0.1.0" in tags(r)
    # a path outside the folder cannot be declared there: refused, nothing written
    write_model(r, "other.bin", b"o")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "other")
    assert_refused(r, "register", "sub:other", "--path", "other.bin", want="outside sub/")


def test_register_path_refuses_what_it_cannot_declare(repo: Path) -> None:
    r = set_up_mvtools(repo, "models: []")
    write_model(r, "models/a.bin", b"a")
    (r / "dvc.yaml").write_text("artifacts:\n  a:\n    path: data/a.csv\n    type: dataset\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "a dataset named a")
    assert_refused(r, "register", "a", "--path", "models/a.bin",
                   want="dvc.yaml: artifact 'a' is declared already (type dataset)")
    (r / "dvc.yaml").write_text("artifacts: [a, b]\n")  # (the hooks refuse to commit it)
    assert_refused(r, "register", "b", "--path", "models/a.bin",
                   want="dvc.yaml: artifacts must be a mapping")


SHAPES = {
    # name -> (dvc.yaml text, expected text after declaring clf at models/clf.pkl)
    "no file": ("", "artifacts:\n  clf:\n    path: models/clf.pkl\n    type: model\n"),
    "comments only": ("# nothing yet\n",
                      "# nothing yet\nartifacts:\n  clf:\n    path: models/clf.pkl\n    type: model\n"),
    "no final newline": ("stages:\n  a:\n    cmd: x",
                         "stages:\n  a:\n    cmd: x\nartifacts:\n  clf:\n    path: models/clf.pkl\n"
                         "    type: model\n"),
    "existing block, then a comment and a key": (
        "artifacts:\n    old:   # kept\n        path: o.pkl\n\n# plots below\nplots: [p.csv]\n",
        "artifacts:\n    old:   # kept\n        path: o.pkl\n    clf:\n        path: models/clf.pkl\n"
        "        type: model\n\n# plots below\nplots: [p.csv]\n"),
    "empty key": ("artifacts:\nstages: {}\n",
                  "artifacts:\n  clf:\n    path: models/clf.pkl\n    type: model\nstages: {}\n"),
    "windows line ends": ("stages:\r\n  a:\r\n    cmd: x\r\n",
                          "stages:\r\n  a:\r\n    cmd: x\r\nartifacts:\r\n  clf:\r\n"
                          "    path: models/clf.pkl\r\n    type: model\r\n"),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_declaration_keeps_every_line(tmp_path: Path, shape: str) -> None:
    text, want = SHAPES[shape]
    if text:
        (tmp_path / "dvc.yaml").write_bytes(text.encode())
    rel, new = declare_artifact(tmp_path, "clf", "models/clf.pkl")
    assert rel == "dvc.yaml" and new.decode() == want


def test_flow_style_artifacts_take_the_entry_through_the_round_trip_writer(tmp_path: Path) -> None:
    (tmp_path / "dvc.yaml").write_text("stages: {}  # none\nartifacts: {old: {path: o.pkl}}\n")
    new = declare_artifact(tmp_path, "clf", "models/clf.pkl")[1].decode()
    assert new.startswith("stages: {}  # none\n")
    assert yaml.safe_load(new)["artifacts"] == {"old": {"path": "o.pkl"},
                                                "clf": {"path": "models/clf.pkl", "type": "model"}}


def test_odd_names_and_paths_are_quoted(tmp_path: Path) -> None:
    new = declare_artifact(tmp_path, "123", "models/a b #1.pkl")[1].decode()
    assert yaml.safe_load(new)["artifacts"] == {"123": {"path": "models/a b #1.pkl", "type": "model"}}


def test_malformed_dvc_yaml_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "dvc.yaml").write_text("stages: [\n")
    with pytest.raises(ConfigError, match="dvc.yaml: malformed YAML"):
        declare_artifact(tmp_path, "clf", "m.pkl")
    (tmp_path / "dvc.yaml").write_text("- a\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        declare_artifact(tmp_path, "clf", "m.pkl")
    with pytest.raises(UsageError, match="outside sub/"):
        declare_artifact(tmp_path, "sub:clf", "m.pkl")


CORPUS_FILES = sorted(CORPUS.rglob("dvc.yaml")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not CORPUS_FILES, reason="corpus not present")
def test_every_corpus_dvc_yaml_only_gains_the_entry(tmp_path: Path) -> None:
    """Real pipelines (flow lists, nested foreach, odd indentation, trailing spaces): the
    declaration adds lines and changes none."""
    for f in CORPUS_FILES:
        text = f.read_text()
        (tmp_path / "dvc.yaml").write_text(text)
        new = declare_artifact(tmp_path, "newmodel", "models/x.pkl")[1].decode()
        old_lines, new_lines = text.splitlines(), new.splitlines()
        it = iter(new_lines)
        assert all(line in it for line in old_lines), f  # every old line, in order
        assert len(new_lines) - len(old_lines) in (3, 4), f
        before = yaml.safe_load(text)
        after = yaml.safe_load(new)
        assert after["artifacts"].pop("newmodel") == {"path": "models/x.pkl", "type": "model"}, f
        if not after["artifacts"]:
            del after["artifacts"]
        assert after == before, f
