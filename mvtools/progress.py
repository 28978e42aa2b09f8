"""Progress bars on stderr for the bytes mvtools moves: ``push`` (local DVC cache -> DVC
remote) and ``get`` (DVC remote -> cache -> the output path).

mvtools moves objects through DVC's object databases itself (mvtools.dvcio), not through
``dvc push``/``dvc pull``, so DVC's own tqdm bars never run: these bars count the bytes of
those transfers (an fsspec callback, the hook DVC's filesystems report through) and of
mvtools' own copy out of the cache. The hashing bar of very large files is mvtools.hashing's.

A bar is drawn only when stderr is a terminal, the command prints no JSON (the CLI calls
:func:`quiet` for ``--json``) and the bytes reach :data:`MIN_BYTES`. rich (a dependency
already, for ``compare``) is imported only when a bar is drawn.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    from fsspec.callbacks import Callback

MIN_BYTES = 16 * 1024 * 1024  # below this a transfer is over before a bar could help
_quiet = False

Advance = Callable[[int], None]


def quiet(on: bool = True) -> None:
    """No bar for the rest of this process (``--json``: stdout and stderr stay a document
    and errors)."""
    global _quiet
    _quiet = on


def wanted(total: int, minimum: int = MIN_BYTES) -> bool:
    return not _quiet and total >= minimum and sys.stderr.isatty()


def NOOP(n: int) -> None:  # noqa: N802 - a constant: "no bar" (callers skip work for it)
    return None


@contextmanager
def bar(label: str, total: int, minimum: int = MIN_BYTES) -> Iterator[Advance]:
    """``advance(n)`` for ``n`` more bytes of ``total``; a transient bar on stderr when
    :func:`wanted`, else a no-op. The bar is erased when the block ends."""
    if not wanted(total, minimum):
        yield NOOP
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    prog = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), transient=True, console=Console(stderr=True))
    task = prog.add_task(label, total=total)
    prog.start()
    try:
        yield lambda n: prog.advance(task, n)
    finally:
        prog.stop()


def fsspec_callback(advance: Advance) -> Callback:
    """An fsspec callback for DVC's ``odb.add``/``generic.transfer``: each file's child
    callback reports its bytes to ``advance`` (the parent only counts files, ignored)."""
    from fsspec.callbacks import Callback

    class _Bytes(Callback):
        def __init__(self, src: str) -> None:
            super().__init__()
            self.src, self.seen = src, 0

        def call(self, *args: Any, **kwargs: Any) -> None:
            delta = int(self.value or 0) - self.seen
            if delta > 0:
                self.seen += delta
                advance(delta)

        def close(self) -> None:
            # DVC copies a local file under 1 GB whole (dvc_objects' COPY_PBAR_MIN_SIZE),
            # reporting no bytes: count the file when its copy ends
            if self.seen == 0:
                try:
                    advance(os.path.getsize(self.src))
                except (OSError, TypeError):
                    pass

    class _Files(Callback):
        def branched(self, path_1: str, path_2: str, **kwargs: Any) -> Callback:
            return _Bytes(path_1)

        def call(self, *args: Any, **kwargs: Any) -> None:
            return None

    return _Files()


def copy_file(src: str, dest: str, advance: Advance, chunk: int = 4 * 1024 * 1024) -> None:
    """``shutil.copyfile`` reporting each chunk's bytes to ``advance``."""
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while True:
            block = fin.read(chunk)
            if not block:
                return
            fout.write(block)
            advance(len(block))
