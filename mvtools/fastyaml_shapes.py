"""Shapes for :mod:`mvtools.fastyaml`: a ledger repeats the layout of its events.

An item of a column-0 sequence (a ledger's ``events:``) made only of plain-keyed ``key:
value`` and ``key:`` lines has a shape: its lines with the values left out. Once the line
parser has read two items of one shape, the shape is compiled into a regex that pins every
line's indentation and key (and that the next line is not indented) and a builder that
makes the item from the values; a later item it matches is read with the regex at C speed.
The line parser's result on such an item depends only on those pinned prefixes and on each
value's text, which the line parser's own :func:`mvtools.fastyaml._value` types: the results
are identical (tests/test_fastyaml.py holds them equal, hand edits included).
"""

from __future__ import annotations

import re
from operator import itemgetter
from typing import Any

from mvtools.fastyaml import _EMPTY_MAP, _EMPTY_SEQ, _KEYS, _Fallback, _fresh, _plain, _value

_SHAPES: dict[str, list["_Shape"]] = {}  # an item's first line -> the shapes seen with it
_SEEN: dict[tuple[Any, ...], Any] = {}  # shape signature -> times seen, then its _Shape
_VALUES: dict[str, Any] = {}  # a value's text -> its scalar (immutable; {} and [] are not kept)
MAX_SHAPES = 64  # compiled per process (a compile costs about 0.4 ms)
_COMPILED = [0]


def reset_shapes() -> None:
    """Forget every shape (tests start each example from none)."""
    _SHAPES.clear()
    _SEEN.clear()
    _COMPILED[0] = 0


class _Shape:
    __slots__ = ("rx", "build", "nlines")

    def __init__(self, rx: "re.Pattern[str]", build: Any, nlines: int) -> None:
        self.rx, self.build, self.nlines = rx, build, nlines  # build(values) -> the item


def _signature(lines: list[str]) -> tuple[tuple[int, str, bool], ...] | None:
    """(indent, key text, has a value) per line of an item starting ``- key...``; None
    when a line is not a plain-keyed ``key: value`` or ``key:``."""
    sig = []
    for n, line in enumerate(lines):
        if n == 0:
            c, ind = line[2:], 2
            if not line.startswith("- ") or c[:1] == " ":
                return None
        else:
            c = line.lstrip(" ")
            ind = len(line) - len(c)
        if c[:1] in ("'", '"', "") or c.startswith("- ") or len(c) > 1000:
            return None
        k = c.find(": ")
        if k == 0 or (k < 0 and (c[-1] != ":" or len(c) == 1)):
            return None
        sig.append((ind, c[:k] if k >= 0 else c[:-1], k >= 0))
    return tuple(sig)


def _compile(sig: tuple[tuple[int, str, bool], ...]) -> _Shape | None:
    """The regex and builder of a signature, None where the line parser would not read it
    as one block mapping of plain keys (a key twice, an indentation it refuses)."""
    nvals = 0

    def mapping(j: int, col: int, level: int) -> tuple[tuple[tuple[Any, ...], list[Any]], int]:
        """((keys, plan), next line): plan[k] is a value's index, a nested node, or None."""
        nonlocal nvals
        if level > 16:
            raise _Fallback
        keys: list[Any] = []
        plan: list[Any] = []
        while j < len(sig) and sig[j][0] >= col:
            ind, text, has = sig[j]
            key = _KEYS.get(text, _KEYS)
            if key is _KEYS:
                key = _KEYS[text] = _plain(text)
            if ind > col or key in keys:
                raise _Fallback
            keys.append(key)
            if has:
                plan.append(nvals)
                nvals, j = nvals + 1, j + 1
            elif j + 1 < len(sig) and sig[j + 1][0] > col:
                sub, j = mapping(j + 1, sig[j + 1][0], level + 1)
                plan.append(sub)
            else:
                plan.append(None)
                j += 1
        return (tuple(keys), plan), j

    try:
        node, end = mapping(0, 2, 0)
    except (_Fallback, TypeError):
        return None
    if end != len(sig):
        return None
    rx = "\n".join(("- " if n == 0 else " " * ind) + re.escape(text) + (": (.*)" if has else ":")
                    for n, (ind, text, has) in enumerate(sig))
    return _Shape(re.compile(rx + "\n(?=[^ ]|\\Z)"), _builder(node, nvals), len(sig))


def _builder(node: tuple[tuple[Any, ...], list[Any]], nvals: int) -> Any:
    """values -> the mapping ``node`` describes, by C calls (no code is generated). The
    values are the lines' in order, then a None (``v[nvals]``): a nested mapping's place
    holds it until the mapping is set there (which keeps the key's place)."""
    keys, plan = node
    if all(type(p) is int for p in plan):  # scalars only: their values are consecutive
        a, b = plan[0], plan[-1] + 1
        return lambda v: dict(zip(keys, v[a:b]))
    idx = [p if type(p) is int else nvals for p in plan]
    subs = tuple((keys[n], _builder(p, nvals)) for n, p in enumerate(plan) if isinstance(p, tuple))
    get = itemgetter(*idx) if len(idx) > 1 else (lambda x: (x[idx[0]],))

    def build(v: list[Any]) -> dict[Any, Any]:
        d = dict(zip(keys, get(v)))
        for k, sub in subs:
            d[k] = sub(v)
        return d
    return build


def _typed(s: str) -> Any:
    v = _value(s)
    if v is _EMPTY_MAP or v is _EMPTY_SEQ:
        return _fresh(v)
    if len(_VALUES) > 200_000:
        _VALUES.clear()
    _VALUES[s] = v
    return v


def shaped(text: str, pos: int, first: str) -> tuple[Any, int, int] | None:
    """The item at ``pos`` (its first line ``first``) read by a shape: (value, its number of
    lines, the position after it); None when no shape seen with that first line matches."""
    for sh in _SHAPES.get(first, ()):
        m = sh.rx.match(text, pos)
        if m is not None:
            vals = _VALUES
            v = [vals[s] if s in vals else _typed(s) for s in m.groups()]
            v.append(None)
            return sh.build(v), sh.nlines, m.end()
    return None


def learn(text: str, pos: int, lines: list[str], value: Any) -> None:
    """The line parser read ``lines`` (at ``pos``) as ``value``: count its shape, compile it
    the second time, and keep it only if it reads this very item the same."""
    sig = _signature(lines) if _COMPILED[0] < MAX_SHAPES and len(_SEEN) < 10_000 else None
    if sig is None:
        return
    got = _SEEN.get(sig, 0)
    if isinstance(got, int):
        if got < 1:
            _SEEN[sig] = 1
            return
        got = _SEEN[sig] = _compile(sig)
        _COMPILED[0] += 1
    if got is None:
        return  # not a layout shapes read
    cands = _SHAPES.setdefault(lines[0], [])
    if any(c is got for c in cands) or len(cands) >= 8:
        return
    m = got.rx.match(text, pos)
    if m is not None and repr(got.build([*map(_typed, m.groups()), None])) == repr(value):
        cands.append(got)
