"""Is the DVC remote in use committed? Clones read the remote from the committed
``.dvc/config`` only: a remote set in ``.dvc/config.local`` (or DVC's global or system
config), or added to ``.dvc/config`` without committing it, lets this clone push artifacts
that no clone can fetch (``mvtools get``, ``dvc pull``), and DVC's own ``dvc artifacts get``
reads the config of each version's commit, so it fails for every version registered
before the remote config was committed.

:func:`uncommitted_remote` says so with the commands that fix it; ``mvtools init`` and
``mvtools push`` print it as a warning. Read with configobj (DVC's own config parser),
without importing DVC.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

from mvtools.gitops import Repo

# options that may hold credentials: never suggested for the committed file
_SECRET = re.compile(r"pass|secret|token|key|credential|session|user|auth|cert", re.I)
_URL = re.compile(r"^\w+://")


def _parse(lines: list[str]) -> dict[str, Any]:
    """A DVC config file as {"core": {...}, "remote": {name: {...}}}; {} when unreadable."""
    from configobj import ConfigObj, ConfigObjError  # type: ignore[import-untyped]  # DVC's parser

    try:
        raw = ConfigObj(lines).dict()
    except (ConfigObjError, UnicodeDecodeError, ValueError):
        return {}
    out: dict[str, Any] = {"core": {}, "remote": {}}
    for section, values in raw.items():
        if not isinstance(values, dict):
            continue
        m = re.fullmatch(r'\s*remote\s+"(.+)"\s*', section)
        if m:
            out["remote"][m.group(1)] = {str(k).lower(): v for k, v in values.items()}
        elif section.strip().lower() == "core":
            out["core"] = {str(k).lower(): v for k, v in values.items()}
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        return _parse(path.read_text(encoding="utf-8").splitlines())
    except OSError:
        return {}


def _resolve(url: str, conf_dir: Path) -> str:
    """A remote URL as DVC reads it: a relative local path is relative to its config's folder."""
    if _URL.match(url) or os.path.isabs(os.path.expanduser(url)):
        return os.path.expanduser(url) if not _URL.match(url) else url
    return os.path.normpath(conf_dir / url)


def _levels(root: Path) -> list[tuple[str, Path]]:
    """DVC's config files, in the order they shadow each other (last wins)."""
    from dvc.dirs import global_config_dir, system_config_dir  # light: no DVC repo code

    return [("DVC's system config", Path(system_config_dir()) / "config"),
            ("DVC's global config", Path(global_config_dir()) / "config"),
            (".dvc/config", root / ".dvc" / "config"),
            (".dvc/config.local", root / ".dvc" / "config.local")]


def uncommitted_remote(repo: Repo) -> str | None:
    """A warning when the DVC remote in use (the default one) is not committed as it is
    used, with the commands that commit it; None when it is, or when there is none."""
    root = repo.root
    if not (root / ".dvc").is_dir():
        return None
    levels = [(label, path, _read(path)) for label, path in _levels(root)]
    name = None
    for _label, _path, conf in levels:
        name = conf.get("core", {}).get("remote", name)
    if not isinstance(name, str) or not name:
        return None
    url, url_from, options = None, "", {}
    for label, path, conf in levels:
        sect = conf.get("remote", {}).get(name)
        if isinstance(sect, dict):
            options.update({k: (label, v) for k, v in sect.items() if k != "url"})
            if isinstance(sect.get("url"), str):
                url, url_from = _resolve(sect["url"], path.parent), label
    if url is None:
        return None  # a default naming no remote: DVC itself says so
    committed = _parse((repo.show_blob("HEAD:.dvc/config") or b"").decode("utf-8", "replace").splitlines()
                       if repo.head else [])
    c_sect = committed.get("remote", {}).get(name) or {}
    c_url = c_sect.get("url")
    if committed.get("core", {}).get("remote") == name and isinstance(c_url, str) \
            and _resolve(c_url, root / ".dvc") == url:
        return None
    fix = f"git add .dvc/config && git commit -m {shlex.quote('DVC remote ' + name)} -- .dvc/config"
    default_from = next(label for label, _p, conf in reversed(levels) if conf.get("core", {}).get("remote"))
    if url_from == ".dvc/config" and default_from == ".dvc/config":
        return (f"the DVC remote {name!r} is in .dvc/config but not committed, so clones cannot fetch the "
                f"artifacts pushed to it; run: {fix}")
    where = default_from if default_from != ".dvc/config" else url_from
    cmds = [f"dvc remote add -d -f {shlex.quote(name)} {shlex.quote(url)}"]
    cmds += [f"dvc remote modify {shlex.quote(name)} {shlex.quote(k)} {shlex.quote(str(v))}"
             for k, (label, v) in sorted(options.items())
             if label != ".dvc/config" and not _SECRET.search(k) and c_sect.get(k) != v]
    return (f"the DVC remote {name!r} is set in {where}, which git does not commit, so clones cannot fetch "
            f"the artifacts pushed to it; run: {' && '.join(cmds)} && {fix}")


def warn_uncommitted_remote(repo: Repo) -> None:
    """``mvtools init`` and ``mvtools push``: the warning of :func:`uncommitted_remote`, on stderr."""
    msg = uncommitted_remote(repo)
    if msg:
        from mvtools.hookkit import say

        say("warning: " + msg)
