"""DVC subrepos (`dvc init --subdir`): each directory holding its own `.dvc/` is its own DVC
project, as `dvc dag` run there sees it. The real monorepos of the corpus, cloned from their
bundles, with real DVC; mvtools' lineage at the root and inside each subrepo must agree with
`dvc dag` run in the same directory."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import dvc, git, mvtools  # noqa: E402

BUNDLES = next((p / "shared" / "corpus" / "gto-repos" for p in Path(__file__).resolve().parents
                if (p / "shared" / "corpus" / "gto-repos").is_dir()), Path("/nonexistent"))
needs_bundles = pytest.mark.skipif(not BUNDLES.is_dir(), reason=f"bundles not found at {BUNDLES}")


def clone(name: str, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(BUNDLES / f"{name}.bundle"), str(dest)], check=True,
                   capture_output=True)
    return dest


def dvc_dag(cwd: Path) -> tuple[set[str], set[tuple[str, str]]]:
    """Stages and producer -> consumer edges of `dvc dag --dot` run in ``cwd``."""
    out = dvc(cwd, "dag", "--dot").stdout
    stages = set(re.findall(r'^"([^"]+)";$', out, re.M))
    edges = set(re.findall(r'^"([^"]+)" -> "([^"]+)";$', out, re.M))
    return stages, edges


def mvtools_dag(cwd: Path) -> tuple[set[str], set[tuple[str, str]]]:
    """Stages and stage -> stage edges of `mvtools lineage --json` run in ``cwd``."""
    from networkx.readwrite import json_graph

    from mvtools.lineage import stage_edges

    doc = json.loads(mvtools(cwd, "lineage", "--json").stdout)
    g = json_graph.node_link_graph(doc, edges="edges") if "edges" in doc else json_graph.node_link_graph(doc)
    return {n for n, d in g.nodes(data=True) if d["type"] == "stage"}, stage_edges(g)


@pytest.fixture(scope="module")
def mlrepa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mlrepa/dvc-7-monorepo set up as its README says: `dvc init` at the root, `dvc init
    --subdir` in each model folder."""
    r = clone("mlrepa__dvc-7-monorepo", tmp_path_factory.mktemp("mlrepa") / "repo")
    dvc(r, "init", "-q")
    for sub in ("model_a", "model_b", "model_c"):
        dvc(r / sub, "init", "--subdir", "-q")
    return r


@pytest.mark.slow
@needs_bundles
@pytest.mark.parametrize("where", ["", "model_a", "model_b", "model_c"])
def test_lineage_agrees_with_dvc_dag_in_each_project(mlrepa: Path, where: str) -> None:
    """At the root, DVC's walk skips the subrepos (4 stages, not those of every
    dvc.yaml, and no "output defined twice": model_a's stages write models/ of their own)."""
    cwd = mlrepa / where
    assert mvtools_dag(cwd) == dvc_dag(cwd)


@pytest.mark.slow
@needs_bundles
def test_root_without_dvc_project_names_the_subrepos(tmp_path: Path) -> None:
    """amritghimire/monorepo: no DVC project at the root, subrepos repo_1/ and repo_2/. DVC
    refuses to run at the root; so does mvtools lineage, with a hint that works as printed."""
    r = clone("amritghimire__monorepo", tmp_path / "repo")
    assert dvc(r, "dag", check=False).returncode != 0
    proc = mvtools(r, "lineage", check=False)
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert "repo_1/, repo_2/" in line, line
    hint = line.split("run: ", 1)[1]
    assert hint == "cd repo_1 && mvtools lineage"
    out = subprocess.run(hint, shell=True, cwd=r, capture_output=True, text=True)  # PATH: the venv's mvtools
    assert out.returncode == 0, out.stderr
    for sub in ("repo_1", "repo_2"):
        assert mvtools_dag(r / sub) == dvc_dag(r / sub)


@pytest.fixture
def sub_model(repo: Path) -> Path:
    """A model tracked by a DVC subrepo `sub/` (dvc init --subdir), mvtools at the git root
    (which `init` leaves without a DVC project of its own)."""
    (repo / "sub").mkdir()
    dvc(repo / "sub", "init", "--subdir", "-q")
    mvtools(repo, "init")
    assert not (repo / ".dvc").exists()
    cfg = (repo / "mvtools.yaml").read_text().replace("models: []", "models:\n  - name: net\n    path: sub/models/net.bin")
    (repo / "mvtools.yaml").write_text(cfg)
    (repo / "sub" / "models").mkdir()
    (repo / "sub" / "models" / "net.bin").write_bytes(b"\x00weights one\n")
    dvc(repo / "sub", "add", "-q", "models/net.bin")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "net one")
    return repo


@pytest.mark.slow
def test_a_subrepo_model_is_registered_checked_and_fetched_through_its_project(sub_model: Path) -> None:
    r = sub_model
    assert "net@v0.1.0" in git(r, "tag").stdout.split()
    doc = json.loads(mvtools(r, "verify", "--json").stdout)
    assert doc["problems"] == [] and doc["unchecked"] == [], doc  # the bytes are in sub/'s cache
    mvtools(r, "get", "net@v0.1.0", "-o", str(r.parent / "got.bin"))
    assert (r.parent / "got.bin").read_bytes() == b"\x00weights one\n"


@pytest.mark.slow
def test_a_subrepo_models_repair_hint_runs_in_its_project(sub_model: Path) -> None:
    r = sub_model
    (r / "sub" / "models" / "net.bin").unlink()
    proc = mvtools(r, "register", "net", check=False)
    assert proc.returncode != 0
    hint = proc.stderr.strip().split("run: ", 1)[1]
    assert hint == "cd sub && dvc checkout models/net.bin.dvc", proc.stderr
    subprocess.run(hint, shell=True, cwd=r, check=True, capture_output=True)  # PATH: the venv's dvc
    assert (r / "sub" / "models" / "net.bin").read_bytes() == b"\x00weights one\n"


@pytest.mark.slow
def test_a_subrepo_model_is_pushed_to_its_projects_remote_and_fetched_in_a_clone(sub_model: Path,
                                                                                    tmp_path: Path) -> None:
    """`mvtools push` copies the bytes to the DVC remote of the subrepo holding the model
    (the root has no DVC project at all), and a fresh clone gets them back from there."""
    r = sub_model
    store, bare = tmp_path / "store", tmp_path / "bare.git"
    dvc(r / "sub", "remote", "add", "-d", "store", str(store))
    git(r, "commit", "-q", "-am", "the sub project's DVC remote")
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(r, "remote", "add", "origin", str(bare))
    assert json.loads(mvtools(r, "push", "--json").stdout)["tags"] == 1
    assert any(p.is_file() for p in store.rglob("*")), "nothing reached the subrepo's DVC remote"
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    mvtools(clone, "get", "net@v0.1.0", "-o", "out.bin")
    assert (clone / "out.bin").read_bytes() == b"\x00weights one\n"
