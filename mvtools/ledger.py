"""The append-only YAML ledger: one file per model, ``registry/<name>.yaml``.

A file is the header ``mvtools_ledger: 1``, ``model: NAME``, ``events:`` and then one YAML
list item per event, so appending an event appends bytes and never rewrites old ones.
Every event carries ``event``, ``model``, ``actor``, ``timestamp`` and ``id`` (sha256 of the
event's canonical JSON without ``id``). Writes are atomic (temp file, fsync, rename) and
serialised by a lock in the git common dir, shared by linked worktrees.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from mvtools.errors import ConfigError, InternalError
from mvtools.gitops import lock_path
from mvtools.reglock import RegistryLock
from mvtools.versioning import (deprecated_tag, is_tag_of, is_version, model_of_tag, stage_tag, tag_name_of,
                                version_tag)
from mvtools.yamlio import dump_yaml, load_strict

# json.dumps' own C encoder (None where Python has no C accelerator: json.dumps then)
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_encode_str = json.encoder.encode_basestring
FORMAT = 1
EVENT_KINDS = ("register", "promote", "archive", "deprecate", "rollback", "deploy", "sha256")
REQUIRED = ("event", "model", "actor", "timestamp", "id")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MAX_LEDGER_BYTES = 256 * 1024 * 1024


# -- where ledgers live ------------------------------------------------------------------
def ledger_path(registry_dir: str, model: str) -> str:
    """The repo-relative ledger file of ``model``: ``registry/<tag name>.yaml``."""
    return f"{registry_dir}/{tag_name_of(model)}.yaml"


def is_ledger_path(registry_dir: str, path: str) -> bool:
    """Is the repo-relative POSIX ``path`` (as git lists it) a ledger file?"""
    return path.startswith(registry_dir + "/") and path.endswith(".yaml")


def model_of_ledger(registry_dir: str, path: str) -> str:
    """The model a ledger file is for, by its path (the inverse of ``ledger_path``)."""
    return model_of_tag(path[len(registry_dir) + 1: -len(".yaml")])


def ledger_files(root: Path, registry_dir: str) -> list[str]:
    """The ledger files in the work tree, repo-relative and sorted; hidden files (a writer's
    temp files, editors' backups) are not ledgers."""
    top = root / registry_dir
    found = []
    for dirpath, _dirs, files in os.walk(top):
        for f in files:
            if f.startswith("."):
                continue
            rel = (Path(dirpath) / f).relative_to(root).as_posix()
            if is_ledger_path(registry_dir, rel):
                found.append(rel)
    return sorted(found)


def header(model: str) -> str:
    return f"mvtools_ledger: {FORMAT}\nmodel: {json.dumps(model)}\nevents:\n"


def canonical(event: dict[str, Any]) -> bytes:
    """The bytes an event's id hashes: compact JSON, keys sorted. A non-finite metric (a
    diverged loss) is written with JSON's ``NaN``/``Infinity``/``-Infinity`` tokens, so an
    event without one keeps the id it always had."""
    body = dict(event)  # a C-level copy: this runs for every event of every ledger read cold
    body.pop("id", None)
    if _c_make_encoder is None:
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=True).encode("utf-8")
    # what json.dumps runs with these arguments, without building a JSONEncoder per event
    enc = _c_make_encoder({}, _not_json, _encode_str, None, ":", ",", True, False, True)
    return "".join(enc(body, 0)).encode("utf-8")


def _not_json(o: Any) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def event_id(event: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


def make_event(kind: str, model: str, actor: str, timestamp: str, **fields: Any) -> dict[str, Any]:
    if kind not in EVENT_KINDS:
        raise ValueError(kind)
    ev: dict[str, Any] = {"event": kind, "model": model}
    ev.update(fields)
    ev["actor"] = actor
    ev["timestamp"] = timestamp
    ev["id"] = event_id(ev)
    return ev


def render_events(events: Iterable[dict[str, Any]]) -> str:
    events = list(events)
    return dump_yaml(events) if events else ""


def blob_id(data: bytes) -> str:
    """git's blob id of ``data`` (sha1 of ``blob <len>\\0<data>``), the cache key."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class Ledger:
    """One model's ledger: its events in the order they were appended."""

    model: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [e["id"] for e in self.events]


MD5_RE = re.compile(r"^[0-9a-f]{32}(\.dir)?$")


def _scalarish(v: Any) -> bool:
    if isinstance(v, list):
        return all(_scalarish(x) for x in v)
    return v is None or isinstance(v, (str, int, float, bool))


_STR = {str}
_REQUIRED = frozenset(REQUIRED)
_SCALAR_TYPES = {str, int, float, bool, type(None)}


def _check_event(ev: Any, i: int, source: str, model: str) -> None:
    if not isinstance(ev, dict):
        raise ConfigError(f"{source}: event {i + 1} is not a mapping")
    if not _REQUIRED <= ev.keys():
        for key in REQUIRED:
            if key not in ev:
                raise ConfigError(f"{source}: event {i + 1} has no {key!r}")
    if ev["event"] not in EVENT_KINDS:
        raise ConfigError(f"{source}: event {i + 1} has unknown kind {ev['event']!r}")
    if ev["model"] != model:
        raise ConfigError(f"{source}: event {i + 1} names model {ev['model']!r}, not {model!r}")
    if not (type(ev["actor"]) is str and type(ev["timestamp"]) is str and type(ev["id"]) is str):  # noqa: E721
        for key in ("actor", "timestamp", "id"):
            if not isinstance(ev[key], str):
                raise ConfigError(f"{source}: event {i + 1}: {key} must be a string")
    if not TIMESTAMP_RE.match(ev["timestamp"]):
        raise ConfigError(f"{source}: event {i + 1}: timestamp must be YYYY-MM-DDTHH:MM:SSZ")
    if ev["event"] in ("register", "sha256"):
        # imported from GTO: a path, sha256 and size the tagged commit did not give stay null
        unknown_ok = ("path", "sha256", "size") if ev.get("imported_from") == "gto" else ()
        g = ev.get
        if not (type(g("version")) is str and type(g("sha256")) is str and type(g("size")) is int and  # noqa: E721
                (ev["event"] == "sha256" or (type(g("tag")) is str and type(g("path")) is str))):  # noqa: E721
            for key, typ in (("version", str), ("tag", str), ("path", str), ("sha256", str), ("size", int)):
                if ev["event"] == "sha256" and key in ("tag", "path"):
                    continue
                if ev.get(key) is None and key in unknown_ok:
                    continue
                if not isinstance(ev.get(key), typ) or isinstance(ev.get(key), bool):
                    raise ConfigError(f"{source}: event {i + 1}: {key} must be a {typ.__name__}")
        md5 = ev.get("md5")
        if md5 is not None and (not isinstance(md5, str) or not MD5_RE.match(md5)):
            raise ConfigError(f"{source}: event {i + 1}: md5 must be null or DVC's md5 (32 hex, optional .dir)")
        for key in ("metrics", "params"):
            val = ev.get(key)
            if val is None or (type(val) is dict and set(map(type, val)) <= _STR  # noqa: E721
                               and set(map(type, val.values())) <= _SCALAR_TYPES):
                continue  # the common case, by exact types (what the check below accepts)
            if not isinstance(val, dict) or not all(
                    isinstance(k, str) and _scalarish(v) for k, v in val.items()):
                raise ConfigError(f"{source}: event {i + 1}: {key} must be null or a mapping of names to values")
        lin = ev.get("lineage")
        if lin is not None and (not isinstance(lin, dict) or not isinstance(lin.get("deps") or {}, dict)
                                or not isinstance(lin.get("params") or {}, dict)):
            raise ConfigError(f"{source}: event {i + 1}: lineage must be null or a mapping with deps and params")
        up = (lin or {}).get("upstream") or {}
        if not isinstance(up, dict) or not all(isinstance(v, dict) for v in up.values()):
            raise ConfigError(f"{source}: event {i + 1}: lineage.upstream must map stages to {{deps, params}}")
        env = ev.get("environment")  # mvtools.environment's record; absent in older events
        if env is not None and (not isinstance(env, dict) or not isinstance(env.get("files") or {}, dict)):
            raise ConfigError(f"{source}: event {i + 1}: environment must be null or a mapping with files")
    _check_semantics(ev, f"{source}: event {i + 1}")
    try:
        ok = event_id(ev) == ev["id"]
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"{source}: event {i + 1} ({ev['event']}) does not match its id")


# which fields name a version, per kind: (key, may it be null?); a rollback imported from
# GTO records an unassign that left the stage empty (version null)
_VERSION_KEYS: dict[str, tuple[tuple[str, bool], ...]] = {
    "register": (("version", False),), "promote": (("version", False),), "archive": (("version", False),),
    "rollback": (("version", False), ("previous", False)), "deprecate": (), "deploy": (("version", True),),
    "sha256": (("version", False),),
}


def _check_semantics(ev: dict[str, Any], where: str) -> None:
    """Versions spelt as the scheme writes them and the ``tag`` its model and version give
    (post-commit and sync-tags create exactly that tag). The grammar is versioning.py's."""
    kind, model = ev["event"], ev["model"]
    imported = ev.get("imported_from") == "gto"
    for key, nullable in _VERSION_KEYS[kind]:
        v = ev.get(key)
        if (v is None and (nullable or (imported and kind == "rollback" and key == "version"))) or is_version(v):
            continue
        raise ConfigError(f"{where}: {key} {v!r} is not a version (vX.Y.Z, or vYYYYMMDDHHMMSS_<8 hex> "
                          "in the timestamp scheme)")
    tag = ev.get("tag")
    if kind in ("deploy", "sha256"):  # sha256: the verified bytes of an imported version (record_sha256.py)
        if tag is not None:
            raise ConfigError(f"{where}: tag {tag!r}: {kind} events carry no tag")
        return
    if kind in ("promote", "rollback"):
        stage = ev.get("stage")
        if not isinstance(stage, str):
            raise ConfigError(f"{where}: stage must be a string")
        # mvtools' rollback records the re-assignment; one imported from GTO its unassign tag
        unassign = kind == "rollback" and imported
        if not is_tag_of(tag, model, "unassign" if unassign else "stage", stage=stage):
            raise ConfigError(f"{where}: tag {tag!r} is not a {stage} tag of {model} "
                              f"({stage_tag(model, stage, 'N', unassign)})")
        return
    want = {"register": "version", "archive": "archive"}.get(kind, "deprecated")
    if not is_tag_of(tag, model, want, version=ev.get("version") if kind != "deprecate" else None):
        spelt = deprecated_tag(model) if kind == "deprecate" else version_tag(model, ev["version"], kind == "archive")
        raise ConfigError(f"{where}: tag {tag!r} is not {spelt!r} (or {spelt + '#N'!r}), "
                          "the tag its model and version give")


def parse(data: bytes, source: str, model: str | None = None) -> Ledger:
    """Parse and validate a ledger file's bytes (schema and every event id)."""
    return parse_ex(data, source, model)[0]


def parse_ex(data: bytes, source: str, model: str | None = None) -> tuple[Ledger, bool]:
    """``parse``, and whether appending ``- `` items to ``data`` appends events and nothing
    else (mvtools' own layout, ``events:`` last; see mvtools.ledgercache)."""
    doc, fast = load_strict(data, source, MAX_LEDGER_BYTES)
    if not isinstance(doc, dict) or doc.get("mvtools_ledger") != FORMAT:
        raise ConfigError(f"{source}: not an mvtools ledger (no 'mvtools_ledger: {FORMAT}' header)")
    name = doc.get("model")
    if not isinstance(name, str) or (model is not None and name != model):
        raise ConfigError(f"{source}: ledger names model {name!r}" + (f", expected {model!r}" if model else ""))
    events = doc.get("events") or []
    if not isinstance(events, list):
        raise ConfigError(f"{source}: events must be a list")
    for i, ev in enumerate(events):
        _check_event(ev, i, source, name)
    dup = duplicate_versions(events)
    if dup:
        raise ConfigError(f"{source}: {dup}")
    appendable = fast and bool(events) and list(doc)[-1] == "events" and b"\nevents:\n- " in data
    return Ledger(name, events), appendable


def bytes_key(ev: dict[str, Any]) -> Any:
    """What binds a register event to its bytes (I1): its sha256, or for a version imported
    from GTO whose bytes were out of reach, DVC's md5 and size until a sha256 is recorded."""
    sha = ev.get("sha256")
    return sha if sha is not None else ("md5", ev.get("md5"), ev.get("size"), ev.get("path"))


def duplicate_versions(events: list[dict[str, Any]]) -> str | None:
    """A version registered twice with different bytes (an unresolved merge conflict)."""
    seen: dict[str, Any] = {}
    for ev in events:
        if ev["event"] != "register":
            continue
        prev = seen.setdefault(ev["version"], bytes_key(ev))
        if prev != bytes_key(ev):
            return (f"{ev['model']}@{ev['version']} is registered twice with different bytes; keep the published "
                    "one and re-register the other as the next version (see docs/merges.md: two clones registered)")
    return None


Loader = Callable[[bytes, str], Ledger]


def check_ledger_change(parents: list[bytes | None], new: bytes | None, source: str,
                        load: Loader = parse) -> str | None:
    """Judge one ledger file in one commit against its parents' (None: absent there): None
    when the change keeps the ledger append-only, else what is wrong, in one line.

    One parent (or none): ``new`` must byte-extend it; a merge: ``new`` must hold the union
    of its parents' events; a ledger a parent had may not be deleted. ``load`` parses (a
    ``LedgerCache.load`` to share parses)."""
    if new is None:
        return f"{source}: the ledger was deleted" if any(parents) else None
    try:
        if len(parents) > 1:
            return check_union(parents, new, source, load)
        return check_extends(parents[0] if parents else None, new, source, load)
    except ConfigError as exc:
        return str(exc)


def check_extends(old: bytes | None, new: bytes | None, source: str, load: Loader = parse) -> str | None:
    """None when ``new`` byte-extends ``old``; otherwise what was done to the old events."""
    if not old:
        return None
    if new is None:
        return f"{source}: the ledger was deleted"
    try:  # on parsed events, loaded strictly: appended bytes may still redefine an old event
        a = load(old, source)
        b = load(new, source)
    except ConfigError as exc:
        return str(exc)
    if new.startswith(old):
        if b.ids[: len(a.ids)] != a.ids:
            return f"{source}: appended lines change existing events (events may only be appended)"
        return None
    ids_b = b.ids
    missing = [i for i in a.ids if i not in ids_b]
    if missing:
        return f"{source}: {len(missing)} existing event(s) dropped or edited"
    if ids_b[: len(a.ids)] != a.ids:
        return f"{source}: existing events reordered"
    return f"{source}: existing lines rewritten (events may only be appended)"


def check_union(parents: list[bytes | None], new: bytes | None, source: str, load: Loader = parse) -> str | None:
    """A merge's ledger must hold exactly the union of its parents' events (plus appends)."""
    want: set[str] = set()
    for p in parents:
        if p:
            want.update(load(p, source).ids)
    have = set(load(new, source).ids) if new else set()
    lost = want - have
    if lost:
        return f"{source}: the merge dropped {len(lost)} event(s) of its parents"
    return None


def clean_stale(path: Path) -> None:
    """Temp files of writers that died (SIGKILL) before their rename."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            pid = int(tmp.name.rsplit(".", 2)[-2])
            os.kill(pid, 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except (ValueError, OSError):
            pass


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write, fsync, rename: a crash leaves the old file or the new one, never a torn one.
    ``durable=False``: no fsync, for state that means nothing after a power loss (a
    reservation, whose owner process is gone then) or that its readers check (watch.base)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        if not durable:
            return
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise InternalError(f"cannot write {path.name}: {exc.strerror}") from None


def append(path: Path, model: str, events: list[dict[str, Any]], expected: bytes | None = None) -> bytes:
    """Append ``events`` to the ledger at ``path`` (created with its header when absent).

    ``expected``: the bytes the caller based its decision on; if the file changed since,
    the caller must re-read (callers hold the registry lock, so this is a safety net).
    """
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        old = b""
    except OSError as exc:
        raise InternalError(f"cannot read {path.name}: {exc.strerror}") from None
    if expected is not None and old != expected:
        raise InternalError(f"{path.name} changed while mvtools was writing it; try again")
    if old and not old.endswith(b"\n"):
        q = shlex.quote(str(path))
        raise ConfigError(f"{path.name}: ledger does not end with a newline (edited by hand?); "
                          f"run: echo >> {q} && git commit -q -m 'End {path.name} with a newline' -- {q}")
    new = (old or header(model).encode()) + render_events(events).encode("utf-8")
    atomic_write(path, new)
    return new


def lock(common_dir: Path, timeout: float = 120.0) -> RegistryLock:
    """The registry lock (:mod:`mvtools.reglock`): one writer at a time."""
    return RegistryLock(lock_path(common_dir), timeout)


def __getattr__(name: str) -> Any:
    """``ledger.LedgerCache``: the cache lives in mvtools.ledgercache (it parses with parse_ex)."""
    if name == "LedgerCache":
        from mvtools.ledgercache import LedgerCache

        return LedgerCache
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
