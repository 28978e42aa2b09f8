"""Agreement with real DVC: mvtools' graph projected onto stages equals DVC's own graph.

DVC's ``Repo(root).index.graph`` has an edge from a stage to each stage it depends on; the
projection of mvtools' graph (A -> B when data flows from A to B through non-stage nodes)
must have the same stages and the same edges reversed. DVC runs here, in a scratch
git + DVC repo per pipeline; nothing of its output is stored.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_lineage as tl  # noqa: E402  (the hand-written pipelines)

from mvtools.errors import ConfigError  # noqa: E402
from mvtools.lineage import build_lineage, stage_edges  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "dvc-pipelines"
PIPELINES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []


def _init(root: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=root, env=tl.clean_env(), check=True)
    if not (root / ".dvc").is_dir():
        from dvc.repo import Repo

        Repo.init(str(root))


def dvc_graph(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[set[str], set[tuple[str, str]]]:
    """Stage addresses and dependency edges (producer -> consumer) as DVC sees them."""
    from dvc.repo import Repo

    monkeypatch.chdir(root)  # DVC addresses stages relative to the working directory
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        monkeypatch.delenv(key)
    repo = Repo(str(root))
    try:
        g = repo.index.graph
        stages = {s.addressing for s in g.nodes}
        edges = {(b.addressing, a.addressing) for a, b in g.edges}
    finally:
        repo.close()
    return stages, edges


def mvtools_graph(root: Path) -> tuple[set[str], set[tuple[str, str]]]:
    g = build_lineage(root).graph
    return {n for n, d in g.nodes(data=True) if d["type"] == "stage"}, stage_edges(g)


def assert_agrees(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ours = mvtools_graph(root)
    theirs = dvc_graph(root, monkeypatch)
    assert ours[0] == theirs[0], (
        f"stages only in mvtools: {sorted(ours[0] - theirs[0])[:5]}, "
        f"only in DVC: {sorted(theirs[0] - ours[0])[:5]}")
    assert ours[1] == theirs[1], (
        f"edges only in mvtools: {sorted(ours[1] - theirs[1])[:5]}, "
        f"only in DVC: {sorted(theirs[1] - ours[1])[:5]}")


@pytest.mark.slow
@pytest.mark.skipif(not PIPELINES, reason=f"corpus not found at {CORPUS}")
@pytest.mark.parametrize("name", PIPELINES)
def test_corpus_agrees_with_dvc(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / name
    shutil.copytree(CORPUS / name, root)
    _init(root)
    assert_agrees(root, monkeypatch)


HAND_WRITTEN = {
    "basic": tl.BASIC, "params": tl.PARAMS_FORMS, "vars": tl.VARS,
    "foreach_matrix": tl.FOREACH_MATRIX, "subdirs": tl.SUBDIRS, "same_name": tl.SAME_NAME,
    "output_walk": tl.OUTPUT_WALK, "collapse": tl.COLLAPSE, "edge_cases": tl.EDGE_CASES,
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_hand_written_pipelines_agree_with_dvc(name: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = tl.make(tmp_path / name, HAND_WRITTEN[name])
    _init(root)
    assert_agrees(root, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(tl.ERRORS))
def test_dvc_refuses_what_mvtools_refuses(case: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    files, _expected = tl.ERRORS[case]
    root = tl.make(tmp_path / case, files)
    _init(root)
    with pytest.raises(ConfigError):
        build_lineage(root)
    with pytest.raises(Exception) as info:  # noqa: PT011 - DVC's own exception classes
        dvc_graph(root, monkeypatch)
    assert type(info.value).__module__.startswith("dvc")
