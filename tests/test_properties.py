"""Property tests (hypothesis): ledger round trips, merge union laws, tags, semver order."""

from __future__ import annotations

from datetime import datetime

import semver
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mvtools import ledger as L
from mvtools.merge import union
from mvtools.versioning import Version, parse_tag, stage_tag, version_tag

names = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9_-]{0,10}[a-zA-Z0-9])?", fullmatch=True)
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=False, allow_infinity=False), texts)
versions = st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50)).map(
    lambda t: Version(f"v{t[0]}.{t[1]}.{t[2]}"))
timestamps = st.datetimes(min_value=datetime(1970, 1, 1)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))


@st.composite
def events(draw, model="m"):  # type: ignore[no-untyped-def]
    v = draw(versions)
    return L.make_event(
        "register", model, draw(texts), draw(timestamps), version=str(v), tag=version_tag(model, v),
        path="models/m.bin", sha256=draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True)),
        size=draw(st.integers(0, 2**40)), md5=None,
        metrics=draw(st.dictionaries(names, scalars, max_size=4)),
        params=draw(st.dictionaries(names, scalars, max_size=4)), lineage=None)


@settings(max_examples=60, deadline=None)
@given(st.lists(events(), max_size=6), st.lists(events(), max_size=4))
def test_append_parse_round_trip(first: list, second: list) -> None:
    versions_seen = [e["version"] for e in first + second]
    assume(len(set(versions_seen)) == len(versions_seen))  # a version is registered once
    data = L.header("m").encode() + L.render_events(first).encode()
    assert L.parse(data, "m.yaml").events == first
    data2 = data + L.render_events(second).encode()
    assert data2.startswith(data)  # appending only adds bytes
    assert L.parse(data2, "m.yaml").events == first + second
    assert L.check_extends(data, data2, "m.yaml") is None


def _led(evs: list) -> L.Ledger:
    return L.Ledger("m", list(evs))


@settings(max_examples=80, deadline=None)
@given(st.lists(events(), max_size=4), st.lists(events(), max_size=4), st.lists(events(), max_size=4))
def test_merge_union_laws(base: list, a: list, b: list) -> None:
    ours, theirs = _led(base + a), _led(base + b)
    ab, _ = union(_led(base), [ours, theirs])
    ba, _ = union(_led(base), [theirs, ours])
    assert ab == ba  # the order of the sides does not matter
    ids = {e["id"] for e in base + a + b}
    assert {e["id"] for e in ab} == ids and len(ab) == len(ids)  # every event kept, once
    again, _ = union(_led(base), [_led(ab), theirs])
    assert again == ab  # merging twice changes nothing
    assert ab[: len({e['id'] for e in base})] == list({e["id"]: e for e in base}.values())


@given(names, versions, st.booleans())
def test_version_tag_round_trip(name: str, v: Version, archived: bool) -> None:
    p = parse_tag(version_tag(name, v, archived))
    assert p is not None and p.model == name and p.version == str(v)
    assert p.kind == ("archive" if archived else "version")


@given(names, names, names, st.integers(1, 10**6), st.booleans())
def test_stage_tag_round_trip(sub: str, name: str, stage: str, n: int, unassign: bool) -> None:
    model = f"{sub}:{name}"
    p = parse_tag(stage_tag(model, stage, n, unassign))
    assert p is not None and (p.model, p.stage, p.counter) == (model, stage, n)
    assert p.kind == ("unassign" if unassign else "stage")


@given(versions, versions)
def test_semver_order_agrees_with_semver(a: Version, b: Version) -> None:
    sa, sb = semver.Version.parse(a.text[1:]), semver.Version.parse(b.text[1:])
    assert (a < b) == (sa < sb)
    assert a.bump("patch") > a and a.bump("minor") > a.bump("patch") and a.bump("major") > a.bump("minor")
