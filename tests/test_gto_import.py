"""`mvtools import-gto`: a repository whose registry was made by the real GTO (`gto register`,
`gto assign`, `gto deprecate` on dvc.yaml `artifacts:`, one model committed to git directly,
one tracked by DVC) becomes ledger events; `mvtools show` then agrees with `gto show`."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
import yaml

from conftest import BIN, dvc, git, head, mvtools, run, tags, template_repo, write_model
from conftest import ledger_events as ledger

pytestmark = pytest.mark.slow  # every test drives GTO (about a second per call)

GTO = str(BIN / "gto")
DVC_YAML = """\
artifacts:
  clf:
    path: models/clf.bin
    type: model
  net:
    path: models/net.bin
    type: model
"""


def gto(r: Path, *args: str) -> str:
    return run([GTO, *args], r).stdout


def build(r: Path) -> None:
    """The registry GTO makes: no mvtools until the end."""
    r.mkdir(parents=True)
    git(r, "init", "-q", "-b", "main")
    dvc(r, "init", "-q")
    (r / "dvc.yaml").write_text(DVC_YAML)
    write_model(r, "models/clf.bin", "clf one\n")
    write_model(r, "models/net.bin", b"\x00net weights\n")
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "one")
    gto(r, "register", "clf")
    gto(r, "register", "net")
    write_model(r, "models/clf.bin", "clf two\n")
    git(r, "commit", "-q", "-am", "two")
    gto(r, "register", "clf")
    # GTO orders its own tags by time at one-second resolution; space them so GTO's view
    # of this template does not depend on how fast the machine is
    gto(r, "assign", "clf", "--version", "v0.0.1", "--stage", "staging")
    time.sleep(1.1)
    gto(r, "assign", "clf", "--version", "v0.0.2", "--stage", "staging")
    time.sleep(1.1)
    gto(r, "assign", "clf", "--version", "v0.0.1", "--stage", "prod")
    time.sleep(1.1)
    write_model(r, "models/clf.bin", "clf three\n")
    git(r, "commit", "-q", "-am", "three")
    gto(r, "register", "clf")
    gto(r, "deprecate", "clf", "v0.0.3")  # deregister a version
    gto(r, "deprecate", "net")  # retire a model
    assert {"clf@v0.0.3!", "net@deprecated", "clf#prod#3"} <= set(tags(r))
    mvtools(r, "init")


r = template_repo("gto-import", build)


def gto_view(r: Path) -> dict[str, dict]:
    doc = json.loads(gto(r, "show", "--json"))
    return {n: {"latest": a["version"], "stages": {s: v for s, v in (a.get("stage") or {}).items() if v}}
            for n, a in doc.items()}


def mv_view(r: Path, *extra: str) -> dict[str, dict]:
    doc = json.loads(mvtools(r, "show", "--json", *extra).stdout)
    return {m["name"]: {"latest": m["latest"], "stages": m["stages"]} for m in doc["models"]}


def test_import_agrees_with_gto_and_is_idempotent(r: Path) -> None:
    before_tags = tags(r)
    h = head(r)
    out = mvtools(r, "import-gto").stdout
    assert "clf" in out and "net" in out
    assert git(r, "rev-parse", "HEAD~1").stdout.strip() == h
    assert sorted(git(r, "show", "--name-only", "--format=", "HEAD").stdout.split()) == [
        "registry/clf.yaml", "registry/net.yaml"]
    assert tags(r) == before_tags  # GTO's tags stay as they are

    assert mv_view(r) == gto_view(r) == {"clf": {"latest": "v0.0.2", "stages": {"staging": "v0.0.2", "prod": "v0.0.1"}}}
    allv = mv_view(r, "--all")
    assert allv["net"]["latest"] == "v0.0.1"  # deprecated: only with --all

    kinds = [(e["event"], e.get("version"), e.get("stage")) for e in ledger(r, "clf")]
    assert kinds == [("register", "v0.0.1", None), ("register", "v0.0.2", None),
                     ("promote", "v0.0.1", "staging"), ("promote", "v0.0.2", "staging"),
                     ("promote", "v0.0.1", "prod"), ("register", "v0.0.3", None), ("archive", "v0.0.3", None)]
    assert [e["event"] for e in ledger(r, "net")] == ["register", "deprecate"]
    for name, ev in [("clf", e) for e in ledger(r, "clf")] + [("net", e) for e in ledger(r, "net")]:
        assert ev["actor"] == "Test User <test@example.com>"
        assert ev["model"] == name
    # the bytes at each tagged commit, hashed (git-tracked and DVC-tracked alike)
    regs = {e["version"]: e for e in ledger(r, "clf") if e["event"] == "register"}
    for v, text in (("v0.0.1", b"clf one\n"), ("v0.0.2", b"clf two\n"), ("v0.0.3", b"clf three\n")):
        assert regs[v]["sha256"] == hashlib.sha256(text).hexdigest() and regs[v]["size"] == len(text)
    net = ledger(r, "net")[0]
    assert net["sha256"] == hashlib.sha256(b"\x00net weights\n").hexdigest()
    mvtools(r, "get", "clf#staging", "-o", "staging.bin")
    assert (r / "staging.bin").read_bytes() == b"clf two\n"

    # running it twice imports nothing
    h2 = head(r)
    p = mvtools(r, "import-gto")
    assert "nothing to import" in p.stdout and p.stderr == ""
    assert head(r) == h2 and tags(r) == before_tags
    assert json.loads(mvtools(r, "import-gto", "--json").stdout)["imported"] == {}

    # mvtools carries on from the imported state, and GTO still agrees
    mvtools(r, "promote", "clf", "v0.0.2", "prod")  # init adopted the stages of the GTO tags: staging, prod
    mvtools(r, "rollback", "clf", "--stage", "staging")
    assert mv_view(r) == gto_view(r)
    assert mv_view(r)["clf"]["stages"]["staging"] == "v0.0.1"


def test_import_records_dvc_md5_get_and_verify(r: Path) -> None:
    mvtools(r, "import-gto")
    net = ledger(r, "net")[0]
    dvc_md5 = yaml.safe_load(git(r, "show", "net@v0.0.1:models/net.bin.dvc").stdout)["outs"][0]["md5"]
    got = mvtools(r, "get", "net@v0.0.1", "-o", "net.bin", check=False)
    p = mvtools(r, "verify", check=False)
    assert (net["md5"], got.returncode, p.returncode) == (dvc_md5, 0, 0), got.stderr + p.stdout
    assert (r / "net.bin").read_bytes() == b"\x00net weights\n"


def test_import_of_git_tracked_model_verifies(r: Path) -> None:
    mvtools(r, "import-gto")
    doc = json.loads(mvtools(r, "verify", "--json", check=False).stdout)
    about_clf = [p for p in doc["problems"] if "clf" in p["where"] + p["message"]]
    assert about_clf == []


def test_unassign_of_an_earlier_holder(r: Path) -> None:
    time.sleep(1.1)  # after the template's last GTO tag, at GTO's 1 s resolution
    gto(r, "deprecate", "clf", "v0.0.1", "staging")  # v0.0.2 still holds staging in GTO
    mvtools(r, "import-gto")
    assert mv_view(r) == gto_view(r)


def test_unassign_of_the_only_holder(r: Path) -> None:
    time.sleep(1.1)  # after the template's last GTO tag, at GTO's 1 s resolution
    gto(r, "deprecate", "clf", "v0.0.1", "prod")  # prod is empty in GTO
    mvtools(r, "import-gto")
    assert mv_view(r) == gto_view(r)


def test_import_refused_during_a_merge_writes_nothing(r: Path) -> None:
    (r / ".git" / "MERGE_HEAD").write_text(head(r) + "\n")
    before = (git(r, "status", "--porcelain", "-uall").stdout, head(r), tags(r))
    p = mvtools(r, "import-gto", check=False)
    assert p.returncode == 2 and p.stderr.startswith("mvtools: error: ") and len(p.stderr.splitlines()) == 1
    assert (git(r, "status", "--porcelain", "-uall").stdout, head(r), tags(r)) == before
