"""A stateful property test (issue 9, item 10): random sequences of real git and mvtools
operations on a small repository, checked after every step by an oracle that reads git
objects directly (tests/gitoracle.py; it never imports mvtools).

The world: `main` (a repository with two git-tracked models, `a` and `b`, set up with
`mvtools init`), `wt` (a linked worktree of it on branch `side`), `clone` (a second clone,
hooks installed) and `remote.git` (a bare repository, the shared remote of both).

Invariants checked:

* I1, after every step. "Published" means present in the bare remote: every version tag
  seen there binds (model, version) to the sha256 of the model's blob at the tag's commit,
  for ever; no tag ever leaves the remote. Within one repository (main and its worktree
  share refs; the clone has its own) the sha256 a version tag binds never changes, even
  across a delete and re-create (a number is never reused); a version tag always sits on a
  commit that holds its model. After a successful `mvtools push`, every version tag of the
  pushing repository binds what the remote binds. A version tagged in the clone and in
  main with different bytes before either pushed is provisional, not a failure (only
  `mvtools push` may renumber it, and the remote check catches what gets published).
* I2-I4, after every step, where the step ran: `mvtools verify --json` passes, or every
  problem it reports prints a repair (`run: CMD`), each repair runs as printed with exit 0,
  and verify then passes. Finally every place passes verify after its printed repairs.

Steps git refuses (conflicts left unresolved, nothing to commit, a non-fast-forward push)
are aborted and count as no-ops; a hook's refusal is allowed too (I2 "or is refused").
An exit 3 or a traceback from mvtools (a command or a hook) is a failure.

CI runs a small derandomized search (``SEQUENCES`` x ``STEPS``). The nightly search:
``python -m pytest tests/test_state_machine.py --fuzz-sequences 500`` (random seeds;
hypothesis prints the failing steps and a ``@reproduce_failure`` blob). Exploration:
``STATEMACHINE_COLLECT=FILE`` logs each failure with its steps and searches on;
``STATEMACHINE_TOLERATE=kind,...`` (with COLLECT) looks past known kinds; ``STATEMACHINE_SHRINK=0``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, note, reject, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

import gitoracle as O
from conftest import git, init_repo, template_copy, write_model

# STATEMACHINE_SHRINK=0 skips shrinking (each step costs ~1 s; shrinking can take minutes)
SHRINK = os.environ.get("STATEMACHINE_SHRINK", "1") != "0"
# STATEMACHINE_COLLECT=FILE: log every failure to FILE and keep searching (exploration)
COLLECT = os.environ.get("STATEMACHINE_COLLECT")
# with COLLECT only: failure kinds logged but not fatal, e.g. unrepairable_tag-unreachable
TOLERATE = set(os.environ.get("STATEMACHINE_TOLERATE", "").split(",")) - {""} if COLLECT else set()
SEQUENCES, STEPS = 12, 12  # the default run: 12 derandomized sequences (16 took 1 min 42 s to 3 min on 2 cores); --fuzz-sequences N for more
PATHS = {"a": "models/a.bin", "b": "models/b.bin"}
PLACES = ("main", "wt", "clone")
BRANCH = {"main": "main", "wt": "side", "clone": "main"}
# refs each place can merge, cherry-pick from or rebase onto
SOURCES = {"main": ("side", "origin/main", "origin/side"), "wt": ("main", "origin/main", "origin/side"),
           "clone": ("origin/main", "origin/side", "origin/main")}
EDITOR = """import json, os, sys
plan = json.loads(os.environ["SM_PLAN"])
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip() and not l.startswith("#")]
picks = [l for l in lines if l.startswith("pick ")]
out = []
for i in [i for i in plan["order"] if i < len(picks)] + list(range(len(plan["order"]), len(picks))):
    act = plan["actions"][i] if i < len(plan["actions"]) else "pick"
    if act == "drop":
        continue
    out.append(("pick" if act in ("squash", "fixup") and not out else act) + " " + picks[i].split(" ", 1)[1])
open(sys.argv[1], "w").write("\\n".join(out + [l for l in lines if not l.startswith("pick ")]) + "\\n")
"""

places = st.sampled_from(PLACES)
models = st.sampled_from(sorted(PATHS))
contents = st.integers(0, 3)  # a small pool: bytes recur, as in real reverts and merges
stages = st.sampled_from(["staging", "production"])


def _build_template(r: Path) -> None:
    init_repo(r, "".join(f"  - name: {m}\n    path: {p}\n" for m, p in PATHS.items()))
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "set up mvtools")
    for m, p in PATHS.items():
        write_model(r, p, f"{m}-0\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "first versions")


_FAILURES: dict[str, type[AssertionError]] = {}


def _failure(kind: str) -> type[AssertionError]:
    """An AssertionError subclass per kind of failure: hypothesis tells bugs apart by the
    exception's type and line, so each kind is shrunk and reported on its own."""
    name = "".join(c if c.isalnum() else "_" for c in kind)
    return _FAILURES.setdefault(name, type(name, (AssertionError,), {}))


class GitWorld(RuleBasedStateMachine):
    factory: pytest.TempPathFactory

    def __init__(self) -> None:
        super().__init__()
        base = Path(tempfile.mkdtemp(dir=self.factory.getbasetemp()))
        self.base = base
        self.main = template_copy("statemachine", self.factory, base / "main", _build_template)
        self.bare = base / "remote.git"
        self.wt, self.clone = base / "wt", base / "clone"
        self.setup_sha = git(self.main, "rev-parse", "HEAD~1").stdout.strip()
        git(base, "clone", "-q", "--bare", str(self.main), str(self.bare))
        git(self.main, "remote", "add", "origin", str(self.bare))
        git(self.main, "fetch", "-q", "origin")
        git(self.main, "worktree", "add", "-q", "-b", "side", str(self.wt))
        git(base, "clone", "-q", str(self.bare), str(self.clone))
        self.repos = {"main": self.main, "wt": self.wt, "clone": self.clone}
        for cmd in ("install-hooks", "install-merge-driver"):
            self._mv("clone", cmd, expect=(0,))
        (base / "editor.py").write_text(EDITOR)
        self.where, self.settled, self.trace = "main", False, []
        self.bound: dict[tuple[str, str], str | None] = {}  # published: (model, version) -> sha256
        self.remote_tags: set[str] = set()
        self.local: dict[tuple[str, str, str], str | None] = {}  # (repo, model, version) -> sha256

    # -- running things ---------------------------------------------------------------
    def _fail(self, kind: str, message: str) -> None:
        """Fail the sequence; with STATEMACHINE_COLLECT=FILE, log the failure and its steps
        to FILE (one JSON line) and go on searching instead (exploration mode)."""
        if COLLECT:
            with open(COLLECT, "a") as fh:
                fh.write(json.dumps({"kind": kind, "tolerated": kind in TOLERATE, "message": message[:3000],
                                     "steps": self.trace}) + "\n")
            if kind in TOLERATE:
                return
            reject()
        raise _failure(kind)(message)

    def _step(self, p: str) -> None:
        frame = sys._getframe(1)
        args = {k: v for k, v in frame.f_locals.items() if k != "self"}
        self.where = p
        self.trace.append(f"{frame.f_code.co_name}({', '.join(f'{k}={v!r}' for k, v in args.items())})")

    def _run(self, p: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(args, cwd=self.repos[p], capture_output=True, text=True,
                              env={**os.environ, **(env or {})})
        crash = "Traceback" in proc.stderr or "internal error" in proc.stderr or (
            args[0] == "mvtools" and proc.returncode not in (0, 1, 2))
        if crash:
            self._fail(f"crash_{args[0]}_{args[1]}",
                       f"mvtools crashed in {p}: {args} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        if proc.returncode != 0:
            note(f"  {p}: {' '.join(args[:4])} -> {proc.returncode}: {(proc.stderr.strip().splitlines() or [''])[-1]}")
        return proc

    def _git(self, p: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self._run(p, ["git", *args], env)

    def _mv(self, p: str, *args: str, expect: tuple[int, ...] = (0, 1, 2)) -> subprocess.CompletedProcess[str]:
        proc = self._run(p, ["mvtools", *args])
        if proc.returncode not in expect:
            self._fail(f"exit_{args[0]}", f"mvtools {args} in {p}: {proc.returncode}\n{proc.stderr}")
        return proc

    def _clean(self, p: str) -> None:
        """Abort whatever git left half done and drop uncommitted changes (a no-op step)."""
        for op in ("rebase", "merge", "cherry-pick", "revert"):
            if self._in_progress(p, op):
                self._git(p, op, "--abort")
        self._git(p, "reset", "-q", "--hard", "HEAD")
        self._git(p, "clean", "-fdq", "models", "notes.txt")

    def _in_progress(self, p: str, op: str) -> bool:
        name = {"rebase": "rebase-merge", "merge": "MERGE_HEAD", "cherry-pick": "CHERRY_PICK_HEAD",
                "revert": "REVERT_HEAD"}[op]
        path = self._git(p, "rev-parse", "--git-path", name).stdout.strip()
        return (self.repos[p] / path).exists()

    def _commit(self, p: str, *args: str) -> bool:
        proc = self._git(p, "commit", "-q", *args)
        if proc.returncode != 0:
            self._clean(p)
        return proc.returncode == 0

    def _write(self, p: str, model: str, n: int) -> None:
        write_model(self.repos[p], PATHS[model], f"{model}-{n}\n")

    def _own_commits(self, p: str) -> int:
        """First-parent commits above the setup commit (what rebase and reset may touch)."""
        proc = self._git(p, "rev-list", "--count", "--first-parent", f"{self.setup_sha}..HEAD")
        return int(proc.stdout.strip() or 0)

    def _resolve(self, p: str, how: str, n: int) -> bool:
        """Resolve a conflicted merge with one side or new bytes and commit; False if aborted."""
        files = self._git(p, "diff", "--name-only", "--diff-filter=U").stdout.split()
        if how == "abort" or not files or any(f.startswith("registry/") for f in files):
            self._clean(p)
            return False
        for f in files:
            model = next((m for m, path in PATHS.items() if path == f), None)
            if how == "new" and model:
                self._write(p, model, n)
            else:
                self._git(p, "checkout", "--ours" if how in ("ours", "new") else "--theirs", "--", f)
            self._git(p, "add", "--", f)
        return self._commit(p, "--no-edit")

    # -- rules: plain git ---------------------------------------------------------------
    @rule(p=places, model=models, n=contents)
    def commit_model(self, p: str, model: str, n: int) -> None:
        self._step(p)
        self._write(p, model, n)
        self._git(p, "add", PATHS[model])
        self._commit(p, "-m", f"{model} {n}")

    @rule(p=places, model=models, n=contents, m=contents)
    def commit_model_twice(self, p: str, model: str, n: int, m: int) -> None:
        """Two registering commits in a row: what squash, fixup and reorder need."""
        self.commit_model(p, model, n)
        self.commit_model(p, model, m)

    @rule(p=places, n=st.integers(0, 100))
    def commit_other(self, p: str, n: int) -> None:
        self._step(p)
        (self.repos[p] / "notes.txt").write_text(f"{p} {n}\n")
        self._git(p, "add", "notes.txt")
        self._commit(p, "-m", f"notes {n}")

    @rule(p=places, model=st.none() | models, n=contents)
    def amend(self, p: str, model: str | None, n: int) -> None:
        self._step(p)
        if model:
            self._write(p, model, n)
            self._git(p, "add", PATHS[model])
        self._commit(p, "--amend", "--no-edit", "--allow-empty")

    @rule(p=places, k=st.integers(1, 2), model=st.none() | models, n=contents)
    def reset_soft_and_commit(self, p: str, k: int, model: str | None, n: int) -> None:
        self._step(p)
        if self._own_commits(p) < k:
            return
        self._git(p, "reset", "-q", "--soft", f"HEAD~{k}")
        if model:
            self._write(p, model, n)
            self._git(p, "add", PATHS[model])
        self._commit(p, "-m", f"reset {k}")

    @rule(p=places, k=st.integers(2, 3), order=st.permutations(range(3)),
          actions=st.lists(st.sampled_from(["pick", "squash", "fixup", "drop"]), min_size=3, max_size=3))
    def rebase_interactive(self, p: str, k: int, order: list[int], actions: list[str]) -> None:
        self._step(p)
        if self._own_commits(p) < k:
            return
        plan = json.dumps({"order": list(order)[:k], "actions": actions[:k]})
        proc = self._git(p, "rebase", "-q", "-i", f"HEAD~{k}", env={
            "GIT_SEQUENCE_EDITOR": f"{sys.executable} {self.base / 'editor.py'}", "SM_PLAN": plan,
            "GIT_EDITOR": "true"})
        if proc.returncode != 0:
            self._clean(p)

    @rule(p=places, src=st.integers(0, 2), how=st.sampled_from(["abort", "ours", "theirs", "new"]), n=contents)
    def merge(self, p: str, src: int, how: str, n: int) -> None:
        self._step(p)
        ref = SOURCES[p][src]
        if ref.startswith("origin/"):
            self._git(p, "fetch", "-q", "origin")
        if self._git(p, "rev-parse", "-q", "--verify", ref).returncode != 0:
            return
        if self._git(p, "merge", "-q", "--no-edit", ref).returncode != 0:
            self._resolve(p, how, n)

    @rule(p=places, src=st.integers(0, 2), back=st.integers(0, 2))
    def cherry_pick(self, p: str, src: int, back: int) -> None:
        self._step(p)
        ref = SOURCES[p][src]
        if ref.startswith("origin/"):
            self._git(p, "fetch", "-q", "origin")
        if self._git(p, "cherry-pick", f"{ref}~{back}").returncode != 0:
            self._clean(p)

    @rule(p=places, back=st.integers(0, 2))
    def revert(self, p: str, back: int) -> None:
        self._step(p)
        if self._own_commits(p) <= back:
            return
        if self._git(p, "revert", "--no-edit", f"HEAD~{back}").returncode != 0:
            self._clean(p)

    @rule(p=places, model=models, n=contents, merge_back=st.booleans())
    def detached_commit(self, p: str, model: str, n: int, merge_back: bool) -> None:
        self._step(p)
        self._git(p, "checkout", "-q", "--detach")
        self._write(p, model, n)
        self._git(p, "add", PATHS[model])
        made = self._commit(p, "-m", f"detached {model} {n}")
        detached = self._git(p, "rev-parse", "HEAD").stdout.strip()
        self._git(p, "checkout", "-q", BRANCH[p])
        if made and merge_back and self._git(p, "merge", "-q", "--no-edit", detached).returncode != 0:
            self._clean(p)

    @rule(p=places, model=models, n=contents, m=st.integers(0, 100))
    def stash(self, p: str, model: str, n: int, m: int) -> None:
        self._step(p)
        self._write(p, model, n)
        if self._git(p, "stash", "-q").returncode != 0:
            return self._clean(p)
        self.commit_other(p, m)
        if self._git(p, "stash", "pop", "-q").returncode != 0:
            return self._clean(p)
        self._commit(p, "-a", "-m", f"stashed {model} {n}")

    @rule(p=places)
    def git_push(self, p: str) -> None:
        self._step(p)
        self._git(p, "push", "-q", "--atomic", "--follow-tags", "origin", f"HEAD:refs/heads/{BRANCH[p]}")

    @rule(p=places)
    def git_pull(self, p: str) -> None:
        self._step(p)
        if self._git(p, "pull", "-q", "--no-rebase", "--no-edit", "origin", BRANCH[p]).returncode != 0:
            self._clean(p)

    # -- rules: mvtools ---------------------------------------------------------------
    @rule(p=places)
    def mvtools_push(self, p: str) -> None:
        self._step(p)
        if self._mv(p, "push").returncode == 0:
            # every version the pushed branch holds is on the remote, bound alike; a version only
            # another local branch holds (a worktree's) stays local: push sends its branch's tags
            remote = O.bindings(self.bare, PATHS)
            for key, byname in O.bindings(self.repos[p], PATHS).items():
                for tag, sha in byname.items():
                    theirs = remote.get(key, {}).get(tag)
                    on_branch = self._git(p, "merge-base", "--is-ancestor", f"{tag}^{{commit}}", "HEAD").returncode == 0
                    if theirs != sha and (theirs is not None or on_branch):
                        self._fail("I1_push", f"I1: after mvtools push, {p}'s {tag} binds {sha}, the remote {remote.get(key)}")
            # a number this clone held provisionally (never pushed) and push renumbered now names
            # the published bytes here too: the published binding is the one I1 keeps from now on
            group = "clone" if p == "clone" else "main"
            for key, byname in remote.items():
                for sha in byname.values():
                    if sha is not None:
                        self.local[(group, *key)] = sha

    @rule(p=places, model=models, n=contents)
    def register(self, p: str, model: str, n: int) -> None:
        self._step(p)
        self._write(p, model, n)
        if self._mv(p, "register", model).returncode != 0:
            self._git(p, "checkout", "-q", "HEAD", "--", PATHS[model])

    def _version(self, p: str, model: str, i: int) -> str | None:
        vs = sorted({v for (m, v) in O.bindings(self.repos[p], PATHS) if m == model})
        return vs[i % len(vs)] if vs else None

    @rule(p=places, model=models, i=st.integers(0, 5), stage=stages)
    def promote(self, p: str, model: str, i: int, stage: str) -> None:
        self._step(p)
        v = self._version(p, model, i)
        if v:
            self._mv(p, "promote", model, v, stage)

    @rule(p=places, model=models, i=st.integers(0, 5))
    def archive(self, p: str, model: str, i: int) -> None:
        self._step(p)
        v = self._version(p, model, i)
        if v:
            self._mv(p, "archive", model, v)

    @rule(p=places)
    def sync_tags(self, p: str) -> None:
        self._step(p)
        self._mv(p, "sync-tags")

    # -- the oracle -------------------------------------------------------------------
    def _i1(self) -> None:
        remote = O.bindings(self.bare, PATHS)
        names = {t for byname in remote.values() for t in byname}
        if not self.remote_tags <= names:
            self._fail("I1_remote_lost", f"I1: tags left the remote: {sorted(self.remote_tags - names)}")
        self.remote_tags |= names
        for key, byname in remote.items():
            for tag, sha in byname.items():
                first = self.bound.setdefault(key, sha)
                if sha != first:
                    self._fail("I1_remote_rebound", f"I1: the remote's {tag} binds {sha}, first published as {first}")
        for group in ("main", "clone"):
            for key, byname in O.bindings(self.repos[group], PATHS).items():
                for tag, sha in byname.items():
                    if sha is None:
                        self._fail("I1_tag_without_bytes", f"I1: {group}: {tag} sits on a commit without {PATHS[key[0]]}")
                    first = self.local.setdefault((group, *key), sha)
                    if sha != first:
                        self._fail("I1_local_rebound", f"I1: {group}: {tag} binds {sha[:12]}, first bound to {first and first[:12]}")

    def _verified(self, p: str) -> None:
        """verify passes, or its printed repairs run as printed make it pass."""
        rc, doc, err = O.verify(self.repos[p])
        if rc not in (0, 1) or "Traceback" in err:
            self._fail("crash_verify", f"verify crashed in {p} ({rc}): {err}")
        if rc == 0:
            return
        problems = doc.get("problems", [])
        cmds, bare = O.hints(problems)
        note(f"  verify in {p}: {[(q['kind'], q['where']) for q in problems]}; repairs {cmds}")
        for q in bare:  # one failure class per kind: hypothesis reports distinct bugs apart
            self._fail(f"unrepairable_{q['kind']}", f"verify in {p} reports problems with no repair: "
                                                         f"{json.dumps(bare, indent=1)}")
        for cmd in cmds:
            proc = O.shell(self.repos[p], cmd)
            if proc.returncode != 0:
                self._fail(f"repair_fails_{cmd}", f"repair {cmd!r} in {p} failed ({proc.returncode}): {proc.stderr}")
        rc2, doc2, err2 = O.verify(self.repos[p])
        left = [q for q in doc2.get("problems", []) if f"unrepairable_{q['kind']}" not in TOLERATE]
        if rc2 != 0 and left:
            kinds = sorted({q["kind"] for q in left})
            self._fail(f"unrepaired_{'_'.join(kinds)}",
                       f"verify in {p} still fails after {cmds}: {json.dumps(doc2.get('problems'), indent=1)} {err2}")
        self._i1()

    @invariant()
    def oracle(self) -> None:
        self.settled = False
        self._i1()
        self._verified(self.where)
        self.settled = True

    def teardown(self) -> None:
        if COLLECT:  # count the sequences an exploration ran
            with open(COLLECT, "a") as fh:
                fh.write(json.dumps({"kind": "sequence", "tolerated": True, "steps": self.trace}) + "\n")
        try:
            for p in PLACES if self.settled else ():  # (not after a failure: it is reported)
                self._verified(p)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


@pytest.mark.slow
def test_git_workflows_keep_the_invariants(tmp_path_factory: pytest.TempPathFactory,
                                           request: pytest.FixtureRequest) -> None:
    GitWorld.factory = tmp_path_factory
    fuzz = request.config.getoption("--fuzz-sequences")
    opts = dict(max_examples=fuzz, stateful_step_count=STEPS * 2, derandomize=False) if fuzz else \
        dict(max_examples=SEQUENCES, stateful_step_count=STEPS, derandomize=True)
    phases = [ph for ph in Phase if SHRINK or ph not in (Phase.shrink, Phase.explain)]
    run_state_machine_as_test(GitWorld, settings=settings(
        deadline=None, database=None, print_blob=True, phases=phases,
        suppress_health_check=list(HealthCheck), **opts))  # type: ignore[arg-type]
