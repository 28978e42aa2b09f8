"""`mvtools record-sha256 [NAME[@VERSION]]`: record the sha256 of versions imported from GTO
without their bytes.

``import-gto`` imports a version whose bytes are out of reach with the DVC md5 and size its
commit records and no sha256; until one is recorded, I1 binds the version to that md5 and
size. Once the bytes can be fetched (the DVC remote reachable, credentials set, the DVC
plugin installed), this command fetches them by their md5 from the DVC remote of the
project that records them (the root project or a DVC subrepo), checks them against the
imported md5 and size, refuses them if they differ, and appends one ``sha256`` event per
version, all in one commit. ``verify`` only reads; this is the command that writes.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvtools import ledger as L
from mvtools.errors import MvtoolsError
from mvtools.versioning import utc_now

if TYPE_CHECKING:
    from mvtools.registry import Registry


def _cache_object(cache: Path, md5: str) -> Path | None:
    from mvtools.gto_artifacts import cache_object

    return cache_object(cache, md5)


def _file_md5s(p: Path) -> tuple[set[str], int]:
    """The md5s DVC may name a file by (DVC 3's of the bytes, DVC 2's of the text with CRLF
    turned to LF) and its size."""
    from mvtools.hashing import hash_file

    d = hash_file(p, md5=True, dos2unix=True)
    return {m for m in (d.md5, d.md5_dos2unix) if m}, d.size


def md5_and_size(cache: Path, md5: str) -> tuple[str, int] | None:
    """DVC's md5 of the cached object ``md5`` recomputed from its bytes (a directory: every
    entry's, the manifest's own when all agree) and its size; None when it is not cached."""
    obj = _cache_object(cache, md5)
    if obj is None:
        return None
    if not md5.endswith(".dir"):
        md5s, size = _file_md5s(obj)
        return (md5 if md5 in md5s else sorted(md5s)[0]), size
    try:
        entries = json.loads(obj.read_bytes())
    except ValueError:
        return "unreadable manifest", 0
    listing = json.dumps([{"md5": e.get("md5"), "relpath": e.get("relpath")} for e in entries], sort_keys=True)
    total, ok = 0, hashlib.md5(listing.encode(), usedforsecurity=False).hexdigest() + ".dir" == md5
    for e in entries:
        f = _cache_object(cache, str(e.get("md5")))
        if f is None:
            return None
        md5s, size = _file_md5s(f)
        ok, total = ok and e.get("md5") in md5s, total + size
    return (md5 if ok else "a manifest that does not match its entries"), total


def unreadable(ev: dict[str, Any]) -> str:
    """Why an imported version has no bytes mvtools could ever read, in a few words."""
    path = ev.get("path")
    if path is None:
        return "annotated without a path"
    return f"{path} is a remote path, outside the repository" if "://" in path else f"{path} is not in its commit"


def _targets(reg: "Registry", spec: str | None) -> list[dict[str, Any]]:
    """The register events (as the state folds them) whose sha256 is still unknown."""
    if spec:
        name, _, ver = spec.partition("@")
        st = reg.state(name)
        if ver:
            st, v = reg.version(name, ver)
            return [st.versions[v]]
        return [ev for ev in st.versions.values() if ev.get("sha256") is None]
    return [ev for st in reg.states().values() for ev in st.versions.values() if ev.get("sha256") is None]


def _project_root(reg: "Registry", ev: dict[str, Any]) -> Path:
    """The DVC project (the root or a subrepo) that records ``ev``'s bytes at its commit."""
    from mvtools.gto_artifacts import dvc_project_of

    tag = reg.repo.tags(ev["tag"]).get(ev["tag"])
    return reg.root / (dvc_project_of(reg, tag[0], ev["path"]) if tag and ev.get("path") else "")


def fetch_checked(reg: "Registry", ev: dict[str, Any]) -> str:
    """Fetch ``ev``'s bytes into its project's DVC cache and check them against its md5 and
    size: "" when they match, else why not."""
    from mvtools import dvcio
    from mvtools.gto_artifacts import cache_dir

    md5, size = str(ev["md5"]), ev.get("size")
    root = _project_root(reg, ev)
    try:
        with dvcio.open_dvc(root) as dvc:
            dvcio.ensure_local(dvc, md5)
    except MvtoolsError as exc:
        return exc.message
    except Exception as exc:  # noqa: BLE001 - DVC and its plugins raise anything (NoCredentialsError, ImportError)
        return f"DVC cannot fetch {md5}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    got = md5_and_size(cache_dir(root), md5)
    if got is None:
        return f"DVC fetched nothing for {md5}"
    if got[0] != md5 or (size is not None and got[1] != size):
        return (f"refused: the fetched bytes have md5 {got[0]} and size {got[1]}, the imported record "
                f"says md5 {md5} and size {size}")
    return ""


def _fetch(reg: "Registry", ev: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(the sha256 event, "") or (None, why it cannot be recorded)."""
    from mvtools import dvcio
    from mvtools.hashing import digest_path

    why = fetch_checked(reg, ev)
    if why:
        return None, why
    md5, root = str(ev["md5"]), _project_root(reg, ev)
    with tempfile.TemporaryDirectory(prefix="mvtools-sha256-") as tmp:
        with dvcio.open_dvc(root) as dvc:
            dvcio._materialize(dvc, md5, Path(tmp) / "artifact")
        d = digest_path(Path(tmp), "artifact")
    return L.make_event("sha256", ev["model"], reg.repo.identity(), utc_now(), version=ev["version"],
                        sha256=d.sha256, size=d.size, md5=ev["md5"]), ""


def record_sha256(reg: "Registry", spec: str | None = None) -> dict[str, Any]:
    """Record the sha256 of every imported version lacking one (or of ``spec``'s) whose
    bytes can be fetched; one commit. ``failed`` lists the others and why."""
    reg.repo.require_no_operation()
    recorded: dict[str, list[dict[str, Any]]] = {}
    out: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    without: list[dict[str, Any]] = []  # no md5: nothing to fetch (only an error when named)
    for ev in _targets(reg, spec):
        what = {"model": ev["model"], "version": ev["version"], "tag": ev["tag"]}
        if ev.get("sha256") is not None:
            failed.append({**what, "why": f"its sha256 is recorded already ({ev['sha256'][:12]}...)"})
        elif not ev.get("md5"):
            why = (f"its commit records no DVC md5 for it ({unreadable(ev)}), so no bytes can be fetched and "
                   "checked; it stays as GTO shows it")
            (failed if spec else without).append({**what, "why": why})
        else:
            new, why = _fetch(reg, ev)
            if new is None:
                failed.append({**what, "why": why})
            else:
                recorded.setdefault(ev["model"], []).append(new)
                out.append({**what, "sha256": new["sha256"], "size": new["size"]})
    head = None
    if recorded:
        with reg.transaction() as txn:
            head = txn.commit(recorded, "Record the sha256 of versions imported from GTO")
    return {"recorded": out, "failed": failed, "without_md5": without, "commit": head}
