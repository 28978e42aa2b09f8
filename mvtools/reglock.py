"""The registry lock: one writer at a time across processes and linked worktrees.

An exclusive ``flock`` on ``.git/mvtools/registry.lock`` (the lock the filelock package takes on
Unix, so processes of either kind exclude each other), held by an open descriptor: the
kernel drops it when the holder exits, however it exits. No import of filelock on the
hooks' path, where its import cost about 25 ms (measured beside `import mvtools.hooks`);
it stays the fallback where ``fcntl.flock`` is absent or the file system refuses it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from mvtools.errors import InternalError

POLL = 0.05  # seconds between attempts while another process holds the lock


class RegistryLock:
    """``with RegistryLock(path, timeout):`` holds the lock; InternalError after ``timeout`` s."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None
        self._fallback: Any = None

    def _busy(self) -> InternalError:
        return InternalError(f"another mvtools process has held {self.path} for {self.timeout:.0f} s; "
                             "try again when it has finished")

    def __enter__(self) -> "RegistryLock":
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self._enter_filelock()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise self._busy() from None
                time.sleep(POLL)
            except OSError:  # a file system without flock (some network mounts)
                os.close(fd)
                return self._enter_filelock()

    def _enter_filelock(self) -> "RegistryLock":
        from filelock import FileLock, Timeout

        self._fallback = FileLock(str(self.path), timeout=self.timeout)
        try:
            self._fallback.acquire()
        except Timeout:
            raise self._busy() from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor releases the flock
        elif self._fallback is not None:
            self._fallback.release()
            self._fallback = None
