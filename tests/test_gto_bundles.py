"""Acceptance (issue 10, item 5): mvtools adopts the real GTO repositories of
``shared/corpus/gto-repos`` as GTO reads them.

For each bundle, in a fresh clone without the model bytes (their DVC remotes are out of
reach, as for a user without credentials): ``gto show --json`` is what GTO says; then
``mvtools init`` (its files committed, as a user does), ``mvtools import-gto``, and
``mvtools show --json --all`` names the same latest version and the same stage holders for
every model GTO registers; ``mvtools verify`` exits 0; and the next registration of a
model continues above every version GTO numbered (GTO reads that version as the latest).
The import reports each tag (imported, and how its bytes are known, or skipped and why), and
a second run imports nothing. Two bundles get closer checks (the per-tag report of GTO's own
test fixture; params, lineage and md5 comparison at each tag of the get-started pipeline).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import BIN, ROOT, git, head, mvtools, run, write_model

# beside the project's checkout (shared/ sits next to the main checkout and its worktrees' parent)
CORPUS = next((p / "shared" / "corpus" / "gto-repos" for p in ROOT.parents
               if (p / "shared" / "corpus" / "gto-repos").is_dir()), ROOT.parent / "shared" / "corpus" / "gto-repos")
BUNDLES = sorted(CORPUS.glob("*.bundle"))

pytestmark = pytest.mark.slow


def test_the_corpus_is_there() -> None:
    assert len(BUNDLES) >= 6, f"no GTO bundles in {CORPUS}"


def gto_registered(r: Path) -> dict[str, dict[str, object]]:
    """`gto show --json`: each model GTO registers, with its latest version and stage holders."""
    out = run([str(BIN / "gto"), "show", "--json"], r).stdout
    return {n: {"latest": v["version"], "stages": {s: h for s, h in v["stage"].items() if h}}
            for n, v in json.loads(out).items() if v["registered"]}


def mv_show(r: Path) -> dict[str, dict[str, object]]:
    doc = json.loads(mvtools(r, "show", "--json", "--all").stdout)
    return {m["name"]: {"latest": m["latest"], "stages": {s: v for s, v in (m["stages"] or {}).items() if v}}
            for m in doc["models"]}


def gto_versions(r: Path, name: str) -> list[str]:
    """Every version GTO numbered for ``name`` (its version tags, deregistered ones too)."""
    from mvtools.versioning import parse_tag

    return [p.version for t in git(r, "tag").stdout.split()
            if (p := parse_tag(t)) is not None and p.model == name and p.version]


@pytest.fixture(params=BUNDLES, ids=[b.stem for b in BUNDLES])
def clone(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    r = tmp_path / request.param.stem
    subprocess.run(["git", "clone", "-q", str(request.param), str(r)], check=True, capture_output=True)
    return r


def _adopt(r: Path) -> dict:  # type: ignore[type-arg]
    """`mvtools init` (its files committed), `mvtools import-gto --json`: the import's report."""
    mvtools(r, "init")
    if git(r, "status", "--porcelain").stdout.strip():
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", "Adopt mvtools")
    doc: dict = json.loads(mvtools(r, "import-gto", "--json").stdout)  # type: ignore[type-arg]
    return doc


def _register_next(r: Path, names: list[str]) -> tuple[str, str] | None:
    """Register new bytes of one model GTO registers (by the real command): a model mvtools
    does not declare gets a git-tracked path; a declared git-tracked one new bytes. None when
    every model's bytes live in a DVC pipeline whose inputs a fresh clone lacks."""
    from mvtools.config import load_config

    models = load_config(r).models
    for name in names:
        if ":" in name:
            continue
        m = models.get(name)
        if m is None:
            rel = f"mvtools-next/{name}.bin"
            write_model(r, rel, f"next bytes of {name}")
            out = mvtools(r, "register", name, "--path", rel, "--json").stdout
        elif git(r, "ls-files", "--error-unmatch", m.path, check=False).returncode == 0:
            write_model(r, m.path, f"next bytes of {name}")
            out = mvtools(r, "register", name, "--json").stdout
        else:
            continue
        return name, json.loads(out)["version"]
    return None


def test_mvtools_adopts_the_bundle_as_gto_shows_it(clone: Path) -> None:
    r = clone
    want = gto_registered(r)
    doc = _adopt(r)
    for t in doc["tags"]:  # each tag: imported (what, and how its bytes are known) or skipped (why)
        assert ("imported" in t) != ("skipped" in t), t
        if t.get("imported") == "register":
            assert t["bytes"] in ("sha256", "md5", "none")
    got = mv_show(r)
    for name, w in want.items():
        assert got.get(name) == w, f"{name}: gto show says {w}, mvtools show {got.get(name)}"
    h = head(r)
    again = json.loads(mvtools(r, "import-gto", "--json").stdout)  # a second run: nothing
    assert again["imported"] == {} and head(r) == h
    assert [t for t in again["tags"] if "imported" in t] == []
    mvtools(r, "verify")

    from mvtools.reading import RegistryReader
    from mvtools.versioning import Version, next_semver

    reg = RegistryReader(r)
    numbered = {name: gto_versions(r, name) for name in want}
    for name in want:  # the number the next registration takes, for every model
        nxt = next_semver(reg.taken_versions(name), "patch")
        assert all(nxt > Version(v) for v in numbered[name]), (name, nxt, numbered[name])
    made = _register_next(r, sorted(want))
    if made is not None:
        name, version = made
        assert all(Version(version) > Version(v) for v in numbered[name]), (name, version, numbered[name])
        assert gto_registered(r)[name]["latest"] == mv_show(r)[name]["latest"] == version
        mvtools(r, "verify")


def _clone(tmp_path: Path, name: str) -> Path:
    bundle = CORPUS / f"{name}.bundle"
    if not bundle.exists():
        pytest.skip(f"{bundle} is not here")
    r = tmp_path / name
    git(tmp_path, "clone", "-q", str(bundle), str(r))
    return r


def test_fixture_registry_reports_each_tag(tmp_path: Path) -> None:
    r = _clone(tmp_path, "amritghimire__fixture-model-registry")
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
    r = _clone(tmp_path, "iterative__example-get-started")
    mvtools(r, "init")
    mvtools(r, "import-gto")
    text = (r / "registry" / "text-classification.yaml").read_text()
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
