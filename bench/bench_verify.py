"""`mvtools verify` on long histories, beside `gto show` on the same repository (issue 14 b).

Targets: verify <= 1.5 s on 300 versions made by 300 commits, and linear beyond it: at most
5 ms per commit of history at 300, 3,000 and 10,000 commits; peak memory printed beside.

Each repository: `mvtools init`, MODELS git-tracked models declared (models/mNNN.bin), then
N commits made with ONE `git fast-import`: commit i writes new bytes of model i % MODELS and
appends its register event to registry/mNNN.yaml exactly as mvtools does (the ledger header
then `ledger.render_events`, events built by `ledger.make_event`, valid ids), and an
annotated tag `mNNN@v0.1.K` (GTO's message) on that commit; `verify` must pass on it. No
hook runs (10,000 hook runs would take an hour); what is verified is what the hooks write.

    /work/main/.venv/bin/python bench/bench_verify.py [--quick] [--sizes 300,3000,10000]
                                                      [--models 100] [--gto-max 3000]

--quick: sizes 300 and 3,000, one repetition. Figures are medians (of 3; --quick: 1); the
peak memory is the largest resident set of the command's process tree
(resource.getrusage(RUSAGE_CHILDREN) of a wrapper that runs it alone).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402
from mvtools import ledger as L  # noqa: E402
from mvtools.versioning import register_message  # noqa: E402

T0 = 1_700_000_000
TARGET_300 = 1.5
TARGET_PER_COMMIT = 0.005
_RSS = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True); "
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def mname(j: int) -> str:
    return f"m{j:03d}"


def build(ws: C.Workspace, n: int, models: int) -> Path:
    """A repository whose history is ``n`` registering commits (module docstring)."""
    repo = ws.new_repo(f"hist{n}")
    ws.mvtools(repo, "init")
    ws.declare(repo, [(mname(j), f"models/{mname(j)}.bin") for j in range(models)])
    ws.git(repo, "add", "-A")
    ws.git(repo, "commit", "-q", "-m", "declare models", env={"MVTOOLS_SKIP": "1"})
    ledgers: dict[str, bytes] = {}
    count: dict[str, int] = {}
    out: list[bytes] = []
    for i in range(n):
        name = mname(i % models)
        k = count.get(name, 0)
        count[name] = k + 1
        version, when = f"v0.1.{k}", T0 + i
        content = f"{name} weights {k}\n".encode()
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
        ev = L.make_event("register", name, C.ACTOR, ts, version=version, tag=f"{name}@{version}",
                          path=f"models/{name}.bin", sha256=hashlib.sha256(content).hexdigest(), size=len(content),
                          md5=None, metrics={"accuracy": round(0.8 + (k % 100) / 1000, 4)},
                          params={"train.lr": 0.01}, lineage=None)
        led = (ledgers.get(name) or L.header(name).encode()) + L.render_events([ev]).encode()
        ledgers[name] = led
        msg = f"{name}: register {version}\n".encode()
        frm = "from refs/heads/main^0\n" if i == 0 else ""
        out.append(f"commit refs/heads/main\nmark :{i + 1}\ncommitter {C.ACTOR} {when} +0000\n"
                   f"data {len(msg)}\n".encode() + msg + frm.encode()
                   + f"M 100644 inline models/{name}.bin\ndata {len(content)}\n".encode() + content
                   + f"\nM 100644 inline registry/{name}.yaml\ndata {len(led)}\n".encode() + led + b"\n")
        tmsg = f"{register_message(name, version)}\n".encode()
        out.append(f"tag {name}@{version}\nfrom :{i + 1}\ntagger {C.ACTOR} {when} +0000\ndata {len(tmsg)}\n".encode()
                   + tmsg + b"\n")
    ws.run(["git", "fast-import", "--quiet"], repo, input=b"".join(out))
    ws.git(repo, "reset", "-q", "--hard", "main")
    ws.git(repo, "gc", "-q")  # packed, as a clone is
    return repo


def run(ws: C.Workspace, repo: Path, args: list[str], timeout: float | None = None,
        env: dict[str, str] | None = None) -> tuple[float | None, int, int]:
    """Wall time, exit code and peak resident set (KiB) of one command run alone."""
    t0 = time.perf_counter()
    try:
        p = ws.run([sys.executable, "-c", _RSS, *args], repo, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None, -1, 0
    took = time.perf_counter() - t0
    code, rss = p.stdout.decode().split()
    return took, int(code), int(rss)


def git_processes(ws: C.Workspace, repo: Path) -> int:
    """The git processes one `mvtools verify` starts (GIT_TRACE2_EVENT's child_start events)."""
    trace = ws.dir / "trace2.json"
    trace.unlink(missing_ok=True)
    ws.run([C.tool("mvtools"), "verify"], repo, env={"GIT_TRACE2_EVENT": str(trace)})
    n = 0
    for line in trace.read_text().splitlines():
        ev = json.loads(line)
        n += ev.get("event") == "version"  # one per git process
    return n


def main() -> int:
    ap = C.parser(__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=None, help="commits of history (default 300,3000,10000; --quick: 300,3000)")
    ap.add_argument("--models", type=int, default=100, help="models the commits cycle through (default 100)")
    ap.add_argument("--gto-max", type=int, default=3000, help="run gto show only up to this size")
    ap.add_argument("--gto-timeout", type=float, default=300.0)
    ap.add_argument("--before", metavar="CHECKOUT", help="also time `mvtools verify` with this checkout's mvtools "
                    "first on PYTHONPATH (e.g. a worktree of the commit before the change), up to --before-max")
    ap.add_argument("--before-max", type=int, default=300, help="run the --before verify only up to this size")
    args = ap.parse_args()
    sizes = [int(s) for s in (args.sizes or ("300,3000" if args.quick else "300,3000,10000")).split(",")]
    reps = 1 if args.quick else 3
    C.header("bench_verify: mvtools verify on long histories, beside gto show", args.quick)
    print(f"{args.models} git-tracked models; one registering commit and one annotated tag per version; "
          f"median of {reps}; gto show up to {args.gto_max} commits")
    rows: list[Sequence[str]] = [["commits", "build", "mvtools verify", "ms/commit", "peak RSS", "git procs",
                                  "gto show", "gto peak RSS", "verify/gto", "target"]
                                 + (["verify before"] if args.before else [])]
    mv, gto = C.tool("mvtools"), C.tool("gto")
    with C.Workspace("verify", keep=args.keep) as ws:
        for n in sizes:
            t = time.perf_counter()
            repo = build(ws, n, args.models)
            built = time.perf_counter() - t
            run(ws, repo, [mv, "verify"])  # warm the page and byte-code caches
            vs, rss = [], 0
            for _ in range(reps):
                took, code, r = run(ws, repo, [mv, "verify"])
                if code != 0:
                    raise SystemExit(f"bench: mvtools verify failed on the {n}-commit repository:\n"
                                     + ws.run([mv, "verify"], repo, check=False).stdout.decode())
                vs.append(took or 0.0)
                rss = max(rss, r)
            v = C.median(vs)
            procs = git_processes(ws, repo)
            g, grss = None, 0
            if n <= args.gto_max:
                gs = []
                for _ in range(reps):
                    took, _code, r = run(ws, repo, [gto, "show", "--json"], timeout=args.gto_timeout)
                    gs.append(took)
                    grss = max(grss, r)
                g = None if None in gs else C.median([x for x in gs if x is not None])
            before = None
            if args.before and n <= args.before_max:
                before, _code, _r = run(ws, repo, [mv, "verify"], timeout=args.gto_timeout,
                                        env={"PYTHONPATH": args.before})
            per = v / n
            ok = per <= TARGET_PER_COMMIT and (n != 300 or v <= TARGET_300)
            rows.append([f"{n:,}", C.secs(built), C.secs(v), f"{per * 1000:.2f} ms", f"{rss / 1024:.0f} MiB",
                         str(procs), C.secs(g) if n <= args.gto_max else "not run",
                         f"{grss / 1024:.0f} MiB" if grss else "-", C.ratio(v, g),
                         f"{'<= 1.5 s, ' if n == 300 else ''}<= 5 ms/commit: {C.verdict(ok)}"]
                        + ([f"{C.secs(before)} ({C.ratio(before, v)})" if n <= args.before_max else "not run"]
                           if args.before else []))
            gto_said = C.secs(g) if n <= args.gto_max else "not run"
            print(f"  {n} commits: verify {C.secs(v)}, gto show {gto_said}", flush=True)
    C.table(rows, "mvtools verify vs gto show, same repositories, same run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
