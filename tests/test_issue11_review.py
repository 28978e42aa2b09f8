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
