"""The fast ledger reader (mvtools/fastyaml.py) reads exactly what the strict safe loader
reads: on every ledger mvtools writes it takes the fast path and gives the identical value;
on anything else (hand edits, mutations) it gives the identical value or falls back, and a
text the safe loader refuses always falls back, so the error is the loader's own."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
import semver
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mvtools import fastyaml, fastyaml_shapes
from mvtools import ledger as L
from mvtools.errors import ConfigError
from mvtools.versioning import _sort_key
from mvtools.yamlio import StrictLoader11, dump_yaml, load_strict, load_yaml


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (1, 1.0 and True differ; NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) and same(k, kb) for k, kb in zip(a, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def strict(text: str) -> Any:
    return yaml.load(text, Loader=StrictLoader11)


# strings a YAML 1.1 resolver could mistake: numbers, bools, nulls, dates, indicators, quotes
tricky = st.sampled_from(["yes", "No", "ON", "off", "y", "n", "~", "null", "Null", "", " ", "1", "-1", "1.0",
                          "1e3", "1_000", "0x1f", "0o7", "017", "1:30", ".inf", "-.inf", ".nan", "2024-01-02",
                          "2024-01-02T03:04:05Z", "<<", "=", "- a", "-", "? a", ": a", "a: b", "a #b", "#a",
                          "'", '"', "a'b", 'a"b', "\\", "&a", "*a", "!a", "|", ">", "%a", "@a", "`a", "[]",
                          "{}", "[a]", "{a: 1}", "a,b", "---", "...", "a:", "http://x", "tab\there", "line\nbreak",
                          "é", "\u2028", "\x85", "\ufeff", "\x7f", "\x00", "k" * 130, "v " * 600])
texts = st.one_of(tricky, st.text(st.characters(blacklist_categories=("Cs",)), max_size=12))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(), texts)
keys = st.one_of(texts, st.integers(-5, 5), st.booleans())
docs = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(keys, inner, max_size=4)), max_leaves=25)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, docs, min_size=1, max_size=5))
def test_what_dump_yaml_writes_reads_identically(doc: dict[Any, Any]) -> None:
    text = dump_yaml(doc)
    got = fastyaml.read(text)
    assert got is fastyaml.FALLBACK or same(got, strict(text))


names = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9_.:/-]{0,10}[a-zA-Z0-9])?", fullmatch=True)
metric = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(), texts,
                   st.lists(st.one_of(st.integers(), st.floats(allow_nan=False), texts), max_size=3))


@st.composite
def events(draw, model="m"):  # type: ignore[no-untyped-def]
    v = f"v{draw(st.integers(0, 9))}.{draw(st.integers(0, 9))}.{draw(st.integers(0, 99))}"
    kind = draw(st.sampled_from(["register", "register", "promote", "deploy"]))
    actor = draw(st.one_of(texts, st.just("Bench User <bench@example.com>")))
    when = draw(st.sampled_from(["2024-01-02T03:04:05Z", "1999-12-31T23:59:59Z"]))
    if kind == "promote":
        return L.make_event("promote", model, actor, when, version=v, stage="prod", tag=f"{model}#prod#1")
    if kind == "deploy":
        return L.make_event("deploy", model, actor, when, version=v, target=draw(texts), tag=None,
                            details=draw(st.dictionaries(names, metric, max_size=3)))
    lineage = draw(st.one_of(st.none(), st.fixed_dictionaries({
        "deps": st.dictionaries(names, st.from_regex(r"[0-9a-f]{32}", fullmatch=True), max_size=3),
        "params": st.dictionaries(names, metric, max_size=3),
        "upstream": st.dictionaries(names, st.fixed_dictionaries({"deps": st.dictionaries(names, texts, max_size=2),
                                                                  "params": st.just({})}), max_size=2)})))
    return L.make_event(
        "register", model, actor, when, version=v, tag=f"{model}@{v}", path=draw(texts),
        sha256=draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True)), size=draw(st.integers(0, 2**40)),
        md5=draw(st.one_of(st.none(), st.from_regex(r"[0-9a-f]{32}(\.dir)?", fullmatch=True))),
        metrics=draw(st.dictionaries(names, metric, max_size=4)),
        params=draw(st.dictionaries(names, metric, max_size=4)), lineage=lineage,
        environment=draw(st.one_of(st.none(), st.fixed_dictionaries({"files": st.dictionaries(names, texts,
                                                                                               max_size=2)}))))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), max_size=6))
def test_every_ledger_mvtools_writes_takes_the_fast_path_with_identical_events(evs: list[dict[str, Any]]) -> None:
    data = (L.header("m") + L.render_events(evs)).encode()
    doc, fast = load_strict(data, "registry/m.yaml")
    assert same(doc, strict(data.decode()))
    # only a string the emitter spreads over lines (a line break in it, or over 1,000
    # characters with spaces) is left to the safe loader
    spread = any(any(c in s for c in "\n\r\x85\u2028\u2029") or (len(s) > 900 and " " in s)
                 for s in strings(evs))
    assert fast or spread, data.decode()


def strings(x: Any) -> list[str]:
    if isinstance(x, str):
        return [x]
    if isinstance(x, dict):
        return [s for k, v in x.items() for s in strings(k) + strings(v)]
    if isinstance(x, list):
        return [s for v in x for s in strings(v)]
    return []


def mutate(text: str, data: st.DataObject) -> str:
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["dup", "del", "swap", "indent", "dedent", "insert", "char", "cut"]))
        if op == "dup":
            lines.insert(i, lines[i])
        elif op == "del" and len(lines) > 1:
            del lines[i]
        elif op == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif op == "indent":
            lines[i] = "  " + lines[i]
        elif op == "dedent":
            lines[i] = lines[i][2:] if lines[i].startswith("  ") else lines[i]
        elif op == "insert":
            lines.insert(i, data.draw(st.sampled_from(["# note", "", "  ", "---", "x: 1", "- y", "  z: [1, 2]",
                                                       "  model: other", "  <<: {a: 1}", "  a: &x 1", "  b: *x",
                                                       "\tt: 1", "  k: |", "    text", "  d: 2024-01-01",
                                                       "  q: 'multi", "    line'", "  ? k", "  : v"])))
        elif op == "char" and lines[i]:
            j = data.draw(st.integers(0, len(lines[i])))
            c = data.draw(st.sampled_from(list(":-#'\" \t{}[]&*!|>,?%@`\\\r") + ["\u2028", "é"]))
            lines[i] = lines[i][:j] + c + lines[i][j:]
        elif op == "cut" and lines[i]:
            j = data.draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:j]
    return "\n".join(lines)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), min_size=1, max_size=3), st.data())
def test_a_hand_edited_ledger_reads_identically_or_falls_back(evs: list[dict[str, Any]], data: st.DataObject) -> None:
    text = mutate(L.header("m") + L.render_events(evs), data)
    got = fastyaml.read(text)
    try:
        want = strict(text)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        assert got is fastyaml.FALLBACK  # the loader's own error is what the user sees
        return
    assert got is fastyaml.FALLBACK or same(got, want)


HAND_EDITS = {
    "a comment": "# hand edit\n", "a blank line": "\n", "flow style": "- {event: register}\n",
    "an anchor": "- &a x\n", "a block scalar": "- |\n  text\n", "a tab": "-\tx\n", "CRLF": "- x\r\n",
    "a document marker": "---\n", "an unquoted date": "- 2024-01-02\n", "a merge key": "- <<: {a: 1}\n",
    "a BOM": "\ufeff- x\n", "a space before a colon": "- a : b\n", "a multi-line quoted scalar": "- 'a\n\n  b'\n", "an explicit key": "- ? a\n  : b\n",
}


@pytest.mark.parametrize("edit", list(HAND_EDITS))
def test_hand_edited_forms_go_to_the_safe_loader(edit: str) -> None:
    assert fastyaml.read("mvtools_ledger: 1\nmodel: m\nevents:\n" + HAND_EDITS[edit]) is fastyaml.FALLBACK


def test_strictness_errors_are_the_safe_loaders(tmp_path: Any) -> None:
    ev = L.make_event("deprecate", "m", "me", "2024-01-02T03:04:05Z", tag="m@deprecated")
    good = L.header("m") + L.render_events([ev])
    for bad in (good.replace("  actor: me\n", "  actor: me\n  actor: you\n"),  # a repeated key
                good + "- <<: {}\n", good.replace("events:\n", "events: &e\n")):
        assert fastyaml.read(bad) is fastyaml.FALLBACK
        with pytest.raises(ConfigError) as want:
            load_yaml(bad.encode(), "registry/m.yaml", yaml12=False, strict=True)
        with pytest.raises(ConfigError) as got:
            L.parse(bad.encode(), "registry/m.yaml")
        assert str(got.value) == str(want.value)
    assert L.parse(good.encode(), "registry/m.yaml").events == [ev]


def test_a_long_ledger_is_read_fast_and_identically() -> None:
    evs = [L.make_event("register", "m", "a <a@b>", "2024-01-02T03:04:05Z", version=f"v0.1.{i}", tag=f"m@v0.1.{i}",
                        path="m.bin", sha256=f"{i:064x}", size=i, md5=None, metrics={"acc": i / 7, "nan": math.nan},
                        params={"lr": 0.01}, lineage=None) for i in range(300)]
    text = L.header("m") + L.render_events(evs)
    assert same(fastyaml.read(text), strict(text))


versions = st.builds(lambda a, b, c, pre, build: f"v{a}.{b}.{c}" + (f"-{pre}" if pre else "") + (f"+{build}" if build else ""),
                     st.integers(0, 3), st.integers(0, 3), st.integers(0, 12),
                     st.one_of(st.none(), st.lists(st.sampled_from(["0", "1", "2", "10", "a", "b", "rc", "alpha", "x-1", "1a"]),
                                                   min_size=1, max_size=3).map(".".join)),
                     st.one_of(st.none(), st.sampled_from(["b1", "001", "x.y"])))


@given(versions, versions)
def test_version_sort_keys_order_as_semver_compares(a: str, b: str) -> None:
    want = semver.Version.parse(a[1:]).compare(semver.Version.parse(b[1:]))
    ka, kb = _sort_key(a), _sort_key(b)
    assert (ka > kb) - (ka < kb) == (want > 0) - (want < 0)


@pytest.mark.parametrize("value", [":0", "-x", "?a", ":1:20", "-2:30", "-a b"])
def test_a_plain_value_starting_with_dash_colon_or_question_mark_takes_the_fast_path(value: str) -> None:
    """PyYAML writes these plain (an indicator followed by a non-space starts a plain scalar
    in block context); hypothesis found an actor ':0' sent to the slow loader."""
    ev = {"event": "promote", "model": "m", "version": "v0.1.0", "stage": "prod", "tag": "m#prod#1",
          "actor": value, "timestamp": "2024-01-02T03:04:05Z", "id": "0" * 64}
    data = (L.header("m") + L.render_events([ev])).encode()
    doc, fast = load_strict(data, "registry/m.yaml")
    assert fast and same(doc, strict(data.decode()))


# -- shapes: items read by a compiled regex once two items of one layout were line-parsed --

def _warm_shapes(text: str) -> None:
    """Forget all shapes, then read ``text`` until its items' shapes are compiled (the
    second sighting)."""
    fastyaml_shapes.reset_shapes()
    for _ in range(3):
        fastyaml.read(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), min_size=1, max_size=4), st.data())
def test_items_read_by_shape_equal_the_line_parser_and_the_loader(evs: list[dict[str, Any]],
                                                                   data: st.DataObject) -> None:
    """A ledger whose items' shapes are compiled reads exactly as the line parser alone and
    the safe loader read it, unchanged and after hand edits (which a shape must not
    mistake for its own layout)."""
    text = L.header("m") + L.render_events(evs + evs)
    _warm_shapes(text)
    for t in (text, mutate(text, data), mutate(text, data)):
        got, ref = fastyaml.read(t), fastyaml.read(t, shapes=False)
        assert (got is fastyaml.FALLBACK) == (ref is fastyaml.FALLBACK), t
        try:
            want = strict(t)
        except (yaml.YAMLError, ValueError, TypeError, RecursionError):
            assert got is fastyaml.FALLBACK
            continue
        if got is not fastyaml.FALLBACK:
            assert same(got, ref) and same(got, want), t


def test_a_shape_is_compiled_and_used_for_a_repeated_layout() -> None:
    evs = [L.make_event("promote", "shp", "a <a@b>", "2024-01-02T03:04:05Z", version=f"v0.1.{i}", stage="prod",
                        tag="shp#prod#1", weight=f"{i}") for i in range(5)]
    text = L.header("shp") + L.render_events(evs)
    fastyaml_shapes.reset_shapes()
    assert same(fastyaml.read(text), strict(text))
    assert any(sh.nlines == 9 for sh in fastyaml_shapes._SHAPES.get("- event: promote", ())), "not compiled"
    assert same(fastyaml.read(text), strict(text))


@pytest.mark.parametrize("after", ["   extra: 1\n", "  extra: 1\n", " x: 1\n", "x: 1\n", "- 1\n", "-x: 1\n"])
def test_a_line_after_a_shaped_item_is_the_line_parsers(after: str) -> None:
    """A shape pins its item's lines and that the next line is not indented: what follows
    (a deeper line, another key of the item, a key of the document) is read as before."""
    evs = [L.make_event("deprecate", "sha", "me", "2024-01-02T03:04:05Z", tag="sha@deprecated") for _ in range(3)]
    base = L.header("sha") + L.render_events(evs)
    _warm_shapes(base)
    text = base + after
    got, ref = fastyaml.read(text), fastyaml.read(text, shapes=False)
    assert (got is fastyaml.FALLBACK) == (ref is fastyaml.FALLBACK)
    try:
        want = strict(text)
    except yaml.YAMLError:
        assert got is fastyaml.FALLBACK
        return
    assert got is fastyaml.FALLBACK or (same(got, want) and same(got, ref))


def test_the_bad_character_class_is_the_complement_of_what_the_emitter_writes() -> None:
    allowed = re.compile("[\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
    assert all((fastyaml._BAD_CHARS.match(chr(c)) is None) == (allowed.match(chr(c)) is not None)
               for c in range(0x110000))
    assert all((fastyaml._BAD_CHARS.match(chr(c)) is None) == (c in fastyaml._ASCII_OK) for c in range(0x80))


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.from_regex(r"[0-9][0-9a-zA-Z_]{0,70}", fullmatch=True),
                 st.from_regex(r"0[bxBX][0-9a-fA-F_]{0,12}", fullmatch=True),
                 st.sampled_from(["0", "00", "09", "0b1", "0x1f", "0b", "0x", "1e3", "1E3", "0o7", "12ab", "3fe0c1"])))
def test_a_plain_value_of_digits_and_letters_is_typed_as_the_loader_types_it(value: str) -> None:
    text = f"k: {value}\n"
    got = fastyaml.read(text)
    assert got is fastyaml.FALLBACK or same(got, strict(text))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(keys, docs, min_size=1, max_size=5), min_size=1, max_size=3), st.data())
def test_any_repeated_items_read_by_shape_equal_the_line_parser(items: list[dict[Any, Any]], data: st.DataObject) -> None:
    """Random mappings (any keys, nesting, scalars) as the items of a column-0 list, each
    twice so their shapes compile, then hand-edited: the shapes read what the line parser
    and the loader read."""
    text = dump_yaml({"events": items + items})
    _warm_shapes(text)
    for t in (text, mutate(text, data)):
        got, ref = fastyaml.read(t), fastyaml.read(t, shapes=False)
        assert (got is fastyaml.FALLBACK) == (ref is fastyaml.FALLBACK), t
        if got is not fastyaml.FALLBACK:
            assert same(got, ref) and same(got, strict(t)), t

