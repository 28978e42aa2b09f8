"""The parsed-ledger cache (mvtools/ledgercache.py) lives under .git/mvtools/cache/ and never
serves stale events: after a checkout, a merge, a hand edit (valid or not) or an append to a
ledger in a layout mvtools does not write, what mvtools reads is what a fresh parse reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import commit_model, git, mvtools
from mvtools import ledger as L
from mvtools.ledgercache import LedgerCache


def show(r: Path) -> dict[str, Any]:
    return {m["name"]: m for m in json.loads(mvtools(r, "show", "--json").stdout)["models"]}


def cache_dir(r: Path) -> Path:
    return r / ".git" / "mvtools" / "cache" / "ledgers"


def test_every_cache_lives_under_git_mvtools_cache_and_may_be_deleted(git_model_repo: Path) -> None:
    r = git_model_repo
    commit_model(r, "one", "train")
    assert show(r)["clf"]["latest"] == "v0.1.0"
    assert any(cache_dir(r).iterdir())
    assert sorted(p.name for p in (r / ".git" / "mvtools").iterdir() if "cache" in p.name) == ["cache"]
    assert (r / ".git" / "mvtools" / "cache" / "statcache.json").exists()  # the hook's digests
    shutil.rmtree(r / ".git" / "mvtools" / "cache")
    assert show(r)["clf"]["latest"] == "v0.1.0"  # cold: parsed again


def test_checkout_and_merge_are_read_fresh(git_model_repo: Path) -> None:
    r = git_model_repo
    commit_model(r, "one", "train")
    git(r, "checkout", "-q", "-b", "exp")
    commit_model(r, "two", "retrain")
    assert show(r)["clf"]["latest"] == "v0.1.1"
    git(r, "checkout", "-q", "main")
    assert show(r)["clf"]["latest"] == "v0.1.0"  # the other blob: its own entry
    (r / "notes.txt").write_text("main moves on\n")
    git(r, "add", "notes.txt")
    git(r, "commit", "-q", "-m", "notes")
    git(r, "merge", "-q", "--no-edit", "exp")
    assert show(r)["clf"]["latest"] == "v0.1.1"
    assert [e["version"] for e in L.parse((r / "registry" / "clf.yaml").read_bytes(), "l").events] == \
        ["v0.1.0", "v0.1.1"]


def test_a_hand_edit_is_read_fresh_valid_or_not(git_model_repo: Path) -> None:
    r = git_model_repo
    commit_model(r, "one", "train")
    assert show(r)["clf"]["stages"] == {}
    led = r / "registry" / "clf.yaml"
    ev = L.make_event("promote", "clf", "me <me@x>", "2030-01-01T00:00:00Z", version="v0.1.0", stage="prod",
                      tag="clf#prod#1")
    # appended by hand in flow style with a comment: not mvtools' layout, the safe loader reads it
    led.write_text(led.read_text() + "# promoted by hand\n- " + json.dumps(ev) + "\n")
    assert show(r)["clf"]["stages"] == {"prod": "v0.1.0"}
    led.write_text(led.read_text().replace("version: v0.1.0", "version: v0.1.7"))  # breaks the id
    proc = mvtools(r, "show", "--json", check=False)
    assert proc.returncode == 1 and "registry/clf.yaml: event 1" in proc.stderr
    assert "clf" not in {m["name"] for m in json.loads(proc.stdout)["models"]}


EV = [L.make_event("register", "m", "me", "2030-01-01T00:00:00Z", version=f"v0.1.{i}", tag=f"m@v0.1.{i}",
                   path="m.bin", sha256=f"{i:064x}", size=1, md5=None, metrics=None, params=None, lineage=None)
      for i in range(3)]


@pytest.mark.parametrize("base", [
    pytest.param(L.header("m") + L.render_events(EV[:1]) + "extra:\n- x\n", id="a key after events"),
    pytest.param(L.header("m") + L.render_events(EV[:1]) + "# end\n", id="a comment last"),
    pytest.param((L.header("m") + L.render_events(EV[:1])).replace("events:\n", "events:\n\n"), id="a blank line"),
    pytest.param((L.header("m") + L.render_events(EV[:1])).rstrip("\n"), id="no final newline"),
])
def test_an_append_after_a_hand_edited_ledger_is_parsed_whole(tmp_path: Path, base: str) -> None:
    """The tail parse (only the appended items) is for ledgers in mvtools' own layout: after
    a hand edit, items appended may belong elsewhere (to a key after ``events``) or join the
    last line; the cache reads what a full parse reads, events or error."""
    full = (base + L.render_events(EV[1:])).encode()
    cache = LedgerCache(tmp_path / "c")
    try:
        cache.load(base.encode(), "registry/m.yaml", "m")
    except Exception as exc:  # noqa: BLE001 - then the base is simply not cached
        assert "registry/m.yaml" in str(exc)
    try:
        want: Any = L.parse(full, "registry/m.yaml", "m").events
    except Exception as exc:  # noqa: BLE001
        want = str(exc)
    try:
        got: Any = cache.load(full, "registry/m.yaml", "m").events
    except Exception as exc:  # noqa: BLE001
        got = str(exc)
    assert got == want


def test_an_append_in_mvtools_layout_parses_only_the_tail(tmp_path: Path) -> None:
    base = (L.header("m") + L.render_events(EV[:2])).encode()
    LedgerCache(tmp_path / "c").load(base, "registry/m.yaml", "m")
    entry = tmp_path / "c" / f"{L.blob_id(base)}.json"
    doc = json.loads(entry.read_text())
    doc["events"][0]["marker"] = True  # only a tail parse can carry it over
    entry.write_text(json.dumps(doc))
    led = LedgerCache(tmp_path / "c").load(base + L.render_events(EV[2:]).encode(), "registry/m.yaml", "m")
    assert led.events[0].get("marker") is True and led.events[1:] == EV[1:]
