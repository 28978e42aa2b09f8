"""One home per rule: the ledger module judges ledger changes and names ledger files, the
versioning module owns the tag vocabulary, gitops owns .git/mvtools paths. Fast unit tests
of those functions, without git."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mvtools import ledger as L
from mvtools import versioning as V

ACTOR = "Test User <test@example.com>"


def _ledger(model: str, *events: dict[str, object]) -> bytes:
    return (L.header(model) + L.render_events(list(events))).encode()


def _ev(model: str, n: int) -> dict[str, object]:
    return L.make_event("deprecate", model, ACTOR, f"2026-01-01T00:00:{n:02d}Z", tag=V.deprecated_tag(model))


def test_one_parent_must_be_extended() -> None:
    a, b, c = _ev("clf", 1), _ev("clf", 2), _ev("clf", 3)
    old = _ledger("clf", a, b)
    assert L.check_ledger_change([old], _ledger("clf", a, b, c), "r/clf.yaml") is None
    assert L.check_ledger_change([None], _ledger("clf", a), "r/clf.yaml") is None  # a new ledger
    assert "dropped or edited" in (L.check_ledger_change([old], _ledger("clf", a, c), "r/clf.yaml") or "")
    assert "reordered" in (L.check_ledger_change([old], _ledger("clf", b, a), "r/clf.yaml") or "")
    assert L.check_ledger_change([old], None, "r/clf.yaml") == "r/clf.yaml: the ledger was deleted"
    assert L.check_ledger_change([None], None, "r/clf.yaml") is None


def test_a_merge_must_unite_its_parents() -> None:
    a, b, c = _ev("clf", 1), _ev("clf", 2), _ev("clf", 3)
    ours, theirs = _ledger("clf", a, b), _ledger("clf", a, c)
    assert L.check_ledger_change([ours, theirs], _ledger("clf", a, b, c), "r/clf.yaml") is None
    assert L.check_ledger_change([ours, theirs], ours, "r/clf.yaml") is not None  # theirs dropped
    assert L.check_ledger_change([None, theirs], None, "r/clf.yaml") == "r/clf.yaml: the ledger was deleted"


@given(st.lists(st.integers(0, 59), min_size=1, max_size=6, unique=True), st.integers(0, 5))
def test_appending_is_always_accepted_and_dropping_never(stamps: list[int], cut: int) -> None:
    evs = [_ev("clf", n) for n in stamps]
    cut = min(cut, len(evs) - 1)
    old = _ledger("clf", *evs[: cut + 1])
    assert L.check_ledger_change([old], _ledger("clf", *evs), "x") is None
    if cut + 1 < len(evs):
        assert L.check_ledger_change([_ledger("clf", *evs)], old, "x") is not None


@pytest.mark.parametrize("model, ledger", [("clf", "registry/clf.yaml"), ("sub:clf", "registry/sub=clf.yaml"),
                                           ("team/clf", "registry/team/clf.yaml")])
def test_ledger_paths_round_trip(model: str, ledger: str) -> None:
    assert L.ledger_path("registry", model) == ledger
    assert L.is_ledger_path("registry", ledger)
    assert L.model_of_ledger("registry", ledger) == model
    assert not L.is_ledger_path("registry", "registry.yaml") and not L.is_ledger_path("registry", "models/x.yaml")


def test_ledger_files_skip_hidden_writer_files(tmp_path: Path) -> None:
    (tmp_path / "registry" / "team").mkdir(parents=True)
    for rel in ("registry/a.yaml", "registry/team/b.yaml", "registry/.a.yaml.123.tmp", "registry/notes.txt"):
        (tmp_path / rel).write_text("x")
    assert L.ledger_files(tmp_path, "registry") == ["registry/a.yaml", "registry/team/b.yaml"]


def test_tag_vocabulary_is_gtos() -> None:
    assert V.version_tag("sub:clf", "v1.2.3") == "sub=clf@v1.2.3"
    assert V.version_tag("clf", "v1.2.3", archived=True) == "clf@v1.2.3!"
    assert V.stage_tag("clf", "prod", 4) == "clf#prod#4" and V.stage_tag("clf", "prod", 5, True) == "clf#prod!#5"
    assert V.deprecated_tag("sub:clf") == "sub=clf@deprecated"
    assert V.register_message("clf", "v0.1.0") == "Registering artifact clf version v0.1.0"
    assert V.assign_message("clf", "v0.1.0", "prod") == "Assigning stage prod to artifact clf version v0.1.0"
    assert V.unassign_message("clf", "v0.1.0", "prod") == "Unassigning stage prod from artifact clf version v0.1.0"
    assert V.archive_message("clf", "v0.1.0") == "Deregistering artifact clf version v0.1.0"
    assert V.deprecate_message("clf") == "Deprecating artifact clf"
    tags = {"clf#prod#3": ("c", 1), "clf@v0.1.0": ("c", 1), "other#prod#9": ("c", 1), "clf#dev!#4": ("c", 1)}
    assert V.next_counter(tags, "clf") == 5  # GTO: 1 + the largest counter on any tag of the model


@given(st.from_regex(r"\A[a-z0-9](?:[a-z0-9_/-]{0,10}[a-z0-9])?\Z"), st.integers(0, 99), st.integers(0, 99))
def test_every_tag_parses_back(name: str, minor: int, counter: int) -> None:
    if "//" in name:
        return
    v = f"v0.{minor}.0"
    for tag, kind in ((V.version_tag(name, v), "version"), (V.version_tag(name, v, archived=True), "archive"),
                      (V.stage_tag(name, "prod", counter), "stage"), (V.deprecated_tag(name), "deprecated")):
        parsed = V.parse_tag(tag)
        assert parsed is not None and parsed.model == name and parsed.kind == kind


def test_registry_is_exported_lazily() -> None:
    """`from mvtools import Registry` works; importing the hooks does not load the registry."""
    import subprocess
    import sys

    code = ("import sys, mvtools.hooks; assert 'mvtools.registry' not in sys.modules; "
            "from mvtools import Registry; assert Registry.__module__ == 'mvtools.registry'")
    subprocess.run([sys.executable, "-c", code], check=True)
