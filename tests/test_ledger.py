"""mvtools/ledger.py: events and their ids, parsing, the append-only checks, the cache, writes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import ledger_bytes as ledger
from mvtools.errors import ConfigError, InternalError
from mvtools.ledger import (LedgerCache, append, atomic_write, blob_id, check_extends, check_ledger_change,
                            check_union, event_id, is_ledger_path, ledger_files, ledger_path,
                            make_event, model_of_ledger, parse, render_events)

TS = "2026-01-02T03:04:05Z"


def register(version: str, sha: str = "a" * 64, model: str = "clf", **kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"version": version, "tag": f"{model.replace(':', '=')}@{version}",
                              "path": "models/clf.bin", "sha256": sha, "size": 3, "md5": None, **kw}
    return make_event("register", model, "me", TS, **fields)


def promote(version: str, stage: str, n: int, model: str = "clf") -> dict[str, Any]:
    return make_event("promote", model, "me", TS, version=version, stage=stage, tag=f"{model}#{stage}#{n}")


# -- paths ---------------------------------------------------------------------------------
def test_ledger_paths_round_trip(tmp_path: Path) -> None:
    assert ledger_path("registry", "sub/dir:m") == "registry/sub/dir=m.yaml"
    assert model_of_ledger("registry", "registry/sub/dir=m.yaml") == "sub/dir:m"
    assert is_ledger_path("registry", "registry/a.yaml") and not is_ledger_path("registry", "registry2/a.yaml")
    for rel in ("registry/b.yaml", "registry/t/a.yaml", "registry/.b.yaml.1.tmp", "registry/notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    assert ledger_files(tmp_path, "registry") == ["registry/b.yaml", "registry/t/a.yaml"]


# -- events --------------------------------------------------------------------------------
def test_event_id_is_sha256_of_canonical_json_without_id() -> None:
    ev = make_event("deprecate", "clf", "me", TS, tag="clf@deprecated")
    body = {k: v for k, v in ev.items() if k != "id"}
    assert ev["id"] == hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert event_id(dict(reversed(list(ev.items())))) == ev["id"]  # key order does not matter
    assert event_id({**ev, "id": "anything"}) == ev["id"]
    assert event_id({**ev, "actor": "you"}) != ev["id"]
    # pinned: an id once written never changes under a new mvtools
    assert ev["id"] == "05124f051f22afdc3915e329034013bb1892f13ac3b6d3728f0fe0e775a54ade"


def test_make_event_refuses_unknown_kinds() -> None:
    with pytest.raises(ValueError):
        make_event("delete", "clf", "me", TS)


def test_parse_round_trips_rendered_events() -> None:
    evs = [register("v0.1.0"), promote("v0.1.0", "prod", 1),
           make_event("archive", "clf", "me", TS, version="v0.1.0", tag="clf@v0.1.0!"),
           make_event("rollback", "clf", "me", TS, version="v0.1.0", previous="v0.1.0", stage="prod",
                      tag="clf#prod#2"),
           make_event("deploy", "clf", "me", TS, version=None, environment="prod"),
           make_event("deprecate", "clf", "me", TS, tag="clf@deprecated")]
    led = parse(ledger(*evs), "registry/clf.yaml", "clf")
    assert led.model == "clf" and led.events == evs and led.ids == [e["id"] for e in evs]


def test_non_finite_metrics_keep_their_id() -> None:
    ev = register("v0.1.0", metrics={"loss": float("nan"), "max": float("inf")})
    assert parse(ledger(ev), "l.yaml").ids == [ev["id"]]


def _edit(ev: dict[str, Any], **kw: Any) -> dict[str, Any]:
    out = {**ev, **kw}
    out["id"] = event_id(out)  # a well-formed id: the check under test is another one
    return out


@pytest.mark.parametrize("doc, want", [
    (b"events: []\n", "l.yaml: not an mvtools ledger (no 'mvtools_ledger: 1' header)"),
    (b"mvtools_ledger: 2\nmodel: clf\nevents: []\n", "l.yaml: not an mvtools ledger"),
    (b"mvtools_ledger: 1\nmodel: other\nevents: []\n", "l.yaml: ledger names model 'other', expected 'clf'"),
    (b"mvtools_ledger: 1\nmodel: clf\nevents: 3\n", "l.yaml: events must be a list"),
    (b"mvtools_ledger: 1\nmodel: clf\nevents:\n- 1\n", "l.yaml: event 1 is not a mapping"),
])
def test_parse_refuses_bad_documents(doc: bytes, want: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse(doc, "l.yaml", "clf")
    assert str(exc.value).startswith(want) and "\n" not in str(exc.value)


@pytest.mark.parametrize("bad, want", [
    (lambda e: {**e, "id": "0" * 64}, "event 1 (register) does not match its id"),
    (lambda e: {k: v for k, v in e.items() if k != "actor"}, "event 1 has no 'actor'"),
    (lambda e: _edit(e, event="erase"), "event 1 has unknown kind 'erase'"),
    (lambda e: _edit(e, model="x"), "event 1 names model 'x', not 'clf'"),
    (lambda e: _edit(e, timestamp="2026-01-02 03:04"), "event 1: timestamp must be YYYY-MM-DDTHH:MM:SSZ"),
    (lambda e: _edit(e, size="3"), "event 1: size must be a int"),
    (lambda e: _edit(e, size=True), "event 1: size must be a int"),
    (lambda e: _edit(e, md5="xyz"), "event 1: md5 must be null or DVC's md5"),
    (lambda e: _edit(e, metrics=[1]), "event 1: metrics must be null or a mapping"),
    (lambda e: _edit(e, lineage={"deps": [1]}), "event 1: lineage must be null or a mapping"),
    (lambda e: _edit(e, version="1.0.0", tag="clf@1.0.0"), "event 1: version '1.0.0' is not a version"),
    (lambda e: _edit(e, tag="clf@v9.9.9"), "event 1: tag 'clf@v9.9.9' is not 'clf@v0.1.0'"),
])
def test_parse_refuses_bad_events_naming_file_and_event(bad: Any, want: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse(ledger(bad(register("v0.1.0"))), "registry/clf.yaml")
    assert str(exc.value).startswith("registry/clf.yaml: ") and want in str(exc.value), str(exc.value)


def test_parse_refuses_stage_tags_that_do_not_match_and_deploy_tags() -> None:
    with pytest.raises(ConfigError, match=r"tag 'clf#dev#1' is not a prod tag of clf \(clf#prod#N\)"):
        parse(ledger(_edit(promote("v0.1.0", "prod", 1), tag="clf#dev#1")), "l.yaml")
    with pytest.raises(ConfigError, match="deploy events carry no tag"):
        parse(ledger(make_event("deploy", "clf", "me", TS, version="v0.1.0", tag="clf@v0.1.0")), "l.yaml")


def test_parse_refuses_a_version_registered_twice_with_different_bytes() -> None:
    with pytest.raises(ConfigError, match="clf@v0.1.0 is registered twice with different bytes"):
        parse(ledger(register("v0.1.0"), register("v0.1.0", sha="b" * 64)), "l.yaml")
    parse(ledger(register("v0.1.0"), register("v0.1.0", path="x")), "l.yaml")  # same bytes: allowed


# -- the append-only checks ------------------------------------------------------------------
A, B, C = register("v0.1.0"), register("v0.1.1", sha="b" * 64), register("v0.1.2", sha="c" * 64)


def test_check_extends() -> None:
    s = "registry/clf.yaml"
    assert check_extends(None, ledger(A), s) is None and check_extends(b"", ledger(A), s) is None
    assert check_extends(ledger(A), ledger(A, B), s) is None
    assert check_extends(ledger(A), ledger(A), s) is None
    assert check_extends(ledger(A), None, s) == f"{s}: the ledger was deleted"
    assert check_extends(ledger(A, B), ledger(A), s) == f"{s}: 1 existing event(s) dropped or edited"
    assert check_extends(ledger(A, B), ledger(B, A), s) == f"{s}: existing events reordered"
    assert check_extends(ledger(A), ledger(A).replace(b"events:\n", b"events:  \n"), s) == \
        f"{s}: existing lines rewritten (events may only be appended)"
    assert check_extends(ledger(A), ledger(A) + b"- {bad: 1}\n", s).startswith(f"{s}: event 2 has no")


def test_check_union_and_check_ledger_change() -> None:
    s = "l.yaml"
    assert check_union([ledger(A, B), ledger(A, C)], ledger(A, B, C), s) is None
    assert check_union([ledger(A, B), ledger(A, C), None], ledger(A, C, B), s) is None
    assert check_union([ledger(A, B), ledger(A, C)], ledger(A, B), s) == f"{s}: the merge dropped 1 event(s) of its parents"
    assert check_ledger_change([ledger(A, B), ledger(A, C)], ledger(A, B, C), s) is None
    assert check_ledger_change([ledger(A)], ledger(A, B), s) is None
    assert check_ledger_change([], ledger(A), s) is None
    assert check_ledger_change([None], None, s) is None
    assert check_ledger_change([ledger(A), None], None, s) == f"{s}: the ledger was deleted"
    assert check_ledger_change([ledger(A, B)], ledger(B), s) == f"{s}: 1 existing event(s) dropped or edited"
    assert check_ledger_change([ledger(A), ledger(B)], b"junk", s).startswith(f"{s}: not an mvtools ledger")


# -- the cache -------------------------------------------------------------------------------
def test_ledger_cache_tail_parse_equals_a_full_parse(tmp_path: Path) -> None:
    cache = LedgerCache(tmp_path / "cache")
    one, two, three = ledger(A), ledger(A, B), ledger(A, B, C)
    for data in (one, two, three):
        assert cache.load(data, "registry/clf.yaml", "clf") == parse(data, "registry/clf.yaml", "clf")
    # a fresh cache object reads the entries the last one wrote
    again = LedgerCache(tmp_path / "cache")
    assert again.load(three, "registry/clf.yaml") == parse(three, "l")
    names = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert f"{blob_id(three)}.json" in names and f"{blob_id(one)}.json" not in names  # one entry per file


def test_ledger_cache_tail_is_checked_like_a_full_parse(tmp_path: Path) -> None:
    cache = LedgerCache(tmp_path / "cache")
    cache.load(ledger(A), "l.yaml")
    bad = ledger(A) + render_events([{**B, "id": "0" * 64}]).encode()
    with pytest.raises(ConfigError, match="event 2 \\(register\\) does not match its id"):
        cache.load(bad, "l.yaml")
    dup = ledger(A) + render_events([register("v0.1.0", sha="d" * 64)]).encode()
    with pytest.raises(ConfigError, match="registered twice"):
        cache.load(dup, "l.yaml")


def test_blob_id_is_gits() -> None:
    assert blob_id(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    assert blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_ledger_cache_without_a_directory_parses(tmp_path: Path) -> None:
    assert LedgerCache(None).load(ledger(A, B), "l.yaml").events == [A, B]


# -- writes ----------------------------------------------------------------------------------
def test_append_creates_with_header_then_appends_bytes(tmp_path: Path) -> None:
    path = tmp_path / "registry" / "clf.yaml"
    first = append(path, "clf", [A])
    assert first == ledger(A) == path.read_bytes()
    second = append(path, "clf", [B, C], expected=first)
    assert second.startswith(first) and parse(second, "l").events == [A, B, C]
    assert check_extends(first, second, "l") is None


def test_append_refusals_leave_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "clf.yaml"
    append(path, "clf", [A])
    with pytest.raises(InternalError, match="clf.yaml changed while mvtools was writing it; try again"):
        append(path, "clf", [B], expected=b"something else")
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="does not end with a newline .*run: echo >> "):
        append(path, "clf", [B])
    assert path.read_bytes() == before


def test_atomic_write_replaces_and_cleans_dead_writers_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "clf.yaml"
    atomic_write(path, b"one")
    stale = path.with_name(f".{path.name}.999999999.tmp")  # no such pid
    stale.write_bytes(b"torn")
    atomic_write(path, b"two")
    assert path.read_bytes() == b"two" and not stale.exists()
    assert sorted(p.name for p in path.parent.iterdir()) == ["clf.yaml"]


def test_ledger_cache_parses_only_the_appended_tail(tmp_path: Path) -> None:
    """Proof the tail path is taken: a marker put in the cached entry of the shorter ledger
    shows up in the longer one's events (a full parse could not produce it)."""
    cache_dir = tmp_path / "cache"
    LedgerCache(cache_dir).load(ledger(A), "l.yaml")
    entry = cache_dir / f"{blob_id(ledger(A))}.json"
    doc = json.loads(entry.read_text())
    doc["events"][0]["marker"] = True
    entry.write_text(json.dumps(doc))
    led = LedgerCache(cache_dir).load(ledger(A, B), "l.yaml")
    assert led.events[0].get("marker") is True and led.events[1] == B
    assert LedgerCache(cache_dir).load(ledger(B), "other.yaml").events == [B]  # another file: full parse
