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
