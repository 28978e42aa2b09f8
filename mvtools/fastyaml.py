"""An exact fast reader for the block YAML that mvtools itself writes (its ledgers).

``read(text)`` returns what the strict safe loader (``yamlio.StrictLoader11``) returns, or
:data:`FALLBACK` when the text is not in the narrow form it handles; the caller then loads it
with the safe loader, which gives the value or the error (a repeated key, a merge key, an
anchor, malformed YAML) exactly as before. Nothing here raises on bad input.

The form handled is the one ``yamlio.dump_yaml`` emits: ``\\n``-separated lines, block
mappings (``key: value``, ``key:`` then a deeper block or an indentless ``- `` sequence)
and block sequences (``- item``, ``- key: value``, ``- - item``), each scalar on its line:
plain, ``'single'`` or ``"double"`` quoted (the escapes the emitter writes), ``{}`` or
``[]``. Anything else falls back: comments, blank lines, tabs, trailing spaces, carriage
returns, flow collections with content, block scalars (``|``, ``>``), multi-line scalars,
tags, anchors, aliases, explicit keys (``?``), document markers, a key twice, a merge key
(``<<``), a plain scalar that resolves to a timestamp or anything but str, null, bool,
int or float. A plain scalar is typed by PyYAML's own YAML 1.1 resolver table and built by
its own constructors, so typing cannot drift from the safe loader. The items of a ledger's
``events:`` list that repeat a layout are read by :mod:`mvtools.fastyaml_shapes`, identically.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.resolver import Resolver

FALLBACK: Any = object()  # "not my form": load it with the safe loader
MAX_DEPTH = 48  # deeper: the safe loader (and its nesting limit) decides

# not what the emitter writes unescaped (allow_unicode) minus YAML's other line breaks, i.e. not
# "\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff" (tested)
_BAD_CHARS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
_ASCII_OK = bytes([10, *range(0x20, 0x7f)])  # the ASCII characters _BAD_CHARS lets through
_PLAIN_FIRST_BAD = frozenset("?:,[]{}#&*!|>'\"%@`")
_INT = re.compile(r"^(?:0|-?[1-9][0-9]*)$")
_FLOAT = re.compile(r"^-?[0-9]+\.[0-9]*(?:e[-+][0-9]+)?$")
_ESC_CHAR = {"0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c", "r": "\r",
             "e": "\x1b", '"': '"', "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"}
_ESC_LEN = {"x": 2, "u": 4, "U": 8}
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_STR = "tag:yaml.org,2002:str"
_TYPED = {"tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_RESOLVERS = Resolver.yaml_implicit_resolvers
_CONSTRUCT = yaml.constructor.SafeConstructor()


class _Fallback(Exception):
    pass


def _resolve(s: str) -> Any:
    """A plain scalar, typed as PyYAML's YAML 1.1 resolver types it."""
    if "0" <= s[0] <= "9" and s.isascii() and s.isalnum() and not s.isdigit() and s[1:2] not in ("b", "x"):
        return s  # a digit, then letters (a hex digest): no int (0b, 0x), float (.) or date (-) form
    for tag, regexp in _RESOLVERS.get(s[0], ()):
        if regexp.match(s):
            break
    else:
        return s
    if tag == "tag:yaml.org,2002:int" and _INT.match(s):
        return int(s)
    if tag == "tag:yaml.org,2002:float" and _FLOAT.match(s):
        return float(s)  # what construct_yaml_float makes of the plain decimal form
    if tag not in _TYPED:
        raise _Fallback
    return _CONSTRUCT.yaml_constructors[tag](_CONSTRUCT, yaml.ScalarNode(tag, s))


def _bad_first(s: str) -> bool:
    """Can't a plain scalar start so (PyYAML's scanner, block context)? An indicator can't,
    but ``-``, ``?`` and ``:`` can when a non-space follows (``:0``, ``-x``)."""
    c = s[0]
    if c in "-?:":
        return len(s) == 1 or s[1] == " "
    return c in _PLAIN_FIRST_BAD


def _plain(s: str) -> Any:
    if _bad_first(s) or ": " in s or " #" in s \
            or s[-1] in ": ":  # a key's trailing spaces are not part of it ("a : b")
        raise _Fallback
    return _resolve(s)


def _quoted(c: str, at: int) -> tuple[str, int]:
    """The quoted scalar starting at ``c[at]`` and the index after its closing quote."""
    q = c[at]
    if q == "'":
        out, i = [], at + 1
        while True:
            j = c.find("'", i)
            if j < 0:
                raise _Fallback  # runs over the line
            out.append(c[i:j])
            if c.startswith("''", j):
                out.append("'")
                i = j + 2
                continue
            return "".join(out), j + 1
    out, i = [], at + 1
    while True:
        j = i
        while j < len(c) and c[j] not in '"\\':
            j += 1
        if j >= len(c):
            raise _Fallback
        out.append(c[i:j])
        if c[j] == '"':
            return "".join(out), j + 1
        e = c[j + 1: j + 2]
        if e in _ESC_CHAR:
            out.append(_ESC_CHAR[e])
            i = j + 2
        elif e in _ESC_LEN:
            h = c[j + 2: j + 2 + _ESC_LEN[e]]
            if len(h) != _ESC_LEN[e] or not _HEX.match(h):
                raise _Fallback
            cp = int(h, 16)
            if 0xD800 <= cp <= 0xDFFF or cp > 0x10FFFF:
                raise _Fallback
            out.append(chr(cp))
            i = j + 2 + len(h)
        else:
            raise _Fallback


def _scalar(c: str) -> Any:
    if c == "{}":
        return {}
    if c == "[]":
        return []
    if c[0] in "'\"":
        s, end = _quoted(c, 0)
        if end != len(c):
            raise _Fallback
        return s
    return _plain(c)


def _key(c: str) -> tuple[Any, str | None] | None:
    """``key: rest`` -> (key, rest), ``key:`` -> (key, None); None when ``c`` is no entry."""
    if c[0] in "'\"":
        s, end = _quoted(c, 0)
        if end == len(c):
            return None
        if c[end] != ":" or end > 1000:
            raise _Fallback
        rest = c[end + 1:]
        if not rest:
            return s, None
        if rest[0] != " ":
            raise _Fallback
        return s, rest.lstrip(" ")
    k = c.find(": ")
    if k > 1000 or (k < 0 and len(c) > 1000):
        raise _Fallback  # libyaml allows a simple key of at most 1024 characters
    if k < 0:
        if c[-1] != ":" or len(c) == 1:
            return None
        k = len(c) - 1
    text = c[:k]
    key = _KEYS.get(text, _KEYS)
    if key is _KEYS:
        key = _KEYS[text] = _plain(text)
    return key, (c[k + 2:].lstrip(" ") if k < len(c) - 1 else None)


_SCALAR, _EMPTY_MAP, _EMPTY_SEQ = object(), object(), object()
# a line's parse (its key, and its scalar value or what follows), by its text: a ledger
# repeats most of its lines (keys, model, actor, path, nulls); values built afresh are not kept
_ENTRIES: dict[str, tuple[Any, ...]] = {}
_KEYS: dict[str, Any] = {}


def _entry(c: str) -> tuple[Any, ...]:
    k = c.find(": ")
    if 0 < k <= 1000 and c[0] not in "'\"":  # the common line: a plain key and a plain value, inline
        text = c[:k]
        key = _KEYS.get(text, _KEYS)
        if key is _KEYS:
            key = _KEYS[text] = _plain(text)
        v = _value(c[k + 2:])
        return _remember(c, (key, v) if v is _EMPTY_MAP or v is _EMPTY_SEQ else (key, _SCALAR, v))
    kv = _key(c)
    if kv is None:
        raise _Fallback
    key, value = kv
    if value is None:
        ent: tuple[Any, ...] = (key, None)
    elif not value:
        raise _Fallback
    elif value == "{}":
        ent = (key, _EMPTY_MAP)
    elif value == "[]":
        ent = (key, _EMPTY_SEQ)
    else:
        ent = (key, _SCALAR, _scalar(value))
    return _remember(c, ent)


def _value(rest: str) -> Any:
    """What follows ``key: `` on a line whose key is plain: its scalar, or _EMPTY_MAP or
    _EMPTY_SEQ for ``{}`` and ``[]`` (build them with _fresh). A function of ``rest`` alone:
    :mod:`mvtools.fastyaml_shapes` reads values with it."""
    f = rest[:1]
    if f == "'" and len(rest) > 1 and rest[-1] == "'" and "'" not in rest[1:-1]:
        return rest[1:-1]  # single-quoted, no quote inside: verbatim
    if f and f != " " and not _bad_first(rest) and ": " not in rest and " #" not in rest and rest[-1] != ":":
        return _resolve(rest) if f in _RESOLVERS else rest
    v = rest.lstrip(" ")
    if not v:
        raise _Fallback
    if v == "{}":
        return _EMPTY_MAP
    if v == "[]":
        return _EMPTY_SEQ
    return _scalar(v)


def _remember(c: str, ent: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(_ENTRIES) > 200_000:  # a bound on memory, not a cache policy
        _ENTRIES.clear()
        _KEYS.clear()
        _LINES.clear()
    _ENTRIES[c] = ent
    return ent


_DASH = object()
# a whole line's parse, by its text (indentation included): (indent, entry) for ``key: ...``,
# (indent, _DASH, inner column, virtual line or None, scalar) for ``- ...``
_LINES: dict[str, tuple[Any, ...]] = {}


def _line(line: str) -> tuple[Any, ...]:
    c = line.lstrip(" ")
    ind = len(line) - len(c)
    if not c.startswith("- "):
        ent = _ENTRIES.get(c) or _entry(c)  # raises on "-" alone and on anything but an entry
        ln: tuple[Any, ...] = (ind, ent)
    else:
        rest = c[2:].lstrip(" ")
        if not rest:
            raise _Fallback
        inner = ind + len(c) - len(rest)
        if rest == "-" or rest.startswith("- ") or _key(rest) is not None:
            ln = (ind, _DASH, inner, " " * inner + rest, None)  # a block starts on the item's line
        elif rest in ("{}", "[]"):
            ln = (ind, _DASH, inner, None, _EMPTY_MAP if rest == "{}" else _EMPTY_SEQ)
        else:
            ln = (ind, _DASH, inner, None, _scalar(rest))
    if len(_LINES) > 200_000:
        _LINES.clear()
    _LINES[line] = ln
    return ln


def _fresh(v: Any) -> Any:
    return {} if v is _EMPTY_MAP else [] if v is _EMPTY_SEQ else v


class _Parser:
    def __init__(self, lines: list[str], text: str | None = None) -> None:
        self.lines, self.n, self.text = lines, len(lines), text  # text: read items by shape

    def block(self, i: int, col: int, depth: int, virt: str | None = None) -> tuple[Any, int]:
        """The block node at line ``i`` (``virt``: that line's text as if it started at ``col``)."""
        if depth > MAX_DEPTH:
            raise _Fallback
        line = self.lines[i] if virt is None else virt
        ln = _LINES.get(line) or _line(line)
        if ln[1] is _DASH:
            return self.seq(i, col, depth, virt)
        return self.mapping(i, col, depth, virt)

    def mapping(self, i: int, col: int, depth: int, virt: str | None = None) -> tuple[dict[Any, Any], int]:
        lines, n = self.lines, self.n
        out: dict[Any, Any] = {}
        while i < n:
            line = lines[i] if virt is None else virt
            virt = None
            ln = _LINES.get(line) or _line(line)
            if ln[0] != col:
                if ln[0] < col:
                    break
                raise _Fallback
            ent = ln[1]
            if ent is _DASH:
                raise _Fallback
            key, kind = ent[0], ent[1]
            if key in out:
                raise _Fallback  # the strict loader refuses it (or keeps the last): its call
            if kind is _SCALAR:
                out[key] = ent[2]
                i += 1
            elif kind is not None:
                out[key] = _fresh(kind)
                i += 1
            else:  # "key:" then a deeper block, an indentless sequence, or nothing (null)
                j = i + 1
                nxt = (_LINES.get(lines[j]) or _line(lines[j])) if j < n else None
                if nxt is not None and nxt[0] == col and nxt[1] is _DASH:
                    out[key], i = self.seq(j, col, depth + 1)
                elif nxt is not None and nxt[0] > col:
                    out[key], i = self.block(j, nxt[0], depth + 1)
                else:
                    out[key], i = None, j
        return out, i

    def seq(self, i: int, col: int, depth: int, virt: str | None = None) -> tuple[list[Any], int]:
        lines, n, text = self.lines, self.n, self.text
        out: list[Any] = []
        shaped = text is not None and col == 0 and virt is None  # a ledger's events: read by shape
        pos = sum(len(x) for x in lines[:i]) + i if shaped else 0  # where line i starts in text
        while i < n:
            if shaped:
                hit = _shapes.shaped(text, pos, lines[i])  # type: ignore[arg-type]
                if hit is not None:
                    out.append(hit[0])
                    i, pos = i + hit[1], hit[2]
                    continue
            line = lines[i] if virt is None else virt
            virt = None
            ln = _LINES.get(line) or _line(line)
            if ln[0] != col:
                if ln[0] < col:
                    break
                raise _Fallback
            if ln[1] is not _DASH:
                break  # the parent mapping's next key (an indentless sequence ended)
            if ln[3] is not None:
                start = i
                v, i = self.block(i, ln[2], depth + 1, ln[3])
                out.append(v)
                if shaped:
                    _shapes.learn(text, pos, lines[start:i], v)  # type: ignore[arg-type]
                    pos += sum(len(x) for x in lines[start:i]) + i - start
            else:
                out.append(_fresh(ln[4]))
                i += 1
                pos += len(line) + 1
        return out, i


def read(text: str, *, shapes: bool = True) -> Any:
    """What the strict safe loader makes of ``text``, or FALLBACK (see the module docstring).
    ``shapes=False``: every line through the line parser (the tests' reference)."""
    if not text or not text.endswith("\n") or " \n" in text:
        return FALLBACK
    if not text.isascii() or text.encode("ascii").translate(None, _ASCII_OK):  # C speed for ASCII
        if _BAD_CHARS.search(text):
            return FALLBACK
    if text[0] == "\n" or "\n\n" in text or text.startswith(("---", "...")) or "\n---" in text \
            or "\n..." in text:
        return FALLBACK  # a blank line (" \n" is out above), a document marker
    lines = text[:-1].split("\n")
    try:
        if lines[0][0] == " ":
            return FALLBACK
        value, i = _Parser(lines, text if shapes else None).block(0, 0, 1)
    except (_Fallback, RecursionError, IndexError):
        return FALLBACK
    except (yaml.YAMLError, ValueError, TypeError):
        return FALLBACK  # a constructor refusing a scalar: the safe loader says it
    return value if i == len(lines) else FALLBACK


from mvtools import fastyaml_shapes as _shapes  # noqa: E402 - it reads values with the functions above
