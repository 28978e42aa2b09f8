"""mvtools/config.py: mvtools.yaml and dvc.yaml ``artifacts:``, names, safe paths, one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import git
from mvtools.config import dvc_yaml_files, load_config, safe_relpath, validate_name, validate_stage
from mvtools.errors import ConfigError, NotFound, UsageError


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


def config_error(root: Path) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(root)
    msg = str(exc.value)
    assert "\n" not in msg and exc.value.exit_code == 2
    return msg


def test_no_config_is_the_defaults(repo: Path) -> None:
    cfg = load_config(repo)
    assert not cfg.exists and cfg.models == {} and cfg.scheme == "semver" and cfg.registry_dir == "registry"
    assert cfg.stages == ["development", "staging", "production"]


def test_mvtools_yaml_models(repo: Path) -> None:
    write(repo, "mvtools.yaml", """\
scheme: timestamp
registry_dir: ./reg/
stages: [dev, prod]
models:
  - name: team/clf
    path: models/./clf.bin
    description: a classifier
    labels: nlp
    metrics: [metrics.json]
    params: [lr, {conf/train.yaml: [epochs]}]
    bump: minor
""")
    cfg = load_config(repo)
    assert cfg.exists and cfg.scheme == "timestamp" and cfg.registry_dir == "reg" and cfg.stages == ["dev", "prod"]
    m = cfg.model("team/clf")
    assert (m.path, m.description, m.labels, m.metrics, m.bump, m.source) == \
        ("models/clf.bin", "a classifier", ["nlp"], ["metrics.json"], "minor", "mvtools.yaml")
    assert m.params == {"params.yaml": ["lr"], "conf/train.yaml": ["epochs"]}
    assert cfg.ledger_path(m) == "reg/team/clf.yaml" and cfg.watched_paths() == ["models/clf.bin"]
    with pytest.raises(NotFound, match=r"unknown model 'other' \(models: team/clf\)"):
        cfg.model("other")


def test_dvc_yaml_artifacts_in_subfolders(repo: Path) -> None:
    write(repo, "dvc.yaml", "stages: {}\nartifacts:\n  net:\n    path: models/net.pt\n    type: model\n"
                            "  data:\n    path: data/x.csv\n    type: dataset\n")
    write(repo, "sub/dir/dvc.yaml", "artifacts:\n  m:\n    path: m.bin\n    desc: nested\n    meta: {bump: major}\n"
                                    "    metrics: [../metrics.json]\n")
    write(repo, "ignored/dvc.yaml", "artifacts:\n  z:\n    path: z.bin\n")
    write(repo, ".gitignore", "ignored/\n")
    write(repo, "empty/dvc.yaml", "stages: {}\n")
    assert dvc_yaml_files(repo) == ["dvc.yaml", "empty/dvc.yaml", "sub/dir/dvc.yaml"]  # untracked count too
    cfg = load_config(repo)
    assert sorted(cfg.models) == ["net", "sub/dir:m"]  # a dataset is not a model
    m = cfg.model("sub/dir:m")
    assert (m.path, m.description, m.bump, m.source, m.metrics, m.tag_name) == \
        ("sub/dir/m.bin", "nested", "major", "sub/dir/dvc.yaml", ["sub/metrics.json"], "sub/dir=m")
    assert sorted(load_config(repo, with_dvc=False).models) == []


def test_dvc_yaml_files_ignores_literal_pathspecs(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(repo, "a/dvc.yaml", "artifacts: {}\n")
    git(repo, "add", "a/dvc.yaml")
    monkeypatch.setenv("GIT_LITERAL_PATHSPECS", "1")  # Magit sets it
    assert dvc_yaml_files(repo) == ["a/dvc.yaml"]


def test_a_model_in_both_files_must_agree(repo: Path) -> None:
    write(repo, "mvtools.yaml", "models:\n  - {name: net, path: models/net.pt}\n")
    write(repo, "dvc.yaml", "artifacts:\n  net: {path: models/net.pt}\n")
    assert load_config(repo).model("net").source == "mvtools.yaml"
    write(repo, "dvc.yaml", "artifacts:\n  net: {path: models/other.pt}\n")
    assert config_error(repo) == ("mvtools.yaml: models[0].path: model 'net' is declared in dvc.yaml artifacts "
                                  "with path models/other.pt, not models/net.pt (give only its name here, or the same path)")


@pytest.mark.parametrize("text, want", [
    ("models: 3\n", "mvtools.yaml: models: expected a list or null, got an integer"),
    ("nope: 1\n", "mvtools.yaml: nope: unknown key (known keys: "),
    ("models:\n  - {name: a, path: a.bin, bump: huge}\n", "mvtools.yaml: models[0].bump: must be one of"),
    ("models:\n  - {name: a, path: a.bin, labels: [1]}\n", "mvtools.yaml: models[0].labels[0]: expected a string"),
    ("models:\n  - {name: 'a b', path: a.bin}\n", "mvtools.yaml: models[0]: invalid model name 'a b'"),
    ("models:\n  - {name: a, path: ../a.bin}\n", "mvtools.yaml: models[0]: invalid path of 'a' '../a.bin': outside"),
    ("models:\n  - {name: a, path: a.bin}\n  - {name: a, path: b.bin}\n", "mvtools.yaml: model 'a' declared twice"),
    ("stages: [prod, 'bad stage']\n", "mvtools.yaml: invalid stage name 'bad stage'"),
    ("registry_dir: ../x\n", "mvtools.yaml: invalid registry_dir '../x': outside the repository"),
    ("scheme: 3\n", "mvtools.yaml: scheme: must be one of semver, timestamp"),
    ("[1]\n", "mvtools.yaml: expected a mapping at the top level"),
    ("a: [\n", "mvtools.yaml: malformed YAML"),
])
def test_mvtools_yaml_errors_are_one_line_naming_file_and_key(repo: Path, text: str, want: str) -> None:
    write(repo, "mvtools.yaml", text)
    assert config_error(repo).startswith(want)


@pytest.mark.parametrize("text, want", [
    ("artifacts: [a]\n", "dvc.yaml: artifacts must be a mapping of name -> {path, type, ...}"),
    ("artifacts:\n  m: 3\n", "dvc.yaml: artifacts.m: each model must be a mapping"),
    ("artifacts:\n  m: {type: model}\n", "dvc.yaml: artifacts.m: model 'm' needs a 'path' string"),
    ("artifacts:\n  m: {path: /etc/passwd}\n", "dvc.yaml: artifacts.m: invalid path of 'm' '/etc/passwd': must be relative"),
    ("artifacts:\n  m: {path: m.bin, labels: 3}\n", "dvc.yaml: artifacts.m: labels of 'm': expected a string or a list"),
    ("artifacts:\n  m: {path: m.bin, params: 3}\n", "dvc.yaml: artifacts.m: model 'm': params must be keys or"),
    ("artifacts:\n  'bad name': {path: m.bin}\n", "dvc.yaml: artifacts.bad name: invalid model name"),
])
def test_dvc_yaml_errors_are_one_line_naming_file_and_key(repo: Path, text: str, want: str) -> None:
    write(repo, "dvc.yaml", text)
    assert config_error(repo).startswith(want)


def test_params_as_dvc_writes_them(repo: Path) -> None:
    write(repo, "d/dvc.yaml", "artifacts:\n  m:\n    path: m.bin\n    params: [lr, other.yaml, {p.json: null}, bs]\n")
    assert load_config(repo).model("d:m").params == {"d/params.yaml": ["lr", "bs"], "d/other.yaml": None,
                                                      "d/p.json": None}


@pytest.mark.parametrize("path, norm", [("a/b.bin", "a/b.bin"), ("./a//b/../c.bin", "a/c.bin"),
                                        ("a\\b.bin", "a/b.bin"), ("dir/", "dir")])
def test_safe_relpath_normalises(tmp_path: Path, path: str, norm: str) -> None:
    assert safe_relpath(tmp_path, path) == norm


@pytest.mark.parametrize("path, why", [("", "must be a non-empty string"), (None, "must be a non-empty string"),
                                       ("a\nb", "control characters"), ("-rf", "must not start with '-'"),
                                       ("/etc/x", "must be relative to the repository root"),
                                       ("..", "outside the repository"), ("a/../../b", "outside the repository"),
                                       (".", "outside the repository"), ("out/x", "leads outside the repository")])
def test_safe_relpath_refuses(tmp_path: Path, path: object, why: str) -> None:
    os.symlink(tmp_path.parent, tmp_path / "out")
    with pytest.raises(UsageError, match=why):
        safe_relpath(tmp_path, path)


@pytest.mark.parametrize("name", ["clf", "team/clf", "a-b_c", "sub/dir:m", "x.y:m", "1"])
def test_validate_name_accepts_gto_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", None, "-a", "a-", "a b", "a//b", "a@b", "a#b", "../x:m", "x/..:m", ":m",
                                  "a" * 201, "x:" + "a" * 201])
def test_validate_name_refuses(name: object) -> None:
    with pytest.raises(UsageError, match="invalid model name"):
        validate_name(name)


def test_validate_stage() -> None:
    assert validate_stage("prod-eu") == "prod-eu"
    for bad in ("", "a b", "a!", "-x", 3, "a//b"):
        with pytest.raises(UsageError, match="invalid stage name"):
            validate_stage(bad)
