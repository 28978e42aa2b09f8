"""Lifecycle at scale: `mvtools promote` and `mvtools compare` at 10, 1,000 and 10,000
registered versions over 100 models, beside `gto assign` on the same repository and tags.

Target (issue 4): promote and compare at most 0.3 s each at 10,000 versions over 100 models
(GTO on a 2-core machine: `gto assign` 4.0 s at 300 versions). The registries are the ones
bench_registry.py builds (ledgers written directly, one annotated tag per version).

    /work/venv/bin/python bench/bench_lifecycle.py [--quick] [--sizes 10,1000,10000]
                                                   [--gto-max N] [--gto-timeout S]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402
from bench_registry import MODELS, build, fmt, mname  # noqa: E402

TARGET = 0.3


def one_commit_per_version(ws: C.Workspace, repo: Path) -> None:
    """GTO refuses to assign a stage when several versions of an artifact sit on one commit
    (bench_registry tags them all on one): re-point each version tag at a commit of its own,
    a chain of empty commits made with git fast-import (tags keep their names and times)."""
    fmt_ = "%(refname:strip=2)%00%(taggerdate:unix)"
    rows = [line.split("\0") for line in ws.out(repo, "for-each-ref", f"--format={fmt_}", "refs/tags").splitlines()]
    head = ws.out(repo, "rev-parse", "HEAD")
    ws.run(["git", "update-ref", "--stdin"], repo,
           input="".join(f"delete refs/tags/{t}\n" for t, _ in rows).encode())
    stream, prev = [], head
    for i, (tag, when) in enumerate(sorted(rows, key=lambda r: int(r[1]))):
        name, version = tag.split("@", 1)
        msg = f"{tag}\n".encode()
        tmsg = f"Registering artifact {name} version {version}\n".encode()
        stream.append(f"commit refs/heads/gto-versions\nmark :{i + 1}\ncommitter {C.ACTOR} {when} +0000\n"
                      f"data {len(msg)}\n".encode() + msg + f"from {prev}\n\n".encode())
        stream.append(f"tag {tag}\nfrom :{i + 1}\ntagger {C.ACTOR} {when} +0000\ndata {len(tmsg)}\n".encode()
                      + tmsg + b"\n")
        prev = f":{i + 1}"
    ws.run(["git", "fast-import", "--quiet"], repo, input=b"".join(stream))
    ws.git(repo, "pack-refs", "--all")


def measure(ws: C.Workspace, repo: Path, n: int, reps: int, gto: bool, timeout: float,
            empty_hooks: Path) -> dict[str, list[float | None]]:
    res: dict[str, list[float | None]] = {"promote": [], "compare": [], "gto_assign": []}
    mv, gto_bin = C.tool("mvtools"), C.tool("gto")
    ws.run([mv, "show", "--json"], repo)  # warm caches (the ledger cache, the page cache)
    per = max(1, n // min(MODELS, n))
    stages = ["development", "staging", "production"]
    for r in range(reps):
        name = mname(r % min(MODELS, n))
        version = f"v0.1.{(r * 7) % per}"
        older = f"v0.1.{max(0, (r * 7) % per - 1)}"
        res["promote"].append(C.timed_run(ws, [mv, "promote", name, version, stages[r % 3]], repo))
        res["compare"].append(C.timed_run(ws, [mv, "compare", name, older, version, "--json"], repo))
        if gto and not (res["gto_assign"] and (res["gto_assign"][-1] is None or res["gto_assign"][-1] > 20)):
            res["gto_assign"].append(C.timed_run(
                ws, [gto_bin, "assign", name, "--version", version, "--stage", stages[(r + 1) % 3]],
                repo, timeout=timeout))
    return res


def main() -> int:
    ap = C.parser(__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,1000,10000")
    ap.add_argument("--gto-max", type=int, default=None, help="measure GTO only up to this size")
    ap.add_argument("--gto-timeout", type=float, default=120.0)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    gto_max = args.gto_max if args.gto_max is not None else (1000 if args.quick else max(sizes))
    reps = 3 if args.quick else 7
    C.header("bench_lifecycle", args.quick)
    rows = [["versions", "mvtools promote", "mvtools compare", "gto assign", "gto / promote",
             f"promote <= {TARGET}s", f"compare <= {TARGET}s"]]
    with C.Workspace("lifecycle", keep=args.keep) as ws:
        empty = ws.dir / "no-hooks"
        empty.mkdir()
        for n in sizes:
            repo = build(ws, n, empty)
            one_commit_per_version(ws, repo)
            res = measure(ws, repo, n, reps, n <= gto_max, args.gto_timeout, empty)
            p_txt, p = fmt(res["promote"])
            c_txt, c = fmt(res["compare"])
            g_txt, g = fmt(res["gto_assign"], skipped="skipped")
            rows.append([f"{n:,}", p_txt, c_txt, g_txt, C.ratio(g, p),
                         C.verdict(p is not None and p <= TARGET) if n == max(sizes) else "",
                         C.verdict(c is not None and c <= TARGET) if n == max(sizes) else ""])
    C.table(rows, "median wall time of the whole command, fresh process each (GTO: its CLI)")
    print("mvtools promote appends one event, commits the ledger and writes one tag; compare reads one "
          "ledger (cached by blob id).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
