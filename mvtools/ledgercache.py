"""The parsed-ledger cache: each ledger's checked events, keyed by the git blob id of its
bytes, under ``.git/mvtools/cache/ledgers/`` (the git common dir: linked worktrees share it).

It is never the truth and never stale: an entry is found only by the exact bytes it was
parsed from, so an edit, checkout, merge or hand edit changes the key and the new bytes are
parsed (deleting the folder costs one parse). Ledgers only grow: a miss whose bytes extend
the last cached version of the same file by ``- `` items parses just those items, when both
are in the layout mvtools writes (``ledger.parse_ex`` says which; anything else is parsed
whole). One entry per ledger file is kept, so the cache grows with the registry, not with
its history.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from mvtools import fastyaml
from mvtools.ledger import MAX_LEDGER_BYTES, Ledger, _check_event, blob_id, duplicate_versions, parse_ex
from mvtools.errors import ConfigError

# bumped when parse() checks more: entries an older mvtools cached unchecked are re-parsed
CACHE_FORMAT = 4


class LedgerCache:
    """Parsed events keyed by blob id, in ``directory`` (None: parse every time)."""

    def __init__(self, directory: Path | None) -> None:
        self.dir = directory
        self._mem: dict[str, Ledger] = {}  # blob id -> parsed, for repeated reads in one command
        if directory is not None:
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError:
                self.dir = None

    def _read(self, name: str) -> Any:
        assert self.dir is not None
        try:
            return json.loads((self.dir / name).read_bytes())
        except (OSError, ValueError):
            return None

    def _write(self, name: str, doc: Any) -> None:
        assert self.dir is not None
        tmp = self.dir / f".{name}.{os.getpid()}.tmp"
        try:
            tmp.write_text(json.dumps(doc, check_circular=False, separators=(",", ":")))  # parsed YAML: no cycles
            os.replace(tmp, self.dir / name)
        except OSError:
            pass

    def load(self, data: bytes, source: str, model: str | None = None) -> Ledger:
        key = blob_id(data)
        hit = self._mem.get(key)
        if hit is not None and (model is None or hit.model == model):
            return hit
        led = self._load(key, data, source, model)
        self._mem[key] = led
        return led

    def _load(self, key: str, data: bytes, source: str, model: str | None) -> Ledger:
        if self.dir is None:
            return parse_ex(data, source, model)[0]
        cached = self._read(f"{key}.json")
        if isinstance(cached, dict) and cached.get("format") == CACHE_FORMAT and \
                (model is None or cached.get("model") == model):
            return Ledger(cached["model"], cached["events"])
        pkey = "path-" + hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest() + ".json"
        led = None
        prev = self._read(pkey)
        appendable = False
        if isinstance(prev, dict) and prev.get("appendable") is True and \
                MAX_LEDGER_BYTES >= len(data) > prev.get("length", 0) > 0 and blob_id(data[: prev["length"]]) == prev.get("blob"):
            base = self._read(f"{prev['blob']}.json")
            if isinstance(base, dict) and base.get("format") == CACHE_FORMAT and \
                    base.get("model") == (model or base.get("model")):
                led = self._tail(base, data[prev["length"]:], source)
                appendable = led is not None
        if led is None:
            led, appendable = parse_ex(data, source, model)
        self._write(f"{key}.json", {"format": CACHE_FORMAT, "model": led.model, "events": led.events})
        self._write(pkey, {"blob": key, "length": len(data), "appendable": appendable})
        if isinstance(prev, dict) and prev.get("blob") not in (None, key):
            try:  # one entry per ledger file: the cache stays linear in the registry's size
                (self.dir / f"{prev['blob']}.json").unlink()
            except OSError:
                pass
        return led

    def tip_facts(self, rel: str) -> tuple[dict[str, str], dict[str, str]]:
        """Facts about immutable objects recorded by :meth:`save_tip_facts`, so never stale:
        object id (a commit, or a tag's own id) -> the blob id of ``rel`` there, or "" where
        the commit is there and has no ``rel`` (never for an object missing in a shallow
        clone: it may arrive), and blob id -> a blob that starts with its bytes and passed
        every check (``ledgers_on_refs``)."""
        got = self._read(self._tips_name(rel)) if self.dir is not None else None
        if not isinstance(got, dict) or got.get("format") != CACHE_FORMAT:
            return {}, {}
        return tuple({k: v for k, v in (d.items() if isinstance(d, dict) else ())  # type: ignore[return-value]
                      if isinstance(k, str) and isinstance(v, str)} for d in (got.get("blobs"), got.get("prefix")))

    def save_tip_facts(self, rel: str, blobs: dict[str, str], prefix: dict[str, str]) -> None:
        if self.dir is not None:
            self._write(self._tips_name(rel), {"format": CACHE_FORMAT, "blobs": blobs, "prefix": prefix})

    @staticmethod
    def _tips_name(rel: str) -> str:
        return "tips-" + hashlib.sha1(rel.encode(), usedforsecurity=False).hexdigest() + ".json"

    @staticmethod
    def _tail(base: dict[str, Any], tail: bytes, source: str) -> Ledger | None:
        """``base``'s events and the ``- `` items appended after them; None (parse it whole)
        unless the tail is in the fast reader's form, where an item means the same alone as
        after ``base`` (which ended with its ``events:`` list, in that form too)."""
        if not tail.startswith(b"- "):
            return None
        try:
            items = fastyaml.read(tail.decode("utf-8"))
        except UnicodeDecodeError:
            return None
        if not isinstance(items, list):
            return None
        n = len(base["events"])
        for i, ev in enumerate(items):
            _check_event(ev, n + i, source, base["model"])
        events = base["events"] + items
        dup = duplicate_versions(events)
        if dup:
            raise ConfigError(f"{source}: {dup}")
        return Ledger(base["model"], events)
