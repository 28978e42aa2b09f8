"""Benchmark: `mvtools lineage --json` beside `dvc dag --dot`, measured in the same run.

    /work/venv/bin/python bench/bench_lineage.py [--quick] [--dvc-max N] [--repeat K]

Prints, for the opentimes pipeline of the corpus (4,172 stages) and for synthetic chains and
fans of 1,000, 4,000 and 16,000 stages: the wall time of both commands end to end (a fresh
process each, as a user runs them), the ratio, the in-process build time and its growth per
stage, and the peak memory (max RSS of the process; Python heap peak from tracemalloc).

`dvc dag` grows quadratically (its cycle check), so DVC is timed only up to --dvc-max stages
(default 1,000; 4,000 takes minutes per shape); --quick also skips the 16,000 mvtools size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS = REPO.parent / "shared" / "corpus" / "dvc-pipelines"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO))


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    e.update(DVC_NO_ANALYTICS="1", GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
             GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com",
             PYTHONPATH=str(REPO))
    return e


def init_repo(root: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=root, env=env(), check=True)
    subprocess.run([str(BIN / "dvc"), "init", "-q"], cwd=root, env=env(), check=True)


def write_chain(root: Path, n: int) -> None:
    lines = ["stages:"]
    for i in range(n):
        lines += [f"  s{i}:", f"    cmd: python step.py {i}"]
        if i:
            lines.append(f"    deps: [data/d{i - 1}.csv, step.py]")
        lines.append(f"    outs: [data/d{i}.csv]")
    (root / "dvc.yaml").write_text("\n".join(lines) + "\n")


def write_fan(root: Path, n: int) -> None:
    """One source fanning out to n - 2 stages, gathered by one stage on their directory."""
    lines = ["stages:", "  source:", "    cmd: python src.py", "    outs: [src.csv]"]
    for i in range(n - 2):
        lines += [f"  f{i}:", f"    cmd: python f.py {i}", "    deps: [src.csv]",
                  f"    outs: [fan/f{i}.csv]"]
    lines += ["  gather:", "    cmd: python gather.py", "    deps: [fan/]", "    outs: [all.csv]"]
    (root / "dvc.yaml").write_text("\n".join(lines) + "\n")


def mvtools_cmd() -> list[str]:
    exe = BIN / "mvtools"
    if exe.exists():
        probe = subprocess.run([str(exe), "lineage", "--help"], capture_output=True, env=env())
        if probe.returncode == 0:
            return [str(exe), "lineage", "--json"]
    return [sys.executable, "-m", "mvtools.lineage", "--json"]


def timed(cmd: list[str], cwd: Path, repeat: int) -> tuple[float, float, int]:
    """Best wall time and best CPU time (user + sys) of ``repeat`` runs, and peak RSS (KiB).

    CPU time is what the command costs; wall time also counts waiting for the CPU when
    the machine is busy with other work.
    """
    best_wall = best_cpu = float("inf")
    rss = 0
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        best_wall = min(best_wall, time.perf_counter() - t)
        best_cpu = min(best_cpu, usage.ru_utime + usage.ru_stime)
        rss = max(rss, usage.ru_maxrss)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd} failed in {cwd} (exit {proc.returncode})")
    return best_wall, best_cpu, rss


def in_process(root: Path) -> tuple[float, int, int, int]:
    """build_lineage time, Python heap peak (bytes), node and edge counts."""
    from mvtools.lineage import build_lineage

    build_lineage(root)  # warm imports
    tracemalloc.start()
    t = time.perf_counter()
    lin = build_lineage(root)
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    for _ in range(2):
        t = time.perf_counter()
        lin = build_lineage(root)
        dt = min(dt, time.perf_counter() - t)
    return dt, peak, lin.graph.number_of_nodes(), lin.graph.number_of_edges()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip the 16,000-stage size")
    ap.add_argument("--dvc-max", type=int, default=1000,
                    help="largest synthetic size to time `dvc dag` on (default 1000)")
    ap.add_argument("--repeat", type=int, default=3, help="mvtools runs per case (best kept)")
    args = ap.parse_args()
    sizes = [1000, 4000] if args.quick else [1000, 4000, 16000]
    mv = mvtools_cmd()
    dvc = [str(BIN / "dvc"), "dag", "--dot"]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; mvtools: {' '.join(mv[1:] if mv[0].endswith('mvtools') else mv[2:])}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-lineage-") as tmp:
        cases: list[tuple[str, Path, int | None, bool]] = []
        ot = CORPUS / "dfsnow__opentimes"
        if ot.is_dir():
            dst = Path(tmp) / "opentimes"
            shutil.copytree(ot, dst)
            cases.append(("opentimes", dst, None, True))
        else:
            print(f"(opentimes not found at {ot}; skipped)")
        for shape, writer in (("chain", write_chain), ("fan", write_fan)):
            for n in sizes:
                dst = Path(tmp) / f"{shape}{n}"
                dst.mkdir()
                writer(dst, n)
                cases.append((f"{shape} {n}", dst, n, n <= args.dvc_max))
        for name, root, n, with_dvc in cases:
            init_repo(root)
            build, heap, nodes, edges = in_process(root)
            t_mv, c_mv, rss_mv = timed(mv, root, args.repeat if (n or 0) < 16000 else 1)
            t_dvc = c_dvc = rss_dvc = None
            if with_dvc:
                t_dvc, c_dvc, rss_dvc = timed(dvc, root, 1)
            rows.append((name, n, nodes, edges, build, heap, t_mv, rss_mv, t_dvc, rss_dvc,
                         c_mv, c_dvc))
            print(f"  measured {name}: mvtools {t_mv:.2f}s wall {c_mv:.2f}s cpu"
                  + (f", dvc dag {t_dvc:.2f}s wall {c_dvc:.2f}s cpu" if t_dvc is not None
                     else ""), flush=True)

    print()
    print(f"{'pipeline':<12}{'stages':>7}{'nodes':>7}{'edges':>7}"
          f"{'mvtools s':>11}{'dvc dag s':>11}{'ratio':>7}"
          f"{'mv cpu s':>10}{'dvc cpu s':>10}{'ratio':>7}{'build s':>9}{'us/stage':>9}")
    print("(s: best wall time of the whole command in a fresh process; cpu s: its user+sys "
          "CPU time; build s: build_lineage() in process)")
    for name, n, nodes, edges, build, _heap, t_mv, _r, t_dvc, _rd, c_mv, c_dvc in rows:
        stages = n if n is not None else 4172
        ratio = f"{t_dvc / t_mv:.1f}x" if t_dvc is not None else "-"
        cratio = f"{c_dvc / c_mv:.1f}x" if c_dvc is not None else "-"
        dvc_s = f"{t_dvc:.2f}" if t_dvc is not None else "(skip)"
        dvc_c = f"{c_dvc:.2f}" if c_dvc is not None else "(skip)"
        print(f"{name:<12}{stages:>7}{nodes:>7}{edges:>7}{t_mv:>11.2f}{dvc_s:>11}{ratio:>7}"
              f"{c_mv:>10.2f}{dvc_c:>10}{cratio:>7}{build:>9.3f}{build * 1e6 / stages:>9.0f}")
    print()
    for shape in ("chain", "fan"):
        b = {n: build for name, n, _a, _b, build, *_ in rows if name.startswith(shape)}
        ks = sorted(b)
        if len(ks) >= 2:
            steps = ", ".join(f"{ks[i]}->{ks[i + 1]}: x{b[ks[i + 1]] / b[ks[i]]:.1f} time for "
                              f"x{ks[i + 1] // ks[i]} stages" for i in range(len(ks) - 1))
            print(f"growth ({shape}, in-process build): {steps}")
    for name, _n, _a, _b, _build, heap, _t, rss_mv, _td, rss_dvc, _c, _cd in rows:
        if name == "opentimes":
            line = (f"peak memory (opentimes): mvtools max RSS {rss_mv / 1024:.0f} MiB "
                    f"(Python heap peak {heap / 2**20:.0f} MiB)")
            if rss_dvc:
                line += f", dvc dag max RSS {rss_dvc / 1024:.0f} MiB ({rss_dvc / rss_mv:.1f}x)"
            print(line)
    if any(n and n > args.dvc_max for _name, n, *_ in rows):
        print(f"dvc dag not timed above {args.dvc_max} synthetic stages "
              "(quadratic: minutes per run); raise --dvc-max to include them")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
