"""`mvtools quickstart DIR`: a real git + DVC repo, two model versions through the real hooks."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from mvtools.errors import InternalError, UsageError
from mvtools.install import data_dir, tool


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    print("$ " + " ".join(Path(args[0]).name if i == 0 else a for i, a in enumerate(args)), flush=True)
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    text = (proc.stdout + proc.stderr).strip()
    shown = [ln for ln in text.splitlines() if ln.startswith("mvtools:") or "file changed" in ln
             or "files changed" in ln]
    for ln in shown:
        print("  " + ln)
    if proc.returncode != 0:
        raise InternalError(f"{' '.join(args[:3])} failed: {text.splitlines()[-1] if text else proc.returncode}")
    return proc.stdout


def quickstart(directory: str, started_in: str | None = None) -> int:
    """Build the demo in ``directory``; ``started_in``: the folder the user typed the command
    in, when ``-C`` moved it (the closing hint's ``cd`` works from there, as printed)."""
    if not directory.strip():
        raise UsageError("quickstart: DIR is empty: name a new directory for the demo")
    d = Path(directory).resolve()
    if d.exists() and any(d.iterdir()):
        raise UsageError(f"{directory}: exists and is not empty")
    d.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["DVC_NO_ANALYTICS"] = "1"
    git, dvc = "git", tool("dvc")
    _run([git, "init", "-q", "-b", "main"], d, env)
    if subprocess.run([git, "var", "GIT_COMMITTER_IDENT"], cwd=d, env=env, capture_output=True).returncode:
        _run([git, "config", "user.name", "mvtools quickstart"], d, env)
        _run([git, "config", "user.email", "quickstart@example.invalid"], d, env)
    src = data_dir("templates") / "quickstart"
    for name in ("train.py", "dvc.yaml", "params.yaml"):
        shutil.copy(src / name, d / name)
    (d / "data").mkdir()
    (d / "data" / "data.csv").write_text("tenure,charges,churn\n" + "".join(
        f"{i % 72},{20 + (i * 37) % 100},{i % 3 == 0:d}\n" for i in range(200)))
    (d / ".gitignore").write_text("/models/\n")
    mvtools = [str(Path(tool("mvtools")))] if shutil.which("mvtools") or (Path(tool("dvc")).parent / "mvtools").exists() else None
    if mvtools is None:
        raise InternalError("the mvtools command is not on PATH")
    _run([*mvtools, "init"], d, env)
    _run([dvc, "add", "-q", "data/data.csv"], d, env)
    _run([dvc, "repro", "-q"], d, env)
    _run([git, "add", "-A"], d, env)
    _run([git, "commit", "-q", "-m", "Train the churn model"], d, env)
    (d / "params.yaml").write_text("train:\n  lr: 0.02\n  epochs: 12\n")
    _run([dvc, "repro", "-q"], d, env)
    _run([git, "add", "-A"], d, env)
    _run([git, "commit", "-q", "-m", "Retrain with lr 0.02, 12 epochs"], d, env)
    print()
    here = Path(started_in or os.getcwd()).resolve()
    shown = shlex.quote(str(d.relative_to(here)) if d.is_relative_to(here) else str(d))
    print(f"$ mvtools show            (in {shown})")
    print(_run_quiet([*mvtools, "show"], d, env))
    print("$ mvtools history churn")
    print(_run_quiet([*mvtools, "history", "churn"], d, env))
    print("$ git tag")
    print(_run_quiet([git, "tag"], d, env))
    print(f"next: cd {shown} && mvtools get churn@v0.1.0 -o old-model.pkl")
    return 0


def _run_quiet(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise InternalError(f"{' '.join(args[:3])} failed: {proc.stderr.strip()}")
    return proc.stdout.rstrip()
