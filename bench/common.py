"""Shared helpers for the mvtools benchmarks (bench/bench_*.py).

* temporary repositories run with a scrubbed environment: no inherited ``GIT_*``,
  ``MVTOOLS_*`` or ``PRE_COMMIT*`` variables, a pinned git identity, a throw-away HOME,
  no system git config, ``DVC_NO_ANALYTICS=1``;
* timing with best-of-N and median, figures printed side by side with their reference
  as ratios, and PASS/MISS against a target (printed, never asserted).

Each bench puts ``bench/`` on ``sys.path`` and imports this module as ``common``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
IDENT = {
    "GIT_AUTHOR_NAME": "Bench User", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench User", "GIT_COMMITTER_EMAIL": "bench@example.com",
}
ACTOR = "Bench User <bench@example.com>"
_SCRUB = ("GIT_", "MVTOOLS_", "PRE_COMMIT", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
# Byte-code caching on, as for a pip-installed mvtools (pip writes .pyc files), but kept out
# of the checkout: every Python process the benches start shares this cache.
PYCACHE = Path(tempfile.gettempdir()) / "mvtools-bench-pycache"


def tool(name: str) -> str:
    """A console script of this venv (mvtools, dvc, gto), else the one on PATH."""
    cand = BIN / name
    if cand.exists():
        return str(cand)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"bench: {name} is not installed")
    return found


def bench_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every git/DVC/mvtools/GTO process of a bench runs with."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env.update(IDENT)
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n[gc]\n\tauto = 0\n")
    env.update({
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1", "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(home / "dvc-site"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPYCACHEPREFIX": str(PYCACHE),
    })
    if extra:
        env.update(extra)
    return env


class Workspace:
    """A temporary directory with a scrubbed environment; removed on exit unless --keep."""

    def __init__(self, prefix: str, keep: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"mvtools-bench-{prefix}-"))
        self.env = bench_env(self.dir / "home")
        self.keep = keep

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.keep:
            print(f"(kept {self.dir})")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, args: Sequence[str], cwd: Path, *, check: bool = True, env: dict[str, str] | None = None,
            input: bytes | None = None, timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(list(args), cwd=cwd, env={**self.env, **(env or {})}, input=input,
                              capture_output=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise SystemExit(f"bench: {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stdout.decode(errors='replace')}\n{proc.stderr.decode(errors='replace')}")
        return proc

    def git(self, repo: Path, *args: str, **kw) -> subprocess.CompletedProcess[bytes]:  # type: ignore[no-untyped-def]
        return self.run(["git", *args], repo, **kw)

    def out(self, repo: Path, *args: str) -> str:
        return self.git(repo, *args).stdout.decode().strip()

    def new_repo(self, name: str = "repo") -> Path:
        r = self.dir / name
        r.mkdir()
        self.git(r, "init", "-q", "-b", "main")
        (r / "README.md").write_text("bench\n")
        self.git(r, "add", "README.md")
        self.git(r, "commit", "-q", "-m", "initial", env={"MVTOOLS_SKIP": "1"})
        return r

    def mvtools(self, repo: Path, *args: str, **kw) -> subprocess.CompletedProcess[bytes]:  # type: ignore[no-untyped-def]
        return self.run([tool("mvtools"), *args], repo, **kw)

    def declare(self, repo: Path, models: Sequence[tuple[str, str]]) -> None:
        """Declare ``(name, path)`` models in the repo's mvtools.yaml (written by init)."""
        cfg = repo / "mvtools.yaml"
        entries = "".join(f"  - name: {n}\n    path: {p}\n" for n, p in models)
        cfg.write_text(cfg.read_text().replace("models: []", "models:\n" + entries.rstrip("\n")))

    @contextmanager
    def in_env(self) -> Iterator[None]:
        """Run in-process code (mvtools' Python API) with the bench environment."""
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


# -- timing -----------------------------------------------------------------------------

def clock(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def timed_run(ws: Workspace, args: Sequence[str], cwd: Path, *, check: bool = True,
              env: dict[str, str] | None = None, timeout: float | None = None) -> float | None:
    """Wall time of one subprocess; None when it timed out."""
    t0 = time.perf_counter()
    try:
        ws.run(args, cwd, check=check, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return time.perf_counter() - t0


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def best(xs: Sequence[float]) -> float:
    return min(xs)


def ms(x: float | None) -> str:
    return "timeout" if x is None else f"{x * 1000:.1f} ms"


def secs(x: float | None) -> str:
    return "timeout" if x is None else (f"{x:.3f} s" if x < 10 else f"{x:.1f} s")


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(rows: list[Sequence[str]], title: str | None = None) -> None:
    """Print an aligned plain-text table (first row is the header)."""
    if title:
        print(f"\n## {title}")
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for j, r in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a smaller, faster run")
    p.add_argument("--keep", action="store_true", help="keep the temporary repositories")
    return p


def header(name: str, quick: bool) -> None:
    import platform

    git_v = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"# {name}{' (--quick)' if quick else ''}")
    print(f"python {platform.python_version()}, {git_v}, {os.cpu_count()} cores, {platform.machine()}, "
          f"load average {os.getloadavg()[0]:.2f} (other work on the machine inflates every figure)")
