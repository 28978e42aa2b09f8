"""Every ledger event is validated semantically (issue 9, I3 and I1's spelling rule;
mvtools/ledger.py _check_semantics over the grammar of mvtools/versioning.py).

Before, an appended event with ``tag: main`` made post-commit create a tag named ``main``,
and a version written ``1.0.0`` was accepted, then crashed ``show`` and every later commit
with exit 3. Now both are refused in one line (exit 2, the file, the event number and the
key named) at the pre-commit hook and by every reading command, and nothing is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_refused, git, head, init_repo, mvtools, tags, template_repo, write_model
from conftest import ledger_bytes as _ledger

from mvtools import ledger as L
from mvtools.errors import ConfigError

ACTOR = "Test User <test@example.com>"
TS = "2026-01-01T00:00:00Z"
SRC = "registry/clf.yaml"


def _reg(version: str = "v0.1.0", model: str = "clf", **kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict(version=version, tag=f"{model.replace(':', '=')}@{version}",
                                  path="models/clf.bin", sha256=version.encode().hex()[:64].ljust(64, "0"),
                                  size=3, md5=None, metrics=None, params=None, lineage=None)
    fields.update(kw)
    return L.make_event("register", model, ACTOR, TS, **fields)


def _ev(kind: str, **kw: Any) -> dict[str, Any]:
    return L.make_event(kind, "clf", ACTOR, TS, **kw)


# -- every kind as mvtools (and import-gto) writes it parses --------------------------------
VALID = [
    _reg("v0.1.0"),
    _reg("v20260101000000_abcdef12"),
    _reg("v1.0.0-rc.1+build.5"),
    _ev("promote", version="v0.1.0", stage="prod", tag="clf#prod#1"),
    _ev("promote", version="v0.1.0", stage="prod", tag="clf#prod#2", imported_from="gto"),
    _ev("rollback", stage="prod", version="v0.1.0", previous="v1.0.0-rc.1+build.5", tag="clf#prod#4"),
    _ev("rollback", stage="prod", version=None, previous="v0.1.0", tag="clf#prod!#5", imported_from="gto"),
    _ev("archive", version="v0.1.0", tag="clf@v0.1.0!"),
    _ev("deprecate", tag="clf@deprecated"),
    _ev("deploy", env="prod", action="start", version="v0.1.0", strategy="blue-green",
        state={"stable": "v0.1.0", "candidate": None}),
    _ev("deploy", action="publish", version="v0.1.0", uri="file:///tmp/x"),
]


def test_every_kind_as_mvtools_writes_it_parses() -> None:
    assert L.parse(_ledger(*VALID), SRC).ids == [e["id"] for e in VALID]


def test_a_model_of_a_dvc_yaml_in_a_subfolder() -> None:
    """``sub/dvc.yaml`` artifact ``m`` is the model ``sub:m``, tagged ``sub=m@...``."""
    ev = _reg("v0.1.0", model="sub:m")
    assert ev["tag"] == "sub=m@v0.1.0"
    assert L.parse(_ledger(ev, model="sub:m"), "registry/sub=m.yaml").events == [ev]
    bad = _reg("v0.1.1", model="sub:m", tag="sub:m@v0.1.1")
    with pytest.raises(ConfigError, match="event 2: tag 'sub:m@v0.1.1' is not 'sub=m@v0.1.1'"):
        L.parse(_ledger(ev, bad, model="sub:m"), "registry/sub=m.yaml")


# -- hostile or hand-written events: (event 2, what the one-line refusal says) ----------------
HOSTILE = [
    (_reg("1.0.0"), "version '1.0.0' is not a version"),
    (_reg("v1.0"), "version 'v1.0' is not a version"),
    (_reg("main"), "version 'main' is not a version"),
    (_reg("v01.0.0"), "version 'v01.0.0' is not a version"),
    (_reg("v0.2.0\n", tag="clf@v0.2.0"), "version 'v0.2.0\\n' is not a version"),
    (_reg("20260101000000_abcdef12"), "version '20260101000000_abcdef12' is not a version"),
    (_reg("v0.2.0", tag="main"), "tag 'main' is not 'clf@v0.2.0'"),
    (_reg("v0.2.0", tag="clf@v9.9.9"), "tag 'clf@v9.9.9' is not 'clf@v0.2.0'"),
    (_reg("v0.2.0", tag="other@v0.2.0"), "tag 'other@v0.2.0' is not 'clf@v0.2.0'"),
    (_reg("v0.2.0", tag="clf@v0.2.0!"), "tag 'clf@v0.2.0!' is not 'clf@v0.2.0'"),
    (_ev("promote", version="v0.1.0", stage="prod", tag="main"), "tag 'main' is not a prod tag of clf (clf#prod#N)"),
    (_ev("promote", version="v0.1.0", stage="prod", tag="clf@v0.1.0"), "tag 'clf@v0.1.0' is not a prod tag"),
    (_ev("promote", version="v0.1.0", stage="prod", tag="other#prod#1"), "tag 'other#prod#1' is not a prod tag"),
    (_ev("promote", version="v0.1.0", stage="prod", tag="clf#staging#1"), "tag 'clf#staging#1' is not a prod"),
    (_ev("promote", version="v0.1.0", stage="prod", tag="clf#prod!#1"), "tag 'clf#prod!#1' is not a prod tag"),
    (_ev("promote", version="v0.1.0", stage="prod"), "tag None is not a prod tag"),
    (_ev("promote", version="1.0.0", stage="prod", tag="clf#prod#1"), "version '1.0.0' is not a version"),
    (_ev("promote", version="v0.1.0", stage=7, tag="clf#prod#1"), "stage must be a string"),
    (_ev("rollback", stage="prod", version="v0.1.0", previous="main", tag="clf#prod#2"),
     "previous 'main' is not a version"),
    (_ev("rollback", stage="prod", version=None, previous="v0.1.0", tag="clf#prod#2"),
     "version None is not a version"),
    (_ev("rollback", stage="prod", version="v0.1.0", previous="v0.1.0", tag="clf#prod!#2"),
     "tag 'clf#prod!#2' is not a prod tag of clf (clf#prod#N)"),
    (_ev("rollback", stage="prod", version="v0.1.0", previous="v0.1.0", tag="clf#prod#2", imported_from="gto"),
     "tag 'clf#prod#2' is not a prod tag of clf (clf#prod!#N)"),
    (_ev("archive", version="v0.1.0", tag="clf@v0.1.0"), "tag 'clf@v0.1.0' is not 'clf@v0.1.0!'"),
    (_ev("archive", version="0.1.0", tag="clf@v0.1.0!"), "version '0.1.0' is not a version"),
    (_ev("deprecate", tag="main"), "tag 'main' is not 'clf@deprecated'"),
    (_ev("deprecate"), "tag None is not 'clf@deprecated'"),
    (_ev("deploy", env="prod", action="start", state={}, tag="main"), "tag 'main': deploy events carry no tag"),
    (_ev("deploy", action="publish", version="latest", uri="file:///x"), "version 'latest' is not a version"),
]


@pytest.mark.parametrize("ev, want", HOSTILE, ids=[f"{e['event']}-{i}" for i, (e, _w) in enumerate(HOSTILE)])
def test_a_hostile_event_is_refused_in_one_line(ev: dict[str, Any], want: str) -> None:
    data = _ledger(_reg("v0.1.0"), ev)
    with pytest.raises(ConfigError) as info:
        L.parse(data, SRC)
    msg = str(info.value)
    assert msg.startswith(f"{SRC}: event 2: ") and want in msg and "\n" not in msg, msg
    # the same refusal whichever way the ledger is read: a cached prefix plus the appended tail
    cache = L.LedgerCache(None)
    with pytest.raises(ConfigError, match="event 2: "):
        cache.load(data, SRC)


def test_the_cache_judges_an_appended_tail_and_rechecks_what_an_older_mvtools_cached(tmp_path: Path) -> None:
    good = _ledger(_reg("v0.1.0"))
    bad = good + L.render_events([_reg("v0.2.0", tag="main")]).encode()
    cache = L.LedgerCache(tmp_path / "cache")
    assert cache.load(good, SRC).ids == [_reg("v0.1.0")["id"]]
    with pytest.raises(ConfigError, match="event 2: tag 'main'"):  # the tail-only parse
        L.LedgerCache(tmp_path / "cache").load(bad, SRC)
    # an entry cached unchecked by an mvtools that did not validate events is not trusted
    events = [_reg("v0.1.0"), _reg("v0.2.0", tag="main")]
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / f"{L.blob_id(bad)}.json").write_text(json.dumps({"model": "clf", "events": events}))
    with pytest.raises(ConfigError, match="event 2: tag 'main'"):
        L.LedgerCache(tmp_path / "old").load(bad, SRC)


# -- through real commits --------------------------------------------------------------------
def _build(r: Path) -> None:
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n    metrics: [metrics.json]\n",
              metrics='{"accuracy": 0.8}')
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "set up mvtools")
    write_model(r, "models/clf.bin", "weights one\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "clf v0.1.0")


r = template_repo("ledger-semantics", _build)


def _append(r: Path, ev: dict[str, Any]) -> None:
    with open(r / SRC, "a") as fh:
        fh.write(L.render_events([ev]))
    git(r, "add", SRC)


def _hook_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("mvtools: error: ")]
    assert len(lines) == 1 and "Traceback" not in stderr and "internal error" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize("ev, want", [
    (_reg("v0.2.0", tag="main"), "event 2: tag 'main' is not 'clf@v0.2.0'"),
    (_reg("1.0.0"), "event 2: version '1.0.0' is not a version"),
    (_ev("promote", version="v0.1.0", stage="prod", tag="main"), "event 2: tag 'main' is not a prod tag"),
])
def test_the_pre_commit_hook_refuses_a_hostile_event(r: Path, ev: dict[str, Any], want: str) -> None:
    before, before_tags = head(r), tags(r)
    _append(r, ev)
    proc = git(r, "commit", "-q", "-m", "hostile", check=False)
    assert proc.returncode != 0
    line = _hook_error(proc.stderr)
    assert SRC in line and want in line, line
    assert (head(r), tags(r)) == (before, before_tags)
    assert "main" not in tags(r)


def test_a_hostile_event_committed_anyway_is_refused_by_every_reader(r: Path) -> None:
    """--no-verify skips pre-commit: post-commit creates no tag `main`, reading commands and
    later commits refuse in one line (exit 2), verify reports it (exit 1)."""
    before_tags = tags(r)
    _append(r, _reg("v0.2.0", tag="main"))
    proc = git(r, "commit", "-q", "--no-verify", "-m", "hostile", check=False)
    assert proc.returncode == 0, proc.stderr
    assert tags(r) == before_tags  # no tag named main
    want = f"{SRC}: event 2: tag 'main' is not 'clf@v0.2.0'"
    show = mvtools(r, "show", check=False)  # all models: the others would be listed; this one named
    assert show.returncode == 1 and show.stderr.startswith(f"mvtools: error: {want}"), show.stderr
    assert len(show.stderr.strip().splitlines()) == 1, show.stderr
    for args in (["show", "clf"], ["history", "clf"], ["get", "clf@v0.1.0", "-o", "out.bin"],
                 ["promote", "clf", "v0.1.0", "staging"]):
        assert_refused(r, *args, want=want)
    # sync-tags mends every other ledger and names this one (exit 1, like show of all models)
    out = mvtools(r, "sync-tags", check=False)
    assert out.returncode == 1 and out.stderr.startswith(f"mvtools: error: {want}"), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert tags(r) == before_tags
    out = mvtools(r, "verify", check=False)
    assert out.returncode == 1 and want in out.stdout + out.stderr, out.stdout + out.stderr
    # the next commit of new model bytes: a one-line refusal, not exit 3
    h = head(r)
    write_model(r, "models/clf.bin", "weights two\n")
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "clf two", check=False)
    assert proc.returncode != 0 and head(r) == h
    assert want in _hook_error(proc.stderr)


def test_a_version_spelt_without_v_committed_anyway(r: Path) -> None:
    """The reported crash: `1.0.0` made show (and every later commit) exit 3."""
    _append(r, _reg("1.0.0"))
    git(r, "commit", "-q", "--no-verify", "-m", "hostile")
    assert "clf@1.0.0" not in tags(r)
    assert_refused(r, "show", "clf", want=f"{SRC}: event 2: version '1.0.0' is not a version")
    write_model(r, "models/clf.bin", "weights two\n")
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "clf two", check=False)
    assert proc.returncode != 0 and "event 2: version '1.0.0'" in _hook_error(proc.stderr)


def test_register_version_spellings(r: Path) -> None:
    """`register --version 1.0.0` is written v1.0.0 (as GTO's --version takes it); anything
    that is not a version is refused before anything is written."""
    write_model(r, "models/clf.bin", "weights two\n")
    for bad in ("v1.0", "main", "1.0"):
        assert_refused(r, "register", "clf", "--version", bad, want="invalid version")
    out = json.loads(mvtools(r, "register", "clf", "--version", "1.0.0", "--json").stdout)
    assert (out["version"], out["tag"]) == ("v1.0.0", "clf@v1.0.0")
    assert tags(r)["clf@v1.0.0"] == head(r)
    assert mvtools(r, "verify").returncode == 0
