"""`mvtools import-gto` on real GTO repositories (git bundles of public repositories, cloned
without network and without their model bytes, as a fresh clone without credentials is):
every tag is imported or skipped with a reason, never all or nothing; `mvtools show` then
names GTO's latest versions and stage holders; a second run changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, git, gto_show, head, mvtools

pytestmark = pytest.mark.slow


def _bundles() -> Path | None:
    for base in (ROOT, *ROOT.parents):
        d = base / "shared" / "corpus" / "gto-repos"
        if d.is_dir():
            return d
    return None


BUNDLES = _bundles()
NAMES = ["iterative__example-gto", "aguschin__example-gto-artifactsyaml", "amritghimire__fixture-model-registry",
         "iterative__example-get-started", "amritghimire__monorepo", "mlrepa__dvc-7-monorepo"]


def clone(tmp_path: Path, name: str) -> Path:
    if BUNDLES is None or not (BUNDLES / f"{name}.bundle").exists():
        pytest.skip("the GTO repository bundles (shared/corpus/gto-repos) are not here")
    r = tmp_path / name
    git(tmp_path, "clone", "-q", str(BUNDLES / f"{name}.bundle"), str(r))
    return r


def mv_show(r: Path) -> dict[str, dict[str, object]]:
    doc = json.loads(mvtools(r, "show", "--json", "--all").stdout)
    return {m["name"]: {"latest": m["latest"], "stages": m["stages"]} for m in doc["models"]}


@pytest.mark.parametrize("name", NAMES)
def test_import_of_a_real_repository(tmp_path: Path, name: str) -> None:
    r = clone(tmp_path, name)
    mvtools(r, "init")
    doc = json.loads(mvtools(r, "import-gto", "--json").stdout)
    for t in doc["tags"]:  # each tag: imported (what, and how its bytes are known) or skipped (why)
        assert ("imported" in t) != ("skipped" in t), t
        if t.get("imported") == "register":
            assert t["bytes"] in ("sha256", "md5", "none")
    gto = {n: v for n, v in gto_show(r).items() if v["latest"] or v["stages"]}
    mine = mv_show(r)
    assert {n: mine.get(n) for n in gto} == gto
    h = head(r)
    again = json.loads(mvtools(r, "import-gto", "--json").stdout)
    assert again["imported"] == {} and head(r) == h
    assert [t for t in again["tags"] if "imported" in t] == []


def test_fixture_registry_reports_each_tag(tmp_path: Path) -> None:
    r = clone(tmp_path, "amritghimire__fixture-model-registry")
    mvtools(r, "init")
    doc = json.loads(mvtools(r, "import-gto", "--json").stdout)
    t = {x["tag"]: x for x in doc["tags"]}
    assert ".gto" in t["gto-mlem-not-in-mlem-dir#test#1"]["skipped"]  # `test` is not in .gto's stages
    assert t["gto-no-path@v0.0.1"]["path"] is None and t["gto-no-path@v0.0.1"]["bytes"] == "none"
    assert t["gto-external-s3@v0.0.1"]["path"].startswith("s3://mycorp/")  # not mangled to s3:/
    assert t["gto-mlem-dvc@v3.0.0"]["bytes"] == "md5"  # DVC records it, the remote is out of reach
    assert doc["follow_up"] == "mvtools record-sha256"
    text = mvtools(r, "import-gto").stdout
    assert "skipped gto-mlem-not-in-mlem-dir#test#1" in text and "nothing to import" in text


def test_get_started_reads_params_and_lineage_at_each_tag(tmp_path: Path) -> None:
    r = clone(tmp_path, "iterative__example-get-started")
    mvtools(r, "init")
    mvtools(r, "import-gto")
    text = (r / "registry" / "text-classification.yaml").read_text()
    import yaml

    regs = [e for e in yaml.safe_load(text)["events"] if e["event"] == "register"]
    assert [e["version"] for e in regs] == ["v1.0.0", "v1.1.0", "v1.2.0"]
    for ev in regs:
        assert ev["sha256"] is None and ev["md5"] and ev["size"]
        assert ev["lineage"]["stage"] == "train" and ev["params"]
    assert regs[0]["lineage"]["deps"] != regs[1]["lineage"]["deps"]  # read at each tagged commit
    # no sha256 known: the bytes compare by the md5 and size their commits record
    art = json.loads(mvtools(r, "compare", "text-classification", "v1.0.0", "v1.2.0", "--json").stdout)["artifact"]
    assert art["changed"] is True and art["size"]["delta"] == regs[2]["size"] - regs[0]["size"]
    art = json.loads(mvtools(r, "compare", "text-classification", "v1.1.0", "v1.2.0", "--json").stdout)["artifact"]
    assert art["changed"] is False  # one md5 (the same model.pkl)
