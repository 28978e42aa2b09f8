"""Teams (issue 12): many clones registering and pushing to one git remote and one DVC
remote, against real servers the tests start (tests/servers.py): a `git daemon` on
127.0.0.1 and moto's standalone S3 server as the DVC remote (dvc-s3, `endpointurl`).

`mvtools push` resolves a push race by itself: another clone's earlier version number or
stage counter makes this clone's *unpushed* registrations take the next free ones (their
events and tags rewritten), and it pushes again; a published version is never renumbered.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from conftest import BIN, assert_refused, git, gto_show, init_repo, mvtools, tags, write_model
from servers import GitDaemon, add_dvc_s3_remote, s3_keys

DVC_YAML = "artifacts:\n  net:\n    path: models/net.bin\n    type: model\n"


def _dvc(r: Path, *args: str) -> None:
    subprocess.run([str(BIN / "dvc"), *args], cwd=r, check=True, capture_output=True)


def _register_dvc(r: Path, content: str, msg: str) -> None:
    write_model(r, "models/net.bin", content)
    _dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", msg)


def _register_git(r: Path, content: str, msg: str) -> None:
    write_model(r, "models/clf.bin", content)
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", msg)


def _clone(url: str, dest: Path) -> Path:
    git(dest.parent, "clone", "-q", url, str(dest))
    mvtools(dest, "install-hooks")
    mvtools(dest, "install-merge-driver")
    return dest


def _events(r: Path, model: str, rev: str = "HEAD") -> list[dict]:  # type: ignore[type-arg]
    return yaml.safe_load(git(r, "show", f"{rev}:registry/{model}.yaml").stdout)["events"]


def _remote_tags(bare: Path) -> dict[str, str]:
    out = git(bare, "for-each-ref", "--format=%(refname:strip=2) %(*objectname)", "refs/tags").stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


@pytest.fixture
def dvc_team(tmp_path: Path, git_daemon: GitDaemon, s3_remote: str, s3_endpoint: str) -> tuple[Path, str]:
    """A DVC repo (artifact `net` declared in dvc.yaml, v0.1.0 registered) whose DVC remote is
    an S3 bucket (committed) and whose git remote the daemon serves, pushed: (repo, URL)."""
    r = init_repo(tmp_path / "seed", "")
    (r / "dvc.yaml").write_text(DVC_YAML)
    add_dvc_s3_remote(r, s3_remote, s3_endpoint)
    _register_dvc(r, "net weights 0\n", "net v0.1.0")
    url = git_daemon.bare("origin")
    git(r, "remote", "add", "origin", url)
    mvtools(r, "push")
    return r, url


@pytest.fixture
def git_team(tmp_path: Path, git_daemon: GitDaemon) -> tuple[Path, str]:
    """A git-tracked model `clf` (v0.1.0) pushed to the daemon: (repo, URL)."""
    r = init_repo(tmp_path / "seed", "  - name: clf\n    path: models/clf.bin\n")
    _register_git(r, "clf 0\n", "clf v0.1.0")
    url = git_daemon.bare("origin")
    git(r, "remote", "add", "origin", url)
    mvtools(r, "push")
    return r, url


# -- one clone: push, get, verify --fetch, publish, dvc artifacts get ----------------------
@pytest.mark.slow

def _push_all_at_once(clones: list[Path], timeout: float) -> list[subprocess.CompletedProcess[str]]:
    """`mvtools push --json` in every clone, released together by a barrier; each must exit 0."""
    start = threading.Barrier(len(clones))
    results: list[subprocess.CompletedProcess[str] | None] = [None] * len(clones)

    def push(i: int) -> None:
        start.wait()
        results[i] = subprocess.run([sys.executable, "-m", "mvtools", "push", "--json"], cwd=clones[i],
                                    capture_output=True, text=True, env=os.environ.copy(), timeout=timeout)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(len(clones))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, proc in enumerate(results):
        assert proc is not None and proc.returncode == 0, (i, proc and proc.stderr)
    return [p for p in results if p is not None]


def test_push_then_a_fresh_clone_gets_verifies_and_publishes(dvc_team: tuple[Path, str], tmp_path: Path,
                                                              git_daemon: GitDaemon, s3_remote: str,
                                                              s3_endpoint: str) -> None:
    r, url = dvc_team
    assert git(r, "config", "branch.main.remote").stdout.strip() == "origin"  # upstream set by push
    _register_dvc(r, "net weights 1\n", "net v0.1.1")
    res = json.loads(mvtools(r, "push", "--json").stdout)
    assert res["tags"] == 2 and res["renumbered"] == [] and res["upstream_set"] is False
    assert git(r, "status", "-sb").stdout.startswith("## main...origin/main")
    evs = _events(r, "net")
    keys = s3_keys(s3_endpoint, s3_remote)
    for ev in evs:
        assert any(k.replace("/", "").endswith(ev["md5"]) for k in keys), f"{ev['version']} not in S3"
    assert {"net@v0.1.0", "net@v0.1.1"} <= set(_remote_tags(git_daemon.path()))

    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", url, str(fresh))
    got = json.loads(mvtools(fresh, "get", "net@v0.1.0", "-o", "v0.bin", "--json").stdout)
    assert (fresh / "v0.bin").read_text() == "net weights 0\n" and got["sha256"] == evs[0]["sha256"]
    rep = json.loads(mvtools(fresh, "verify", "--fetch", "--json").stdout)
    assert rep["ok"] and rep["unchecked"] == [], rep
    # publish to S3 (fsspec reads the S3-compatible endpoint from AWS_ENDPOINT_URL)
    pub = f"{s3_remote}/published"
    mvtools(fresh, "publish", "net@v0.1.1", "--to", pub, env={"AWS_ENDPOINT_URL": s3_endpoint})
    assert "published/net/v0.1.1/net.bin" in s3_keys(s3_endpoint, pub)
    # DVC's own artifacts get, through the git daemon and the committed S3 remote
    out = tmp_path / "by-dvc.bin"
    subprocess.run([str(BIN / "dvc"), "artifacts", "get", url, "net", "--rev", "v0.1.1", "-o", str(out)],
                   cwd=tmp_path, check=True, capture_output=True)
    assert out.read_text() == "net weights 1\n"


def test_push_sets_the_upstream_so_a_plain_git_pull_knows_where_from(git_team: tuple[Path, str]) -> None:
    r, _url = git_team  # the fixture's `mvtools push` was the branch's first
    assert git(r, "config", "branch.main.remote").stdout.strip() == "origin"
    assert git(r, "config", "branch.main.merge").stdout.strip() == "refs/heads/main"
    assert git(r, "pull", "-q").returncode == 0
    _register_git(r, "clf 1\n", "clf v0.1.1")
    res = json.loads(mvtools(r, "push", "--json").stdout)
    assert res["upstream_set"] is False and res["renumbered"] == [] and res["retries"] == 0


# -- errors: one line with the cause, exit 3 -------------------------------------------------
def test_an_unreachable_git_remote_is_one_line_with_its_cause(git_team: tuple[Path, str], tmp_path: Path) -> None:
    r, _url = git_team
    _register_git(r, "clf 1\n", "clf v0.1.1")
    from servers import free_port

    git(r, "remote", "set-url", "origin", f"git://127.0.0.1:{free_port()}/nowhere.git")
    line = assert_refused(r, "push", code=3)
    assert "git fetch origin failed" in line and "unable to connect" in line, line


def test_a_git_remote_that_refuses_is_one_line_with_its_cause(git_team: tuple[Path, str],
                                                               git_daemon: GitDaemon) -> None:
    r, _url = git_team
    git(git_daemon.path(), "config", "receive.denyNonFastForwards", "true")
    hook = git_daemon.path() / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'quota exceeded for this repository' >&2\nexit 1\n")
    hook.chmod(0o755)
    _register_git(r, "clf 1\n", "clf v0.1.1")
    line = assert_refused(r, "push", code=3)
    assert "quota exceeded" in line and "pre-receive hook declined" in line, line


def test_an_unusable_dvc_remote_is_one_line_with_its_cause(dvc_team: tuple[Path, str], s3_endpoint: str) -> None:
    r, _url = dvc_team
    _dvc(r, "remote", "modify", "storage", "url", "s3://no-such-bucket-here")
    git(r, "commit", "-q", "-am", "a bucket that does not exist")
    _register_dvc(r, "net weights 1\n", "net v0.1.1")
    line = assert_refused(r, "push", code=3)
    assert "DVC push failed" in line and "NoSuchBucket" in line.replace(" ", ""), line


# -- two clones: the race, resolved by renumbering ------------------------------------------
def test_a_clone_that_lost_the_race_renumbers_its_unpushed_versions_and_stage_counters(
        git_team: tuple[Path, str], tmp_path: Path, git_daemon: GitDaemon) -> None:
    _r, url = git_team
    a, b = _clone(url, tmp_path / "a"), _clone(url, tmp_path / "b")
    _register_git(a, "a 1\n", "a1")
    mvtools(a, "promote", "clf", "v0.1.1", "staging")
    _register_git(b, "b 1\n", "b1")
    mvtools(b, "promote", "clf", "v0.1.1", "staging")
    _register_git(b, "b 2\n", "b2")
    mvtools(a, "push")
    a_tags = _remote_tags(git_daemon.path())
    res = json.loads(mvtools(b, "push", "--json").stdout)
    assert res["renumbered"] == ["clf@v0.1.1 -> clf@v0.1.2", "clf@v0.1.2 -> clf@v0.1.3",
                                 "clf#staging#1 -> clf#staging#2"], res
    remote = _remote_tags(git_daemon.path())
    for t, c in a_tags.items():  # published first: never renumbered or moved
        assert remote[t] == c
    evs = {e["version"]: e for e in _events(b, "clf") if e["event"] == "register"}
    assert list(evs) == ["v0.1.0", "v0.1.1", "v0.1.2", "v0.1.3"]
    for v in ("v0.1.2", "v0.1.3"):  # b's bytes, under new numbers, tagged on commits holding them
        commit = remote[f"clf@{v}"]
        held = {e["id"] for e in _events(b, "clf", commit)}
        assert evs[v]["id"] in held
        assert git(b, "show", f"{commit}:models/clf.bin").stdout == {"v0.1.2": "b 1\n", "v0.1.3": "b 2\n"}[v]
    assert remote["clf#staging#2"] == remote["clf@v0.1.2"]
    assert git(b, "log", "-1", "--format=%s", "HEAD~1").stdout.strip() == "Promote clf v0.1.2 to staging"
    assert (b / "models" / "clf.bin").read_text() == "b 2\n"
    for c in (a, b):
        git(c, "pull", "-q", "--tags")
        assert json.loads(mvtools(c, "verify", "--json").stdout)["ok"]
        show = json.loads(mvtools(c, "show", "--json").stdout)["models"][0]
        assert show["latest"] == "v0.1.3" and show["stages"] == {"staging": "v0.1.2"}
        assert gto_show(c)["clf"] == {"latest": "v0.1.3", "stages": {"staging": "v0.1.2"}}


def test_a_version_the_remote_has_by_tag_is_never_renumbered(git_team: tuple[Path, str], tmp_path: Path,
                                                            git_daemon: GitDaemon) -> None:
    """I1: b published clf@v0.1.1 by its tag alone (git push origin clf@v0.1.1); a's v0.1.1
    is provisional and moves, b's stays where it is."""
    _r, url = git_team
    a, b = _clone(url, tmp_path / "a"), _clone(url, tmp_path / "b")
    _register_git(b, "b 1\n", "b1")
    git(b, "push", "-q", "origin", "clf@v0.1.1", env={"MVTOOLS_SKIP": "1"})
    published = tags(b)["clf@v0.1.1"]
    _register_git(a, "a 1\n", "a1")
    assert json.loads(mvtools(a, "push", "--json").stdout)["renumbered"] == ["clf@v0.1.1 -> clf@v0.1.2"]
    res = json.loads(mvtools(b, "push", "--json").stdout)
    assert res["renumbered"] == []  # b's commit is published through its tag
    assert _remote_tags(git_daemon.path())["clf@v0.1.1"] == published


@pytest.mark.parametrize("pull, then", [("--no-rebase", "the hint"), ("--rebase", "mvtools push")])
def test_a_pull_that_stops_on_a_clash_stays_readable_and_its_hint_resolves_it(
        git_team: tuple[Path, str], tmp_path: Path, pull: str, then: str) -> None:
    _r, url = git_team
    a, b = _clone(url, tmp_path / "a"), _clone(url, tmp_path / "b")
    _register_git(a, "a 1\n", "a1")
    mvtools(a, "push")
    _register_git(b, "b 1\n", "b1")
    proc = git(b, "pull", pull, "--no-edit", check=False)
    assert proc.returncode != 0
    # show, history and verify still read the clone (this clone's committed ledger)
    show = json.loads(mvtools(b, "show", "--json").stdout)
    assert show["models"][0]["latest"] == "v0.1.1"
    assert [e["version"] for e in json.loads(mvtools(b, "history", "clf", "--json").stdout)["events"]] == \
        ["v0.1.0", "v0.1.1"]
    ver = mvtools(b, "verify", check=False)
    assert ver.returncode == 1 and "run: mvtools resolve" in ver.stdout
    # the hint the merge driver printed, run as printed (or mvtools push, which settles it too)
    m = re.search(r"run: (mvtools [a-z]+)", proc.stderr)
    assert m is not None and m.group(1) == "mvtools resolve", proc.stderr
    cmd = m.group(1) if then == "the hint" else then
    out = subprocess.run([sys.executable, "-m", *cmd.split()], cwd=b, capture_output=True, text=True,
                         env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    assert "clf@v0.1.1 -> clf@v0.1.2" in out.stdout
    assert git(b, "status", "--porcelain").stdout == ""
    assert json.loads(mvtools(b, "verify", "--json").stdout)["ok"]
    mvtools(b, "push")
    git(a, "pull", "-q", "--tags")
    assert [e["version"] for e in _events(a, "clf")] == ["v0.1.0", "v0.1.1", "v0.1.2"]
    assert json.loads(mvtools(a, "verify", "--json").stdout)["ok"]


# -- eight clones at once --------------------------------------------------------------------
@pytest.mark.slow
def test_eight_clones_pushing_at_once_land_every_registration_once(dvc_team: tuple[Path, str], tmp_path: Path,
                                                                   git_daemon: GitDaemon, s3_remote: str,
                                                                   s3_endpoint: str) -> None:
    _r, url = dvc_team
    n, per = 8, 2
    clones = [_clone(url, tmp_path / f"c{i}") for i in range(n)]
    want = {}
    for i, c in enumerate(clones):
        for k in range(per):
            content = f"clone {i} weights {k}\n"
            _register_dvc(c, content, f"c{i} v{k}")
            want[hashlib.sha256(content.encode()).hexdigest()] = content
    results = _push_all_at_once(clones, timeout=900)
    retries = sum(json.loads(p.stdout)["retries"] for p in results)
    assert retries >= 1  # they did race

    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", url, str(fresh))
    regs = [e for e in _events(fresh, "net") if e["event"] == "register"]
    versions = [e["version"] for e in regs]
    assert len(versions) == len(set(versions)) == 1 + n * per
    landed = [e["sha256"] for e in regs[1:]]
    assert sorted(landed) == sorted(want), "a registration was lost or landed twice"
    remote = _remote_tags(git_daemon.path())
    for ev in regs:
        commit = remote[ev["tag"]]
        assert ev["id"] in {e["id"] for e in _events(fresh, "net", commit)}, ev["tag"]
        dvcfile = yaml.safe_load(git(fresh, "show", f"{commit}:models/net.bin.dvc").stdout)
        assert dvcfile["outs"][0]["md5"] == ev["md5"], ev["tag"]
    rep = json.loads(mvtools(fresh, "verify", "--fetch", "--json").stdout)
    assert rep["ok"] and rep["unchecked"] == [], rep
    last = regs[-1]
    mvtools(fresh, "get", f"net@{last['version']}", "-o", "last.bin")
    assert (fresh / "last.bin").read_text() == want[last["sha256"]]


def test_resolve_leaves_a_merge_stopped_on_other_files_to_the_user(git_team: tuple[Path, str],
                                                                  tmp_path: Path) -> None:
    _r, url = git_team
    a, b = _clone(url, tmp_path / "a"), _clone(url, tmp_path / "b")
    (a / "README.md").write_text("from a\n")
    git(a, "commit", "-q", "-am", "a's readme")
    mvtools(a, "push")
    (b / "README.md").write_text("from b\n")
    git(b, "commit", "-q", "-am", "b's readme")
    assert git(b, "pull", "--no-rebase", "--no-edit", check=False).returncode != 0
    line = assert_refused(b, "resolve", code=2)
    assert "a merge is in progress with conflicts in README.md" in line, line


# -- mvtools push and a plain git push agree (the pre-push hook) ----------------------------
def _refusal_hint(stderr: str) -> str:
    """The command a pre-push refusal names, as printed (after 'run: ', before ' (')."""
    line = next(ln for ln in stderr.splitlines() if "mvtools: error:" in ln)
    return line.split("run: ", 1)[1].split(" (")[0].strip()


def test_a_plain_push_refused_on_a_clash_names_mvtools_push_which_renumbers_and_lands_it(
        git_team: tuple[Path, str], tmp_path: Path, git_daemon: GitDaemon) -> None:
    _r, url = git_team
    a, b = _clone(url, tmp_path / "a"), _clone(url, tmp_path / "b")
    _register_git(a, "a 1\n", "a1")
    mvtools(a, "push")
    assert git(a, "push", "origin", "main").returncode == 0  # a plain push after mvtools push: nothing to do
    before = _remote_tags(git_daemon.path())
    _register_git(b, "b 1\n", "b1")  # clf@v0.1.1 here too, other bytes
    proc = git(b, "push", "origin", "main", check=False)
    assert proc.returncode != 0, proc.stderr
    assert "another clone took v0.1.1 first" in proc.stderr, proc.stderr
    assert _remote_tags(git_daemon.path()) == before  # nothing of b's was published
    hint = _refusal_hint(proc.stderr)
    assert hint == "mvtools push origin", proc.stderr
    out = subprocess.run([sys.executable, "-m", *hint.split()], cwd=b, capture_output=True, text=True,
                         env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    assert "clf@v0.1.1 -> clf@v0.1.2" in out.stdout, out.stdout
    remote = _remote_tags(git_daemon.path())
    assert remote["clf@v0.1.1"] == before["clf@v0.1.1"]
    assert git(b, "show", f"{remote['clf@v0.1.2']}:models/clf.bin").stdout == "b 1\n"
    push_again = git(b, "push", "origin", "main")  # and a plain push after it is a no-op
    assert "Everything up-to-date" in push_again.stderr and _remote_tags(git_daemon.path()) == remote
    git(a, "pull", "-q", "--tags")
    assert [e["version"] for e in _events(a, "clf")] == ["v0.1.0", "v0.1.1", "v0.1.2"]
    assert json.loads(mvtools(a, "verify", "--json").stdout)["ok"]


@pytest.fixture
def counter_team(tmp_path: Path, git_daemon: GitDaemon) -> tuple[Path, str]:
    """`clf` whose v0.1.0 GTO registered in its counter form (clf@v0.1.0#1, imported), so
    mvtools writes that form too (clf@v0.1.1#2, ...); pushed to the daemon: (repo, URL)."""
    r = init_repo(tmp_path / "seed", "  - name: clf\n    path: models/clf.bin\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "mvtools", env={"MVTOOLS_SKIP": "1"})
    write_model(r, "models/clf.bin", "clf 0\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "clf 0 for gto", env={"MVTOOLS_SKIP": "1"})
    subprocess.run([str(BIN / "gto"), "register", "clf", "HEAD", "--version", "v0.1.0", "--simple", "false"],
                   cwd=r, check=True, capture_output=True)
    mvtools(r, "install-hooks")
    mvtools(r, "import-gto")
    assert "clf@v0.1.0#1" in tags(r)
    url = git_daemon.bare("origin")
    git(r, "remote", "add", "origin", url)
    mvtools(r, "push")
    return r, url


def test_counter_form_clash_is_refused_by_a_plain_push_and_renumbered_in_that_form(
        counter_team: tuple[Path, str], tmp_path: Path, git_daemon: GitDaemon) -> None:
    """GTO's counter form: a's clf@v0.1.1#2 and b's clf@v0.1.1#3 (b promoted first) are the
    same version under two names; the hook compares versions, not tag names, and mvtools
    push gives b's the next version and counter, in the counter form."""
    _r, url = counter_team
    a, b = _clone(url, tmp_path / "a"), _clone(url, tmp_path / "b")
    _register_git(a, "a 1\n", "a1")
    assert "clf@v0.1.1#2" in tags(a), tags(a)
    mvtools(a, "push")
    before = _remote_tags(git_daemon.path())
    mvtools(b, "promote", "clf", "v0.1.0", "staging")  # clf#staging#2 (a's v0.1.1 took #2 too)
    _register_git(b, "b 1\n", "b1")
    assert "clf@v0.1.1#3" in tags(b), tags(b)
    proc = git(b, "push", "origin", "main", check=False)
    assert proc.returncode != 0 and "another clone took v0.1.1 first" in proc.stderr, proc.stderr
    assert _remote_tags(git_daemon.path()) == before
    hint = _refusal_hint(proc.stderr)
    out = subprocess.run([sys.executable, "-m", *hint.split()], cwd=b, capture_output=True, text=True,
                         env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    remote = _remote_tags(git_daemon.path())
    for t, c in before.items():
        assert remote[t] == c
    new = sorted(set(remote) - set(before))
    assert new == ["clf#staging#3", "clf@v0.1.2#4"], (new, out.stdout)
    assert git(b, "show", f"{remote['clf@v0.1.2#4']}:models/clf.bin").stdout == "b 1\n"
    for c in (a, b):
        git(c, "pull", "-q", "--tags")
        assert json.loads(mvtools(c, "verify", "--json").stdout)["ok"]
        assert gto_show(c)["clf"] == {"latest": "v0.1.2", "stages": {"staging": "v0.1.0"}}


def test_a_registration_published_by_its_tag_alone_lands_on_the_branch(git_team: tuple[Path, str], tmp_path: Path,
                                                                      git_daemon: GitDaemon) -> None:
    """b's clf@v0.1.1 reached the remote by its tag only (a plain push whose branch was then
    rejected, or git push origin TAG); mvtools push keeps the number and puts its event on
    the remote branch, beside a's renumbered one."""
    _r, url = git_team
    a, b = _clone(url, tmp_path / "a"), _clone(url, tmp_path / "b")
    _register_git(b, "b 1\n", "b1")
    git(b, "push", "-q", "origin", "clf@v0.1.1", env={"MVTOOLS_SKIP": "1"})
    _register_git(a, "a 1\n", "a1")
    mvtools(a, "push")
    mvtools(b, "push")
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", url, str(fresh))
    regs = {e["version"]: e for e in _events(fresh, "clf") if e["event"] == "register"}
    assert sorted(regs) == ["v0.1.0", "v0.1.1", "v0.1.2"], regs
    remote = _remote_tags(git_daemon.path())
    assert git(fresh, "show", f"{remote['clf@v0.1.1']}:models/clf.bin").stdout == "b 1\n"
    assert json.loads(mvtools(fresh, "verify", "--json").stdout)["ok"]


def test_a_renumbered_promote_is_tagged_after_the_remotes_tags_even_from_a_clock_ahead(
        git_team: tuple[Path, str], tmp_path: Path, git_daemon: GitDaemon) -> None:
    """GTO orders a model's tags by time; a promote replayed after another clone's must be
    tagged after it, even when that clone's clock ran ahead (its tags dated in the future):
    else `gto show` names the earlier promote's version as the stage holder."""
    _r, url = git_team
    a, b = _clone(url, tmp_path / "a"), _clone(url, tmp_path / "b")
    ahead = {"GIT_COMMITTER_DATE": "@4102444800 +0000"}  # 2100-01-01: a's clock is far ahead
    for c, env in ((a, ahead), (b, {})):
        write_model(c, "models/clf.bin", f"{c.name}\n")
        git(c, "add", "-A")
        git(c, "commit", "-q", "-m", c.name, env=env)
        mvtools(c, "promote", "clf", "v0.1.1", "staging", env=env)
    mvtools(a, "push")
    mvtools(b, "push")
    when = dict(line.split() for line in git(b, "for-each-ref", "--format=%(refname:strip=2) %(creatordate:unix)",
                                             "refs/tags/clf*").stdout.splitlines())
    assert int(when["clf#staging#2"]) > int(when["clf#staging#1"]) >= 4102444800, when
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", url, str(fresh))
    show = json.loads(mvtools(fresh, "show", "--json").stdout)["models"][0]
    assert show["stages"] == {"staging": "v0.1.2"}
    assert gto_show(fresh)["clf"] == {"latest": "v0.1.2", "stages": {"staging": "v0.1.2"}}


@pytest.mark.slow
def test_three_clones_promoting_to_one_stage_at_once_all_land_and_gto_agrees(
        git_team: tuple[Path, str], tmp_path: Path, git_daemon: GitDaemon) -> None:
    _r, url = git_team
    clones = [_clone(url, tmp_path / f"c{i}") for i in range(3)]
    for i, c in enumerate(clones):
        _register_git(c, f"clone {i}\n", f"c{i}")  # clf@v0.1.1 in each
        mvtools(c, "promote", "clf", "v0.1.1", "staging")  # clf#staging#1 in each
    _push_all_at_once(clones, timeout=600)
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", url, str(fresh))
    evs = _events(fresh, "clf")
    assert sorted(e["version"] for e in evs if e["event"] == "register") == ["v0.1.0", "v0.1.1", "v0.1.2", "v0.1.3"]
    stage_tags = sorted(e["tag"] for e in evs if e["event"] == "promote")
    assert stage_tags == ["clf#staging#1", "clf#staging#2", "clf#staging#3"], stage_tags
    last = [e for e in evs if e["event"] == "promote"][-1]
    assert json.loads(mvtools(fresh, "verify", "--policy", "--json").stdout)["ok"]
    show = json.loads(mvtools(fresh, "show", "--json").stdout)["models"][0]
    assert show["stages"] == {"staging": last["version"]} and show["latest"] == "v0.1.3"
    assert gto_show(fresh)["clf"] == {"latest": "v0.1.3", "stages": {"staging": last["version"]}}
    for c in clones:  # a plain pull brings every clone to the same registry
        git(c, "pull", "-q", "--tags")
        assert json.loads(mvtools(c, "show", "--json").stdout)["models"][0] == show


def test_mvtools_push_publishes_only_the_tags_of_the_branch_it_pushes(git_team: tuple[Path, str], tmp_path: Path,
                                                                     git_daemon: GitDaemon) -> None:
    """A registration on another local branch stays unpublished (the pre-push hook refuses
    such a tag for a plain push: no branch of the remote records its event), so its number
    stays provisional; it is published with its branch."""
    r, _url = git_team
    git(r, "switch", "-q", "-c", "experiment")
    _register_git(r, "exp 1\n", "experiment")  # clf@v0.1.1 on experiment only
    git(r, "switch", "-q", "main")
    (r / "README.md").write_text("docs\n")
    git(r, "commit", "-qam", "docs")
    mvtools(r, "push")
    assert "clf@v0.1.1" not in _remote_tags(git_daemon.path())
    git(r, "switch", "-q", "experiment")
    mvtools(r, "push")  # experiment's registration, with its branch
    remote = _remote_tags(git_daemon.path())
    assert remote["clf@v0.1.1"] == git(r, "rev-parse", "HEAD").stdout.strip()
