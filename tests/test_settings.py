"""mvtools.yaml is checked once, at load, against its typed schema (mvtools/settings.py).

Most cases call the parser directly (fast); a few drive the CLI and the hook to show the
same one line, exit 2 and nothing written, whatever command first loads the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import assert_refused, git, init_repo, write_model
from hypothesis import given, settings
from hypothesis import strategies as st

from mvtools.config import load_config
from mvtools.errors import ConfigError
from mvtools.settings import Settings, parse_settings


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_settings(yaml.safe_load(text))
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("mvtools.yaml: "), msg
    assert exc.value.exit_code == 2
    return msg


@pytest.mark.parametrize("text, want", [
    # misspelt keys: silently ignored before, each gives the nearest known key now
    ("models:\n- {name: a, path: x, metric: [m.json]}", "models[0].metric: unknown key (did you mean metrics?)"),
    ("models:\n- {name: a, path: x, bumps: minor}", "models[0].bumps: unknown key (did you mean bump?)"),
    ("stage: [a]", "stage: unknown key (did you mean stages?)"),
    ("environment: {}", "environment: unknown key (did you mean environments?)"),
    ("compare: {weight: {a: 1}}", "compare.weight: unknown key (did you mean weights?)"),
    ("policy: {promotes: {}}", "policy.promotes: unknown key (did you mean promote?)"),
    ("environments: {prod: {gate: {accuracy: {mn: 0.8}}}}",
     "environments.prod.gate.accuracy.mn: unknown key (did you mean min?)"),
    ("push: {dcv: auto}", "push.dcv: unknown key (did you mean dvc?)"),
    ("foo: 1", "foo: unknown key (known keys: mvtools, scheme, registry_dir, stages, models"),
    # wrong types, named with the key and the expected type
    ("promotes_from: [staging]", "promotes_from: expected a mapping, got a list"),
    ("compare: [1]", "compare: expected a mapping, got a list"),
    ("compare: {threshold: -1}", "compare.threshold: expected a number >= 0"),
    ("compare: {weights: {acc: x}}", "compare.weights.acc: expected a number, got a string"),
    ("compare: {threshold: true}", "compare.threshold: expected a number, got true or false"),
    ("compare: {threshold: .nan}", "compare.threshold: expected a finite number, not nan"),
    ("git_model_warn_mib: -1", "git_model_warn_mib: expected a number >= 0"),
    ("environments: {prod: {gate: {acc: {max: .inf}}}}", "environments.prod.gate.acc.max: expected a finite number"),
    ("environments: {prod: {gate: {accuracy: {min: high}}}}",
     "environments.prod.gate.accuracy.min: expected a number or null, got a string"),
    ("environments: {prod: [1]}", "environments.prod: expected a mapping or null, got a list"),
    ("environments: {1: {}}", "environments.1: keys must be strings, not 1"),
    ("policy: {signed: maybe}", "policy.signed: expected true or false, got a string"),
    ("policy: {promote: {production: alice}}", "policy.promote.production: expected a list, got a string"),
    ("stages: []", "stages: expected a list of length >= 1"),
    ("stages: staging", "stages: expected a list, got a string"),
    ("models: {a: x}", "models: expected a list or null, got a mapping"),
    ("models:\n- {path: a}", "models[0]: missing required key name"),
    ("models:\n- {name: a, path: 3}", "models[0].path: expected a string or null, got an integer"),
    ("models:\n- {name: a, path: x, labels: {a: 1}}", "models[0].labels: expected a list, a string or null, got a mapping"),
    ("models:\n- {name: a, path: x, params: [{params.yaml: 3}]}",
     "models[0].params[0].params.yaml: expected a string, a list or null, got an integer"),
    # enumerations
    ("scheme: semvar", "scheme: must be one of semver, timestamp, not 'semvar'"),
    ("models:\n- {name: a, path: x, bump: huge}", "models[0].bump: must be one of major, minor, patch, not 'huge'"),
    ("push: {dvc: maybe}", "push.dvc: must be one of check, auto, off, not 'maybe'"),
    ("mvtools: 2", "mvtools: must be one of 1, not 2"),
    # cross-section rules
    ("promotes_from: {production: stagin}", "promotes_from: unknown stage 'stagin'"),
    ("stages: [dev, prod]\npromotes_from: {production: dev}", "promotes_from: unknown stage 'production'"),
    ("[1, 2]", "expected a mapping at the top level"),
])
def test_refused_with_key_path(text: str, want: str) -> None:
    assert want in refused(text)


def test_typed_defaults_and_values() -> None:
    s = parse_settings(None)
    assert s == Settings() and s.stages == ["development", "staging", "production"]
    assert s.compare.weights == {"accuracy": 0.7, "latency": -0.3} and s.compare.threshold == 0.05
    assert s.push.dvc == "check" and s.policy.signed is False
    s = parse_settings(yaml.safe_load("""
        compare: {weights: {f1: 1}, threshold: 0, lower_better: [perplexity]}
        policy: {signed: true, promote: {production: ["*@example.com"]}}
        environments: {prod: , dev: {namespace: ml, gate: {accuracy: {min: 1}}}}
        push: {dvc: auto}
        promotes_from: {production: staging}
        models: [{name: a, path: x, desc: from DVC, params: [train.lr, {p.yaml: [a]}]}]
    """))
    assert s.compare.weights == {"f1": 1.0} and s.compare.lower_better == ["perplexity"]
    assert s.environments["prod"] is None and s.environments["dev"].gate["accuracy"].min == 1.0
    assert s.policy.promote == {"production": ["*@example.com"]} and s.push.dvc == "auto"
    assert s.models is not None and s.models[0].desc == "from DVC"


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=20))
def test_any_document_is_typed_or_one_line_exit_2(doc: object) -> None:
    """Whatever YAML holds, the parser returns typed Settings or one ConfigError line."""
    try:
        s = parse_settings(doc)
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("mvtools.yaml: ")
    else:
        assert isinstance(s, Settings)


def test_every_command_and_the_hook_refuse_at_load(tmp_path: Path) -> None:
    """Before, `compare: [1]` passed `show` and failed only in `compare`; a YAML alias bomb
    of unknown keys was accepted with exit 0. Now any command that loads it refuses."""
    repo = init_repo(tmp_path / "r", "  - name: clf\n    path: models/clf.bin\n")
    cfg = repo / "mvtools.yaml"
    good = cfg.read_text()
    cfg.write_text(good + "compare: [1]\n")
    for args in (["show"], ["history", "clf"], ["verify"], ["compare", "clf", "v0.1.0", "v0.1.1"]):
        assert_refused(repo, *args, want="mvtools.yaml: compare: expected a mapping, got a list")
    cfg.write_text("a: &a [1, 1, 1, 1]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n")
    assert_refused(repo, "show", want="mvtools.yaml: a: unknown key")
    # the pre-commit hook refuses the commit with the same line, and nothing is registered
    cfg.write_text(good.replace("path: models/clf.bin", "path: models/clf.bin\n    metric: [m.json]"))
    write_model(repo, "models/clf.bin", b"weights")
    git(repo, "add", "-A")
    proc = git(repo, "commit", "-q", "-m", "model", check=False)
    assert proc.returncode == 1, proc.stderr  # git's own code for a refusing hook
    assert "mvtools: error: mvtools.yaml: models[0].metric: unknown key (did you mean metrics?)" in proc.stderr
    assert git(repo, "rev-list", "--count", "HEAD").stdout.strip() == "1"  # still the initial commit
    assert not (repo / "registry" / "clf.yaml").exists()


def test_params_key_after_the_whole_file_keeps_the_whole_file(tmp_path: Path) -> None:
    (tmp_path / "mvtools.yaml").write_text("models: [{name: a, path: x, params: [params.yaml, lr]}]\n")
    assert load_config(tmp_path, with_dvc=False).models["a"].params == {"params.yaml": None}


def test_template_path_stays_in_repo(tmp_path: Path) -> None:
    (tmp_path / "mvtools.yaml").write_text("environments:\n  prod: {template: ../../etc/passwd}\n")
    with pytest.raises(ConfigError, match="environments.prod.template"):
        load_config(tmp_path, with_dvc=False)


def test_dvc_yaml_keys_mvtools_does_not_use_are_tolerated(repo: Path) -> None:
    """dvc.yaml is DVC's: its artifacts carry keys mvtools ignores, as DVC and GTO do."""
    (repo / "dvc.yaml").write_text("artifacts:\n  clf:\n    path: m.pkl\n    type: model\n"
                                   "    meta: {owner: me}\n    custom_key: 1\n")
    cfg = load_config(repo)
    assert cfg.models["clf"].path == "m.pkl"
