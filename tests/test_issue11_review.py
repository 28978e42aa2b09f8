"""Review of issue 11 as a new user: what `register`, the hooks and the dvc.yaml reader
leave behind on a normal DVC project."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import dvc, git, mvtools, set_up_mvtools, tags, write_model


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
