"""Which files the lineage reads: the dvc.yaml and .dvc files DVC would collect (the model
declarations come from :func:`mvtools.config.load_config`, as the registry reads them)."""

from __future__ import annotations

import os
import posixpath
import shutil
import subprocess
from pathlib import Path


def _dvc_files(root: Path) -> list[str]:
    """dvc.yaml and *.dvc files DVC would collect: not git-ignored, outside .git/.dvc, and
    outside every DVC subrepo below ``root`` (a directory with its own ``.dvc/`` is its own
    project, which DVC's walk from ``root`` skips: :mod:`mvtools.dvcroots`)."""
    names: list[str] | None = None
    if shutil.which("git"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        try:
            proc = subprocess.run(
                ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                 "--deduplicate", "--", "*dvc.yaml", "*.dvc"],
                cwd=root, env=env, capture_output=True, check=False,
            )
            if proc.returncode == 0:
                names = [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
        except OSError:
            names = None
    if names is None:
        names = []
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in (".git", ".dvc"))
            reldir = os.path.relpath(dirpath, root)
            for f in files:
                if f == "dvc.yaml" or f.endswith(".dvc"):
                    names.append(f if reldir == "." else f"{reldir}/{f}".replace(os.sep, "/"))
    picked = []
    for n in dict.fromkeys(names):
        base = posixpath.basename(n)
        if base != "dvc.yaml" and not base.endswith(".dvc"):
            continue
        if n.startswith((".dvc/", ".git/")) or "/.git/" in n or not (root / n).is_file():
            continue
        picked.append(n)
    picked.sort(key=lambda p: (p.count("/"), p))
    from mvtools.dvcroots import outside_subrepos, subrepos

    return outside_subrepos(picked, subrepos(root))
