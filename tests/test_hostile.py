"""Hostile and broken input, repository states and security rules (issue 5, points 5 and 8).

Each refusal is one line on stderr (`mvtools: error: ...`), the exit code DESIGN.md gives
(2 bad input, 1 a check found problems, 3 I/O), no traceback, and nothing written.
Basic bad input (names, paths, versions, malformed mvtools.yaml) is in test_bad_input.py;
this file covers YAML bombs and deep nesting in every YAML mvtools reads, wrong types in
every ledger field, unreadable/special/changing artifacts, repository states (detached,
bare, shallow, merge/rebase in progress, future timestamps), option injection, and hooks
that must not run code from the repository they are in.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, assert_refused, git, head, init_repo, mvtools, repo_snapshot, tags, template_repo, write_model

def _build(r: Path) -> None:
    """mvtools init (git hooks), git-tracked model clf: v0.1.0 and v0.1.1 registered."""
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n    metrics: [metrics.json]\n"
                 "  - name: dirm\n    path: models/dirm\n", metrics='{"accuracy": 0.8}')
    write_model(r, "models/clf.bin", b"weights 0")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "clf v0.1.0")
    write_model(r, "models/clf.bin", b"weights 1")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "clf v0.1.1")
    assert {"clf@v0.1.0", "clf@v0.1.1"} <= set(tags(r))


r = template_repo("hostile", _build)


def refused(repo: Path, *args: str, code: int = 2, want: str | None = None, timeout: float = 60,
            env: dict[str, str] | None = None) -> str:
    return assert_refused(repo, *args, code=code, want=want, env=env, timeout=timeout)


# -- YAML bombs and deep nesting -----------------------------------------------------------
BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 70))
HOSTILE_YAML = {
    "alias-bomb": BOMB,
    "flow-nesting-5000": "x: " + "[" * 5000 + "]" * 5000 + "\n",
    "seq-nesting-3000": "- " * 3000 + "x\n",
    "block-nesting-1500": "".join(" " * i + f"k{i}:\n" for i in range(1500)) + " " * 1500 + "v\n",
    "many-aliases-small": "a: &a x\nb: [" + ", ".join(["*a"] * 600) + "]\n",
    "python-tag": "x: !!python/object/apply:os.system ['touch /tmp/mvtools-pwned']\n",
}


def _ledger_bomb(kind: str) -> str:
    text = HOSTILE_YAML[kind]
    if kind in ("python-tag",):
        return "mvtools_ledger: 1\nmodel: clf\nevents:\n- " + text
    return text


@pytest.mark.parametrize("kind", sorted(HOSTILE_YAML))
def test_hostile_yaml_in_the_ledger(r: Path, kind: str) -> None:
    (r / "registry" / "clf.yaml").write_text(_ledger_bomb(kind))
    for args in (["show", "clf"], ["history", "clf", "--json"], ["register", "clf"]):
        refused(r, *args, want="registry/clf.yaml")
    shows_the_others(r, "registry/clf.yaml")
    proc = mvtools(r, "verify", "--json", check=False)  # a check that found a problem: exit 1
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    kinds = {p["kind"] for p in json.loads(proc.stdout)["problems"]}
    assert "schema" in kinds
    assert not Path("/tmp/mvtools-pwned").exists()


@pytest.mark.parametrize("kind", sorted(HOSTILE_YAML))
def test_hostile_yaml_in_mvtools_yaml(r: Path, kind: str) -> None:
    (r / "mvtools.yaml").write_text(HOSTILE_YAML[kind])
    for args in (["show"], ["register", "clf"]):
        refused(r, *args, want="mvtools.yaml")
    assert not Path("/tmp/mvtools-pwned").exists()


@pytest.mark.parametrize("kind", sorted(HOSTILE_YAML))
def test_hostile_yaml_in_dvc_yaml(r: Path, kind: str) -> None:
    (r / "dvc.yaml").write_text(HOSTILE_YAML[kind])
    for args in (["show"], ["register", "clf"]):
        refused(r, *args, want="dvc.yaml")
    assert not Path("/tmp/mvtools-pwned").exists()


def test_hostile_yaml_refuses_the_commit(r: Path) -> None:
    (r / "mvtools.yaml").write_text(HOSTILE_YAML["alias-bomb"])
    git(r, "add", "mvtools.yaml")
    h = head(r)
    proc = git(r, "commit", "-q", "-m", "bomb", check=False)
    assert proc.returncode != 0 and "mvtools: error: mvtools.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr and head(r) == h


def test_block_nesting_beyond_the_depth_limit(r: Path) -> None:
    (r / "mvtools.yaml").write_text("".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "v\n")
    refused(r, "show", want="deeper than")


# -- wrong types in every ledger field --------------------------------------------------------
WRONG = {
    "event": [5, None, "explode", ["register"]],
    "model": [5, None, "other", {"a": 1}],
    "version": [5, None, "banana", "v1.2", ["v1"], "v0.1.1\nx", 1.5],
    "tag": [5, None, "nonsense", "other@v0.1.1", "--upload-pack=touch /tmp/mvtools-pwned"],
    "path": [5, None, "../../etc/passwd", "/etc/passwd", "-rf", ["a"]],
    "sha256": [5, None, "", "zz"],
    "size": ["5", -1, 1.5, True, None],
    "md5": [5, "zz", "../../../../etc/hostname"],
    "metrics": [5, "acc", [1, 2], {"a": {"b": [1]}}, {"accuracy": "high"}],
    "params": [5, "x", [1]],
    "lineage": [5, "x", [1], {"deps": 5}],
    "actor": [5, None, ["x"]],
    "timestamp": [5, None, "yesterday", "2020-01-01", 1700000000],
    "id": [5, None, "0" * 64],
}
WRONG_CASES = [(f, v) for f, vals in WRONG.items() for v in vals]


def _write_wrong(repo: Path, field: str, value: object, keep_id: bool = False) -> None:
    from mvtools import ledger as L

    doc = yaml.safe_load((repo / "registry" / "clf.yaml").read_text())
    ev = doc["events"][-1]
    ev[field] = value
    if field != "id":
        ev["id"] = L.event_id({k: v for k, v in ev.items() if k != "id"}) if not keep_id else ev["id"]
    (repo / "registry" / "clf.yaml").write_text(L.header("clf") + L.render_events(doc["events"]))


READ_CMDS = [["show", "--json"], ["history", "clf"], ["verify", "--json"], ["compare", "clf", "v0.1.0", "v0.1.1"]]
_UNCHECKED = "BUG: ledger.parse does not check the types of md5, metrics, params and lineage: "
COMPARE_CRASH = _UNCHECKED + ("'compare' crashes with 'internal error: AttributeError/TypeError' (exit 3) on "
                              "a register event whose metrics/params/lineage is not a mapping")
VERIFY_CRASH = _UNCHECKED + ("an md5 that is a list makes verify crash with 'internal error: TypeError: "
                             "unhashable type' (verify._unregistered builds a set of md5s)")


def _case(f: str, v: object):  # type: ignore[no-untyped-def]
    return pytest.param(f, v)


def run_main(capsys: pytest.CaptureFixture[str], repo: Path, *args: str) -> tuple[int, str, str]:
    """The CLI in-process (mvtools.cli.main catches everything as the console script does);
    the matrix below has ~60 cases, and a Python start per command would cost a minute."""
    from mvtools.cli import main

    capsys.readouterr()
    rc = main(["-C", str(repo), *args])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("field,value", [_case(f, v) for f, v in WRONG_CASES + [("md5", ["a"])]], ids=repr)
def test_wrong_type_in_a_ledger_field(r: Path, field: str, value: object, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """No traceback, no internal error; a refusal is one line; reads of a valid-looking ledger
    may succeed; nothing is written; nothing outside the repo is touched."""
    monkeypatch.chdir(r)
    _write_wrong(r, field, value)
    before = repo_snapshot(r)
    out_bin = r / "out.bin"
    for args in READ_CMDS + [["get", "clf@v0.1.1", "-o", str(out_bin)]]:
        rc, _out, err = run_main(capsys, r, *args)
        assert "Traceback" not in err and "internal error" not in err, (args, err)
        assert rc in (0, 1, 2), (args, rc, err)
        if rc:
            lines = err.strip().splitlines()
            assert len(lines) <= 1 and all(ln.startswith("mvtools: error: ") for ln in lines), (args, err)
        if args[0] == "get" and out_bin.exists():
            # get verifies the bytes against the ledger's sha256 before it writes
            assert hashlib.sha256(out_bin.read_bytes()).hexdigest() == yaml.safe_load(
                (r / "registry" / "clf.yaml").read_text())["events"][-1]["sha256"]
            out_bin.unlink()
    assert repo_snapshot(r)["files"] == before["files"]
    # writing on top of a broken ledger is refused (exit 2) or, for fields the schema does not
    # check, the ledger is extended without touching the old bytes
    write_model(r, "models/clf.bin", b"weights 2")
    old = (r / "registry" / "clf.yaml").read_bytes()
    rc, _out, err = run_main(capsys, r, "register", "clf")
    assert "Traceback" not in err and "internal error" not in err, err
    assert rc in (0, 2), err
    assert (r / "registry" / "clf.yaml").read_bytes().startswith(old)
    assert not Path("/tmp/mvtools-pwned").exists()


def shows_the_others(r: Path, want: str) -> None:
    """`show` of all models: a broken ledger hides its own model only (issue 9, item 8): the
    others are listed, the broken one is one error line, exit 1, nothing written."""
    before = repo_snapshot(r)
    proc = mvtools(r, "show", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mvtools: error: ") and want in lines[0], proc.stderr
    assert proc.stdout.startswith("MODEL")
    assert repo_snapshot(r) == before


def test_ledger_event_id_mismatch_is_refused(r: Path) -> None:
    _write_wrong(r, "size", 12345, keep_id=True)
    refused(r, "show", "clf", want="does not match its id")
    shows_the_others(r, "does not match its id")


def test_ledger_file_for_another_model(r: Path) -> None:
    shutil.copy(r / "registry" / "clf.yaml", r / "registry" / "other.yaml")
    refused(r, "show", "other", want="registry/other.yaml")
    shows_the_others(r, "registry/other.yaml")
    assert "clf" in mvtools(r, "show", check=False).stdout


def test_ledger_without_trailing_newline_refuses_append(r: Path) -> None:
    p = r / "registry" / "clf.yaml"
    p.write_bytes(p.read_bytes().rstrip(b"\n"))
    write_model(r, "models/clf.bin", b"weights 2")
    refused(r, "register", "clf", want="differs from the committed one")


# -- artifacts: unreadable, special, changing -----------------------------------------------
def _no_dac() -> list[str] | None:
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    return cmd if subprocess.run(cmd + ["true"], capture_output=True).returncode == 0 else None


def test_unreadable_artifact(r: Path) -> None:
    """Root reads anything; dropping CAP_DAC_OVERRIDE makes the mode bits count."""
    prefix = _no_dac()
    if prefix is None:
        pytest.skip("cannot drop CAP_DAC_OVERRIDE (no setpriv)")
    write_model(r, "models/clf.bin", b"weights 2")
    os.chmod(r / "models" / "clf.bin", 0)
    before = repo_snapshot(r)
    try:
        proc = subprocess.run(prefix + [sys.executable, "-m", "mvtools", "register", "clf"], cwd=r,
                              capture_output=True, text=True, timeout=60)
    finally:
        os.chmod(r / "models" / "clf.bin", 0o644)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "mvtools: error: models/clf.bin: permission denied"
    assert repo_snapshot(r) == before


def test_missing_artifact_in_a_directory_model(r: Path) -> None:
    refused(r, "register", "dirm", want="models/dirm")


def test_fifo_artifact_does_not_hang(r: Path) -> None:
    (r / "models" / "clf.bin").unlink()
    os.mkfifo(r / "models" / "clf.bin")
    try:
        refused(r, "register", "clf", timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail("register hung on a FIFO")


def test_directory_artifact_with_a_file_changing_while_hashed(r: Path) -> None:
    d = r / "models" / "dirm"
    d.mkdir()
    (d / "a.bin").write_bytes(b"a" * 1000)
    big = d / "big.bin"
    big.write_bytes(os.urandom(64 * 1024 * 1024))
    stop = threading.Event()

    def writer() -> None:
        with open(big, "r+b") as fh:
            i = 0
            while not stop.is_set():
                fh.seek((i * 4096) % (64 * 1024 * 1024))
                fh.write(os.urandom(64))
                fh.flush()
                os.utime(big)
                i += 1
                time.sleep(0.0005)

    t = threading.Thread(target=writer, daemon=True)
    before = repo_snapshot(r)
    t.start()
    try:
        proc = mvtools(r, "register", "dirm", check=False)
    finally:
        stop.set()
        t.join()
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().startswith("mvtools: error: models/dirm/big.bin: changed while it was being hashed")
    after = repo_snapshot(r)
    assert after["refs"] == before["refs"] and after["index"] == before["index"]
    assert not (r / "registry" / "dirm.yaml").exists()


def test_symlinked_model_dir_leaving_the_repo_in_mvtools_yaml(r: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "w.bin").write_bytes(b"secret")
    (r / "models" / "dirm").symlink_to(outside)
    refused(r, "show", want="outside the repository")


def test_version_taken_by_a_tag_on_another_branch(r: Path) -> None:
    git(r, "checkout", "-q", "-b", "other")
    write_model(r, "models/clf.bin", b"other branch")
    mvtools(r, "register", "clf")  # v0.1.2, tag shared
    git(r, "checkout", "-q", "main")
    write_model(r, "models/clf.bin", b"main bytes")
    refused(r, "register", "clf", "--version", "v0.1.2", want="taken")
    refused(r, "register", "clf", "--version", "0.1.2", want="taken")
    assert "clf v0.1.3" in mvtools(r, "register", "clf").stdout  # the default skips it too


def test_archived_version_number_cannot_be_reused(r: Path) -> None:
    mvtools(r, "archive", "clf", "v0.1.1")
    write_model(r, "models/clf.bin", b"weights 2")
    refused(r, "register", "clf", "--version", "v0.1.1", want="taken")
    assert "clf v0.1.2" in mvtools(r, "register", "clf").stdout


# -- repository states -----------------------------------------------------------------------
def test_detached_head_everything_works(r: Path) -> None:
    git(r, "checkout", "-q", "--detach")
    write_model(r, "models/clf.bin", b"detached bytes")
    out = mvtools(r, "register", "clf").stdout
    assert "clf v0.1.2" in out and tags(r)["clf@v0.1.2"] == head(r)
    mvtools(r, "promote", "clf", "v0.1.2", "staging")
    doc = json.loads(mvtools(r, "show", "clf", "--json").stdout)
    assert doc["models"][0]["stages"] == {"staging": "v0.1.2"}
    assert len(json.loads(mvtools(r, "history", "clf", "--json").stdout)["events"]) == 4
    mvtools(r, "get", "clf@v0.1.0", "-o", "old.bin")
    assert (r / "old.bin").read_bytes() == b"weights 0"
    (r / "old.bin").unlink()
    assert json.loads(mvtools(r, "verify", "--json").stdout)["problems"] == []
    refused(r, "push", want="detached HEAD")


@pytest.mark.parametrize("args", [["show"], ["history", "clf"], ["verify"], ["register", "clf"],
                                  ["get", "clf", "-o", "x.bin"], ["sync-tags"], ["promote", "clf", "v0.1.1", "staging"]],
                         ids=lambda a: a[0])
def test_bare_repository_exits_2_clearly(r: Path, tmp_path: Path, args: list[str]) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(r), str(bare))
    before = repo_snapshot(bare)
    proc = mvtools(bare, *args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"mvtools: error: {bare} is a bare git repository; mvtools needs a work tree"
    assert repo_snapshot(bare) == before


def test_shallow_clone_without_tags_reads_work(r: Path, tmp_path: Path) -> None:
    c = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-tags", f"file://{r}", str(c))
    assert tags(c) == {}
    doc = json.loads(mvtools(c, "show", "--json").stdout)
    assert {m["name"]: m["latest"] for m in doc["models"]}["clf"] == "v0.1.1"
    hist = json.loads(mvtools(c, "history", "clf", "--json").stdout)["events"]
    assert [e["version"] for e in hist] == ["v0.1.0", "v0.1.1"] and all(e["commit"] is None for e in hist)
    proc = mvtools(c, "verify", "--json", check=False)
    assert "Traceback" not in proc.stderr
    rep = json.loads(proc.stdout)
    # verify fails closed: what it cannot see is one problem, unless --allow-shallow accepts it
    assert proc.returncode == 1 and [(p["kind"], p["where"]) for p in rep["problems"]] == [("history", "shallow clone")]
    proc = mvtools(c, "verify", "--json", "--allow-shallow", check=False)
    rep = json.loads(proc.stdout)
    assert proc.returncode == 0 and rep["problems"] == [], rep
    assert any(u["kind"] == "history" and "shallow" in u["where"] for u in rep["unchecked"]), rep
    assert {u["kind"] for u in rep["unchecked"]} <= {"history", "tag-missing", "bytes"}, rep


def test_sync_tags_in_a_shallow_clone_does_not_invent_tags(r: Path, tmp_path: Path) -> None:
    c = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-tags", f"file://{r}", str(c))
    proc = mvtools(c, "sync-tags", check=False)
    t = tags(c)
    # clf@v0.1.0 was registered two commits before the boundary: no commit here holds it first
    assert "clf@v0.1.0" not in t or t["clf@v0.1.0"] != head(c), (proc.stdout, t)


WRITERS = [["register", "clf"], ["promote", "clf", "v0.1.1", "staging"], ["archive", "clf", "v0.1.0"],
           ["deprecate", "clf"], ["register", "newm", "--path", "models/new.bin"]]


@pytest.mark.parametrize("args", WRITERS, ids=lambda a: " ".join(a[:2]))
def test_merge_in_progress_writers_refuse(r: Path, args: list[str]) -> None:
    git(r, "checkout", "-q", "-b", "side", "HEAD~1")
    (r / "README.md").write_text("side\n")
    git(r, "commit", "-q", "-am", "side readme")
    git(r, "checkout", "-q", "main")
    (r / "README.md").write_text("main\n")
    git(r, "commit", "-q", "-am", "main readme")
    assert git(r, "merge", "side", check=False).returncode != 0
    write_model(r, "models/clf.bin", b"during the merge")
    write_model(r, "models/new.bin", b"new")
    refused(r, *args, want="a merge is in progress")
    # reads still work
    assert json.loads(mvtools(r, "show", "--json").stdout)["models"]


@pytest.mark.parametrize("args", WRITERS[:2], ids=lambda a: " ".join(a[:2]))
def test_rebase_in_progress_writers_refuse(r: Path, args: list[str]) -> None:
    git(r, "checkout", "-q", "-b", "side", "HEAD~1")
    (r / "README.md").write_text("side\n")
    git(r, "commit", "-q", "-am", "side readme")
    git(r, "checkout", "-q", "main")
    (r / "README.md").write_text("main\n")
    git(r, "commit", "-q", "-am", "main readme")
    git(r, "checkout", "-q", "side")
    proc = git(r, "rebase", "-q", "main", check=False)
    assert proc.returncode != 0 and (r / ".git" / "rebase-merge").exists(), proc.stderr
    write_model(r, "models/clf.bin", b"during the rebase")
    refused(r, *args, want="a rebase is in progress")


def test_future_timestamp_is_a_verify_warning(r: Path) -> None:
    from mvtools import ledger as L

    ev = L.make_event("promote", "clf", "Test User <test@example.com>", "2999-01-01T00:00:00Z",
                      version="v0.1.1", stage="staging", tag="clf#staging#1")
    p = r / "registry" / "clf.yaml"
    p.write_bytes(p.read_bytes() + L.render_events([ev]).encode())
    git(r, "add", "registry/clf.yaml")
    git(r, "commit", "-q", "-m", "an event from the future", env={"MVTOOLS_SKIP": "1"})
    mvtools(r, "sync-tags")  # the promote's stage tag, which the skipped hooks did not write
    proc = mvtools(r, "verify", "--json", check=False)
    rep = json.loads(proc.stdout)
    assert proc.returncode == 0 and rep["problems"] == [], rep
    assert [w["kind"] for w in rep["warnings"]] == ["future-timestamp"]
    assert "2999-01-01T00:00:00Z" in rep["warnings"][0]["message"]
    text = mvtools(r, "verify").stdout
    assert "warning: future-timestamp" in text and "verify: ok" in text


# -- security ---------------------------------------------------------------------------------
def _package_sources() -> list[Path]:
    return sorted((ROOT / "mvtools").rglob("*.py"))


def test_no_shell_and_only_safe_yaml_loaders_in_the_package() -> None:
    bad = []
    for p in _package_sources():
        for n, line in enumerate(p.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.search(r"shell\s*=\s*True|os\.system\(|os\.popen\(|\beval\(|\bexec\(|pickle|marshal\.load", code):
                bad.append(f"{p.name}:{n}: {line.strip()}")
            if re.search(r"yaml\.(load|load_all|unsafe_load|full_load)\(", code):
                if not re.search(r"Loader\s*=\s*(StrictLoader11|SafeLoader11|SafeLoader12|_Loader|yaml\.(C?SafeLoader))", code):
                    bad.append(f"{p.name}:{n}: {line.strip()}")
            if re.search(r"yaml\.(Unsafe|Full)?Loader\b|yaml\.CLoader\b|yaml\.CFullLoader", code):
                bad.append(f"{p.name}:{n}: {line.strip()}")
    assert bad == []
    from mvtools import yamlio

    assert issubclass(yamlio.SafeLoader11, (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    assert issubclass(yamlio.SafeLoader12, (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    assert issubclass(yamlio.StrictLoader11, yamlio.SafeLoader11)


def test_hook_scripts_use_no_eval_and_quote_their_inputs() -> None:
    for p in sorted((ROOT / "hooks").iterdir()):
        text = p.read_text()
        assert "eval " not in text and "source " not in text and "\n. " not in text, p.name
        assert "$PY -m" not in text.replace('"$PY" -m', ""), p.name  # the interpreter path is quoted


INJECTIONS = ["--upload-pack=touch {pwn}", "-c core.sshCommand=touch {pwn}", "--exec=touch {pwn}",
              "--output={pwn}"]


@pytest.mark.parametrize("inj", INJECTIONS)
def test_option_injection_through_names_paths_versions(r: Path, tmp_path: Path, inj: str) -> None:
    pwn = tmp_path / "pwned"
    text = inj.format(pwn=pwn)
    refused(r, "register", "--path", "models/clf.bin", "--", text)
    refused(r, "register", "x", f"--path={text}")
    refused(r, "register", "clf", f"--version={text}")
    refused(r, "history", "--", text)
    refused(r, "get", "--", text)
    refused(r, "promote", "clf", "v0.1.1", "--", text)
    refused(r, "push", "--", text)
    assert not pwn.exists()


def test_option_like_path_inside_the_repo_is_harmless(r: Path, tmp_path: Path) -> None:
    pwn = tmp_path / "pwned"
    rel = f"models/--upload-pack=touch {pwn}"
    write_model(r, rel, b"odd name")
    out = mvtools(r, "register", "odd", "--path", rel).stdout
    assert "odd v0.1.0" in out
    assert git(r, "show", f"HEAD:{rel}").stdout == "odd name"
    assert json.loads(mvtools(r, "verify", "--json").stdout)["problems"] == []
    assert not pwn.exists()


def test_hooks_never_run_code_from_the_repository(r: Path, tmp_path: Path) -> None:
    pwn = tmp_path / "pwned"
    for mod in ("filelock.py", "yaml.py", "json.py"):
        (r / mod).write_text(f"import pathlib\npathlib.Path({str(pwn)!r}).write_text({mod!r})\n")
    write_model(r, "models/clf.bin", b"weights 2")
    git(r, "add", "models/clf.bin")
    git(r, "commit", "-q", "-m", "retrain", check=False)
    assert not pwn.exists(), f"repository code ran: {pwn.read_text()}"


def test_hooks_do_not_read_hook_config_from_the_repository(r: Path, tmp_path: Path) -> None:
    """A cloned repo cannot make its own hooks run: core.hooksPath from a committed file is
    not honoured, and the installed hooks exec the interpreter recorded at install time."""
    hook = (r / ".git" / "hooks" / "pre-commit").read_text()
    assert f"MVTOOLS='{Path(sys.executable).parent / 'mvtools'}'" in hook
    evil = r / "evil-hooks"
    evil.mkdir()
    (evil / "pre-commit").write_text(f"#!/bin/sh\ntouch {tmp_path / 'pwned'}\n")
    (evil / "pre-commit").chmod(0o755)
    (r / ".gitconfig").write_text("[core]\n\thooksPath = evil-hooks\n")
    git(r, "add", "evil-hooks", ".gitconfig")
    git(r, "commit", "-q", "-m", "evil")
    c = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(r), str(c))
    mvtools(c, "install-hooks")
    write_model(c, "models/clf.bin", b"weights 2")
    git(c, "add", "models/clf.bin")
    git(c, "commit", "-q", "-m", "retrain")
    assert not (tmp_path / "pwned").exists()
