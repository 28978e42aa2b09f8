"""Writing many annotated tags at once: a constant number of git processes however many.

Each tag object is made here exactly as ``git tag -a -m MESSAGE NAME COMMIT`` makes it
(``object``/``type``/``tag``/``tagger`` headers, the tagger from ``git var
GIT_COMMITTER_IDENT``, the message cleaned up as git does), all of them are written by one
``git hash-object -t tag -w --stdin-paths``, and every ref is set by one ``git update-ref
--stdin`` transaction: all or nothing. An existing tag is never moved unless the write says
``force`` (``git tag -f``); one that exists makes the whole batch fail (as ``git tag`` fails)
and no ref changes. A crash between the two leaves unreferenced tag objects, never a ref on
a wrong object.

Where git would sign the tags (``tag.gpgSign``, ``tag.forceSignAnnotated``), each is made by
its own ``git tag`` as before: only git knows how to sign. A single tag is a ``git tag`` too
(one process, atomic by itself).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from mvtools.errors import UsageError
from mvtools.gitops import GitError, Repo, locked_error

_CONFIG = r"^(tag\.gpgsign|tag\.forcesignannotated|core\.commentchar|core\.commentstring)$"
_TRUE = ("true", "yes", "on")
_EXISTS = re.compile(r"cannot lock ref 'refs/tags/(.+?)': reference already exists")


@dataclass(frozen=True)
class TagWrite:
    """One annotated tag to write."""

    name: str
    commit: str
    message: str
    when: int | None = None  # tagger time in seconds at +0000 (GIT_COMMITTER_DATE=@when +0000); None: now
    force: bool = False  # replace a tag of that name (git tag -f); else it must not exist


def _settings(repo: Repo) -> tuple[bool, str]:
    """(would git sign an annotated tag?, the comment prefix its message cleanup drops), from
    one ``git config`` read; the last value of a key wins, as in git."""
    text = repo.git("config", "-z", "--get-regexp", _CONFIG, check=False).stdout.decode("utf-8", "surrogateescape")
    sign, comment = {"tag.gpgsign": False, "tag.forcesignannotated": False}, "#"
    for item in text.split("\0"):
        key, nl, value = item.partition("\n")
        key = key.lower()
        if key in sign:  # git's booleans: no "=" is true; true/yes/on; a non-zero integer
            v = value.strip().lower()
            sign[key] = not nl or v in _TRUE or (v.lstrip("-").isdigit() and int(v) != 0)
        elif key and nl and value.lower() != "auto":  # git tag cleans up with '#' under "auto"
            comment = value or "#"
    return any(sign.values()), comment


def cleanup(message: str, comment: str = "#") -> str:
    """The message as ``git tag -m`` stores it (git's stripspace, comments dropped): lines
    starting with the comment prefix dropped, trailing whitespace cut, runs of empty lines
    made one, leading and trailing empty lines dropped, each line ended by a newline."""
    out: list[str] = []
    empties = 0
    for line in message.split("\n"):
        if line.startswith(comment):
            continue
        line = line.rstrip(" \t\n\r")  # git's isspace: not \v, \f (nor unicode spaces)
        if not line:
            empties += 1
            continue
        if empties and out:
            out.append("")
        empties = 0
        out.append(line)
    return "".join(ln + "\n" for ln in out)


def _targets(repo: Repo, commits: list[str]) -> dict[str, tuple[str, str]]:
    """name -> (object id, type) of each target, in one ``git cat-file --batch-check``."""
    data = "".join(c + "\n" for c in commits).encode("utf-8", "surrogateescape")
    text = repo.git("cat-file", "--batch-check", input=data, check=False).stdout.decode("utf-8", "surrogateescape")
    res = {}
    for c, line in zip(commits, text.splitlines()):
        bits = line.split()
        if len(bits) == 3 and bits[2].isdigit():
            res[c] = (bits[0], bits[1])
    return res


def write_tags(repo: Repo, tags: Sequence[TagWrite], *, delete: Iterable[str] = ()) -> None:
    """Delete the tags ``delete`` names (those that exist) and write ``tags``, in one
    transaction (module docstring). A name both deleted and written is replaced."""
    tags = list(tags)
    delete = list(dict.fromkeys(delete))
    if not tags and not delete:
        return
    for name in [t.name for t in tags] + delete:  # as git tag refuses them, before anything is written
        if name.startswith("-") or name == "HEAD" or any(c in name for c in "\0\n\r"):
            raise GitError(f"git tag failed: fatal: '{name}' is not a valid tag name.")
    for t in tags:  # one line each of cat-file's input: its answers stay in step
        if not t.commit.strip() or any(c in t.commit for c in "\0\n\r"):
            raise GitError(f"git tag failed: fatal: Failed to resolve '{t.commit}' as a valid ref.")
    if len(tags) + len(delete) == 1:  # one `git tag` is one process, and atomic by itself
        _one_by_one(repo, tags, delete)
        return
    sign, comment = _settings(repo)
    if sign:
        _one_by_one(repo, tags, delete)
        return
    proc = repo.git("var", "GIT_COMMITTER_IDENT", check=False) if tags else None
    if proc is None:  # deletions only (push's retag dropping tags it writes no more): as git tag -d, no identity
        ident = now = ""
    elif proc.returncode != 0:
        why = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"git has no identity here ({why[-1] if why else 'git var failed'}): set user.name and "
                         "user.email")
    else:
        ident, stamp, zone = proc.stdout.decode("utf-8", "surrogateescape").strip().rsplit(" ", 2)
        now = f"{stamp} {zone}"  # as `git tag` writes the time when GIT_COMMITTER_DATE does not say
    targets = _targets(repo, list(dict.fromkeys(t.commit for t in tags))) if tags else {}
    verbs: dict[str, str] = {}  # name -> its ref update: create (must not exist) or update
    bodies: dict[str, bytes] = {}  # name -> its tag object; a later write of a name replaces it
    for t in tags:
        if t.commit not in targets:
            raise GitError(f"git tag failed: fatal: Failed to resolve '{t.commit}' as a valid ref.")
        if t.name in verbs and not t.force:
            raise GitError(f"git tag failed: fatal: tag '{t.name}' already exists")
        verbs.setdefault(t.name, "update" if t.force or t.name in delete else "create")
        oid, kind = targets[t.commit]
        when = now if t.when is None else f"{t.when} +0000"
        bodies[t.name] = (f"object {oid}\ntype {kind}\ntag {t.name}\ntagger {ident} {when}\n\n"
                          + cleanup(t.message, comment)).encode("utf-8", "surrogateescape")
    oids = _hash_objects(repo, list(bodies.values()))
    # -z: a name is one field whatever it holds; git checks it is a valid ref name
    cmds = [f"{verbs[name]} refs/tags/{name}\0{oid}\0" + ("\0" if verbs[name] == "update" else "")
            for name, oid in zip(bodies, oids)]
    cmds += [f"delete refs/tags/{d}\0\0" for d in delete if d not in bodies]
    proc = repo.git("update-ref", "-z", "--stdin", input="".join(cmds).encode("utf-8", "surrogateescape"),
                    check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "surrogateescape")
        m = _EXISTS.search(err)
        if m is not None:  # as `git tag` says it; nothing was written
            raise GitError(f"git tag failed: fatal: tag '{m.group(1)}' already exists")
        locked = locked_error(proc.stderr, repo.root)
        if locked is not None:
            raise locked
        lines = err.strip().splitlines()
        raise GitError(f"git update-ref failed: {lines[-1] if lines else proc.returncode}")


def _hash_objects(repo: Repo, bodies: list[bytes]) -> list[str]:
    """Write ``bodies`` as tag objects (git checks their format) in one ``git hash-object``."""
    if not bodies:
        return []
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mvtools-tags-") as d:
        paths = []
        for i, body in enumerate(bodies):
            p = Path(d) / str(i)
            p.write_bytes(body)
            paths.append(str(p))
        out = repo.git("hash-object", "-t", "tag", "-w", "--no-filters", "--stdin-paths",
                       input=("\n".join(paths) + "\n").encode("utf-8", "surrogateescape")).stdout.split()
    if len(out) != len(bodies):
        raise GitError(f"git hash-object wrote {len(out)} of {len(bodies)} tag objects")
    return [o.decode() for o in out]


def _one_by_one(repo: Repo, tags: list[TagWrite], delete: list[str]) -> None:
    """A ``git tag`` per tag (git signs them); a name deleted and written is forced."""
    written = {t.name for t in tags}
    for d in delete:
        if d not in written:
            repo.delete_tag(d)
    for t in tags:
        env = None if t.when is None else dict(os.environ, GIT_COMMITTER_DATE=f"@{t.when} +0000")
        repo.create_tag(t.name, t.commit, t.message, force=t.force or t.name in delete, env=env)
