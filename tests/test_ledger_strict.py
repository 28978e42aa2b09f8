"""Ledgers are loaded strictly and judged on parsed events (issue 9, I3; mvtools/yamlio.py
StrictLoader11, mvtools/ledger.py check_extends).

Before, the append-only rule was a byte-prefix check while YAML keeps the last of a
repeated key: lines appended after the last event could redefine its metrics, actor and
id (recomputed), the hook accepted the commit, and verify said ok afterwards."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import git, init_repo, mvtools, tags, write_model
from conftest import ledger_bytes as _ledger

from mvtools import ledger as L
from mvtools.errors import ConfigError
from mvtools.versioning import deprecated_tag

ACTOR = "Test User <test@example.com>"


def _ev(n: int) -> dict[str, object]:
    return L.make_event("deprecate", "clf", ACTOR, f"2026-01-01T00:00:{n:02d}Z", tag=deprecated_tag("clf"))


def _redefine_last(data: bytes, ev: dict[str, object], **changes: object) -> bytes:
    """The attack: append lines that redefine keys of the last event, with a matching id."""
    forged = {k: v for k, v in {**ev, **changes}.items() if k != "id"}
    new_id = L.event_id(forged)
    lines = "".join(f"  {k}: {v}\n" for k, v in changes.items())
    return data + lines.encode() + f"  id: {new_id}\n".encode()


def test_a_repeated_key_is_refused() -> None:
    ev = _ev(1)
    old = _ledger(ev)
    forged = _redefine_last(old, ev, actor="Mallory <m@example.com>")
    assert forged.startswith(old)  # a byte-prefix check alone accepted it
    with pytest.raises(ConfigError, match="duplicate key 'actor'"):
        L.parse(forged, "registry/clf.yaml")
    why = L.check_ledger_change([old], forged, "registry/clf.yaml")
    assert why is not None and "duplicate key" in why


@pytest.mark.parametrize("text, want", [
    ("- &e\n  event: deprecate\n", "anchors and aliases are not allowed"),
    ("- <<: {event: deprecate}\n", "merge keys (<<) are not allowed"),
    ("---\nmvtools_ledger: 1\n", "malformed YAML"),
])
def test_anchors_merge_keys_and_second_documents_are_refused(text: str, want: str) -> None:
    data = _ledger(_ev(1)) + text.encode()
    with pytest.raises(ConfigError, match=want.replace("(", r"\(").replace(")", r"\)")):
        L.parse(data, "registry/clf.yaml")


def test_mvtools_never_writes_an_alias() -> None:
    """An object shared by two events (or two fields) is written twice, never as an alias
    that the strict loader would then refuse."""
    shared = {"accuracy": 0.9}
    evs = [L.make_event("register", "clf", ACTOR, "2026-01-01T00:00:00Z", version=f"v0.1.{i}",
                        tag=f"clf@v0.1.{i}", path="m", sha256=str(i) * 64, size=1, md5=None, metrics=shared,
                        params=shared, lineage=None) for i in range(2)]
    data = _ledger(*evs)
    assert b"&" not in data and b"*" not in data
    assert L.parse(data, "registry/clf.yaml").events == evs


def test_the_hook_refuses_a_commit_that_rewrites_an_event(tmp_path: Path) -> None:
    """End to end: the forged append is refused by pre-commit and reported by verify, even
    after the version's tag is deleted and sync-tags runs (the reported attack)."""
    r = init_repo(tmp_path / "r", "  - name: clf\n    path: models/clf.bin\n", metrics='{"accuracy": 0.5}')
    write_model(r, "models/clf.bin", b"weights")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "clf v0.1.0")
    assert "clf@v0.1.0" in tags(r)
    ledger = r / "registry" / "clf.yaml"
    old = ledger.read_bytes()
    ev = L.parse(old, "registry/clf.yaml").events[-1]
    ledger.write_bytes(_redefine_last(old, ev, size=1))
    git(r, "add", "registry/clf.yaml")
    proc = git(r, "commit", "-q", "-m", "tweak", check=False)
    assert proc.returncode != 0 and "duplicate key 'size'" in proc.stderr, proc.stderr
    # the repair the refusal prints works as printed
    hint = re.search(r"restore with: (git [^)]*)\)", proc.stderr)
    assert hint is not None, proc.stderr
    subprocess.run(shlex.split(hint.group(1)), cwd=r, check=True)
    assert ledger.read_bytes() == old and git(r, "status", "--porcelain").stdout == ""
    ledger.write_bytes(_redefine_last(old, ev, size=1))
    git(r, "add", "registry/clf.yaml")
    # committed anyway (--no-verify), its tag deleted and sync-tags run: verify still fails
    git(r, "commit", "-q", "--no-verify", "-m", "tweak")
    git(r, "tag", "-d", "clf@v0.1.0")
    mvtools(r, "sync-tags", check=False)
    out = mvtools(r, "verify", check=False)
    assert out.returncode == 1 and "duplicate key 'size'" in out.stdout + out.stderr, out.stdout + out.stderr
