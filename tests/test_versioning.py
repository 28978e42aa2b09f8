"""mvtools/versioning.py: versions, their order and bumps, and GTO's tag grammar."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import semver
from hypothesis import given
from hypothesis import strategies as st

from mvtools.errors import UsageError
from mvtools.versioning import (FIRST, ParsedTag, Version, deprecated_tag, is_model_tag, is_version,
                                model_of_tag, model_tag_pattern, next_counter, next_semver, parse_tag,
                                stage_tag, tag_name_of, timestamp_version, version_tag)


# -- versions ------------------------------------------------------------------------------
@pytest.mark.parametrize("given_, text", [("1.2.3", "v1.2.3"), ("v1.2.3", "v1.2.3"), (" v0.1.0 ", "v0.1.0"),
                                          ("1.0.0-rc.1", "v1.0.0-rc.1"), ("v1.0.0+build.5", "v1.0.0+build.5"),
                                          ("20260101120000_0123abcd", "v20260101120000_0123abcd")])
def test_parse_writes_the_leading_v(given_: str, text: str) -> None:
    assert Version.parse(given_).text == text and str(Version.parse(given_)) == text


@pytest.mark.parametrize("bad", ["", "1.2", "v01.2.3", "1.2.3.4", "vv1.2.3", "latest", "1.2.3-", "1.2.3-01",
                                 "20260101120000_0123ABCD", "2026010112000_0123abcd", None, 1, b"1.2.3"])
def test_parse_refuses_what_is_not_a_version(bad: object) -> None:
    with pytest.raises(UsageError, match="invalid version"):
        Version.parse(bad)


def test_is_version_is_the_ledger_spelling_only() -> None:
    assert is_version("v1.2.3") and is_version("v1.0.0-rc.1+b") and is_version("v20260101120000_0123abcd")
    assert not is_version("1.2.3") and not is_version(None) and not is_version("v1.2") and not is_version(3)


def test_semver_precedence_not_text_order() -> None:
    order = ["v0.1.0", "v0.2.0", "v0.10.0", "v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-beta", "v1.0.0-rc.1",
             "v1.0.0", "v1.0.1", "v2.0.0"]
    assert sorted(Version(v) for v in reversed(order)) == [Version(v) for v in order]
    assert max(Version(v) for v in order) == Version("v2.0.0")


def test_timestamp_versions_sort_after_semver_and_by_time() -> None:
    a, b = Version("v20250101000000_ffffffff"), Version("v20260101000000_00000000")
    assert Version("v99.0.0") < a < b
    assert not a.is_semver and Version("v1.0.0").is_semver
    # same second: equal keys (callers break ties by registration order), the hash is ignored
    assert not Version("v20250101000000_00000000") < a and not a < Version("v20250101000000_00000000")


def test_comparison_with_another_type_is_not_implemented() -> None:
    with pytest.raises(TypeError):
        Version("v1.0.0") < "v2.0.0"  # noqa: B015


@pytest.mark.parametrize("start, part, want", [("v1.2.3", "patch", "v1.2.4"), ("v1.2.3", "minor", "v1.3.0"),
                                               ("v1.2.3", "major", "v2.0.0"), ("v1.0.0-rc.1", "patch", "v1.0.1"),
                                               ("v0.9.9-beta+b1", "minor", "v0.10.0")])
def test_bump(start: str, part: str, want: str) -> None:
    assert Version(start).bump(part) == Version(want)


def test_bump_refusals() -> None:
    with pytest.raises(UsageError, match="non-semver"):
        Version("v20260101000000_0123abcd").bump("patch")
    with pytest.raises(UsageError, match="invalid bump"):
        Version("v1.0.0").bump("micro")


def test_next_semver_ignores_timestamps_and_starts_at_first() -> None:
    assert next_semver([], "patch") == FIRST == Version("v0.1.0")
    assert next_semver([Version("v20260101000000_0123abcd")], "minor") == FIRST
    assert next_semver({Version("v0.1.0"), Version("v0.3.0"), Version("v0.2.5")}, "patch") == Version("v0.3.1")


def test_timestamp_version() -> None:
    v = timestamp_version("0123abcd" + "e" * 56, datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc))
    assert v == Version("v20260304050607_0123abcd") and is_version(v.text) and Version.parse(v.text) == v


semvers = st.builds(semver.Version, st.integers(0, 20), st.integers(0, 20), st.integers(0, 20),
                    st.one_of(st.none(), st.sampled_from(["alpha", "alpha.1", "beta", "rc.1", "rc.2", "0", "1a"])))


@given(semvers, semvers)
def test_order_agrees_with_semver(a: semver.Version, b: semver.Version) -> None:
    va, vb = Version.parse(str(a)), Version.parse(str(b))
    assert (va < vb) == (a < b) and (va == vb) == (str(a) == str(b))


# -- tags ----------------------------------------------------------------------------------
@pytest.mark.parametrize("tag, want", [
    ("clf@v1.2.3", ParsedTag("clf", "version", version="v1.2.3")),
    ("clf@v1.0.0-rc.1", ParsedTag("clf", "version", version="v1.0.0-rc.1")),
    ("clf@v20260101000000_0123abcd", ParsedTag("clf", "version", version="v20260101000000_0123abcd")),
    ("clf@v1.2.3!", ParsedTag("clf", "archive", version="v1.2.3")),
    ("clf#prod#1", ParsedTag("clf", "stage", stage="prod", counter=1)),
    ("clf#prod!#12", ParsedTag("clf", "unassign", stage="prod", counter=12)),
    ("clf@deprecated", ParsedTag("clf", "deprecated")),
    ("team/clf#staging-eu#3", ParsedTag("team/clf", "stage", stage="staging-eu", counter=3)),
    ("sub/dir=m@v0.1.0", ParsedTag("sub/dir:m", "version", version="v0.1.0")),
    ("sub=m#dev!#2", ParsedTag("sub:m", "unassign", stage="dev", counter=2)),
    # GTO's other spellings: a counter on every form (gto's default), none on stage tags (--simple)
    ("lightgbm-model@v2.0.3#4", ParsedTag("lightgbm-model", "version", version="v2.0.3", counter=4)),
    ("clf@v1.0.0!#7", ParsedTag("clf", "archive", version="v1.0.0", counter=7)),
    ("clf@deprecated#9", ParsedTag("clf", "deprecated", counter=9)),
    ("clf#prod", ParsedTag("clf", "stage", stage="prod")),
    ("clf#prod!", ParsedTag("clf", "unassign", stage="prod")),
])
def test_parse_tag_of_every_kind(tag: str, want: ParsedTag) -> None:
    assert parse_tag(tag) == want


@pytest.mark.parametrize("tag", ["clf", "clf@1.2.3", "clf@v1.2", "clf@v1.2.3!!", "clf#prod#",
                                 "clf#prod#x", "clf#prod!#", "-clf@v1.0.0", "clf-@v1.0.0", "clf@deprecated!", "clf@v1.0.0#", "clf@v1.0.0#1#2",
                                 "clf#-prod#1", "v1.0.0", "clf@latest"])
def test_parse_tag_refuses_other_tags(tag: str) -> None:
    assert parse_tag(tag) is None


@pytest.mark.parametrize("model", ["clf", "team/clf", "sub:m", "a/b/c:m-1", "a_b"])
def test_tag_builders_round_trip(model: str) -> None:
    assert model_of_tag(tag_name_of(model)) == model and ":" not in tag_name_of(model)
    assert parse_tag(version_tag(model, "v1.2.3")) == ParsedTag(model, "version", version="v1.2.3")
    assert parse_tag(version_tag(model, Version("v1.2.3"), archived=True)) == ParsedTag(model, "archive",
                                                                                         version="v1.2.3")
    assert parse_tag(stage_tag(model, "prod", 4)) == ParsedTag(model, "stage", stage="prod", counter=4)
    assert parse_tag(stage_tag(model, "prod", "4", unassign=True)) == ParsedTag(model, "unassign", stage="prod",
                                                                               counter=4)
    assert parse_tag(deprecated_tag(model)) == ParsedTag(model, "deprecated")
    for t in (version_tag(model, "v1.0.0"), stage_tag(model, "dev", 1), deprecated_tag(model)):
        assert is_model_tag(t, model)



@given(st.from_regex(r"\A(?:[a-z0-9]{1,5}(?:/[a-z0-9]{1,5})?:)?[a-zA-Z0-9](?:[a-zA-Z0-9_-]{0,6}[a-zA-Z0-9])?\Z"),
       st.from_regex(r"\A[a-z0-9](?:[a-z0-9_-]{0,5}[a-z0-9])?\Z"), st.integers(1, 10**6), st.booleans(), semvers)
def test_tag_format_parse_round_trip(model: str, stage: str, n: int, flag: bool, v: semver.Version) -> None:
    assert parse_tag(stage_tag(model, stage, n, flag)) == ParsedTag(model, "unassign" if flag else "stage",
                                                                    stage=stage, counter=n)
    assert parse_tag(version_tag(model, f"v{v}", flag)) == ParsedTag(model, "archive" if flag else "version",
                                                                     version=f"v{v}")


def test_is_model_tag_does_not_match_a_longer_name() -> None:
    assert not is_model_tag("clf2@v1.0.0", "clf") and not is_model_tag("clf/x#prod#1", "clf")
    assert model_tag_pattern("sub:m") == "sub=m[@#]*" and model_tag_pattern("m", versions_only=True) == "m@v*"


def test_next_counter_is_one_more_than_any_tag_of_the_model() -> None:
    tags = ["clf@v0.1.0", "clf#prod#3", "clf#dev!#7", "clf@v0.1.0!", "other#prod#40", "clf2#prod#9", "junk"]
    assert next_counter(tags, "clf") == 8
    assert next_counter({t: ("sha", 0) for t in tags}, "other") == 41
    assert next_counter([], "clf") == 1 and next_counter(["clf@v1.0.0"], "clf") == 1
    assert next_counter(["sub=m#prod#2"], "sub:m") == 3
