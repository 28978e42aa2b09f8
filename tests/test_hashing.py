"""mvtools/hashing.py: file and directory digests against hashlib, symlinks, the guards."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from mvtools.errors import UsageError
from mvtools.hashing import StatCache, digest_path, hash_file, istextblock, sha256_of, tree_sha256


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _write(root: Path, rel: str, data: bytes) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)


@pytest.mark.parametrize("data", [b"", b"x", os.urandom(3 * 1024 * 1024 + 7)])
def test_sha256_of_a_stream(data: bytes) -> None:
    assert sha256_of(io.BytesIO(data).read) == (_sha(data), len(data))


def test_tree_sha256_is_sha256sum_listing_sorted_by_path() -> None:
    files = [("b/x.bin", _sha(b"2")), ("a.bin", _sha(b"1")), ("b/a.bin", _sha(b"3"))]
    listing = "".join(f"{s}  {p}\n" for p, s in sorted(files))
    assert tree_sha256(files) == _sha(listing.encode())
    assert tree_sha256(reversed(files)) == tree_sha256(files)
    assert tree_sha256([]) == _sha(b"")
    # the path is part of the hash: a rename changes it
    assert tree_sha256([("c.bin", _sha(b"1"))]) != tree_sha256([("a.bin", _sha(b"1"))])


def test_digest_of_a_file(tmp_path: Path) -> None:
    data = b"model bytes\r\nline 2\r\n"
    _write(tmp_path, "m/clf.bin", data)
    d = digest_path(tmp_path, "m/clf.bin", dos2unix=True)
    assert (d.sha256, d.size, d.files) == (_sha(data), len(data), 1)
    assert d.md5 == hashlib.md5(data).hexdigest()
    assert d.md5_dos2unix == hashlib.md5(data.replace(b"\r\n", b"\n")).hexdigest()  # DVC 2's text md5
    binary = b"\x00\r\n" * 10
    _write(tmp_path, "b.bin", binary)
    assert digest_path(tmp_path, "b.bin", dos2unix=True).md5_dos2unix is None  # not text: no dos2unix hash
    assert hash_file(tmp_path / "b.bin", md5=False).md5 is None


def test_digest_of_a_directory(tmp_path: Path) -> None:
    files = {"a.bin": b"1", "sub/b.bin": b"22", "sub/deeper/c.bin": b"333"}
    for rel, data in files.items():
        _write(tmp_path, f"model/{rel}", data)
    d = digest_path(tmp_path, "model")
    assert d.sha256 == tree_sha256((rel, _sha(data)) for rel, data in files.items())
    assert (d.size, d.files) == (6, 3)
    listing = [{"md5": hashlib.md5(data).hexdigest(), "relpath": rel} for rel, data in sorted(files.items())]
    assert d.md5 == hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest() + ".dir"  # DVC's


def test_a_directory_hash_is_independent_of_creation_order_and_skips_git_and_dvc(tmp_path: Path) -> None:
    files = {f"d{i % 3}/f{i}.bin": bytes([i]) * i for i in range(12)}
    for rel in sorted(files):
        _write(tmp_path / "one", f"m/{rel}", files[rel])
    for rel in sorted(files, reverse=True):
        _write(tmp_path / "two", f"m/{rel}", files[rel])
    _write(tmp_path / "two", "m/.git/HEAD", b"ref")
    _write(tmp_path / "two", "m/.dvc/config", b"x")
    assert digest_path(tmp_path / "one", "m") == digest_path(tmp_path / "two", "m")


def test_missing_and_special_paths_are_one_line_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="^m.bin: no such file or directory in the work tree$"):
        digest_path(tmp_path, "m.bin")
    with pytest.raises(UsageError, match="is a directory"):
        hash_file(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UsageError, match="fifo: not a regular file"):
        digest_path(tmp_path, "fifo")


def test_symlinks_followed_for_dvc_refused_for_git(tmp_path: Path) -> None:
    _write(tmp_path, "real.bin", b"bytes")
    _write(tmp_path, "m/a.bin", b"a")
    os.symlink("../real.bin", tmp_path / "m" / "link.bin")
    os.symlink("real.bin", tmp_path / "top.bin")
    # DVC stores what a link leads to
    assert digest_path(tmp_path, "top.bin").sha256 == _sha(b"bytes")
    assert digest_path(tmp_path, "m").sha256 == tree_sha256([("a.bin", _sha(b"a")), ("link.bin", _sha(b"bytes"))])
    # git stores the link: refused, with the repair
    with pytest.raises(UsageError, match=r"^top.bin: is a symlink; .*git rm -r -q --cached top.bin && dvc add top.bin$"):
        digest_path(tmp_path, "top.bin", links=False)
    with pytest.raises(UsageError, match=r"^m/link.bin: is a symlink inside git-tracked model m;"):
        digest_path(tmp_path, "m", links=False)
    (tmp_path / "d").mkdir()
    os.symlink("..", tmp_path / "d" / "up")
    with pytest.raises(UsageError, match=r"^d/up: is a symlink inside git-tracked model d;"):
        digest_path(tmp_path, "d", links=False)


def test_symlinks_leaving_the_repository_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _write(tmp_path, "outside.bin", b"secret")
    root.mkdir()
    os.symlink(tmp_path / "outside.bin", root / "m.bin")
    (root / "d").mkdir()
    os.symlink(tmp_path / "outside.bin", root / "d" / "x.bin")
    with pytest.raises(UsageError, match="^m.bin: symlink leads outside the repository$"):
        digest_path(root, "m.bin")
    with pytest.raises(UsageError, match="^d/x.bin: symlink leads outside the repository$"):
        digest_path(root, "d")


def test_stat_cache_reuses_an_unchanged_file_and_rehashes_a_changed_one(tmp_path: Path) -> None:
    _write(tmp_path, "m.bin", b"one")
    cache = StatCache(tmp_path / "cache.json")
    first = digest_path(tmp_path, "m.bin", cache=cache)
    cache.save()
    again = StatCache(tmp_path / "cache.json")
    assert str(tmp_path / "m.bin") in again.data
    assert digest_path(tmp_path, "m.bin", cache=again) == first
    # a forged entry with the file's stat key is what the cache answers: it trusts stat
    key = again.data[str(tmp_path / "m.bin")][0]
    again.data[str(tmp_path / "m.bin")] = [key, {**first.as_dict(), "sha256": "f" * 64}]
    assert digest_path(tmp_path, "m.bin", cache=again).sha256 == "f" * 64
    _write(tmp_path, "m.bin", b"two!")  # new size and mtime: rehashed
    assert digest_path(tmp_path, "m.bin", cache=again).sha256 == _sha(b"two!")
    (tmp_path / "bad.json").write_text("{not json")
    assert StatCache(tmp_path / "bad.json").data == {}


def test_a_file_that_changes_while_hashed_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard compares stat before and after the read; a writer between the two is
    simulated by a read that appends to the file (no timing race)."""
    import mvtools.hashing as hashing

    _write(tmp_path, "m.bin", b"before")
    real = hashing.hash_file

    def hash_then_grow(path: Path, **kw):  # type: ignore[no-untyped-def]
        d = real(path, **kw)
        with open(path, "ab") as fh:
            fh.write(b" and after")
        return d

    monkeypatch.setattr(hashing, "hash_file", hash_then_grow)
    with pytest.raises(UsageError, match="^m.bin: changed while it was being hashed; try again$"):
        digest_path(tmp_path, "m.bin")


def test_istextblock_is_dvcs_heuristic() -> None:
    assert istextblock(b"") and istextblock(b"plain text\r\n") and not istextblock(b"a\x00b")
    assert not istextblock(bytes(range(128, 256)))
