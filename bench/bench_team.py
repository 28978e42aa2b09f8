"""Teams: N clones (2, 4, 8) register and push to one git remote at the same moment.

mvtools: each clone commits R new versions of a git-tracked model (the hooks register them),
then all run `mvtools push` together; a clone that lost the race renumbers its unpushed
versions and pushes again. GTO, the reference: each clone commits the same changes and
runs `gto register` after each, then all run `git push --atomic origin main --tags`
together (GTO's documented flow); a clash is refused, and GTO has no way to resolve it.

The shared remote is a `git daemon` on 127.0.0.1 (as in tests/test_teams.py); bytes are in
git (no DVC remote), so the figures are the race itself. Printed per N: registrations
that landed on the remote (under their own number, tag on a commit holding those bytes),
landed per minute of wall time, retries, refused pushes and losses, and the ratio
mvtools/GTO of landed registrations. Timings are printed, never asserted.

    /work/main/.venv/bin/python bench/bench_team.py [--quick] [--clones 2,4,8] [--per 2]
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Daemon:
    """A git daemon serving ``base`` on 127.0.0.1 (stopped on exit)."""

    def __init__(self, base: Path) -> None:
        base.mkdir(parents=True, exist_ok=True)
        self.base, self.port = base, _port()
        self.proc = subprocess.Popen(
            ["git", "daemon", "--export-all", "--enable=receive-pack", f"--base-path={base}", f"--port={self.port}",
             "--listen=127.0.0.1", "--reuseaddr", str(base)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("bench: git daemon did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _together(cmds: list[tuple[list[str], Path]], env: dict[str, str]) -> tuple[float, list[subprocess.CompletedProcess[bytes]]]:
    """Start every command at the same moment (a barrier); wall time until the last ends."""
    gate = threading.Barrier(len(cmds) + 1)
    res: list[subprocess.CompletedProcess[bytes] | None] = [None] * len(cmds)

    def go(i: int) -> None:
        gate.wait()
        args, cwd = cmds[i]
        res[i] = subprocess.run(args, cwd=cwd, env=env, capture_output=True, timeout=1800)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(cmds))]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, [r for r in res if r is not None]


def _landed(ws: C.Workspace, bare: Path, contents: set[str]) -> int:
    """Registrations whose bytes the remote binds to a version tag on a commit holding them,
    each counted once (a lost one: its tag names other bytes, or is not there)."""
    out = ws.out(bare, "for-each-ref", "--format=%(refname:strip=2) %(*objectname)", "refs/tags/clf@v*")
    seen = set()
    for line in out.splitlines():
        tag, commit = line.split()
        if tag.endswith("!"):
            continue
        blob = ws.git(bare, "show", f"{commit}:models/clf.bin", check=False).stdout.decode()
        if blob in contents:
            seen.add(blob)
    return len(seen)


def _seed(ws: C.Workspace, daemon: Daemon, name: str, mv: bool) -> str:
    r = ws.new_repo(f"seed-{name}")
    (r / "models").mkdir()
    if mv:
        ws.mvtools(r, "init", "--hooks", "git")
        ws.declare(r, [("clf", "models/clf.bin")])
    (r / "models" / "clf.bin").write_text("clf 0\n")
    ws.git(r, "add", "-A")
    ws.git(r, "commit", "-q", "-m", "clf v0.1.0")
    if not mv:
        ws.run([C.tool("gto"), "register", "clf", "--version", "v0.1.0"], r)
    bare = daemon.base / f"{name}.git"
    ws.git(ws.dir, "init", "-q", "--bare", "-b", "main", str(bare))
    url = f"git://127.0.0.1:{daemon.port}/{name}.git"
    ws.git(r, "remote", "add", "origin", url)
    ws.git(r, "push", "-q", "origin", "main", "--tags", env={"MVTOOLS_SKIP": "1"})
    return url


def _clones(ws: C.Workspace, url: str, tag: str, n: int, per: int, mv: bool) -> tuple[list[Path], set[str]]:
    clones, contents = [], set()
    for i in range(n):
        c = ws.dir / f"{tag}-c{i}"
        ws.git(ws.dir, "clone", "-q", url, str(c))
        if mv:
            ws.mvtools(c, "install-hooks")
            ws.mvtools(c, "install-merge-driver")
        for k in range(per):
            text = f"{tag} clone {i} weights {k}\n"
            (c / "models" / "clf.bin").write_text(text)
            ws.git(c, "commit", "-q", "-am", f"clone {i} v{k}")
            if not mv:
                ws.run([C.tool("gto"), "register", "clf"], c)
            contents.add(text)
        clones.append(c)
    return clones, contents


def run_mvtools(ws: C.Workspace, daemon: Daemon, n: int, per: int) -> dict[str, float]:
    url = _seed(ws, daemon, f"mv{n}", mv=True)
    clones, contents = _clones(ws, url, f"mv{n}", n, per, mv=True)
    wall, procs = _together([([C.tool("mvtools"), "push", "--json"], c) for c in clones], ws.env)
    failed = [p for p in procs if p.returncode != 0]
    retries = sum(json.loads(p.stdout)["retries"] for p in procs if p.returncode == 0)
    landed = _landed(ws, daemon.base / f"mv{n}.git", contents)
    return {"landed": landed, "wall": wall, "retries": retries, "refused": len(failed),
            "lost": len(contents) - landed, "want": len(contents)}


def run_gto(ws: C.Workspace, daemon: Daemon, n: int, per: int) -> dict[str, float]:
    url = _seed(ws, daemon, f"gto{n}", mv=False)
    clones, contents = _clones(ws, url, f"gto{n}", n, per, mv=False)
    wall, procs = _together([(["git", "push", "-q", "--atomic", "origin", "main", "--tags"], c) for c in clones],
                            ws.env)
    refused = sum(1 for p in procs if p.returncode != 0)
    landed = _landed(ws, daemon.base / f"gto{n}.git", contents)
    return {"landed": landed, "wall": wall, "retries": 0, "refused": refused, "lost": len(contents) - landed,
            "want": len(contents)}


def main() -> None:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--clones", default="2,4,8", help="comma-separated clone counts")
    p.add_argument("--per", type=int, default=2, help="versions each clone registers")
    args = p.parse_args()
    counts = [2, 4] if args.quick and args.clones == "2,4,8" else [int(x) for x in args.clones.split(",")]
    C.header("bench_team: N clones register and push at once", args.quick)
    rows = [["clones", "tool", "registrations", "landed", "landed/min", "retries", "refused pushes", "lost",
             "wall"]]
    ratios = [["clones", "landed mvtools/GTO", "lost mvtools", "lost GTO"]]
    with C.Workspace("team", keep=args.keep) as ws:
        daemon = Daemon(ws.dir / "served")
        try:
            for n in counts:
                res = {"mvtools": run_mvtools(ws, daemon, n, args.per), "GTO": run_gto(ws, daemon, n, args.per)}
                for tool, r in res.items():
                    rows.append([str(n), tool, str(int(r["want"])), str(int(r["landed"])),
                                 f"{r['landed'] / (r['wall'] / 60):.1f}", str(int(r["retries"])),
                                 str(int(r["refused"])), str(int(r["lost"])), C.secs(r["wall"])])
                ratios.append([str(n), C.ratio(res["mvtools"]["landed"], res["GTO"]["landed"]),
                               str(int(res["mvtools"]["lost"])), str(int(res["GTO"]["lost"]))])
        finally:
            daemon.stop()
    C.table(rows, "registrations landed on the remote (git-tracked model, git daemon on 127.0.0.1)")
    C.table(ratios, "mvtools beside GTO (lost: registrations the remote does not hold; mvtools target 0)")


if __name__ == "__main__":
    main()
