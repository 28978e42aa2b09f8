"""What one Tab costs: a shell completion request answered by mvtools, beside its references.

Each row starts the console script as the completion script does (``_ARGCOMPLETE=1``,
``COMP_LINE``, ``COMP_POINT``; the answer goes to a file) in a quickstart repo with one model.
References measured in the same run: a bare ``python -c pass`` and ``mvtools --version`` (the
CLI's own start-up). Best of N and median, printed as ratios; the target (printed, never
asserted) is a Tab under 2x ``mvtools --version``.

    python bench/bench_completion.py [--quick] [--runs N]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402

LINES = (("a command: mvtools pro<Tab>", "mvtools pro"),
         ("model names: mvtools promote <Tab>", "mvtools promote "),
         ("versions (reads the ledger): mvtools promote churn <Tab>", "mvtools promote churn "),
         ("stages: mvtools promote churn v0.1.1 <Tab>", "mvtools promote churn v0.1.1 "))


def main() -> int:
    ap = C.parser(__doc__ or "")
    ap.add_argument("--runs", type=int, default=None, help="starts per row (default 20, quick 5)")
    args = ap.parse_args()
    n = args.runs or (5 if args.quick else 20)
    C.header("bench_completion: one Tab", args.quick)
    with C.Workspace("completion", keep=args.keep) as ws:
        repo = ws.dir / "demo"
        ws.run([C.tool("mvtools"), "quickstart", str(repo)], ws.dir)
        answer = ws.dir / "answer"

        def times(argv: list[str], env: dict[str, str] | None = None) -> list[float]:
            ts = [C.timed_run(ws, argv, repo, env=env) for _ in range(n + 1)][1:]  # the first warms caches
            return [t for t in ts if t is not None]

        py = times([sys.executable, "-c", "pass"])
        ver = times([C.tool("mvtools"), "--version"])
        rows = [["python -c pass (reference)", C.ms(C.median(py)), C.ms(C.best(py)), "-", "-"],
                ["mvtools --version (reference)", C.ms(C.median(ver)), C.ms(C.best(ver)),
                 C.ratio(C.median(ver), C.median(py)), "1.00x"]]
        for label, line in LINES:
            env = {"_ARGCOMPLETE": "1", "_ARGCOMPLETE_SHELL": "bash", "COMP_LINE": line,
                   "COMP_POINT": str(len(line)), "_ARGCOMPLETE_IFS": "\n",
                   "_ARGCOMPLETE_STDOUT_FILENAME": str(answer)}
            t = times([C.tool("mvtools")], env)
            got = answer.read_text().split("\n")
            rows.append([f"{label} -> {' '.join(got)[:30]}", C.ms(C.median(t)), C.ms(C.best(t)),
                         C.ratio(C.median(t), C.median(py)),
                         f"{C.ratio(C.median(t), C.median(ver))} {C.verdict(C.median(t) < 2 * C.median(ver))}"])
        C.table([["what runs", "median", "best", "vs python", "vs --version"], *rows])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
