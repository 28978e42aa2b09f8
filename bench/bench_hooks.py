"""What mvtools' plain git hooks add to `git commit`, in a small repository and in one of
100,000 tracked files.

Targets (issue 14a), each the median over commits that alternate with the same commit made
without hooks (core.hooksPath pointing at an empty folder), so that both see the same
machine state:

* a commit that touches no model adds at most 15 ms, in both repositories;
* a commit that registers a small (64 KiB) model, git-tracked or DVC-tracked, adds at most
  100 ms in the small repository and 150 ms in the large one.

Every row also prints `python -c pass`, timed in the same loop (one after every pair), so a
figure can be read against what one Python start costs on the machine at that moment.

For information: the cost when the shell fast path cannot decide and Python starts (stale or
missing watch file), and each hook script run by itself.

    python bench/bench_hooks.py [--quick] [--commits N] [--files N] [--baseline /path/to/other/checkout]

Each row also gives the CPU time the hooks add (git's and the hooks' processes, from
getrusage), which load on a shared machine inflates far less than wall time, and with
--baseline the same commit made with another checkout's hooks and code (its hooks/ scripts,
its package on PYTHONPATH), in the same loop.
"""

from __future__ import annotations

import hashlib
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402
from mvtools.gitops import Repo  # noqa: E402

TARGET_PLAIN = 0.015  # a commit that touches no model, both repositories
TARGET_REGISTER = {"small": 0.100, "large": 0.150}  # a registering commit


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
    empty.mkdir(exist_ok=True)
    return repo, empty


def dvc_file(data: bytes, name: str) -> str:
    """The .dvc file `dvc add` writes for one file (DVC 3): written by the bench in the large
    repository, where `dvc add` itself takes seconds (it collects the whole repository's
    stages), untimed either way."""
    md5 = hashlib.md5(data).hexdigest()
    return f"outs:\n- md5: {md5}\n  size: {len(data)}\n  hash: md5\n  path: {name}\n"


class Committer:
    """Make a change, stage it (untimed), time `git commit` with hooks on or off; after each
    pair, one `python -c pass` (the reference a hook's Python start is read against)."""

    def __init__(self, ws: C.Workspace, repo: Path, empty: Path, dvc_by_hand: bool = False,
                 baseline: Path | None = None) -> None:
        self.ws, self.repo, self.n = ws, repo, 0
        self.dvc_by_hand = dvc_by_hand
        hooks = ws.out(repo, "rev-parse", "--git-path", "hooks")
        self.hooks: dict[object, str] = {True: str((repo / hooks).resolve()), False: str(empty)}
        self.env: dict[object, dict[str, str]] = {True: {}, False: {}}
        self.baseline = baseline
        if baseline is not None:  # the hooks of another mvtools checkout, its code on PYTHONPATH
            d = ws.dir / "baseline-hooks"
            d.mkdir(exist_ok=True)
            for f in (baseline / "hooks").iterdir():
                (d / f.name).write_text(f.read_text().replace("@MVTOOLS@", C.tool("mvtools")))
                (d / f.name).chmod(0o755)
            self.hooks["base"] = str(d)
            self.env["base"] = {"PYTHONPATH": str(baseline)}
        self.python: list[float] = []
        self.cpu: dict[object, list[float]] = {}
        self.base_times: list[float] = []

    def _commit(self, hooks: object) -> float:
        """Wall time of the commit; its CPU time (git, the hooks and all they ran) in self.cpu,
        which load on the machine inflates far less than wall time."""
        self.n += 1
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = C.timed_run(self.ws, ["git", "-c", f"core.hooksPath={self.hooks[hooks]}", "commit", "-q",
                                  "-m", f"change {self.n}"], self.repo, env=self.env[hooks])
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu.setdefault(hooks, []).append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
        assert t is not None
        return t

    def python_start(self) -> None:
        t = C.timed_run(self.ws, [sys.executable, "-c", "pass"], self.repo)
        assert t is not None
        self.python.append(t)

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
        data = os.urandom(64 * 1024)
        (self.repo / "models" / "net.bin").write_bytes(data)
        if self.dvc_by_hand:
            (self.repo / "models" / "net.bin.dvc").write_text(dvc_file(data, "net.bin"))
        else:
            self.ws.run([C.tool("dvc"), "add", "-q", "models/net.bin"], self.repo)
        self.ws.git(self.repo, "add", "models/net.bin.dvc")
        return self._commit(hooks)


def pairs(c: Committer, fn, n: int) -> tuple[list[float], list[float], list[float]]:  # type: ignore[no-untyped-def]
    """n commits with hooks and n without, alternating which goes first, and a `python -c
    pass` after each pair: (hooks on, no hooks, python -c pass)."""
    on, off = [], []
    c.python, c.cpu = [], {}
    for i in range(n):
        if i % 2:
            off.append(fn(False))
            on.append(fn(True))
        else:
            on.append(fn(True))
            off.append(fn(False))
        if c.baseline is not None:
            c.base_times.append(fn("base"))
        c.python_start()
    return on, off, c.python


HEAD = ["commit", "n", "hooks on", "no hooks", "added", "ratio", "python -c pass", "added / python",
        "added (best)", "added CPU", "baseline: added, CPU", "target"]


def row(label: str, on: list[float], off: list[float], py: list[float], target: float | None = None,
        c: Committer | None = None) -> list[str]:
    """Medians (and the best pair) beside the hookless commit and `python -c pass` of the same
    loop; the CPU time the hooks add (and the baseline's hooks, with --baseline)."""
    added = C.median(on) - C.median(off)
    goal = "-" if target is None else f"<= {target * 1000:.0f} ms: {C.verdict(added <= target)}"
    cpu = base = "-"
    if c is not None and c.cpu.get(True) and c.cpu.get(False):
        cpu = "+" + C.ms(C.median(c.cpu[True]) - C.median(c.cpu[False]))
        if c.cpu.get("base") and c.base_times:
            base = (f"+{C.ms(C.median(c.base_times) - C.median(off))}, "
                    f"+{C.ms(C.median(c.cpu['base']) - C.median(c.cpu[False]))}")
    return [label, str(len(on)), C.ms(C.median(on)), C.ms(C.median(off)), "+" + C.ms(added),
            C.ratio(C.median(on), C.median(off)), C.ms(C.median(py)), C.ratio(added, C.median(py)),
            "+" + C.ms(C.best(on) - C.best(off)), cpu, base, goal]


def standard_rows(c: Committer, n: int, n_reg: int, size: str) -> tuple[list[list[str]], dict[str, float]]:
    """The three commits the targets name: no model, a git-tracked and a DVC-tracked model."""
    rows, added = [], {}
    for key, label, fn, k, target in (
            ("plain", "touches no model (fast path)", c.plain, n, TARGET_PLAIN),
            ("git", "registers a 64 KiB git-tracked model", c.git_model, n_reg, TARGET_REGISTER[size]),
            ("dvc", "registers a 64 KiB DVC-tracked model", c.dvc_model, n_reg, TARGET_REGISTER[size])):
        fn(True), fn(False)  # warm up this kind of commit
        c.base_times = []
        on, off, py = pairs(c, fn, k)
        rows.append(row(label, on, off, py, target, c))
        added[key] = C.median(on) - C.median(off)
    return rows, added


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
    for label, args in (("reference: sh -c true", ["sh", "-c", "true"]),
                        ("reference: one git rev-parse", ["git", "rev-parse", "--git-common-dir"]),
                        ("reference: python -c pass", [sys.executable, "-c", "pass"]),
                        ("python -c 'import mvtools.hooks'", [sys.executable, "-c", "import mvtools.hooks"]),
                        ("mvtools hook pre-commit (nothing watched)", [C.tool("mvtools"), "hook", "pre-commit"])):
        ts = [C.timed_run(ws, args, repo) for _ in range(n)]
        rows.append([label, str(n), C.ms(C.median(ts)), C.ms(C.best(ts))])  # type: ignore[arg-type]
    ws.git(repo, "commit", "-q", "-m", "direct", env={"MVTOOLS_SKIP": "1"})
    return rows


def setup_big(ws: C.Workspace, nfiles: int) -> tuple[Path, Path]:
    """A repository of ``nfiles`` tracked files (100 a folder, a dvc.yaml without artifacts
    in every hundredth folder) with a git-tracked and a DVC-tracked model, registered, and
    an untracked folder of 10,000 files (a data set not added yet: git status walks it,
    the hooks must not)."""
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
    for d in range(100):
        folder = repo / "scratch" / f"u{d:03d}"
        folder.mkdir(parents=True)
        for f in range(100):
            (folder / f"x{f:03d}.txt").write_text(f"{d} {f}\n")
    ws.mvtools(repo, "init")
    ws.declare(repo, [("clf", "models/clf.bin"), ("net", "models/net.bin")])
    (repo / "models").mkdir()
    (repo / "models" / "clf.bin").write_bytes(os.urandom(64 * 1024))
    data = os.urandom(64 * 1024)
    (repo / "models" / "net.bin").write_bytes(data)
    (repo / "models" / "net.bin.dvc").write_text(dvc_file(data, "net.bin"))
    (repo / "models" / ".gitignore").write_text("/net.bin\n")
    ws.git(repo, "add", "mvtools.yaml", ".gitattributes", ".dvc", "registry", "models")
    ws.git(repo, "commit", "-q", "-m", "set up mvtools")  # registers clf and net
    tags = ws.out(repo, "tag").split()
    assert "clf@v0.1.0" in tags and "net@v0.1.0" in tags, tags
    empty = ws.dir / "no-hooks"
    empty.mkdir(exist_ok=True)
    return repo, empty


def big_repo(ws: C.Workspace, nfiles: int, n: int, n_reg: int, baseline: Path | None = None) -> dict[str, float]:
    """The same three commits in a repository of ``nfiles`` files; returns the added times."""
    repo, empty = setup_big(ws, nfiles)
    files = len(ws.out(repo, "ls-files").splitlines())
    c = Committer(ws, repo, empty, dvc_by_hand=True, baseline=baseline)
    for _ in range(2):
        c.plain(True), c.plain(False)
    rows, added = standard_rows(c, n, n_reg, "large")
    C.table([HEAD, *rows], f"git commit in a repository of {files} tracked files (and 10,000 untracked)")
    hooks = repo / ws.out(repo, "rev-parse", "--git-path", "hooks")
    p = repo / "src" / "notes.txt"
    p.write_text(p.read_text() + "direct\n")
    ws.git(repo, "add", "src/notes.txt")
    k = max(n // 2, 10)
    br = [["what", "n", "median", "best"]]
    for name, args in (("pre-commit script alone", [str(hooks / "pre-commit")]),
                       ("reference: git diff --cached --name-only HEAD", ["git", "diff", "--cached", "--name-only",
                                                                         "HEAD"]),
                       ("reference: git ls-files --others --exclude-standard (a walk)",
                        ["git", "ls-files", "--others", "--exclude-standard"]),
                       ("reference: git rev-parse --git-dir", ["git", "rev-parse", "--git-dir"])):
        ts = [C.timed_run(ws, args, repo) for _ in range(k)]
        br.append([name, str(k), C.ms(C.median(ts)), C.ms(C.best(ts))])  # type: ignore[arg-type]
    C.table(br, f"breakdown in the {files}-file repository (for information)")
    return added


def main() -> int:
    ap = C.parser(__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=None, help="commits of each kind (default 40, quick 12)")
    ap.add_argument("--files", type=int, default=100_000, help="files of the large repository (0: skip it)")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="another mvtools checkout (e.g. main's): its hooks and code timed in the same loop")
    args = ap.parse_args()
    n = args.commits or (12 if args.quick else 40)
    n_reg = max(n // 2, 6) if args.quick else max(n // 2, 12)
    C.header("bench_hooks: what the hooks add to git commit", args.quick)
    summary = []
    with C.Workspace("hooks", keep=args.keep) as ws:
        repo, empty = setup(ws)
        c = Committer(ws, repo, empty, baseline=args.baseline)
        for _ in range(3):  # warm up git, the page cache and the venv's .pyc files
            c.plain(True), c.plain(False)
        rows, added = standard_rows(c, n, n_reg, "small")
        summary.append(("small", added))

        # Python starts: mvtools.yaml newer than the watch file, so both shell hooks hand over.
        cfg = repo / "mvtools.yaml"
        future = time.time() + 86400
        os.utime(cfg, (future, future))
        rows.append(row("touches no model, stale watch file (both hooks start Python)",
                        *pairs(c, c.plain, max(n // 2, 6))))
        past = time.time() - 60
        os.utime(cfg, (past, past))
        watch = Repo.discover(repo).watch_file
        mon, moff, mpy = [], [], []
        for i in range(max(n // 2, 6)):
            watch.unlink(missing_ok=True)  # pre-commit starts Python and rewrites it; post-commit doesn't
            if i % 2:
                moff.append(c.plain(False))
                mon.append(c.plain(True))
            else:
                mon.append(c.plain(True))
                moff.append(c.plain(False))
            c.python_start()
            mpy.append(c.python[-1])
        rows.append(row("touches no model, no watch file (pre-commit starts Python)", mon, moff, mpy))
        assert watch.exists()
        C.table([HEAD, *rows], "git commit in a small repository, hooks on vs no hooks (core.hooksPath -> "
                "empty folder)")

        C.table([["what", "n", "median", "best"], *hook_scripts(ws, repo, 10 if args.quick else 20)],
                "breakdown: hook scripts run by hand (for information)")
        versions = [t for t in ws.out(repo, "tag").split() if "@v" in t]
        print(f"(sanity: {len(versions)} version tags made by the registering commits)")
        if args.files:
            summary.append(("large", big_repo(ws, args.files, n, n_reg, args.baseline)))
    print("\n## targets (median added over the same commit without hooks)")
    for size, added in summary:
        for key, label in (("plain", "no model"), ("git", "git-tracked model"), ("dvc", "DVC-tracked model")):
            target = TARGET_PLAIN if key == "plain" else TARGET_REGISTER[size]
            print(f"{size:5} repository, {label:18}: +{C.ms(added[key])} (target <= {target * 1000:.0f} ms) -> "
                  f"{C.verdict(added[key] <= target)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
