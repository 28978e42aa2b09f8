"""`mvtools import-gto` on a GTO registry of 1,000 tags and `mvtools sync-tags` at 10,000
versions, each beside `gto show` on the same repository in the same run (issue 14 d).

import: 10 git-tracked models declared as dvc.yaml `artifacts:` (type: model), one commit
per version made with `git fast-import`, one annotated GTO tag `mNN@v0.0.K` per commit
(tagger times one second apart) and a `mNN#prod#1` stage tag per model. Each repetition
imports from scratch (the registry folder and the import commit undone).
sync-tags: bench_registry's registry (100 models, every version tagged): with nothing to
do, and with a tenth of the version tags deleted first (sync-tags recreates them).

    PYTHONPATH=. python bench/bench_import.py [--quick] [--tags 1000] [--versions 10000]
                                              [--gto-max-sync 0]
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_registry as B  # noqa: E402
import common as C  # noqa: E402

MODELS = 10
T0 = 1_700_000_000


def build_gto(ws: C.Workspace, n_tags: int) -> Path:
    repo = ws.new_repo(f"gto{n_tags}")
    arts = "".join(f"  g{j:02d}:\n    path: models/g{j:02d}.bin\n    type: model\n" for j in range(MODELS))
    (repo / "dvc.yaml").write_text("artifacts:\n" + arts)
    ws.git(repo, "add", "dvc.yaml")
    ws.git(repo, "commit", "-q", "-m", "artifacts", env={"MVTOOLS_SKIP": "1"})
    parent = ws.out(repo, "rev-parse", "HEAD")
    per = n_tags // MODELS
    stream, tags = [], []
    for i in range(per):
        for j in range(MODELS):
            k = i * MODELS + j
            when = T0 + k
            body = f"g{j:02d} version {i}\n".encode()
            msg = f"g{j:02d} v0.0.{i}\n".encode()
            stream.append(f"commit refs/heads/main\nmark :{k + 1}\ncommitter {C.ACTOR} {when} +0000\n"
                          f"data {len(msg)}\n".encode() + msg
                          + (f"from {parent}\n".encode() if k == 0 else b"")
                          + f"M 100644 inline models/g{j:02d}.bin\ndata {len(body)}\n".encode() + body + b"\n")
            tags.append((f"g{j:02d}@v0.0.{i}", k + 1, when, f"Registering artifact g{j:02d} version v0.0.{i}"))
    for j in range(MODELS):  # one promotion each, of the model's first version
        tags.append((f"g{j:02d}#prod#1", j + 1, T0 + per * MODELS + j, f"Assigning stage prod to artifact g{j:02d}"))
    for tag, mark, when, text in tags:
        msg = (text + "\n").encode()
        stream.append(f"tag {tag}\nfrom :{mark}\ntagger {C.ACTOR} {when} +0000\ndata {len(msg)}\n".encode()
                      + msg + b"\n")
    ws.run(["git", "fast-import", "--quiet"], repo, input=b"".join(stream))
    ws.git(repo, "reset", "-q", "--hard", "main")
    ws.mvtools(repo, "init")
    ws.git(repo, "add", "-A")
    ws.git(repo, "commit", "-q", "-m", "mvtools init", env={"MVTOOLS_SKIP": "1"})
    return repo


def main() -> int:
    ap = C.parser(__doc__.splitlines()[0])
    ap.add_argument("--tags", type=int, default=None, help="GTO version tags to import (default 1000; --quick 300)")
    ap.add_argument("--versions", type=int, default=None, help="versions for sync-tags (default 10000; --quick 2000)")
    ap.add_argument("--baseline", default=None, help="another mvtools checkout to time beside this one")
    ap.add_argument("--gto-max-sync", type=int, default=0,
                    help="also time `gto show` on the sync-tags registry up to this size (default 0: not run)")
    args = ap.parse_args()
    n_tags = args.tags or (300 if args.quick else 1000)
    n_versions = args.versions or (2000 if args.quick else 10000)
    reps = 2 if args.quick else 3
    mv, gto = C.tool("mvtools"), C.tool("gto")
    C.header("bench_import: import-gto and sync-tags beside gto show", args.quick)
    rows = [["command", "repository", "mvtools", "gto show (same repo)", "mvtools/gto"]
            + (["baseline", "baseline/mvtools"] if args.baseline else [])]
    benv = {"PYTHONPATH": args.baseline} if args.baseline else None

    def base(times: list[float | None], m: float | None) -> list[str]:
        if not args.baseline:
            return []
        if not times:
            return ["not run", "-"]
        b = C.median([t for t in times if t is not None]) if times and None not in times else None
        return [C.secs(b), C.ratio(b, m)]

    with C.Workspace("import", keep=args.keep) as ws:
        repo = build_gto(ws, n_tags)
        start = ws.out(repo, "rev-parse", "HEAD")
        g = [C.timed_run(ws, [gto, "show", "--json"], repo) for _ in range(reps)]
        seen = sum(1 for a in json.loads(ws.run([gto, "show", "--json"], repo).stdout).values() if a.get("version"))
        assert seen == MODELS, seen
        imp, bimp = [], []
        for _ in range(reps):
            for env, into in ((None, imp), (benv, bimp)) if benv else ((None, imp),):
                ws.git(repo, "reset", "-q", "--hard", start)
                ws.git(repo, "clean", "-qfdx", "registry")
                for d in ("cache", "ledger-cache"):  # cold, as after a clone
                    shutil.rmtree(repo / ".git" / "mvtools" / d, ignore_errors=True)
                into.append(C.timed_run(ws, [mv, "import-gto"], repo, env=env))
        doc = json.loads(ws.mvtools(repo, "show", "--json").stdout)
        assert sum(m["versions"] for m in doc["models"]) == n_tags, doc
        again = C.timed_run(ws, [mv, "import-gto"], repo)  # nothing left to import
        gm, im = C.median(g), C.median(imp)  # type: ignore[arg-type]
        rows.append(["import-gto", f"{n_tags + MODELS:,} GTO tags", C.secs(im), C.secs(gm), C.ratio(im, gm)]
                    + base(bimp, im))
        rows.append(["import-gto again (nothing new)", "", C.secs(again), C.secs(gm), C.ratio(again, gm)]
                    + base([], None))

        empty = ws.dir / "no-hooks"
        empty.mkdir()
        t0 = time.perf_counter()
        reg = B.build(ws, n_versions, empty)
        print(f"  built {n_versions:,} versions in {time.perf_counter() - t0:.1f} s", flush=True)
        ws.mvtools(reg, "sync-tags")  # untimed: the first run after the build parses every ledger cold
        noop = [C.timed_run(ws, [mv, "sync-tags"], reg) for _ in range(reps)]
        bnoop = [C.timed_run(ws, [mv, "sync-tags"], reg, env=benv) for _ in range(reps)] if benv else []
        drop = [t for t in ws.out(reg, "tag", "-l", "m*@v*").split() if t.endswith(("3", "7"))][: n_versions // 10]
        mend, bmend = [], []
        for _ in range(reps):
            for env, into in ((None, mend), (benv, bmend)) if benv else ((None, mend),):
                ws.git(reg, "tag", "-d", *drop)
                into.append(C.timed_run(ws, [mv, "sync-tags"], reg, env=env))
                assert len(ws.out(reg, "tag", "-l", "m*@v*").split()) == n_versions
        gs = [C.timed_run(ws, [gto, "show", "--json"], reg, timeout=600)] if n_versions <= args.gto_max_sync else []
        gsm = C.median(gs) if gs and None not in gs else None  # type: ignore[arg-type]
        rows.append(["sync-tags (nothing to do)", f"{n_versions:,} versions", C.secs(C.median(noop)),  # type: ignore[arg-type]
                     C.secs(gsm) if gs else "not run", C.ratio(C.median(noop), gsm)]  # type: ignore[arg-type]
                    + base(bnoop, C.median(noop)))  # type: ignore[arg-type]
        rows.append([f"sync-tags ({len(drop):,} tags missing)", f"{n_versions:,} versions",
                     C.secs(C.median(mend)), "", ""] + base(bmend, C.median(mend)))  # type: ignore[arg-type]
        C.table(rows, f"median of {reps} (CLI wall time)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
