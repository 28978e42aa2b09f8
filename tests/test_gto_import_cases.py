"""`mvtools import-gto` tag by tag, on registries made by the real GTO: one tag that cannot be
imported never stops the others; versions whose bytes are out of reach are imported with
what their commit records (md5 and size) and `mvtools record-sha256` (the hint the import
prints) records the sha256 once the bytes can be fetched."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import time
from pathlib import Path

import pytest
import yaml

from conftest import BIN, dvc, git, gto_show, head, mvtools, run, tags, write_model
from conftest import ledger_events as ledger

pytestmark = pytest.mark.slow  # every test drives GTO and DVC


def gto(r: Path, *args: str) -> str:
    return run([str(BIN / "gto"), *args], r).stdout


def mv_show(r: Path) -> dict[str, dict[str, object]]:
    doc = json.loads(mvtools(r, "show", "--json", "--all").stdout)
    return {m["name"]: {"latest": m["latest"], "stages": m["stages"]} for m in doc["models"]}


def import_json(r: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(mvtools(r, "import-gto", "--json").stdout)


def by_tag(doc: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {t["tag"]: t for t in doc["tags"]}


def new_repo(tmp_path: Path, dvc_yaml: str | None = None) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    if dvc_yaml is not None:
        (r / "dvc.yaml").write_text(dvc_yaml)
    (r / "README.md").write_text("demo\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "initial")
    return r


def test_remote_paths_and_unannotated_models_import_as_gto_shows_them(tmp_path: Path) -> None:
    r = new_repo(tmp_path, "artifacts:\n  seg:\n    type: model\n    path: s3://bucket/proj/seg.pt\n")
    write_model(r, "models/clf.bin", "clf one\n")
    (r / "artifacts.yaml").write_text("clf:\n  path: models/clf.bin\n  type: model\n")  # GTO < 1.0's format
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "models")
    gto(r, "register", "seg")
    gto(r, "register", "clf")
    gto(r, "register", "nopath")  # GTO registers a name nothing annotates
    gto(r, "assign", "seg", "--version", "v0.0.1", "--stage", "prod")
    mvtools(r, "init", "--hooks", "none")
    doc = import_json(r)
    t = by_tag(doc)
    assert t["seg@v0.0.1"]["path"] == "s3://bucket/proj/seg.pt" and t["seg@v0.0.1"]["bytes"] == "none"
    assert t["clf@v0.0.1"]["path"] == "models/clf.bin" and t["clf@v0.0.1"]["bytes"] == "sha256"
    assert t["nopath@v0.0.1"]["path"] is None and t["nopath@v0.0.1"]["bytes"] == "none"
    assert t["seg#prod#1"]["imported"] == "promote" and doc["skipped"] == 0
    seg = ledger(r, "seg")[0]
    assert (seg["path"], seg["sha256"], seg["md5"], seg["size"]) == ("s3://bucket/proj/seg.pt", None, None, None)
    assert ledger(r, "clf")[0]["sha256"] == hashlib.sha256(b"clf one\n").hexdigest()
    assert mv_show(r) == gto_show(r)
    mvtools(r, "history", "seg")
    assert "s3://bucket/proj/seg.pt" in mvtools(r, "show", "seg").stdout  # as written, not s3:/
    p = mvtools(r, "verify", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    p = mvtools(r, "get", "seg@v0.0.1", check=False)  # no bytes mvtools could ever fetch: one line says so
    assert p.returncode == 1 and "s3://bucket/proj/seg.pt is a remote path" in p.stderr, p.stderr
    assert len(p.stderr.splitlines()) == 1
    h = head(r)  # a second run changes nothing
    assert import_json(r)["imported"] == {} and head(r) == h


def test_incremental_after_mvtools_registrations(tmp_path: Path) -> None:
    r = new_repo(tmp_path)
    mvtools(r, "init", "--hooks", "none")
    write_model(r, "models/clf.bin", "clf one\n")
    mvtools(r, "register", "clf", "--path", "models/clf.bin", "--version", "v0.0.1")
    mvtools(r, "promote", "clf", "v0.0.1", "staging")
    before = len(ledger(r))
    write_model(r, "models/clf.bin", "clf two\n")
    git(r, "commit", "-q", "-am", "two")
    gto(r, "register", "clf")  # beside mvtools
    time.sleep(1.1)
    gto(r, "assign", "clf", "--version", "v0.0.2", "--stage", "prod")
    time.sleep(1.1)
    gto(r, "deprecate", "clf", "v0.0.1")  # deregister
    doc = import_json(r)
    assert [t["imported"] for t in doc["tags"]] == ["register", "promote", "archive"]
    evs = ledger(r)
    assert len(evs) == before + 3 and evs[before]["tag"] == "clf@v0.0.2"
    assert evs[before]["sha256"] == hashlib.sha256(b"clf two\n").hexdigest()
    assert mv_show(r) == gto_show(r)
    h = head(r)
    assert import_json(r)["tags"] == [] and head(r) == h
    write_model(r, "models/clf.bin", "clf three\n")
    mvtools(r, "register", "clf")
    mvtools(r, "promote", "clf", "v0.0.2", "development")
    mvtools(r, "promote", "clf", "v0.0.3", "development")
    mvtools(r, "rollback", "clf", "--stage", "development")  # mvtools writes the unassign tag of its rollback too
    h = head(r)
    assert import_json(r)["tags"] == [] and head(r) == h
    assert mv_show(r) == gto_show(r)
    p = mvtools(r, "verify", check=False)
    assert p.returncode == 0, p.stdout


def test_stage_tag_older_than_its_version_tag_and_excluded_stages(tmp_path: Path) -> None:
    r = new_repo(tmp_path)
    (r / ".gto").write_text("stages: [dev, prod]\n")
    write_model(r, "models/clf.bin", "clf one\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "one")
    c = head(r)
    git(r, "tag", "-a", "clf#dev#1", "-m", "Assigning stage dev to artifact clf", c)
    git(r, "tag", "-a", "clf#qa#2", "-m", "Assigning stage qa to artifact clf", c)  # not in .gto
    time.sleep(1.1)
    gto(r, "register", "clf", "--version", "v1.0.0")
    mvtools(r, "init", "--hooks", "none")
    doc = import_json(r)
    t = by_tag(doc)
    assert t["clf#dev#1"]["imported"] == "promote" and t["clf#dev#1"]["version"] == "v1.0.0"
    assert ".gto" in t["clf#qa#2"]["skipped"] and doc["skipped"] == 1
    assert [e["event"] for e in ledger(r)] == ["register", "promote"]
    assert mv_show(r) == gto_show(r) == {"clf": {"latest": "v1.0.0", "stages": {"dev": "v1.0.0"}}}
    text = mvtools(r, "import-gto").stdout
    assert "skipped clf#qa#2" in text and "nothing to import" in text


def test_counter_tags_keep_their_name_and_time(tmp_path: Path) -> None:
    r = new_repo(tmp_path)
    write_model(r, "models/clf.bin", "clf one\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "one")
    c = head(r)
    git(r, "tag", "-a", "clf@v1.0.0#1", "-m", "Registering artifact clf version v1.0.0", c)
    mvtools(r, "init", "--hooks", "none")
    import_json(r)
    ev = ledger(r)[0]
    when = int(git(r, "for-each-ref", "--format=%(creatordate:unix)", "refs/tags/clf@v1.0.0#1").stdout)
    assert ev["tag"] == "clf@v1.0.0#1" and ev["version"] == "v1.0.0"
    assert ev["timestamp"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def _dvc_repo(tmp_path: Path, remote: Path) -> Path:
    r = new_repo(tmp_path, "artifacts:\n  net:\n    type: model\n    path: models/net.bin\n")
    dvc(r, "init", "-q")
    dvc(r, "remote", "add", "-d", "store", str(remote))
    write_model(r, "models/net.bin", b"\x00net weights\n")
    dvc(r, "add", "-q", "models/net.bin")
    dvc(r, "push", "-q")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "net")
    gto(r, "register", "net")
    return r


def test_bytes_out_of_reach_then_record_sha256_as_printed(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    r = _dvc_repo(tmp_path, remote)
    (tmp_path / "away").mkdir()
    remote.rename(tmp_path / "away" / "remote")  # the remote unreachable, the cache gone: a fresh clone
    run(["rm", "-rf", str(r / ".dvc" / "cache"), str(r / "models" / "net.bin")], r)
    mvtools(r, "init", "--hooks", "none")
    out = mvtools(r, "import-gto").stdout
    md5 = yaml.safe_load((r / "models" / "net.bin.dvc").read_text())["outs"][0]["md5"]
    ev = ledger(r, "net")[0]
    assert (ev["sha256"], ev["md5"], ev["size"]) == (None, md5, 13)
    assert mv_show(r) == gto_show(r)
    p = mvtools(r, "verify", check=False)
    assert p.returncode == 0 and "record-sha256 net@v0.0.1" in p.stdout, p.stdout
    # the bytes still out of reach: record-sha256 says why and writes nothing
    h = head(r)
    p = mvtools(r, "record-sha256", check=False)
    assert p.returncode == 1 and "not recorded net@v0.0.1" in p.stdout and head(r) == h
    p = mvtools(r, "get", "net@v0.0.1", "-o", "net.out", check=False)  # nothing to check bytes against yet
    assert p.returncode == 1 and "run: mvtools record-sha256 net@v0.0.1" in p.stderr and not (r / "net.out").exists()
    p = mvtools(r, "verify", "--fetch", check=False)  # --fetch: bytes that cannot be fetched are a problem
    assert p.returncode == 1 and "cannot fetch" in p.stdout, p.stdout
    # reachable again: the hint, run exactly as printed, records the sha256
    (tmp_path / "away" / "remote").rename(remote)
    p = mvtools(r, "verify", "--fetch", check=False)  # fetched and matched against the md5 and size
    assert p.returncode == 0, p.stdout
    run(["rm", "-rf", str(r / ".dvc" / "cache")], r)
    hint = re.search(r"run: (mvtools record-sha256.*)$", out, re.M)
    assert hint, out
    p = run(shlex.split(hint.group(1)), r, check=False)  # the console script, as a user types it
    assert p.returncode == 0, p.stdout + p.stderr
    evs = ledger(r, "net")
    assert [e["event"] for e in evs] == ["register", "sha256"]
    assert evs[1]["sha256"] == hashlib.sha256(b"\x00net weights\n").hexdigest() and evs[1]["md5"] == md5
    from mvtools.registry import Registry

    assert Registry(r).resolve("net@v0.0.1")["sha256"] == evs[1]["sha256"]  # the state folds it in
    mvtools(r, "get", "net@v0.0.1", "-o", "net.out")
    assert (r / "net.out").read_bytes() == b"\x00net weights\n"
    p = mvtools(r, "verify", check=False)
    assert p.returncode == 0 and "net@v0.0.1" not in p.stdout, p.stdout
    assert mvtools(r, "record-sha256").stdout.startswith("every version has a sha256")


def test_record_sha256_refuses_bytes_that_disagree_with_the_import(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    r = _dvc_repo(tmp_path, remote)
    run(["rm", "-rf", str(r / ".dvc" / "cache")], r)
    md5 = yaml.safe_load((r / "models" / "net.bin.dvc").read_text())["outs"][0]["md5"]
    obj = next(p for p in remote.rglob("*") if p.is_file() and (p.parent.name + p.name) == md5)
    obj.chmod(0o644)
    obj.write_bytes(b"other bytes\n")  # the remote holds other bytes under that md5
    mvtools(r, "init", "--hooks", "none")
    import_json(r)
    h = head(r)
    p = mvtools(r, "record-sha256", "net@v0.0.1", check=False)
    assert p.returncode == 1 and "refused" in p.stdout, p.stdout + p.stderr
    assert head(r) == h and [e["event"] for e in ledger(r, "net")] == ["register"]


def test_unreachable_s3_remote_imports_md5_only(tmp_path: Path) -> None:
    r = _dvc_repo(tmp_path, tmp_path / "remote")
    dvc(r, "remote", "add", "-f", "-d", "s3", "s3://no-such-bucket/x")
    dvc(r, "remote", "modify", "s3", "endpointurl", "http://127.0.0.1:9")
    git(r, "commit", "-q", "-am", "s3 remote")
    run(["rm", "-rf", str(r / ".dvc" / "cache")], r)
    mvtools(r, "init", "--hooks", "none")
    assert by_tag(import_json(r))["net@v0.0.1"]["bytes"] == "md5"
    p = mvtools(r, "record-sha256", check=False)
    assert p.returncode == 1 and "not recorded net@v0.0.1" in p.stdout and p.stderr == "", p.stdout + p.stderr


def test_model_in_a_dvc_subrepo(tmp_path: Path) -> None:
    r = new_repo(tmp_path, "artifacts:\n  net:\n    type: model\n    path: sub/model.bin\n")
    (r / "sub").mkdir()
    dvc(r / "sub", "init", "-q", "--subdir")
    write_model(r, "sub/model.bin", b"subrepo weights\n")
    dvc(r / "sub", "add", "-q", "model.bin")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "net in a subrepo")
    gto(r, "register", "net")
    mvtools(r, "init", "--hooks", "none")
    t = by_tag(import_json(r))["net@v0.0.1"]
    ev = ledger(r, "net")[0]
    assert t["bytes"] == "sha256" and ev["sha256"] == hashlib.sha256(b"subrepo weights\n").hexdigest()
    assert ev["md5"] == yaml.safe_load((r / "sub" / "model.bin.dvc").read_text())["outs"][0]["md5"]
    assert mv_show(r) == gto_show(r)
    assert "net@v0.0.1" in tags(r)


def test_record_sha256_fetches_through_the_subrepos_own_remote(tmp_path: Path) -> None:
    r = new_repo(tmp_path, "artifacts:\n  net:\n    type: model\n    path: sub/model.bin\n")
    (r / "sub").mkdir()
    dvc(r / "sub", "init", "-q", "--subdir")
    dvc(r / "sub", "remote", "add", "-d", "store", str(tmp_path / "sub-remote"))
    write_model(r, "sub/model.bin", b"subrepo weights\n")
    dvc(r / "sub", "add", "-q", "model.bin")
    dvc(r / "sub", "push", "-q")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "net in a subrepo")
    gto(r, "register", "net")
    run(["rm", "-rf", str(r / "sub" / ".dvc" / "cache")], r)
    mvtools(r, "init", "--hooks", "none")
    assert by_tag(import_json(r))["net@v0.0.1"]["bytes"] == "md5"
    p = mvtools(r, "record-sha256", "net", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert ledger(r, "net")[-1]["sha256"] == hashlib.sha256(b"subrepo weights\n").hexdigest()


@pytest.mark.parametrize("text", ["stages: prod\n", "stages: [\n"])
def test_a_hand_broken_gto_is_the_repositorys_error_not_a_ledgers(tmp_path: Path, text: str) -> None:
    """A `.gto` edited by hand into something GTO refuses too: `show --all` is refused in one
    line (exit 2, no half-printed table), as `show NAME` and `verify` are; it does not list
    every imported model as a broken ledger."""
    from conftest import assert_refused

    r = new_repo(tmp_path)
    (r / ".gto").write_text("stages: [dev, prod]\n")
    write_model(r, "models/clf.bin", "clf one\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "one")
    gto(r, "register", "clf", "--version", "v1.0.0")
    gto(r, "assign", "clf", "--version", "v1.0.0", "--stage", "dev")
    mvtools(r, "init", "--hooks", "none")
    mvtools(r, "import-gto")
    (r / ".gto").write_text(text)
    for args in (("show", "--all"), ("show", "--json", "--all"), ("show", "clf"), ("verify",)):
        assert ".gto" in assert_refused(r, *args, code=2)


def test_a_model_annotated_in_artifacts_yaml_is_versioned_on_commit(tmp_path: Path) -> None:
    """GTO < 1.0's root `artifacts.yaml` declares a model to mvtools as it does to GTO: after
    adoption, a commit changing its bytes registers the next version above GTO's, by the
    hook, and `mvtools register NAME` knows it (a remote path there is declared, not hashed)."""
    r = new_repo(tmp_path)
    write_model(r, "models/clf.bin", "clf one\n")
    (r / "artifacts.yaml").write_text("clf:\n  path: models/clf.bin\n  type: model\n"
                                      "seg:\n  path: s3://bucket/seg.pt\n  type: model\n"
                                      "data:\n  path: data/raw\n  type: dataset\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "models")
    gto(r, "register", "clf", "--version", "v1.2.0")
    mvtools(r, "init")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "Adopt mvtools")
    mvtools(r, "import-gto")
    write_model(r, "models/clf.bin", "clf two\n")
    git(r, "commit", "-q", "-am", "retrain")
    assert "clf@v1.2.1" in tags(r)
    assert gto_show(r)["clf"]["latest"] == mv_show(r)["clf"]["latest"] == "v1.2.1"
    write_model(r, "models/clf.bin", "clf three\n")
    git(r, "commit", "-q", "--no-verify", "-am", "retrain again")
    assert "v1.2.2" in mvtools(r, "register", "clf").stdout
    mvtools(r, "verify")
    from mvtools.config import load_config

    models = load_config(r).models
    assert sorted(models) == ["clf", "seg"] and models["seg"].path == "s3://bucket/seg.pt"


@pytest.mark.parametrize("text", ["- a list, not GTO's\n", "key: [\n", "name: just a string\n"])
def test_an_artifacts_yaml_in_another_format_declares_nothing(repo: Path, text: str) -> None:
    """A root `artifacts.yaml` that is not GTO's format (another tool's file) declares no model
    and blocks no command or hook."""
    (repo / "artifacts.yaml").write_text(text)
    mvtools(repo, "init")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "adopt")
    assert json.loads(mvtools(repo, "show", "--json", "--all").stdout)["models"] == []
    mvtools(repo, "verify")
