"""mvtools.domain: the typed objects the Python API returns. Every event kind, from a real
ledger (written by mvtools.ledger and parsed back with its checks), round-trips exactly:
dict -> object -> to_json() is the same dict, key order included; the objects are frozen."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest

from conftest import git, mvtools, write_model
from mvtools import ledger as L
from mvtools.domain import (ArchiveEvent, DeployEvent, DeprecateEvent, Event, History, ModelView, PromoteEvent,
                            RegisterEvent, RollbackEvent, Show, api_result)
from mvtools.state import fold

ACTOR, TS = "Test User <test@example.com>", "2026-11-27T18:48:18Z"


def _ledger() -> list[dict[str, Any]]:
    """One event of each kind (and the variants: GTO-imported, withdrawn, publish, NaN
    metrics), as the ledger's own parser returns them."""
    ev = L.make_event
    events = [
        ev("register", "clf", ACTOR, TS, version="v0.1.0", tag="clf@v0.1.0", path="models/clf.bin",
           sha256="a" * 64, size=3, md5=None, metrics={"acc": 0.8, "loss": math.nan, "hist": [1, 2]},
           params={"lr": 0.1}, lineage={"stage": "train", "dvc_yaml": "dvc.yaml", "deps": {"d.csv": "b" * 32},
                                        "params": {"params.yaml": {"lr": 0.1}}}),
        ev("register", "clf", ACTOR, TS, version="v0.2.0", tag="clf@v0.2.0", path="models/clf.bin",
           sha256="c" * 64, size=4, md5="d" * 32, metrics=None, params=None, lineage=None, message="second",
           imported_from="gto"),
        ev("promote", "clf", ACTOR, TS, version="v0.1.0", stage="prod", tag="clf#prod#1"),
        ev("promote", "clf", ACTOR, TS, version="v0.2.0", stage="prod", tag="clf#prod#2", message="go"),
        ev("rollback", "clf", ACTOR, TS, stage="prod", version="v0.1.0", previous="v0.2.0", tag="clf#prod#3"),
        ev("rollback", "clf", ACTOR, TS, stage="prod", version=None, previous="v0.1.0", tag="clf#prod!#4",
           imported_from="gto"),
        ev("rollback", "clf", ACTOR, TS, stage="prod", version="v0.1.0", previous="v0.2.0", withdrawn=True,
           tag="clf#prod!#5", imported_from="gto"),
        ev("deploy", "clf", ACTOR, TS, env="prod", action="start", state={"stable": "v0.1.0", "slots": {}},
           version="v0.1.0", strategy="canary"),
        ev("deploy", "clf", ACTOR, TS, action="publish", version="v0.1.0", uri="file:///tmp/x"),
        ev("archive", "clf", ACTOR, TS, version="v0.2.0", tag="clf@v0.2.0!", message="old"),
        ev("deprecate", "clf", ACTOR, TS, tag="clf@deprecated"),
    ]
    text = L.header("clf") + L.render_events(events)
    return L.parse(text.encode(), "registry/clf.yaml", "clf").events


KINDS = {"register": RegisterEvent, "promote": PromoteEvent, "rollback": RollbackEvent, "deploy": DeployEvent,
         "archive": ArchiveEvent, "deprecate": DeprecateEvent}


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON text, key order included (NaN written as NaN)."""
    return json.dumps(a, allow_nan=True) == json.dumps(b, allow_nan=True)


def test_every_event_kind_round_trips_exactly() -> None:
    events = _ledger()
    assert {e["event"] for e in events} == set(KINDS)
    for d in events:
        obj = Event.from_dict(d)
        assert type(obj) is KINDS[d["event"]] and obj.kind == d["event"]
        assert _same(obj.to_json(), d) and _same(obj.ledger_dict(), d)
        assert L.event_id(obj.to_json()) == d["id"]  # the id still hashes what the object gives back
        with_commit = {**d, "commit": "f" * 40}
        assert _same(Event.from_dict(with_commit).to_json(), with_commit)


def test_fields_are_typed_and_extras_kept() -> None:
    reg, reg2, *_rest = _ledger()
    obj = Event.from_dict(reg)
    assert isinstance(obj, RegisterEvent)
    assert (obj.version, obj.size, obj.md5, obj.metrics and obj.metrics["acc"]) == ("v0.1.0", 3, None, 0.8)
    assert obj.metrics is not None and math.isnan(obj.metrics["loss"])  # the API returns floats
    imported = Event.from_dict(reg2)
    assert imported.message == "second" and imported.extra == {"imported_from": "gto"}
    assert imported.get("imported_from") == "gto" and imported.get("stage") is None


def test_objects_are_frozen_deep() -> None:
    obj = Event.from_dict(_ledger()[0])
    assert isinstance(obj, RegisterEvent)
    with pytest.raises(dataclasses.FrozenInstanceError):
        obj.version = "v9.9.9"  # type: ignore[misc]
    with pytest.raises(TypeError):
        obj.metrics["acc"] = 1.0  # type: ignore[index]
    assert isinstance(obj.metrics and obj.metrics["hist"], tuple)
    assert obj.to_json()["metrics"]["hist"] == [1, 2]  # and thawed back to a list
    built = PromoteEvent(model="clf", actor=ACTOR, timestamp=TS, id="x", version="v1.0.0", stage="prod",
                         extra={"k": [1]})
    with pytest.raises(TypeError):
        built.extra["k"] = 2  # type: ignore[index]


def test_directly_built_event_serialises_in_make_event_order() -> None:
    d = L.make_event("promote", "clf", ACTOR, TS, version="v0.1.0", stage="prod", tag="clf#prod#1")
    built = PromoteEvent(model="clf", actor=ACTOR, timestamp=TS, id=d["id"], version="v0.1.0", stage="prod",
                         tag="clf#prod#1")
    assert list(built.to_json()) == list(d) and built.to_json() == d and built == Event.from_dict(d)


def test_api_result_appends_commit_and_checks_the_kind() -> None:
    d = _ledger()[2]
    res = api_result(d, "e" * 40, PromoteEvent)
    assert res.commit == "e" * 40 and list(res.to_json()) == [*d, "commit"]
    with pytest.raises(TypeError):
        api_result(d, None, ArchiveEvent)


def test_state_view_and_history_documents() -> None:
    events = _ledger()
    st = fold("clf", events)
    view = ModelView.from_state(st)
    assert (view.latest, view.deprecated, dict(view.stages)) == (st.latest, True, st.stage_holders())
    assert list(view.versions) == ["v0.1.0", "v0.2.0"] and view.versions["v0.2.0"].archived
    with pytest.raises(TypeError):
        view.versions["v9"] = view.versions["v0.1.0"]  # type: ignore[index]
    hist = History("clf", tuple(Event.from_dict(e).with_commit(None) for e in events))
    rows = hist.to_json()["events"]
    assert [r["event"] for r in rows] == [e["event"] for e in events]
    assert list(rows[2])[:11] == ["event", "version", "tag", "stage", "sha256", "size", "md5", "timestamp",
                                  "actor", "metrics", "params"] and list(rows[2])[-1] == "commit"
    assert Show(()).to_json() == {"models": []}


def test_api_returns_typed_objects_and_cli_json_is_their_serialisation(git_model_repo: Path) -> None:
    from mvtools.cli import _json_safe
    from mvtools.registry import Registry

    r = git_model_repo
    write_model(r, "models/clf.bin", b"one")
    reg = Registry(r)
    ev = reg.register("clf")
    assert isinstance(ev, RegisterEvent) and ev.version == "v0.1.0" and ev.commit == git(r, "rev-parse",
                                                                                         "HEAD").stdout.strip()
    assert isinstance(Registry(r).promote("clf", "v0.1.0", "staging"), PromoteEvent)
    show, hist = Registry(r).show(), Registry(r).history("clf")
    assert isinstance(show, Show) and show.models[0].stages == {"staging": "v0.1.0"}
    assert json.loads(mvtools(r, "history", "clf", "--json").stdout) == _json_safe(hist.to_json())
    assert [e.kind for e in hist.events] == ["register", "promote"] and all(e.commit for e in hist.events)
    assert Registry(r).model_state("clf").versions["v0.1.0"].stages == ("staging",)
    got = Registry(r).get("clf@v0.1.0", r / "copy.bin")
    assert (got.version, got.sha256, got.commit) == ("v0.1.0", ev.sha256, ev.commit)
    assert (r / "copy.bin").read_bytes() == b"one"


def test_result_documents_keep_their_key_order() -> None:
    from mvtools.domain import Pushed, Restored, Retrieved

    assert list(Retrieved("clf", "v1.0.0", "m.bin", "a" * 64, "c" * 40).to_json()) == [
        "model", "version", "path", "sha256", "commit"]
    assert Pushed("origin", "main", 3, 0).to_json() == {"remote": "origin", "branch": "main", "tags": 3,
                                                         "dvc_files_pushed": 0, "renumbered": [], "retries": 0,
                                                         "upstream_set": False}
    assert Restored("clf", ("x", "y"), "c").to_json() == {"model": "clf", "restored": ["x", "y"], "commit": "c"}


def test_comparison_round_trips_its_document() -> None:
    from mvtools.compare import compare
    from mvtools.domain import Comparison
    from mvtools.settings import CompareSettings

    a, b = (e for e in _ledger() if e["event"] == "register")
    doc = compare("clf", a, b, CompareSettings())
    obj = Comparison.from_dict(doc)
    assert _same(obj.to_json(), doc) and obj.recommendation == doc["recommendation"]
    with pytest.raises(TypeError):
        obj.metrics["acc"] = {}  # type: ignore[index]


def test_sync_and_verify_results_round_trip_their_documents() -> None:
    from mvtools.domain import Finding, SyncResult, VerifyReport

    sync = {"created": [{"tag": "clf@v0.1.0", "commit": "c" * 40}],
            "moved": [{"tag": "clf#prod#1", "commit": "d" * 40}],
            "restored": [{"ledger": "registry/clf.yaml", "dropped_bytes": "120"}],
            "skipped": [{"ledger": "registry/x.yaml", "reason": "registry/x.yaml: bad"}]}
    res = SyncResult.from_dict(sync)
    assert res.to_json() == sync and json.dumps(res.to_json()) == json.dumps(sync)
    assert res.created[0].tag == "clf@v0.1.0" and res.skipped[0].reason == "registry/x.yaml: bad"
    assert SyncResult().to_json() == {"created": [], "moved": [], "restored": [], "skipped": []}
    f = {"kind": "tag-missing", "where": "clf@v0.1.0", "message": "run: mvtools sync-tags"}
    doc = {"ok": False, "problems": [f], "warnings": [], "notes": [dict(f, kind="tag-elsewhere")], "unchecked": []}
    rep = VerifyReport.from_dict(doc)
    assert json.dumps(rep.to_json()) == json.dumps(doc) and not rep.ok
    assert rep.problems == (Finding(**f),) and VerifyReport().to_json()["ok"] is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.problems[0].kind = "x"  # type: ignore[misc]


def test_sync_tags_and_verify_return_typed_results(git_model_repo: Path) -> None:
    from mvtools.cli import _json_safe
    from mvtools.domain import SyncResult, TagChange, VerifyReport
    from mvtools.registry import Registry
    from mvtools.verify import verify

    r = git_model_repo
    write_model(r, "models/clf.bin", b"one")
    ev = Registry(r).register("clf")
    git(r, "tag", "-d", "clf@v0.1.0")
    rep = verify(Registry(r))
    assert isinstance(rep, VerifyReport) and [p.kind for p in rep.problems] == ["tag-missing"]
    assert json.loads(mvtools(r, "verify", "--json", check=False).stdout) == _json_safe(rep.to_json())
    res = Registry(r).sync_tags()
    assert isinstance(res, SyncResult) and res.created == (TagChange("clf@v0.1.0", str(ev.commit)),)
    assert json.loads(mvtools(r, "sync-tags", "--json").stdout) == SyncResult().to_json()
    assert verify(Registry(r)).ok


def test_deploy_results_keep_their_documents() -> None:
    from mvtools.domain import DeployStatus

    doc = {"model": "clf", "env": "prod", "strategy": "canary", "stable": "v0.1.0", "candidate": "v0.2.0",
           "percent": 10, "slots": {"blue": "v0.1.0", "green": None}, "live_slot": "blue"}
    st = DeployStatus(**doc)
    assert json.dumps(st.to_json()) == json.dumps(doc)
    with pytest.raises(TypeError):
        st.slots["blue"] = "x"  # type: ignore[index]
    ev = L.make_event("deploy", "clf", ACTOR, TS, env="prod", action="start", state={"stable": "v0.1.0"},
                      version="v0.1.0", strategy="blue-green")
    got = api_result(ev, "c" * 40, DeployEvent, manifest="deploy/prod/clf.yaml")
    assert json.dumps(got.to_json()) == json.dumps({**ev, "commit": "c" * 40, "manifest": "deploy/prod/clf.yaml"})
    assert got.env == "prod" and got.get("manifest") == "deploy/prod/clf.yaml"
