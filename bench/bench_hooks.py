"""What mvtools' plain git hooks add to `git commit`.

Target (issue): pre-commit + post-commit, as `mvtools init` installs them, add at most 60 ms
to a commit that touches no model, against the same commit with no hooks at all
(core.hooksPath pointing at an empty folder). Median over >= 20 commits of each kind,
the two kinds alternating so that both see the same machine state.

For information: a commit that registers a small model (git-tracked and DVC-tracked), and
the cost when the shell fast path cannot decide and Python starts (stale or missing
watch file).

The same fast-path comparison in a repository of ``--files`` files (default 100,000; 0
skips it), where every git process reads a large index: the hooks' own git processes are
what they add there.

    /work/venv/bin/python bench/bench_hooks.py [--quick] [--commits N] [--files N]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402
from mvtools.gitops import Repo  # noqa: E402

TARGET_ADDED = 0.060


def setup(ws: C.Workspace) -> tuple[Path, Path]:
    repo = ws.new_repo()
    ws.mvtools(repo, "init")  # plain git hooks (the default), dvc init
    ws.declare(repo, [("clf", "models/clf.bin"), ("net", "models/net.bin")])
    (repo / "models").mkdir()
    (repo / "models" / "clf.bin").write_bytes(os.urandom(64 * 1024))
    (repo / "models" / "net.bin").write_bytes(os.urandom(64 * 1024))
    (repo / "src").mkdir()
    (repo / "src" / "notes.txt").write_text("0\n")
    ws.run([C.tool("dvc"), "add", "-q", "models/net.bin"], repo)
    ws.git(repo, "add", "-A")
    ws.git(repo, "commit", "-q", "-m", "set up mvtools with two models")  # registers both
    tags = ws.out(repo, "tag").split()
    assert "clf@v0.1.0" in tags and "net@v0.1.0" in tags, tags
    empty = ws.dir / "no-hooks"
    empty.mkdir()
    return repo, empty


class Committer:
    """Make a change, stage it (untimed), time `git commit` with hooks on or off."""

    def __init__(self, ws: C.Workspace, repo: Path, empty: Path) -> None:
        self.ws, self.repo, self.n = ws, repo, 0
        hooks = ws.out(repo, "rev-parse", "--git-path", "hooks")
        self.hooks = {True: str((repo / hooks).resolve()), False: str(empty)}

    def _commit(self, hooks: bool) -> float:
        self.n += 1
        t = C.timed_run(self.ws, ["git", "-c", f"core.hooksPath={self.hooks[hooks]}", "commit", "-q",
                                  "-m", f"change {self.n}"], self.repo)
        assert t is not None
        return t

    def plain(self, hooks: bool) -> float:
        p = self.repo / "src" / "notes.txt"
        p.write_text(p.read_text() + f"{self.n}\n")
        self.ws.git(self.repo, "add", "src/notes.txt")
        return self._commit(hooks)

    def git_model(self, hooks: bool) -> float:
        (self.repo / "models" / "clf.bin").write_bytes(os.urandom(64 * 1024))
        self.ws.git(self.repo, "add", "models/clf.bin")
        return self._commit(hooks)

    def dvc_model(self, hooks: bool) -> float:
        (self.repo / "models" / "net.bin").write_bytes(os.urandom(64 * 1024))
        self.ws.run([C.tool("dvc"), "add", "-q", "models/net.bin"], self.repo)
        self.ws.git(self.repo, "add", "models/net.bin.dvc")
        return self._commit(hooks)


def pairs(fn, n: int) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """n commits with hooks and n without, alternating which goes first."""
    on, off = [], []
    for i in range(n):
        if i % 2:
            off.append(fn(False))
            on.append(fn(True))
        else:
            on.append(fn(True))
            off.append(fn(False))
    return on, off


def row(label: str, on: list[float], off: list[float]) -> list[str]:
    return [label, str(len(on)), C.ms(C.median(on)), C.ms(C.median(off)),
            C.ms(C.median(on) - C.median(off)), C.ratio(C.median(on), C.median(off)),
            C.ms(C.best(on) - C.best(off))]


def hook_scripts(ws: C.Workspace, repo: Path, n: int) -> list[list[str]]:
    """Each hook script run by itself on its fast path (a change to a file nobody watches)."""
    hooks = repo / ws.out(repo, "rev-parse", "--git-path", "hooks")
    p = repo / "src" / "notes.txt"
    p.write_text(p.read_text() + "direct\n")
    ws.git(repo, "add", "src/notes.txt")
    rows = []
    for name in ("pre-commit", "post-commit"):
        ts = [C.timed_run(ws, [str(hooks / name)], repo) for _ in range(n)]
        rows.append([f"{name} script alone", str(n), C.ms(C.median(ts)), C.ms(C.best(ts))])  # type: ignore[arg-type]
    ts = [C.timed_run(ws, ["sh", "-c", "true"], repo) for _ in range(n)]
    rows.append(["reference: sh -c true", str(n), C.ms(C.median(ts)), C.ms(C.best(ts))])  # type: ignore[arg-type]
    ts = [C.timed_run(ws, ["git", "rev-parse", "--git-common-dir"], repo) for _ in range(n)]
    rows.append(["reference: one git rev-parse", str(n), C.ms(C.median(ts)), C.ms(C.best(ts))])  # type: ignore[arg-type]
    ts = [C.timed_run(ws, [sys.executable, "-c", "pass"], repo) for _ in range(n)]
    rows.append(["reference: python -c pass", str(n), C.ms(C.median(ts)), C.ms(C.best(ts))])  # type: ignore[arg-type]
    ts = [C.timed_run(ws, [sys.executable, "-m", "mvtools", "hook", "pre-commit"], repo) for _ in range(n)]
    rows.append(["python -m mvtools hook pre-commit", str(n), C.ms(C.median(ts)), C.ms(C.best(ts))])  # type: ignore[arg-type]
    ws.git(repo, "commit", "-q", "-m", "direct", env={"MVTOOLS_SKIP": "1"})
    return rows


def setup_big(ws: C.Workspace, nfiles: int) -> tuple[Path, Path]:
    """A repository of ``nfiles`` tracked files (100 a folder, a dvc.yaml without artifacts
    in every hundredth folder) with one git-tracked model, registered."""
    repo = ws.new_repo("big")
    per = 100
    for d in range(max(nfiles // per, 1)):
        folder = repo / "src" / f"d{d:05d}"
        folder.mkdir(parents=True)
        for f in range(per):
            (folder / f"f{f:03d}.txt").write_text(f"{d} {f}\n")
        if d % 100 == 0:
            (folder / "dvc.yaml").write_text("stages: {}\n")
    (repo / "src" / "notes.txt").write_text("0\n")
    ws.git(repo, "add", "-A")
    ws.git(repo, "commit", "-q", "-m", "many files", env={"MVTOOLS_SKIP": "1"})
    ws.mvtools(repo, "init")
    ws.declare(repo, [("clf", "models/clf.bin")])
    (repo / "models").mkdir()
    (repo / "models" / "clf.bin").write_bytes(os.urandom(64 * 1024))
    ws.git(repo, "add", "-A")
    ws.git(repo, "commit", "-q", "-m", "set up mvtools")  # registers clf
    assert "clf@v0.1.0" in ws.out(repo, "tag").split()
    empty = ws.dir / "no-hooks-big"
    empty.mkdir()
    return repo, empty


def big_repo(ws: C.Workspace, nfiles: int, n: int) -> float:
    """The fast-path comparison in a repository of ``nfiles`` files; returns the added time."""
    repo, empty = setup_big(ws, nfiles)
    files = len(ws.out(repo, "ls-files").splitlines())
    c = Committer(ws, repo, empty)
    for _ in range(3):
        c.plain(True), c.plain(False)
    on, off = pairs(c.plain, n)
    rows = [["commit", "n", "hooks on (median)", "no hooks (median)", "added", "ratio", "added (best)"],
            row(f"touches no model (fast path), {files} files", on, off)]
    C.table(rows, f"git commit in a repository of {files} tracked files")
    hooks = repo / ws.out(repo, "rev-parse", "--git-path", "hooks")
    p = repo / "src" / "notes.txt"
    p.write_text(p.read_text() + "direct\n")
    ws.git(repo, "add", "src/notes.txt")
    k = max(n // 2, 10)
    br = [["what", "n", "median", "best"]]
    for name, args in (("pre-commit script alone", [str(hooks / "pre-commit")]),
                       ("reference: git diff --cached --name-only HEAD", ["git", "diff", "--cached", "--name-only",
                                                                         "HEAD"]),
                       ("reference: git rev-parse --git-dir", ["git", "rev-parse", "--git-dir"])):
        ts = [C.timed_run(ws, args, repo) for _ in range(k)]
        br.append([name, str(k), C.ms(C.median(ts)), C.ms(C.best(ts))])  # type: ignore[arg-type]
    C.table(br, f"breakdown in the {files}-file repository (for information)")
    added = C.median(on) - C.median(off)
    print(f"\n{files} files: hooks add {C.ms(added)} to a commit that touches no model "
          f"(median {C.ms(C.median(on))} vs {C.ms(C.median(off))}, ratio {C.ratio(C.median(on), C.median(off))})")
    return added


def main() -> int:
    ap = C.parser(__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=None, help="commits of each kind (default 40, quick 20)")
    ap.add_argument("--files", type=int, default=100_000, help="files of the large repository (0: skip it)")
    args = ap.parse_args()
    n = args.commits or (20 if args.quick else 40)
    n_reg = 6 if args.quick else 12
    C.header("bench_hooks: what the hooks add to git commit", args.quick)
    with C.Workspace("hooks", keep=args.keep) as ws:
        repo, empty = setup(ws)
        c = Committer(ws, repo, empty)
        for _ in range(3):  # warm up git, the page cache and the venv's .pyc files
            c.plain(True), c.plain(False)

        rows = [["commit", "n", "hooks on (median)", "no hooks (median)", "added", "ratio", "added (best)"]]
        on, off = pairs(c.plain, n)
        added = C.median(on) - C.median(off)
        rows.append(row("touches no model (fast path)", on, off))

        gon, goff = pairs(c.git_model, n_reg)
        rows.append(row("registers a 64 KiB git-tracked model", gon, goff))
        don, doff = pairs(c.dvc_model, n_reg)
        rows.append(row("registers a 64 KiB DVC-tracked model", don, doff))

        # Python starts: mvtools.yaml newer than the watch file, so both shell hooks hand over.
        cfg = repo / "mvtools.yaml"
        future = time.time() + 86400
        os.utime(cfg, (future, future))
        son, soff = pairs(c.plain, max(n // 2, 10))
        rows.append(row("touches no model, stale watch file (both hooks start Python)", son, soff))
        past = time.time() - 60
        os.utime(cfg, (past, past))
        watch = Repo.discover(repo).watch_file
        mon, moff = [], []
        for i in range(max(n // 2, 10)):
            watch.unlink(missing_ok=True)  # pre-commit starts Python and rewrites it; post-commit doesn't
            if i % 2:
                moff.append(c.plain(False))
                mon.append(c.plain(True))
            else:
                mon.append(c.plain(True))
                moff.append(c.plain(False))
        rows.append(row("touches no model, no watch file (pre-commit starts Python)", mon, moff))
        assert watch.exists()
        C.table(rows, "git commit, hooks on vs no hooks (core.hooksPath -> empty folder)")

        C.table([["what", "n", "median", "best"], *hook_scripts(ws, repo, 10 if args.quick else 20)],
                "breakdown: hook scripts run by hand (for information)")

        print(f"\ntarget: hooks add <= {TARGET_ADDED * 1000:.0f} ms to a commit that touches no model: "
              f"added {C.ms(added)} (median {C.ms(C.median(on))} vs {C.ms(C.median(off))}, "
              f"ratio {C.ratio(C.median(on), C.median(off))}) -> {C.verdict(added <= TARGET_ADDED)}")
        versions = [t for t in ws.out(repo, "tag").split() if "@v" in t]
        print(f"(sanity: {len(versions)} version tags made by the registering commits)")
        if args.files:
            big_repo(ws, args.files, n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
