"""`mvtools init`, `install-hooks` and `uninstall-hooks`: set a repository up, commit nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from mvtools.errors import InternalError, UsageError
from mvtools.gitops import Repo
from mvtools.settings import DEFAULT_STAGES

HOOK_TYPES = ("pre-commit", "post-commit", "post-rewrite", "pre-push")
MARKER = "# mvtools-hook:"
CHAINED = ".mvtools-chained"
PC_BEGIN = "# mvtools hooks begin"
PC_END = "# mvtools hooks end"


def data_dir(kind: str) -> Path:
    """hooks/ or templates/: inside the wheel (mvtools/_data) or beside the source tree."""
    here = Path(__file__).resolve().parent
    for cand in (here / "_data" / kind, here.parent / kind):
        if cand.is_dir():
            return cand
    raise InternalError(f"mvtools is installed without its {kind}/ folder")


def tool(name: str) -> str:
    """A console script of this environment (dvc, pre-commit), else the one on PATH."""
    cand = Path(sys.executable).parent / name
    if cand.exists():
        return str(cand)
    found = shutil.which(name)
    if not found:
        raise UsageError(f"{name} is not installed; pip install {name}")
    return found


def hooks_dir(repo: Repo) -> Path:
    """Honours core.hooksPath and linked worktrees (hooks live in the common dir)."""
    p = Path(repo.out("rev-parse", "--git-path", "hooks"))
    return p if p.is_absolute() else repo.root / p


def _is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(errors="replace")[:300]
    except OSError:
        return False


def install_git_hooks(repo: Repo) -> list[str]:
    d = hooks_dir(repo)
    d.mkdir(parents=True, exist_ok=True)
    done = []
    src = data_dir("hooks")
    for hook in HOOK_TYPES:
        text = (src / hook).read_text().replace("@MVTOOLS@", mvtools_command())
        dest = d / hook
        if dest.exists() and not _is_ours(dest):
            chained = d / (hook + CHAINED)
            if chained.exists():
                raise UsageError(f"{dest} is not mvtools' and {chained} exists already; merge them by hand")
            os.replace(dest, chained)
            done.append(f"kept your {hook} hook, chained: {chained}")
        if dest.exists() and dest.read_text() == text:
            continue
        dest.write_text(text)
        dest.chmod(0o755)
        done.append(f"installed {dest}")
    return done


def uninstall_git_hooks(repo: Repo) -> list[str]:
    d = hooks_dir(repo)
    done = []
    for hook in HOOK_TYPES:
        dest = d / hook
        chained = d / (hook + CHAINED)
        if dest.exists() and _is_ours(dest):
            dest.unlink()
            done.append(f"removed {dest}")
            if chained.exists():
                os.replace(chained, dest)
                done.append(f"restored your {hook} hook")
    return done


CREATED = "# written by mvtools init; `mvtools uninstall-hooks` removes it\n"


def _pc_block(indent: str) -> str:
    block = (data_dir("templates") / "pre-commit-config.yaml").read_text()
    return "".join(indent + ln if ln.strip() else ln for ln in block.splitlines(True))


def _pc_repos(text: str, name: str) -> list[object]:
    from mvtools.yamlio import load_yaml

    doc = load_yaml(text, name)
    if not isinstance(doc, dict) or "repos" not in doc:
        raise UsageError(f"{name} has no 'repos:' list; add the mvtools entries by hand (see docs/pre-commit.md)")
    return doc["repos"] or []


def _pre_commit(repo: Repo, *args: str) -> None:
    proc = subprocess.run([tool("pre-commit"), *args], cwd=repo.root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise InternalError(f"pre-commit {args[0]} failed: " + (proc.stdout + proc.stderr).strip().splitlines()[-1])


def _pre_commit_types(repo: Repo, command: str, types: list[str]) -> str:
    args = [command] + [a for h in types for a in ("-t", h)]
    _pre_commit(repo, *args)
    return "ran: pre-commit " + " ".join(args)


def install_pre_commit(repo: Repo) -> list[str]:
    import re

    cfg = repo.root / ".pre-commit-config.yaml"
    done = []
    if cfg.exists():
        text = cfg.read_text()
        if PC_BEGIN not in text:
            before = len(_pc_repos(text, cfg.name))
            m = re.search(r"^([ \t]*)- +repo:", text, re.M)
            indent = m.group(1) if m else "  "
            base = re.sub(r"^repos:[ \t]*\[\][ \t]*$", "repos:", text, count=1, flags=re.M)
            new = base.rstrip("\n") + "\n" + _pc_block(indent)
            try:
                ok = len(_pc_repos(new, cfg.name)) == before + 1
            except UsageError:
                ok = False
            if not ok:
                raise UsageError(f"cannot add the mvtools hooks to {cfg.name} automatically; "
                                 "add the entries of templates/pre-commit-config.yaml by hand")
            cfg.write_text(new)
            done.append(f"added the mvtools hooks to {cfg.name}")
    else:
        cfg.write_text(CREATED + "repos:\n" + _pc_block("  "))
        done.append(f"wrote {cfg.name}")
    if any(not _pc_shim(repo, h) for h in HOOK_TYPES):
        done.append(_pre_commit_types(repo, "install", list(HOOK_TYPES)))
    return done


def _pc_shim(repo: Repo, hook: str) -> bool:
    try:
        return "pre-commit" in (hooks_dir(repo) / hook).read_text(errors="replace")
    except OSError:
        return False


def uninstall_pre_commit(repo: Repo) -> list[str]:
    cfg = repo.root / ".pre-commit-config.yaml"
    if not cfg.exists():
        return []
    text = cfg.read_text()
    if PC_BEGIN not in text:
        return []
    start = text.rfind("\n", 0, text.index(PC_BEGIN)) + 1
    end = text.index(PC_END) + len(PC_END)
    nl = text.find("\n", end)
    end = nl + 1 if nl >= 0 else len(text)
    rest = text[:start] + text[end:]
    done = []
    repos = _pc_repos(rest, cfg.name) if "repos:" in rest else []
    if rest.startswith(CREATED) and not repos:
        cfg.unlink()
        done.append(f"removed {cfg.name} (mvtools wrote it)")
        drop = list(HOOK_TYPES)
    else:
        import re

        if not repos:
            rest = re.sub(r"^repos:[ \t]*$", "repos: []", rest, count=1, flags=re.M)
        cfg.write_text(rest)
        done.append(f"removed the mvtools hooks from {cfg.name}")
        used = {st for r in repos if isinstance(r, dict) for h in r.get("hooks") or [] if isinstance(h, dict)
                for st in (h.get("stages") or ["pre-commit"])}
        drop = [h for h in HOOK_TYPES if h != "pre-commit" and h not in used]
    drop = [h for h in drop if _pc_shim(repo, h)]
    if drop:
        done.append(_pre_commit_types(repo, "uninstall", drop))
    return done


def install_hooks(repo: Repo, mode: str) -> list[str]:
    """Install (or reinstall: the repair the hooks print once the environment that
    installed them is gone) the hooks, and point a configured merge driver at this
    environment too."""
    if mode == "git":
        return install_git_hooks(repo) + _mend_merge_driver(repo)
    if mode == "pre-commit":
        return install_pre_commit(repo) + _mend_merge_driver(repo)
    if mode == "none":
        return []
    raise UsageError(f"invalid --hooks {mode!r}: expected git, pre-commit or none")


def _mend_merge_driver(repo: Repo) -> list[str]:
    """The ledger merge driver names a console script like the hooks do: follow it along."""
    now = repo.out("config", "--get", "merge.mvtools-ledger.driver", check=False)
    cmd = merge_driver_command()
    if not now or now == cmd:
        return []
    repo.git("config", "merge.mvtools-ledger.driver", cmd)
    return ["pointed the ledger merge driver at this environment's mvtools"]


def uninstall_hooks(repo: Repo) -> list[str]:
    return uninstall_git_hooks(repo) + uninstall_pre_commit(repo)


def mvtools_command() -> str:
    """The console script of this environment: unlike ``python -m mvtools`` it does not put
    the current directory (the user's repository) on sys.path."""
    script = Path(sys.executable).parent / "mvtools"
    if script.exists():
        return str(script)
    found = shutil.which("mvtools")
    if found:
        return found
    raise InternalError("the mvtools console script is not installed; reinstall mvtools with pip")


def merge_driver_command() -> str:
    return f"'{mvtools_command()}' merge-driver %O %A %B %P"


def install_merge_driver(repo: Repo, registry_dir: str) -> list[str]:
    """.gitattributes names the driver; the git config (which clones do not carry) defines it."""
    done = []
    attrs = repo.root / ".gitattributes"
    line = f"{registry_dir}/**/*.yaml merge=mvtools-ledger"
    text = attrs.read_text() if attrs.exists() else ""
    if line not in text.splitlines():
        attrs.write_text(text + ("" if not text or text.endswith("\n") else "\n") + line + "\n")
        done.append(f"added '{line}' to .gitattributes")
    cmd = merge_driver_command()
    if repo.out("config", "--get", "merge.mvtools-ledger.driver", check=False) != cmd:
        repo.git("config", "merge.mvtools-ledger.name", "mvtools ledger union")
        repo.git("config", "merge.mvtools-ledger.driver", cmd)
        done.append("registered the ledger merge driver in .git/config")
    return done


def init(path: str | Path = ".", scheme: str = "semver", hooks: str = "git", dvc_root: bool = False) -> list[str]:
    """Set the repository up; adopt what GTO and DVC already say there (:mod:`mvtools.adopt`)."""
    if scheme not in ("semver", "timestamp"):
        raise UsageError(f"invalid --scheme {scheme!r}: expected semver or timestamp")
    if hooks not in ("git", "pre-commit", "none"):
        raise UsageError(f"invalid --hooks {hooks!r}: expected git, pre-commit or none")
    from mvtools.adopt import adoption, stages_line

    repo = Repo.discover(path)
    done: list[str] = []
    cfg = repo.root / "mvtools.yaml"
    found = adoption(repo)
    if not cfg.exists():
        text = (data_dir("templates") / "mvtools.yaml").read_text().replace("@SCHEME@", scheme)
        cfg.write_text(text.replace(stages_line(list(DEFAULT_STAGES)), stages_line(found.stages)))
        done.append("wrote mvtools.yaml")
        if found.stages_from:
            done.append(f"adopted the stages {', '.join(found.stages)} from {found.stages_from}")
    from mvtools.config import load_config

    config = load_config(repo.root)  # validates an existing file before anything else
    lacking = [st for st in found.stages if st not in config.stages] if found.stages_from else []
    if lacking:  # an mvtools.yaml written before: promote to these is refused until they are added
        done.append(f"mvtools.yaml's stages: lacks {', '.join(lacking)}, which {found.stages_from} use(s); "
                    "add them there to promote to them")
    reg = repo.root / config.registry_dir
    if not reg.is_dir():
        reg.mkdir(parents=True)
        (reg / ".gitkeep").write_text("")
        done.append(f"created {config.registry_dir}/")
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    if not (repo.root / ".dvc").is_dir() and found.subrepos and not dvc_root:
        done.append(f"left DVC as it is: the DVC projects here are {', '.join(d + '/' for d in found.subrepos)} "
                    "(dvc init --subdir), each used where it is; mvtools init --dvc-root makes the root one too")
    elif not (repo.root / ".dvc").is_dir():
        proc = subprocess.run([tool("dvc"), "init", "-q"], cwd=repo.root, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise InternalError("dvc init failed: " + (proc.stderr or proc.stdout).strip().splitlines()[-1])
        done.append("ran: dvc init")
    local = repo.root / ".dvc" / "config.local"
    if (repo.root / ".dvc").is_dir() and "analytics = false" not in (local.read_text() if local.exists() else ""):
        proc = subprocess.run([tool("dvc"), "config", "--local", "core.analytics", "false"], cwd=repo.root,
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise InternalError("dvc config failed: " + (proc.stderr or proc.stdout).strip())
        done.append("turned DVC analytics off (.dvc/config.local)")
    done += install_merge_driver(repo, config.registry_dir)
    done += install_hooks(repo, hooks)
    from mvtools.hooks import write_watch_file

    write_watch_file(repo, load_config(repo.root))
    return done


def import_hint(path: str | Path = ".") -> str | None:
    """The next step in a GTO repository no ledger records yet: import its history."""
    from mvtools import ledger as L
    from mvtools.adopt import adoption
    from mvtools.config import load_config

    repo = Repo.discover(path)
    found = adoption(repo)
    if not found.gto_tags or L.ledger_files(repo.root, load_config(repo.root, with_dvc=False).registry_dir):
        return None
    return (f"next: this repository holds {found.gto_tags} GTO registry tags; to record their history in the "
            "ledger run: mvtools import-gto")
