"""Registry scale: `mvtools show` and `mvtools register` at 10, 1,000 and 10,000 versions,
side by side with `gto show` and `gto register` on the same repository and the same tags.

Targets (issue): `mvtools show` <= 0.5 s at 10,000 versions; `mvtools register` (tiny model
files, so hashing aside) <= 0.3 s and flat in the number of versions. GTO's reference on a
2-core machine: `show` 2.6 s and `register` 2.1 s at 300 versions, growing linearly.

Each registry: 100 models declared in mvtools.yaml (git-tracked files models/mNNN.bin), the
versions spread evenly over min(100, N) of them; the ledgers written directly with
mvtools.ledger.make_event/render_events (valid events and ids) in ONE commit, and one
annotated tag `mNNN@vX.Y.Z` per version (message "Registering artifact ...", tagger time
one second apart) made in bulk with `git fast-import`, then `git pack-refs --all` (as in a
clone or after `git gc`).

    /work/venv/bin/python bench/bench_registry.py [--quick] [--sizes 10,1000,10000]
                                                  [--gto-max N] [--gto-timeout S]

--quick: fewer repetitions, and GTO measured only up to 1,000 versions.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402
from mvtools import ledger as L  # noqa: E402
from mvtools.gitops import Repo  # noqa: E402

MODELS = 100
T0 = 1_700_000_000
TARGET_SHOW = 0.5
TARGET_REGISTER = 0.3


def mname(j: int) -> str:
    return f"m{j:03d}"


def build(ws: C.Workspace, n_versions: int, empty_hooks: Path) -> Path:
    """A repo with ``n_versions`` registered versions (ledgers + annotated tags)."""
    repo = ws.new_repo(f"reg{n_versions}")
    ws.mvtools(repo, "init")
    ws.declare(repo, [(mname(j), f"models/{mname(j)}.bin") for j in range(MODELS)])
    (repo / "models").mkdir()
    with_versions = min(MODELS, n_versions)
    per = n_versions // with_versions
    reg = repo / "registry"
    tags: list[tuple[str, int, str, str]] = []  # (tag, time, model, version)
    for j in range(MODELS):
        name = mname(j)
        content = f"{name} final\n".encode()
        (repo / "models" / f"{name}.bin").write_bytes(content)
        if j >= with_versions:
            continue
        events = []
        for i in range(per):
            when = T0 + i * with_versions + j
            version = f"v0.1.{i}"
            last = i == per - 1
            sha = hashlib.sha256(content if last else f"{name} {i}\n".encode()).hexdigest()
            size = len(content) if last else len(f"{name} {i}\n")
            ev = L.make_event(
                "register", name, C.ACTOR, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)),
                version=version, tag=f"{name}@{version}", path=f"models/{name}.bin", sha256=sha, size=size,
                md5=None, metrics={"accuracy": round(0.8 + (i % 100) / 1000, 4), "loss": round(0.5 - (i % 100) / 1000, 4)},
                params={"train.lr": 0.01, "train.epochs": 10 + i % 5}, lineage=None)
            events.append(ev)
            tags.append((f"{name}@{version}", when, name, version))
        (reg / f"{name}.yaml").write_text(L.header(name) + L.render_events(events))
    ws.git(repo, "add", "-A")
    ws.git(repo, "-c", f"core.hooksPath={empty_hooks}", "commit", "-q", "-m", f"{n_versions} versions")
    head = ws.out(repo, "rev-parse", "HEAD")
    stream = []
    for tag, when, name, version in tags:
        msg = f"Registering artifact {name} version {version}\n".encode()
        stream.append(f"tag {tag}\nfrom {head}\ntagger {C.ACTOR} {when} +0000\ndata {len(msg)}\n".encode()
                      + msg + b"\n")
    ws.run(["git", "fast-import", "--quiet"], repo, input=b"".join(stream))
    ws.git(repo, "pack-refs", "--all")
    # an untimed commit on top, so that GTO may register on HEAD
    ws.git(repo, "-c", f"core.hooksPath={empty_hooks}", "commit", "-q", "--allow-empty", "-m", "on top")
    return repo


def check(ws: C.Workspace, repo: Path, n_versions: int) -> None:
    doc = json.loads(ws.mvtools(repo, "show", "--json").stdout)
    got = sum(m["versions"] for m in doc["models"])
    ntags = len(ws.out(repo, "tag", "-l", "m*@v*").split())
    assert got == n_versions and ntags == n_versions, (got, ntags, n_versions)


def git_processes(ws: C.Workspace, repo: Path, args: list[str]) -> tuple[int, str]:
    """How many git processes one command runs (its hooks included), and how long each hook
    took, from GIT_TRACE's timestamps."""
    trace = ws.dir / "git-trace.txt"
    trace.unlink(missing_ok=True)
    t0 = time.perf_counter()
    ws.run(args, repo, env={"GIT_TRACE": str(trace)})
    total = time.perf_counter() - t0
    lines = trace.read_text().splitlines() if trace.exists() else []

    def stamp(line: str) -> float:
        h, m, s = line.split()[0].split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    spans, start, hook = [], None, ""
    for line in lines:
        if "trace: run_command:" in line and "/hooks/" in line:
            start, hook = stamp(line), line.rsplit("/", 1)[-1].strip()
        elif start is not None and "run_processes_parallel: done" in line:
            spans.append(f"{hook} {(stamp(line) - start) * 1000:.0f} ms")
            start = None
    n = sum(1 for line in lines if "trace: built-in: git" in line)
    return n, f"{', '.join(spans)} of {total * 1000:.0f} ms"


_warmed: list[bool] = []


def measure(ws: C.Workspace, repo: Path, n_versions: int, reps: int, gto: bool, gto_timeout: float,
            empty_hooks: Path) -> dict[str, list[float | None]]:
    res: dict[str, list[float | None]] = {k: [] for k in
                                           ("show_cold", "show_warm", "gto_show", "register", "gto_register")}
    cache = Repo.discover(repo).ledger_cache_dir
    mv, gto_bin = C.tool("mvtools"), C.tool("gto")
    ws.run([mv, "show", "--json"], repo)  # warm the page cache
    if not _warmed:  # the first size: fill the byte-code cache of every command (untimed)
        _warmed.append(True)
        name = mname(MODELS - 1)
        (repo / "models" / f"{name}.bin").write_bytes(b"warm-up\n")
        ws.run([mv, "register", name], repo)
        if gto:
            ws.run([gto_bin, "show", "--json"], repo, timeout=gto_timeout)
            ws.git(repo, "-c", f"core.hooksPath={empty_hooks}", "commit", "-q", "--allow-empty", "-m", "gto")
            ws.run([gto_bin, "register", name], repo, timeout=gto_timeout)
    for r in range(reps):
        shutil.rmtree(cache, ignore_errors=True)
        res["show_cold"].append(C.timed_run(ws, [mv, "show", "--json"], repo))
        res["show_warm"].append(C.timed_run(ws, [mv, "show", "--json"], repo))
    gto_reps = reps
    if gto:
        for r in range(reps):
            t = C.timed_run(ws, [gto_bin, "show", "--json"], repo, timeout=gto_timeout)
            res["gto_show"].append(t)
            if t is None or t > 20:
                gto_reps = 1  # slow: one sample of each is enough (and saves minutes)
                break
    for r in range(reps):
        name = mname(r % min(MODELS, n_versions))
        p = repo / "models" / f"{name}.bin"
        if gto and r < gto_reps and not (res["gto_register"] and res["gto_register"][-1] is None):
            ws.git(repo, "-c", f"core.hooksPath={empty_hooks}", "commit", "-q", "--allow-empty", "-m", "gto")
            res["gto_register"].append(C.timed_run(ws, [gto_bin, "register", name], repo, timeout=gto_timeout))
        p.write_bytes(f"{name} retrained {r}\n".encode())
        res["register"].append(C.timed_run(ws, [mv, "register", name], repo))
    return res


def fmt(xs: list[float | None], skipped: str = "not run") -> tuple[str, float | None]:
    if not xs:
        return skipped, None
    if any(x is None for x in xs):
        return "timeout", None
    m = C.median([x for x in xs if x is not None])
    return C.secs(m) + (f" (n={len(xs)})" if len(xs) == 1 else ""), m


def main() -> int:
    ap = C.parser(__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,1000,10000", help="registered versions per run (default 10,1000,10000)")
    ap.add_argument("--gto-max", type=int, default=None, help="measure GTO only up to this size "
                    "(default: every size; --quick: 1000)")
    ap.add_argument("--gto-timeout", type=float, default=120.0, help="seconds before a GTO command is cut off")
    ap.add_argument("--profile", action="store_true", help="cProfile mvtools show and register at the largest size")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    gto_max = args.gto_max if args.gto_max is not None else (1000 if args.quick else max(sizes))
    reps = 3 if args.quick else 5
    C.header("bench_registry: mvtools vs GTO at registry scale", args.quick)
    print(f"{MODELS} models declared; GTO measured up to {gto_max} versions, each GTO command cut off after "
          f"{args.gto_timeout:.0f} s; median of {reps} (GTO: one sample once a command takes over 20 s)")
    rows = [["versions", "build", "mvtools show (cold)", "(warm)", "gto show", "gto/mvtools",
             "mvtools register", "gto register", "gto/mvtools", "git procs/register"]]
    summary: dict[int, dict[str, float | None]] = {}
    hook_spans: list[str] = []
    with C.Workspace("registry", keep=args.keep) as ws:
        empty = ws.dir / "no-hooks"
        empty.mkdir()
        last_repo = None
        for n in sizes:
            t_build = time.perf_counter()
            repo = build(ws, n, empty)
            t_build = time.perf_counter() - t_build
            check(ws, repo, n)
            res = measure(ws, repo, n, reps, n <= gto_max, args.gto_timeout, empty)
            name = mname(reps % min(MODELS, n))
            (repo / "models" / f"{name}.bin").write_bytes(b"traced\n")
            procs, spans = git_processes(ws, repo, [C.tool("mvtools"), "register", name])
            hook_spans.append(f"{n:,} versions: {spans}")
            cold, m_cold = fmt(res["show_cold"])
            warm, m_warm = fmt(res["show_warm"])
            gshow, m_gshow = fmt(res["gto_show"], "not run" if n > gto_max else "timeout")
            reg, m_reg = fmt(res["register"])
            greg, m_greg = fmt(res["gto_register"], "not run" if n > gto_max else "timeout")
            rows.append([f"{n:,}", C.secs(t_build), cold, warm, gshow, C.ratio(m_gshow, m_cold), reg, greg,
                         C.ratio(m_greg, m_reg), str(procs)])
            summary[n] = {"show_cold": m_cold, "show_warm": m_warm, "register": m_reg}
            print(f"  {n:,} versions done: show cold {cold}, warm {warm}, gto show {gshow}; "
                  f"register {reg}, gto register {greg}", flush=True)
            if last_repo is not None and not args.keep:
                shutil.rmtree(last_repo, ignore_errors=True)
            last_repo = repo
        C.table(rows, "registry scale (CLI subprocesses, wall time)")
        print("gto/mvtools: how many times longer GTO takes (cold mvtools cache for show).")
        print("one traced `mvtools register` (GIT_TRACE) per size; time in the hooks it triggers:")
        for line in hook_spans:
            print(f"  {line}")

        big = max(sizes)
        s = summary[big]
        regs = [summary[n]["register"] for n in sizes]
        flat = max(regs) / min(regs) if all(regs) else float("inf")  # type: ignore[type-var,arg-type]
        print(f"\ntarget: mvtools show <= {TARGET_SHOW} s at {big:,} versions: cold {C.secs(s['show_cold'])} -> "
              f"{C.verdict((s['show_cold'] or 99) <= TARGET_SHOW)}, warm {C.secs(s['show_warm'])} -> "
              f"{C.verdict((s['show_warm'] or 99) <= TARGET_SHOW)}")
        print(f"target: mvtools register <= {TARGET_REGISTER} s: at {big:,} versions {C.secs(s['register'])} -> "
              f"{C.verdict((s['register'] or 99) <= TARGET_REGISTER)}; flat in versions: largest/smallest median "
              f"{flat:.2f}x over {', '.join(f'{n:,}' for n in sizes)} -> {C.verdict(flat <= 1.25)} "
              f"(flat = within 25 %)")

        if args.profile and last_repo is not None:
            profile(ws, last_repo)
    return 0


def profile(ws: C.Workspace, repo: Path) -> None:
    """Where the time goes at the largest size: cProfile of the CLI, hooks' git processes."""
    import subprocess

    out = ws.dir / "prof"
    shutil.rmtree(Repo.discover(repo).ledger_cache_dir, ignore_errors=True)
    (repo / "models" / "m001.bin").write_bytes(b"profiled\n")
    for label, args in (("show --json (cold cache)", ["show", "--json"]), ("show --json (warm)", ["show", "--json"]),
                        ("register m001 (the CLI process; its hooks run in their own)", ["register", "m001"])):
        ws.run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "mvtools", *args], repo)
        for order, count in (("cumulative", 25), ("tottime", 10)):
            print(f"\n## cProfile: mvtools {label}, top {count} by {order} time")
            code = f"import pstats,sys; pstats.Stats(sys.argv[1]).sort_stats('{order}').print_stats({count})"
            text = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True).stdout
            keep = [ln for ln in text.splitlines() if ln.strip() and "function calls" not in ln
                    and "List reduced" not in ln and "Ordered by" not in ln and "/prof" not in ln]
            print("\n".join(ln.replace(str(C.ROOT) + "/", "").replace(str(Path(sys.prefix)), "venv")[:150]
                            for ln in keep))


if __name__ == "__main__":
    raise SystemExit(main())
