"""Crash safety: SIGKILL `mvtools register` at random moments, then check what is left.

Each trial writes new model bytes, starts `python -m mvtools register clf` with
subprocess.Popen, sleeps a random delay and SIGKILLs it. Half the trials draw the delay
from 0-300 ms (the tracker's figure: mostly interpreter start-up and imports), the other
half from 0 to 1.1 x the measured time of a whole registration, so every phase (hash,
ledger write, git add, git commit and its hooks, tag) gets hit. Then:

* every ledger file must parse with mvtools.ledger.parse (schema and every event id):
  whole events only, never a torn file (the reference: 0 torn ledgers);
* the state is classified: killed before the ledger write / event written but not committed
  / committed but not tagged / complete;
* `mvtools verify` runs; when it finds problems, `mvtools sync-tags` and `verify` again:
  "mended" when the second verify is clean. A state sync-tags cannot mend is restored by
  hand (`git checkout HEAD -- registry`, as docs/failure-modes.md says) and counted.

    /work/venv/bin/python bench/bench_crash.py [--trials 200] [--seed 1] [--quick] [--keep]

--quick: 40 trials.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402
from mvtools import ledger as L  # noqa: E402
from mvtools.errors import MvtoolsError  # noqa: E402


def setup(ws: C.Workspace) -> Path:
    r = ws.new_repo()
    ws.mvtools(r, "init")
    ws.declare(r, [("clf", "models/clf.bin")])
    (r / "models").mkdir()
    (r / "models" / "clf.bin").write_bytes(b"weights 0")
    ws.git(r, "add", "-A")
    ws.git(r, "commit", "-q", "-m", "clf v0.1.0")
    return r


def ledgers_parse(r: Path) -> tuple[bool, str]:
    for rel in L.ledger_files(r, "registry"):
        p = r / rel
        try:
            L.parse(p.read_bytes(), p.name)
        except MvtoolsError as exc:
            return False, str(exc)
    return True, ""


def verify(ws: C.Workspace, r: Path) -> list[str]:
    proc = ws.mvtools(r, "verify", "--json", check=False)
    try:
        return [p["kind"] for p in json.loads(proc.stdout)["problems"]]
    except ValueError:
        return ["verify-crashed:" + proc.stderr.decode(errors="replace").strip()[-120:]]


def wait_for_git(r: Path) -> None:
    """The killed process's git children run on: wait for them to let go of the index."""
    for _ in range(200):
        if not (r / ".git" / "index.lock").exists():
            break
        time.sleep(0.025)
    time.sleep(0.15)


def main() -> None:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    trials = 40 if args.quick and args.trials == 200 else args.trials
    C.header("bench_crash: SIGKILL during `mvtools register`", args.quick)
    rnd = random.Random(args.seed)
    with C.Workspace("crash", keep=args.keep) as ws:
        r = setup(ws)
        py = sys.executable
        # how long one whole registration takes here
        durations = []
        for i in range(3):
            (r / "models" / "clf.bin").write_bytes(f"calibration {i}".encode())
            t0 = time.perf_counter()
            ws.run([py, "-m", "mvtools", "register", "clf"], r)
            durations.append(time.perf_counter() - t0)
        full = C.median(durations)
        print(f"one registration: {C.secs(full)} (median of 3); {trials} trials, seed {args.seed}")

        phases: Counter[str] = Counter()
        first_verify: Counter[str] = Counter()
        outcome: Counter[str] = Counter()
        torn = 0
        torn_msgs = []
        leftovers = 0
        for i in range(trials):
            (r / "models" / "clf.bin").write_bytes(f"trial {i} {rnd.random()}".encode())
            head0 = ws.out(r, "rev-parse", "HEAD")
            ledger0 = (r / "registry" / "clf.yaml").read_bytes()
            delay = rnd.uniform(0, 0.3) if i % 2 == 0 else rnd.uniform(0, 1.1 * full)
            proc = subprocess.Popen([py, "-m", "mvtools", "register", "clf"], cwd=r, env=ws.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            os.kill(proc.pid, signal.SIGKILL)
            rc = proc.wait()
            wait_for_git(r)
            ok, msg = ledgers_parse(r)
            if not ok:
                torn += 1
                torn_msgs.append(msg)
            head1 = ws.out(r, "rev-parse", "HEAD")
            wt = (r / "registry" / "clf.yaml").read_bytes()
            committed = ws.git(r, "show", "HEAD:registry/clf.yaml").stdout
            tags = ws.out(r, "tag").split()
            if rc == 0:
                phase = "finished before the kill"
            elif head1 == head0 and wt == ledger0:
                phase = "killed before the ledger write"
            elif head1 == head0:
                phase = "event written, not committed"
            else:
                last = L.parse(committed, "clf.yaml").events[-1]
                phase = "committed and tagged" if last["tag"] in tags else "committed, not tagged"
            if wt != committed and head1 != head0:
                phase += " (+ work tree differs)"
            phases[phase] += 1
            tmp = [f for f in (r / "registry").iterdir() if f.name.endswith(".tmp")]
            leftovers += len(tmp)
            for f in tmp:
                f.unlink()
            probs = verify(ws, r)
            first_verify[",".join(sorted(set(probs))) or "clean"] += 1
            if not probs:
                outcome["clean"] += 1
                continue
            ws.mvtools(r, "sync-tags", check=False)
            probs2 = verify(ws, r)
            if not probs2:
                outcome["mended by sync-tags"] += 1
                continue
            ws.git(r, "checkout", "-q", "HEAD", "--", "registry")
            ws.git(r, "reset", "-q")
            probs3 = verify(ws, r)
            if not probs3:
                outcome["restored by hand (git checkout HEAD -- registry)"] += 1
            else:
                outcome["still broken: " + ",".join(sorted(set(probs3)))] += 1
                break
        fsck = ws.git(r, "fsck", "--strict", "--no-progress", check=False).returncode
        n_versions = len(L.parse((r / "registry" / "clf.yaml").read_bytes(), "clf.yaml").events)

        C.table([("phase the kill hit", "trials")] + [(k, str(v)) for k, v in phases.most_common()],
                "where the kills landed")
        C.table([("verify right after the kill", "trials")] + [(k, str(v)) for k, v in first_verify.most_common()],
                "what verify found")
        C.table([("repair", "trials")] + [(k, str(v)) for k, v in outcome.most_common()], "outcome")
        C.table([("check", "measured", "reference", "verdict")] + [
            ("torn ledger files (parse failures)", str(torn), "0", C.verdict(torn == 0)),
            ("states verify + sync-tags could not mend", str(sum(v for k, v in outcome.items()
                                                                if k not in ("clean", "mended by sync-tags"))),
             "0", C.verdict(all(k in ("clean", "mended by sync-tags") for k in outcome))),
            ("git fsck --strict exit code", str(fsck), "0", C.verdict(fsck == 0)),
            ("leftover temp files (registry/.*.tmp)", str(leftovers), "0", C.verdict(leftovers == 0)),
        ], f"tally: {sum(phases.values())} trials, {n_versions} events in the ledger afterwards")
        for m in torn_msgs[:5]:
            print("torn:", m)


if __name__ == "__main__":
    main()
