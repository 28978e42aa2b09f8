"""The state machine's oracle: reads git objects directly (for-each-ref, cat-file, sha256
over the model blob at a tag's commit) and runs `mvtools verify` and its printed repairs as
a user would. It never imports mvtools: it must not share the code it judges."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

# NAME@vX.Y.Z, archived NAME@vX.Y.Z!, and GTO's counter forms (#N)
VERSION_TAG = re.compile(r"^(?P<model>[A-Za-z0-9][A-Za-z0-9_/-]*)@(?P<version>v\d+\.\d+\.\d+)(?P<archived>!)?(#\d+)?$")
HINT = re.compile(r"run: (?P<cmd>[^;]+?)(?: \(or [^)]*\))?(?:;|$)")


def _git(repo: Path, *args: str, input: str | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, input=input)
    if proc.returncode != 0:
        raise AssertionError(f"oracle: git {args} failed in {repo}: {proc.stderr}")
    return proc.stdout


def version_tags(repo: Path) -> dict[str, str]:
    """Every version (and archived version) tag of ``repo`` -> the commit it peels to."""
    out = _git(repo, "for-each-ref", "--format=%(refname:strip=2) %(objectname) %(*objectname)", "refs/tags")
    tags = {}
    for line in out.splitlines():
        name, obj, peeled = (line.split() + [""])[:3]
        if VERSION_TAG.match(name):
            tags[name] = peeled or obj
    return tags


def blob_sha256s(repo: Path, specs: list[str]) -> dict[str, str | None]:
    """``commit:path`` -> sha256 of that blob (None when the commit holds no such file)."""
    if not specs:
        return {}
    proc = subprocess.run(["git", "cat-file", "--batch"], cwd=repo, capture_output=True,
                          input="".join(s + "\n" for s in specs).encode())
    data, out, pos = proc.stdout, {}, 0
    for spec in specs:
        nl = data.index(b"\n", pos)
        header = data[pos:nl].decode().split()
        pos = nl + 1
        if len(header) < 3 or header[1] != "blob":  # "<spec> missing" (or a tree)
            out[spec] = None
            continue
        size = int(header[2])
        out[spec] = hashlib.sha256(data[pos:pos + size]).hexdigest()
        pos += size + 1
    return out


def bindings(repo: Path, paths: dict[str, str]) -> dict[tuple[str, str], dict[str, str | None]]:
    """(model, version) -> {tag name: sha256 of the model's blob at the tag's commit} for the
    declared models (``paths``: model -> path)."""
    tags = version_tags(repo)
    specs = {}
    for name, commit in tags.items():
        m = VERSION_TAG.match(name)
        assert m is not None
        if m["model"] in paths:
            specs[name] = f"{commit}:{paths[m['model']]}"
    shas = blob_sha256s(repo, list(specs.values()))
    out: dict[tuple[str, str], dict[str, str | None]] = {}
    for name, spec in specs.items():
        m = VERSION_TAG.match(name)
        assert m is not None
        out.setdefault((m["model"], m["version"]), {})[name] = shas[spec]
    return out


def hints(problems: list[dict[str, str]]) -> tuple[list[str], list[dict[str, str]]]:
    """The repair commands verify printed (`run: CMD`), in order and once each, and the
    problems that name none."""
    cmds: list[str] = []
    bare = []
    for p in problems:
        m = HINT.search(p["message"])
        if m is None:
            bare.append(p)
        elif m["cmd"].strip() not in cmds:
            cmds.append(m["cmd"].strip())
    return cmds, bare


def verify(repo: Path) -> tuple[int, dict, str]:
    """`mvtools verify --json` as a user runs it (the console script on PATH)."""
    proc = subprocess.run(["mvtools", "verify", "--json"], cwd=repo, capture_output=True, text=True)
    try:
        doc = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except json.JSONDecodeError:
        doc = {}
    return proc.returncode, doc, proc.stderr


def shell(repo: Path, cmd: str) -> subprocess.CompletedProcess[str]:
    """Run a printed hint exactly as printed."""
    return subprocess.run(["bash", "-c", cmd], cwd=repo, capture_output=True, text=True)
