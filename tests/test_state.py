"""The registry state is a fold over a model's events (mvtools/state.py): pure, no git."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mvtools.state import fold


def ev(kind: str, **fields: Any) -> dict[str, Any]:
    return {"event": kind, "model": "clf", **fields}


def test_latest_stages_archive_and_deprecation() -> None:
    s = fold("clf", [ev("register", version="v0.1.0"), ev("register", version="v0.2.0"),
                     ev("register", version="v0.1.1"),
                     ev("promote", version="v0.1.0", stage="prod"), ev("promote", version="v0.2.0", stage="prod"),
                     ev("promote", version="v0.1.1", stage="dev")])
    assert s.latest == "v0.2.0"  # semver precedence, not registration order
    assert s.stage_holders() == {"prod": "v0.2.0", "dev": "v0.1.1"}
    s = fold("clf", [*s.events, ev("archive", version="v0.2.0")])
    assert s.latest == "v0.1.1" and s.stage_holders() == {"prod": "v0.1.0", "dev": "v0.1.1"}  # as GTO
    assert not s.deprecated and fold("clf", [*s.events, ev("deprecate")]).deprecated


def test_rollback_pops_and_withdraw_removes_an_earlier_holder() -> None:
    base = [ev("register", version=v) for v in ("v0.1.0", "v0.1.1", "v0.1.2")]
    base += [ev("promote", version=v, stage="prod") for v in ("v0.1.0", "v0.1.1", "v0.1.2")]
    assert fold("clf", [*base, ev("rollback", stage="prod")]).stage_holders() == {"prod": "v0.1.1"}
    s = fold("clf", [*base, ev("rollback", stage="prod", previous="v0.1.1", withdrawn=True)])
    assert s.stages["prod"] == ["v0.1.0", "v0.1.2"] and s.stage_holders() == {"prod": "v0.1.2"}


def test_timestamp_versions_order_by_time_then_registration() -> None:
    s = fold("clf", [ev("register", version="v20260101000000_bbbbbbbb"),
                     ev("register", version="v20260101000000_aaaaaaaa")])
    assert s.latest == "v20260101000000_aaaaaaaa"  # same second: the later registration


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=12, unique=True))
def test_first_registration_of_a_version_wins_and_latest_is_the_max(pairs: list[tuple[int, int]]) -> None:
    events = [ev("register", version=f"v{a}.{b}.0", sha256=str(i)) for i, (a, b) in enumerate(pairs)]
    events.append(ev("register", version=f"v{pairs[0][0]}.{pairs[0][1]}.0", sha256="again"))
    s = fold("clf", events)
    assert s.versions[f"v{pairs[0][0]}.{pairs[0][1]}.0"]["sha256"] == "0"
    assert s.latest == f"v{max(pairs)[0]}.{max(pairs)[1]}.0"


def test_archive_drops_the_version_from_every_stage_for_good() -> None:
    base = [ev("register", version="v0.1.0"), ev("register", version="v0.2.0"),
            ev("promote", version="v0.1.0", stage="prod"), ev("promote", version="v0.2.0", stage="prod"),
            ev("promote", version="v0.2.0", stage="dev"), ev("archive", version="v0.2.0")]
    s = fold("clf", base)
    assert s.stages == {"prod": ["v0.1.0"], "dev": []} and s.stage_holders() == {"prod": "v0.1.0"}
    assert s.archived == {"v0.2.0"} and "v0.2.0" in s.versions  # still registered, never latest
    # a rollback after the archive pops what is left, not the archived version
    assert fold("clf", [*base, ev("rollback", stage="prod")]).stage_holders() == {}


def test_rollback_of_an_empty_or_unknown_stage_and_other_events_change_nothing() -> None:
    base = [ev("register", version="v0.1.0"), ev("promote", version="v0.1.0", stage="prod")]
    for extra in (ev("rollback", stage="dev"), ev("deploy", version="v0.1.0", environment="prod"),
                  ev("rollback", stage="prod", previous="v9.9.9", withdrawn=True),
                  ev("promote", stage="prod"), ev("archive"), ev("rollback")):
        s = fold("clf", [*base, extra])
        assert s.stages == {"prod": ["v0.1.0"]} and s.archived == set() and not s.deprecated, extra


def test_an_imported_gto_rollback_that_left_the_stage_empty() -> None:
    s = fold("clf", [ev("register", version="v0.1.0"), ev("promote", version="v0.1.0", stage="prod"),
                     ev("rollback", stage="prod", version=None, previous="v0.1.0", imported_from="gto")])
    assert s.stage_holders() == {} and s.latest == "v0.1.0"


def test_promoting_a_holder_again_stacks_it_and_deprecation_keeps_state() -> None:
    s = fold("clf", [ev("register", version="v0.1.0"), ev("register", version="v0.1.1"),
                     ev("promote", version="v0.1.0", stage="prod"), ev("promote", version="v0.1.1", stage="prod"),
                     ev("promote", version="v0.1.0", stage="prod"), ev("rollback", stage="prod"), ev("deprecate")])
    assert s.stages["prod"] == ["v0.1.0", "v0.1.1"] and s.stage_holders() == {"prod": "v0.1.1"}
    assert s.deprecated and s.latest == "v0.1.1"


def test_no_live_version_has_no_latest() -> None:
    assert fold("clf", []).latest is None
    assert fold("clf", [ev("register", version="v0.1.0"), ev("archive", version="v0.1.0")]).latest is None
