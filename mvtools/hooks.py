"""The git hooks: pre-commit registers, post-commit tags, post-rewrite keeps tags on the
commits that hold their versions. Only light modules are imported here."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvtools import ledger as L
from mvtools import transaction as T
from mvtools.artifacts import INDEX, Record, Source, find_record
from mvtools.config import CONFIG_FILE, Config, Model, dvc_yaml_files, load_config
from mvtools.errors import CheckFailed, UsageError
from mvtools.gitops import Repo, git_ancestors
from mvtools.versioning import parse_tag, register_message

if TYPE_CHECKING:  # the hooks import registry only when they register or tag
    from mvtools.registry import Registry

STATIC_WATCH = r"(^|/)dvc\.(lock|yaml)$|\.dvc$|^mvtools\.yaml$"


_CACHES: dict[Path, L.LedgerCache] = {}


def _ledger(repo: Repo, data: bytes, source: str, model: str | None = None) -> L.Ledger:
    """Parse a ledger blob through the shared cache: the hooks read the same blobs that
    `show`, the next commit's hook and each other read, so each is parsed once."""
    cache = _CACHES.get(repo.common_dir)
    if cache is None:
        cache = _CACHES[repo.common_dir] = L.LedgerCache(repo.ledger_cache_dir)
    return cache.load(data, source, model)


def _say(msg: str) -> None:
    print(f"mvtools: {msg}", file=sys.stderr)


def _ere_escape(text: str) -> str:
    """Escape for POSIX extended regexes (grep -E) and Python alike."""
    return "".join("\\" + c if c in ".[]()*+?{}|^$\\" else c for c in text)


def watch_regex(cfg: Config) -> str:
    parts = [STATIC_WATCH, "^" + _ere_escape(cfg.registry_dir) + "/"]
    parts += ["^" + _ere_escape(p) + "(/|$)" for p in cfg.watched_paths()]
    return "|".join(parts)


def write_watch_file(repo: Repo, cfg: Config) -> None:
    """The regex the shell hooks match staged paths against before starting Python."""
    f = repo.watch_file  # per worktree: each may have its own mvtools.yaml
    text = watch_regex(cfg) + "\n"
    try:
        if not f.exists() or f.read_text() != text:
            L.atomic_write(f, text.encode())
        else:
            os.utime(f)
    except Exception:  # noqa: BLE001 - an optimisation only
        pass


def _touches(model: Model, changed: set[str], lock_changed: bool) -> bool:
    """Could this change have changed the model's recorded content?"""
    if lock_changed or model.path + ".dvc" in changed or model.path in changed:
        return True
    prefix = model.path + "/"
    return any(p.startswith(prefix) for p in changed)


def _model_change(cfg: Config, model: Model, new: Source, old: Source, dvcy: list[str], changed: set[str],
                  locks: bool) -> tuple[bool, Record | None]:
    """Did the model's content change between ``old`` and ``new``? (and its record in ``new``:
    the .dvc/dvc.lock entry, or None when git tracks the model directly)"""
    if not _touches(model, changed, locks):
        return False, None
    rec = find_record(cfg, new, model, dvcy)
    if rec is not None:
        before = find_record(cfg, old, model, dvcy)
        return before is None or before.md5 != rec.md5, rec
    prefix = model.path + "/"
    return any(p == model.path or p.startswith(prefix) for p in changed), None


def _lock_changed(changed: set[str]) -> bool:
    return any(p == "dvc.lock" or p.endswith("/dvc.lock") for p in changed)


def _relevant(paths: list[str], cfg: Config) -> bool:
    rx = re.compile(watch_regex(cfg))
    return any(rx.search(p) for p in paths)


def _amending(repo: Repo) -> bool:
    """Is the running ``git commit`` an ``--amend``? Git tells hooks only through argv."""
    for argv in git_ancestors():
        if b"commit" in argv:
            # git accepts unambiguous prefixes of long options: --am, --ame, --amen, --amend
            return any(a.startswith(b"--am") and b"--amend".startswith(a) for a in argv)
    return False


def pre_commit(repo: Repo) -> int:
    if os.environ.get("MVTOOLS_SKIP") == "1":
        return 0
    head = repo.head
    amend = head is not None and _amending(repo)
    base = repo.rev_parse("HEAD^") if amend else head
    staged = repo.changed_paths(base, cached=True)
    cfg = load_config(repo.root)
    write_watch_file(repo, cfg)
    if not staged or not _relevant(staged, cfg):
        return 0
    _check_ledgers(repo, cfg, base, staged)
    if os.environ.get("MVTOOLS_REGISTERING") == "1":
        return 0  # a commit made by mvtools itself, which holds the registry lock
    from mvtools.registry import Registry

    reg = Registry(repo=repo, config=cfg)
    _driver_hint(repo)  # said here: post-commit tags in shell, without Python
    dvcy = dvc_yaml_files(repo.root)
    idx = Source(repo, INDEX)
    old = Source(repo, base)
    staged_set = set(staged)
    locks = _lock_changed(staged_set)
    owner = T.commit_owner()
    with L.lock(repo.common_dir):
        T.clear_pending(repo)  # an earlier attempt's (aborted) lines: this attempt decides anew
        if amend:
            _drop_stale_pending(repo, cfg, base, idx, old, dvcy)
        for model in cfg.models.values():
            changed, rec = _model_change(cfg, model, idx, old, dvcy, staged_set, locks)
            if not changed:
                continue
            if rec is None:
                # committed to git directly: the index must be what gets hashed
                dirty = repo.git("diff", "--quiet", "--", model.path, check=False).returncode
                if dirty:
                    raise CheckFailed(
                        f"model {model.name}: {model.path} differs between the index and the work tree; "
                        f"stage all of it (git add {model.path}) or none of it")
                if not (repo.root / model.path).exists():
                    continue  # the model was deleted: nothing to register
            _register_staged(repo, reg, cfg, model, rec, idx, base, owner)
    return 0


def _drop_stale_pending(repo: Repo, cfg: Config, base: str | None, idx: Source, old: Source,
                        dvcy: list[str]) -> None:
    """An amend that takes a model change back out also takes its pending event out."""
    for model in cfg.models.values():
        ledger_rel = cfg.ledger_path(model)
        staged_bytes = repo.show_blob(":" + ledger_rel)
        if not staged_bytes:
            continue
        base_bytes = repo.show_blob(f"{base}:{ledger_rel}") if base else None
        base_ids = set(_ledger(repo, base_bytes, ledger_rel).ids) if base_bytes else set()
        staged_led = _ledger(repo, staged_bytes, ledger_rel, model.name)
        pending = [e for e in staged_led.events if e["id"] not in base_ids]
        if not any(e["event"] == "register" for e in pending):
            continue
        rec, before = find_record(cfg, idx, model, dvcy), find_record(cfg, old, model, dvcy)
        if rec is not None:
            unchanged = before is not None and before.md5 == rec.md5
        else:
            unchanged = repo.blob_ids(None, [model.path]) == (repo.blob_ids(base, [model.path]) if base else {})
        if not unchanged:
            continue
        keep = [e for e in pending if e["event"] != "register"]
        new = (base_bytes or L.header(model.name).encode()) + L.render_events(keep).encode()
        path = repo.root / ledger_rel
        if base_bytes is None and not keep:
            path.unlink(missing_ok=True)
            repo.git("rm", "-q", "--cached", "--", ledger_rel, check=False)
        else:
            L.atomic_write(path, new)
            repo.git("add", "--", ledger_rel)
        _say(f"amend: {model.name} no longer changes in this commit; its pending version is dropped")


def _check_ledgers(repo: Repo, cfg: Config, base: str | None, staged: list[str]) -> None:
    merge_head = repo.rev_parse("MERGE_HEAD")
    parents = [base, merge_head] if merge_head else [base]
    problems = []
    for p in staged:
        if not L.is_ledger_path(cfg.registry_dir, p):
            continue
        new = repo.show_blob(":" + p)
        if new is not None:
            try:
                _ledger(repo, new, p)
            except Exception as exc:  # noqa: BLE001 - reported as one line
                problems.append(str(exc))
                continue
        olds = [repo.show_blob(f"{rev}:{p}") if rev else None for rev in parents]
        why = L.check_ledger_change(olds, new, p, lambda data, src: _ledger(repo, data, src))
        if why:
            problems.append(why)
    if problems:
        raise CheckFailed("commit refused: " + "; ".join(problems)
                          + " (ledgers are append-only; restore with: git checkout HEAD -- "
                          + cfg.registry_dir + ")")


def _register_staged(repo: Repo, reg: Registry, cfg: Config, model: Model, rec: Record | None, idx: Source,
                     base: str | None, owner: dict[str, Any]) -> None:
    """Append the model's register event to the staged ledger and reserve its version for
    this commit; post-commit confirms it with the tag (mvtools.transaction)."""
    from mvtools.reading import read_ledger_file  # loaded with the registry already

    ledger_rel = cfg.ledger_path(model)
    path = repo.root / ledger_rel
    staged_bytes = repo.show_blob(":" + ledger_rel)
    base_bytes = repo.show_blob(f"{base}:{ledger_rel}") if base else None
    wt_bytes = read_ledger_file(repo.root, ledger_rel)
    if wt_bytes != staged_bytes and wt_bytes is not None and staged_bytes is not None:
        raise CheckFailed(f"{ledger_rel} has unstaged changes; stage or drop them first")
    base_led = _ledger(repo, base_bytes, ledger_rel, model.name) if base_bytes else L.Ledger(model.name)
    staged_led = _ledger(repo, staged_bytes, ledger_rel, model.name) if staged_bytes else L.Ledger(model.name)
    base_ids = set(base_led.ids)
    pending = [e for e in staged_led.events if e["id"] not in base_ids]
    from mvtools.registering import large_git_model  # loaded with the registry already

    d = reg.digest(model, rec)
    warning = large_git_model(cfg, model, rec, d)
    if warning:
        _say(f"warning: {warning}")
    mine = next((e for e in pending if e["event"] == "register" and e["sha256"] == d.sha256), None)
    if mine is not None and T.version_free(repo, ledger_rel, mine, owner):
        ev = mine  # staged already (a retried commit, an amend): keep its number
    else:
        if mine is not None:
            _say(f"{model.name} {mine['version']} was taken by another commit since it was staged; "
                 "renumbering")
        keep = [e for e in pending if not (e["event"] == "register")]
        ev = reg.new_event(model, d, rec, idx, pending=pending)
        new = (base_bytes or L.header(model.name).encode()) + L.render_events([*keep, ev]).encode()
        L.atomic_write(path, new)
        repo.git("add", "--", ledger_rel)
    if ev["tag"] in repo.tags(ev["tag"]):
        return  # an amend of the commit that holds it: its tag stays (post-rewrite moves it)
    reservation = T.reserve(repo, ev, owner)
    T.add_pending(repo, ev, owner, ledger_rel, reservation, register_message(ev["model"], ev["version"]))


def _driver_hint(repo: Repo) -> None:
    """git config does not travel with a clone: say how to add the merge driver."""
    attrs = repo.root / ".gitattributes"
    try:
        if "merge=mvtools-ledger" not in attrs.read_text():
            return
    except OSError:
        return
    if not repo.out("config", "--get", "merge.mvtools-ledger.driver", check=False):
        _say("note: this clone has no ledger merge driver configured; run: mvtools init "
             "(or: mvtools install-merge-driver)")


def post_commit(repo: Repo) -> int:
    if os.environ.get("MVTOOLS_SKIP") == "1":
        return 0
    T.clear_pending(repo)  # what the shell hook did not tag is tagged below
    head = repo.head
    if head is None:
        return 0
    parents = repo.out("rev-list", "--parents", "-n", "1", head).split()[1:]
    changed = repo.changed_paths(parents[0] if parents else None, head)
    cfg = load_config(repo.root)
    if not _relevant(changed, cfg):
        return 0
    from mvtools.registry import Registry

    reg = Registry(repo=repo, config=cfg)
    registered: set[str] = set()
    for p in changed:
        if L.is_ledger_path(cfg.registry_dir, p):
            registered |= _tag_new_versions(repo, reg, head, parents, p)
    if os.environ.get("MVTOOLS_REGISTERING") != "1":
        _warn_unregistered(repo, cfg, head, parents[0] if parents else None, changed, registered)
    return 0


def _tag_new_versions(repo: Repo, reg: "Registry", head: str, parents: list[str], p: str) -> set[str]:
    """Tag the register events HEAD's ledger ``p`` gained over its parents, confirming their
    reservations; warn when a one-parent commit rewrote the ledger. Returns their models."""
    data = repo.show_blob(f"{head}:{p}")
    if data is None:
        return set()
    try:
        led = _ledger(repo, data, p)
    except Exception as exc:  # noqa: BLE001
        _say(f"warning: {exc}")
        return set()
    olds = [repo.show_blob(f"{par}:{p}") for par in parents]
    if len(parents) == 1:  # a merge's union is for the pre-commit hook and verify to judge
        dropped = L.check_ledger_change(olds, data, p, lambda d, src: _ledger(repo, d, src))
        if dropped:
            _say(f"warning: commit {head[:12]} rewrote the ledger ({dropped}); to keep it append-only run: "
                 f"git checkout HEAD^ -- {p} && git commit --amend --no-edit --allow-empty")
    before: set[str] = set()
    for old in olds:
        if old:
            try:
                before.update(_ledger(repo, old, p).ids)
            except Exception:  # noqa: BLE001
                pass
    models = set()
    for ev in led.events:
        if ev["id"] in before or ev["event"] != "register":
            continue
        models.add(ev["model"])
        where, created = reg.tag_event(ev, head)
        T.release(repo, ev)  # the reservation is confirmed by the tag
        if created:
            _say(T.registered_line(ev))
        elif where != head and not _amending(repo):  # an amend: post-rewrite moves the tag next
            _say(f"note: tag {ev['tag']} stays on {where[:12]}, the commit that first held it")
    _restore_index(repo, p, data)
    return models


def _warn_unregistered(repo: Repo, cfg: Config, head: str, p1: str | None, changed: list[str],
                       registered: set[str]) -> None:
    """A model changed without a register event: the commit skipped the pre-commit hook."""
    dvcy = dvc_yaml_files(repo.root)
    new_src, old_src = Source(repo, head), Source(repo, p1)
    changed_set = set(changed)
    locks = _lock_changed(changed_set)
    for model in cfg.models.values():
        if model.name in registered:
            continue
        model_changed, rec = _model_change(cfg, model, new_src, old_src, dvcy, changed_set, locks)
        if not model_changed or (rec is None and not (repo.root / model.path).exists()):
            continue
        _say(f"warning: commit {head[:12]} changed model {model.name} without registering it; "
             f"run: mvtools register {model.name}")


def _restore_index(repo: Repo, rel: str, committed: bytes) -> None:
    """After ``git commit PATH`` git keeps its own index; put the committed ledger in it."""
    idx = os.environ.get("GIT_INDEX_FILE")
    if idx and Path(idx if os.path.isabs(idx) else repo.root / idx).resolve() != (repo.git_dir / "index").resolve():
        return  # a temporary index: not the one the user sees
    try:
        wt = (repo.root / rel).read_bytes()
    except OSError:
        return
    if wt == committed and repo.show_blob(":" + rel) != committed:
        repo.git("add", "--", rel, check=False)


def post_rewrite(repo: Repo, command: str | None, mapping: str | None) -> int:
    """Keep version tags on commits that hold their versions after an amend or rebase."""
    if os.environ.get("MVTOOLS_SKIP") == "1":
        return 0
    olds: set[str] | None = None
    if mapping:
        olds = {line.split()[0] for line in mapping.splitlines() if line.strip()}
    tags = repo.tags()
    cfg = load_config(repo.root, with_dvc=False)
    from mvtools.registry import Registry

    reg = Registry(repo=repo, config=cfg)
    head = repo.head
    if head is None:
        return 0
    for tag, (commit, _when) in sorted(tags.items()):
        pt = parse_tag(tag)
        if pt is None or pt.kind != "version":
            continue
        if olds is not None and commit not in olds:
            continue
        if repo.is_ancestor(commit, head):
            continue
        if olds is None and repo.on_a_branch(commit):
            continue  # still on some branch: not ours to move
        st = reg.states().get(pt.model)
        ev = st.versions.get(pt.version or "") if st else None
        target = reg.commit_holding(pt.model, ev["id"]) if ev and ev["tag"] == tag else None
        if target:
            msg = repo.out("tag", "-l", "--format=%(contents:subject)", tag) or \
                register_message(pt.model, pt.version or "")
            repo.create_tag(tag, target, msg, force=True)
            _say(f"moved tag {tag} to {target[:12]} ({command or 'rewrite'})")
        else:
            repo.delete_tag(tag)
            _say(f"deleted tag {tag}: no commit on this branch holds that version any more "
                 f"({command or 'rewrite'} replaced it)")
    return 0


def pre_push(repo: Repo, stdin: str) -> int:
    """Refuse to push version tags whose artifacts the DVC remote lacks (or push them first)."""
    if os.environ.get("MVTOOLS_SKIP") == "1":
        return 0
    refs = []
    for line in stdin.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0].startswith("refs/tags/") and set(parts[1]) != {"0"}:
            refs.append(parts[0][len("refs/tags/"):])
    if not refs and os.environ.get("PRE_COMMIT_LOCAL_BRANCH", "").startswith("refs/tags/"):
        refs.append(os.environ["PRE_COMMIT_LOCAL_BRANCH"][len("refs/tags/"):])
    cfg = load_config(repo.root)
    mode = cfg.push.dvc
    if mode == "off":
        return 0
    from mvtools.registry import Registry

    reg = Registry(repo=repo, config=cfg)
    states, broken = reg.readable_states()  # a broken ledger holds back its own tags only
    wanted = []
    for tag in refs:
        pt = parse_tag(tag)
        if pt is None or pt.kind != "version":
            continue
        if pt.model in broken:
            raise broken[pt.model]
        st = states.get(pt.model)
        ev = st.versions.get(pt.version or "") if st else None
        if ev is not None and ev.get("md5"):
            wanted.append(ev)
    if not wanted:
        return 0
    from mvtools import dvcio

    missing = dvcio.missing_in_remote(reg, wanted)
    if missing and mode == "auto":
        dvcio.push_events(reg, missing)
        missing = dvcio.missing_in_remote(reg, missing)
    if missing:
        names = ", ".join(ev["tag"] for ev in missing)
        raise CheckFailed(f"refusing to push {names}: the artifact is not in the DVC remote; run: mvtools push "
                          "(or set push: {dvc: auto} in mvtools.yaml)")
    return 0


def run(hook: str, args: list[str]) -> int:
    repo = Repo.discover(".")
    if hook == "pre-commit":
        return pre_commit(repo)
    if hook == "post-commit":
        return post_commit(repo)
    if hook == "post-rewrite":
        mapping = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
        command = args[0] if args else os.environ.get("PRE_COMMIT_REWRITE_COMMAND")
        return post_rewrite(repo, command, mapping or None)
    if hook == "pre-push":
        return pre_push(repo, "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read())
    raise UsageError(f"unknown hook {hook!r}: expected pre-commit, post-commit, post-rewrite or pre-push")


__all__ = ["run", "pre_commit", "post_commit", "post_rewrite", "CONFIG_FILE"]
