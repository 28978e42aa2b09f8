"""`mvtools show` cold and warm beside `gto show` (and, with --baseline, beside another
mvtools checkout) on the same registries, plus `mvtools register` to see it stays flat.

Targets (issue 14 c): cold cache (`.git/mvtools/cache/` deleted) <= 0.5 s at 10,000 versions
over 100 models, warm <= 0.2 s; at 300 versions cold <= 0.25 s and >= 8x faster than `gto
show`; `register` flat in the number of versions (a model's next registration; its first
in a clone, which fills the tip cache, is printed beside it). Registries are bench_registry's (100
models, ledgers and annotated tags built directly). Every figure is a median over --reps
runs, each command alternating with its references in the same run.

    PYTHONPATH=. python bench/bench_show.py [--quick] [--sizes 300,10000] [--gto-max 300]
                                            [--baseline /path/to/other/mvtools/checkout]
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_registry as B  # noqa: E402
import common as C  # noqa: E402

TARGET_COLD_BIG, TARGET_WARM_BIG, TARGET_COLD_SMALL, TARGET_GTO_RATIO = 0.5, 0.2, 0.25, 8.0


def drop_caches(repo: Path) -> None:
    """Cold: every cache mvtools keeps (and the folder an older mvtools used)."""
    for d in (repo / ".git" / "mvtools" / "cache", repo / ".git" / "mvtools" / "ledger-cache"):
        shutil.rmtree(d, ignore_errors=True)


def measure(ws: C.Workspace, repo: Path, n: int, reps: int, gto: bool, baseline: str | None,
            timeout: float) -> dict[str, list[float | None]]:
    mv, gto_bin = C.tool("mvtools"), C.tool("gto")
    res: dict[str, list[float | None]] = {k: [] for k in ("python", "cold", "warm", "gto", "base_cold",
                                                         "base_warm", "register_first", "register")}
    base_env = {"PYTHONPATH": baseline} if baseline else None
    ws.run([mv, "show", "--json"], repo)  # the page cache and byte-code cache, untimed
    if baseline:
        ws.run([mv, "show", "--json"], repo, env=base_env)
    for _ in range(reps):
        res["python"].append(C.timed_run(ws, [sys.executable, "-c", "pass"], repo))
        drop_caches(repo)
        res["cold"].append(C.timed_run(ws, [mv, "show", "--json"], repo))
        res["warm"].append(C.timed_run(ws, [mv, "show", "--json"], repo))
        if baseline:
            drop_caches(repo)
            res["base_cold"].append(C.timed_run(ws, [mv, "show", "--json"], repo, env=base_env))
            res["base_warm"].append(C.timed_run(ws, [mv, "show", "--json"], repo, env=base_env))
        if gto and (not res["gto"] or (res["gto"][-1] or 99) < 20):
            res["gto"].append(C.timed_run(ws, [gto_bin, "show", "--json"], repo, timeout=timeout))
    for r in range(reps):  # a model's first registration in this clone, then its next one
        name = B.mname(r % min(B.MODELS, n))
        for key in ("register_first", "register"):
            (repo / "models" / f"{name}.bin").write_bytes(f"{name} show bench {r} {key}\n".encode())
            res[key].append(C.timed_run(ws, [mv, "register", name], repo))
    return res


def med(xs: list[float | None]) -> float | None:
    got = [x for x in xs if x is not None]
    return C.median(got) if got and len(got) == len(xs) else None


def main() -> int:
    ap = C.parser(__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=None, help="versions per registry (default 300,10000; --quick 300,2000)")
    ap.add_argument("--gto-max", type=int, default=300, help="run `gto show` only up to this size (default 300)")
    ap.add_argument("--gto-timeout", type=float, default=300.0)
    ap.add_argument("--baseline", default=None, help="another mvtools checkout to time beside this one")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 7; --quick 3)")
    args = ap.parse_args()
    sizes = [int(s) for s in (args.sizes or ("300,2000" if args.quick else "300,10000")).split(",")]
    reps = args.reps or (3 if args.quick else 7)
    C.header("bench_show: mvtools show cold/warm beside gto show", args.quick)
    print(f"{B.MODELS} models; median of {reps}; gto show up to {args.gto_max:,} versions"
          + (f"; baseline {args.baseline}" if args.baseline else ""))
    rows = [["versions", "python -c pass", "show cold", "show warm", "gto show", "gto/cold"]
            + (["baseline cold", "baseline warm", "baseline/cold"] if args.baseline else []) + ["register (first of a model)", "register (next)"]]
    got: dict[int, dict[str, float | None]] = {}
    with C.Workspace("show", keep=args.keep) as ws:
        empty = ws.dir / "no-hooks"
        empty.mkdir()
        for n in sizes:
            t0 = time.perf_counter()
            repo = B.build(ws, n, empty)
            B.check(ws, repo, n)
            print(f"  built {n:,} versions in {time.perf_counter() - t0:.1f} s", flush=True)
            res = measure(ws, repo, n, reps, n <= args.gto_max, args.baseline, args.gto_timeout)
            m = {k: med(v) for k, v in res.items()}
            got[n] = m
            rows.append([f"{n:,}", C.secs(m["python"]), C.secs(m["cold"]), C.secs(m["warm"]),
                         C.secs(m["gto"]) if res["gto"] else "not run", C.ratio(m["gto"], m["cold"])]
                        + ([C.secs(m["base_cold"]), C.secs(m["base_warm"]), C.ratio(m["base_cold"], m["cold"])]
                           if args.baseline else []) + [C.secs(m["register_first"]), C.secs(m["register"])])
            if not args.keep:
                shutil.rmtree(repo, ignore_errors=True)
        C.table(rows, "mvtools show --json (CLI wall time; cold = .git/mvtools/cache deleted first)")
    small, big = got[min(sizes)], got[max(sizes)]
    print(f"\ntarget: cold <= {TARGET_COLD_BIG} s at {max(sizes):,}: {C.secs(big['cold'])} -> "
          f"{C.verdict((big['cold'] or 99) <= TARGET_COLD_BIG)}; warm <= {TARGET_WARM_BIG} s: "
          f"{C.secs(big['warm'])} -> {C.verdict((big['warm'] or 99) <= TARGET_WARM_BIG)}")
    ratio = (small["gto"] / small["cold"]) if small["gto"] and small["cold"] else None
    print(f"target: cold <= {TARGET_COLD_SMALL} s at {min(sizes):,}: {C.secs(small['cold'])} -> "
          f"{C.verdict((small['cold'] or 99) <= TARGET_COLD_SMALL)}; >= {TARGET_GTO_RATIO:.0f}x faster than gto "
          f"show: {'%.1fx' % ratio if ratio else '-'} -> {C.verdict((ratio or 0) >= TARGET_GTO_RATIO)}")
    regs = [got[n]["register"] for n in sizes]
    if all(regs):
        flat = max(regs) / min(regs)  # type: ignore[type-var,arg-type,operator]
        print(f"register flat: largest/smallest median {flat:.2f}x -> {C.verdict(flat <= 1.25)} (within 25 %; "
              "a model's next registration: its first in a clone also reads the ledger at every ref tip "
              "once, then caches what it found)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
