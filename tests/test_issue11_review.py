"""Review of issue 11 as a new user: what `register`, the hooks and the dvc.yaml reader
leave behind on a normal DVC project."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import (assert_refused, commit_model, dvc, git, ledger_events, mvtools,
                      set_up_mvtools, tags, write_model)


@pytest.mark.slow
@pytest.mark.parametrize("declared", [False, True])
def test_register_commits_the_gitignore_dvc_add_wrote(repo: Path, declared: bool) -> None:
    """`dvc add models/x.pkl && mvtools register x --path models/x.pkl` leaves nothing
    uncommitted: the .gitignore DVC wrote beside the .dvc file is part of the version."""
    models = "models: [{name: x, path: models/x.pkl}]" if declared else "models: []"
    r = set_up_mvtools(repo, models)
    (r / "models").mkdir()
    (r / "models" / ".gitignore").write_text("# mine\n*.tmp\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "gitignore of mine")
    write_model(r, "models/x.pkl", b"x one")
    dvc(r, "add", "-q", "models/x.pkl")
    args = ["register", "x"] if declared else ["register", "x", "--path", "models/x.pkl"]
    mvtools(r, *args)
    assert "x@v0.1.0" in tags(r)
    assert git(r, "status", "--porcelain").stdout == ""
    committed = git(r, "show", "HEAD:models/.gitignore").stdout
    assert committed == "# mine\n*.tmp\n/x.pkl\n"


def test_a_root_dvc_yaml_artifact_name_with_a_colon_is_refused(repo: Path) -> None:
    """A root dvc.yaml artifact named `sub:clf` would take the name of sub/dvc.yaml's `clf`
    (DVC itself says it "can't use" such a name): refused in one line naming file and key."""
    r = set_up_mvtools(repo, "models: []")
    (r / "sub").mkdir()
    (r / "sub" / "dvc.yaml").write_text("artifacts:\n  clf:\n    path: clf.pkl\n    type: model\n")
    (r / "dvc.yaml").write_text("artifacts:\n  sub:clf:\n    path: other.pkl\n    type: model\n")
    proc = mvtools(r, "show", check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mvtools: error: dvc.yaml: artifacts.sub:clf:"), lines


def test_an_environment_file_symlinked_outside_the_repo_is_recorded_as_git_stores_it(
        git_model_repo: Path, tmp_path: Path) -> None:
    """A requirements.txt that is a symlink to a file outside the repository: `register`
    records the link as git stores it (its target's name), as the hook does, never the
    outside file's text in the committed ledger."""
    r = git_model_repo
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET\n")
    (r / "requirements.txt").symlink_to(secret)
    commit_model(r, "one", "v1")  # the hook reads the index
    write_model(r, "models/clf.bin", "two")
    mvtools(r, "register", "clf")  # register reads the work tree
    events = [e for e in ledger_events(r) if e["event"] == "register"]
    assert len(events) == 2
    for ev in events:
        entry = ev["environment"]["files"]["requirements.txt"]
        assert entry["content"] == str(secret)
    assert "TOPSECRET" not in (r / "registry" / "clf.yaml").read_text()


def test_register_path_with_an_interpolation_marker_is_refused_before_anything_is_written(
        repo: Path) -> None:
    """DVC reads `${...}` in dvc.yaml as interpolation: declaring `models/${q}.bin` there
    committed an entry no reader could resolve (every later command exited 2, the tag was
    never written). Refused up front, nothing written; the model still works from mvtools.yaml."""
    r = set_up_mvtools(repo, "models: []")
    write_model(r, "models/${q}.bin", "q")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "a model file with ${ in its name")
    line = assert_refused(r, "register", "q", "--path", "models/${q}.bin", want="${")
    assert "mvtools.yaml" in line
    assert mvtools(r, "show").returncode == 0
    # the repair as printed: declare it in mvtools.yaml
    cfg = (r / "mvtools.yaml").read_text().replace("models: []", "models:\n  - name: q\n    path: models/${q}.bin")
    (r / "mvtools.yaml").write_text(cfg)
    mvtools(r, "register", "q")
    assert "q@v0.1.0" in tags(r)


def test_a_dvc_yaml_whose_aliases_expand_a_billion_fold_is_refused_quickly(repo: Path) -> None:
    """YAML aliases nesting ten-fold nine times (a "billion laughs" in vars) hung every
    command, the commit hook too; refused in one line naming the file."""
    import time

    r = set_up_mvtools(repo, "models: []")
    lines = ["vars:", "  - a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"  - a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    lines += ["stages:", "  s:", "    cmd: echo hi", "artifacts:", "  m:", "    path: m.pkl", "    type: model"]
    (r / "dvc.yaml").write_text("\n".join(lines) + "\n")
    start = time.monotonic()
    for args in (["show"], ["lineage"]):
        line = assert_refused(r, *args, timeout=30)
        assert line.startswith("mvtools: error: dvc.yaml: "), line
    assert time.monotonic() - start < 20
