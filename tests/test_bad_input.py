"""Bad input: one line on stderr starting `mvtools: error: `, exit 2, no traceback, and
nothing written (work tree, index, refs and tags are the same before and after).
A hook that refuses exits 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from conftest import assert_refused, git, init_repo, mvtools, repo_snapshot, template_copy, template_repo, write_model

_RO: dict[str, Path] = {}


def _build(r: Path) -> None:
    """mvtools set up with git hooks, model `clf` (git-tracked) registered as v0.1.0."""
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n    metrics: [metrics.json]",
              metrics='{"accuracy": 0.8}')
    write_model(r, "models/clf.bin", b"weights-1")
    write_model(r, "models/other.bin", b"other weights")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "clf v1")
    assert "clf@v0.1.0" in git(r, "tag").stdout


# A fresh copy of the template repo (built once per process: `mvtools init` runs DVC).
r = template_repo("bad-input", _build)


@pytest.fixture
def ro(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the template shared by tests that must not write anything (they check it);
    replaced when a test did write, so one product bug cannot spill into other tests."""
    if "ro" not in _RO:
        dest = tmp_path_factory.mktemp("bad-input-ro") / "repo"
        template_copy("bad-input", tmp_path_factory, dest, _build)
        _RO["ro"] = dest
        _SNAP["ro"] = snapshot(dest)
    yield _RO["ro"]
    if snapshot(_RO["ro"]) != _SNAP["ro"]:
        del _RO["ro"]


_SNAP: dict[str, dict[str, object]] = {}


def snapshot(repo: Path) -> dict[str, object]:
    return {**repo_snapshot(repo),
            "ignored": git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored").stdout}


def refused(repo: Path, *args: str, code: int = 2, cwd: Path | None = None,
            env: dict[str, str] | None = None, want: str | None = None) -> str:
    """Run mvtools, expect a one-line error and exit ``code``, and that nothing was written."""
    before = snapshot(repo)
    line = assert_refused(repo, *args, code=code, cwd=cwd, env=env, want=want)
    assert snapshot(repo) == before, f"{args} wrote something"
    return line + "\n"


# -- unknown models and versions ---------------------------------------------------
@pytest.mark.parametrize("args", [
    ["register", "nosuch"],
    ["history", "nosuch"],
    ["history", "nosuch", "--json"],
    ["get", "nosuch"],
    ["get", "nosuch@v0.1.0"],
    ["get", "nosuch#production"],
    ["show", "nosuch"],
    ["show", "nosuch", "--json"],
], ids=lambda a: " ".join(a))
def test_unknown_model(ro: Path, args: list[str]) -> None:
    r = ro
    err = refused(r, *args)
    assert "nosuch" in err


@pytest.mark.parametrize("spec", ["clf@v9.9.9", "clf@0.2.0", "clf#production", "clf@notaversion"])
def test_unknown_version_or_stage(ro: Path, spec: str) -> None:
    r = ro
    refused(r, "get", spec, "-o", "out.bin")


# -- malformed mvtools.yaml ------------------------------------------------------------
BAD_CONFIGS = {
    "bad-yaml-unclosed": "models: [\n",
    "bad-yaml-colons": "scheme: : semver\n",
    "bad-yaml-tab": "models:\n\t- name: x\n",
    "not-utf8": b"models: []\nscheme: \xff\xfe\n",
    "top-level-list": "- name: clf\n  path: models/clf.bin\n",
    "top-level-scalar": "hello\n",
    "models-int": "models: 5\n",
    "models-mapping": "models:\n  clf: models/clf.bin\n",
    "model-not-mapping": "models: [clf]\n",
    "model-no-path": "models:\n  - name: clf\n",
    "model-path-int": "models:\n  - name: clf\n    path: 3\n",
    "model-name-int": "models:\n  - name: 7\n    path: models/clf.bin\n",
    "model-bad-bump": "models:\n  - name: clf\n    path: models/clf.bin\n    bump: huge\n",
    "model-metrics-int": "models:\n  - name: clf\n    path: models/clf.bin\n    metrics: 5\n",
    "model-labels-mapping": "models:\n  - name: clf\n    path: models/clf.bin\n    labels: {a: 1}\n",
    "model-description-list": "models:\n  - name: clf\n    path: models/clf.bin\n    description: [1]\n",
    "model-params-int": "models:\n  - name: clf\n    path: models/clf.bin\n    params: 5\n",
    "scheme-bad": "scheme: calver\n",
    "scheme-int": "scheme: 5\n",
    "stages-string": "stages: production\n",
    "stages-empty": "stages: []\n",
    "stage-bad-name": "stages: [dev, 'has space']\n",
    "registry-dir-abs": "registry_dir: /tmp/registry\n",
    "registry-dir-up": "registry_dir: ../registry\n",
    "duplicate-model": ("models:\n  - name: clf\n    path: models/clf.bin\n"
                        "  - name: clf\n    path: models/other.bin\n"),
    "model-path-outside": "models:\n  - name: clf\n    path: ../clf.bin\n",
    "model-path-abs": "models:\n  - name: clf\n    path: /etc/hostname\n",
    "model-name-space": "models:\n  - name: my model\n    path: models/clf.bin\n",
    # billion laughs: 9 levels of 9 aliases each would expand to 9**9 items
    "alias-bomb": "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 70)),
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
@pytest.mark.parametrize("cmd", [["show"], ["register", "clf"]], ids=lambda c: c[0])
def test_malformed_config(r: Path, name: str, cmd: list[str]) -> None:
    text = BAD_CONFIGS[name]
    (r / "mvtools.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    err = refused(r, *cmd)
    assert "mvtools.yaml" in err


def test_malformed_config_refuses_the_commit(r: Path) -> None:
    """The hook reads mvtools.yaml too: a broken one stops the commit, with the same one line."""
    (r / "mvtools.yaml").write_text("scheme: calver\n")
    git(r, "add", "mvtools.yaml")
    head = git(r, "rev-parse", "HEAD").stdout
    proc = git(r, "commit", "-q", "-m", "break config", check=False)
    assert proc.returncode != 0
    assert "mvtools: error: mvtools.yaml" in proc.stderr and "Traceback" not in proc.stderr
    assert git(r, "rev-parse", "HEAD").stdout == head


def test_dvc_yaml_artifact_conflicts_with_mvtools_yaml(r: Path) -> None:
    (r / "dvc.yaml").write_text("artifacts:\n  clf:\n    path: models/other.bin\n    type: model\n")
    refused(r, "show", want="dvc.yaml")


@pytest.mark.parametrize("text", [
    "artifacts: [clf]\n",
    "artifacts:\n  clf:\n    type: model\n",
    "artifacts:\n  'bad name':\n    path: models/clf.bin\n",
    "artifacts:\n  clf2:\n    path: ../../etc/passwd\n",
    "stages: [\n",
], ids=["list", "no-path", "bad-name", "outside", "bad-yaml"])
def test_malformed_dvc_yaml_artifacts(r: Path, text: str) -> None:
    (r / "dvc.yaml").write_text(text)
    refused(r, "show", want="dvc.yaml")


# -- missing artifacts -----------------------------------------------------------------
def test_missing_artifact_path(r: Path) -> None:
    (r / "models" / "clf.bin").unlink()
    refused(r, "register", "clf", want="models/clf.bin")
    refused(r, "register", "newm", "--path", "models/nope.bin", want="models/nope.bin")


def test_same_bytes_twice_refused(ro: Path) -> None:
    r = ro
    refused(r, "register", "clf", want="already registered")


# -- invalid names ---------------------------------------------------------------------
BAD_NAMES = ["my model", "..", "a/../b", "../x", "-x", "a@b", "a#b", "a!", "a\x01b", "a\tb", "a\nb",
             "modèle", "模型", "", "a-", "_a", "a//b", "/a", "a/", "a.b", "a;b", "$(id)", "a b:c",
             "../up:clf", " "]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_invalid_name_register(ro: Path, name: str) -> None:
    r = ro
    refused(r, "register", "--path", "models/other.bin", "--", name)


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
@pytest.mark.parametrize("cmd", ["show", "history", "get"])
def test_invalid_name_read(ro: Path, name: str, cmd: str) -> None:
    r = ro
    refused(r, cmd, "--", name)


@pytest.mark.parametrize("name", ["my model", "a@b", "a#b", "a!", "modèle", "-x", "a..b"], ids=repr)
def test_invalid_name_in_config(r: Path, name: str) -> None:
    cfg = (r / "mvtools.yaml").read_text() + f"  - name: {name!r}\n    path: models/other.bin\n"
    (r / "mvtools.yaml").write_text(cfg)
    refused(r, "show", want="mvtools.yaml")


# -- paths leaving the repository -----------------------------------------------------
@pytest.mark.parametrize("path", ["../outside.bin", "models/../../outside.bin", "/etc/hostname", "-rf",
                                  "models/link-out", "link-dir/x.bin", "", "models/\x01.bin", "."])
def test_register_path_outside_repo(r: Path, path: str, tmp_path: Path) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"secret")
    (r / "models" / "link-out").symlink_to(outside)
    (r / "link-dir").symlink_to(tmp_path)
    refused(r, "register", "newm", f"--path={path}")


def test_config_path_through_symlink_outside(r: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.bin").write_bytes(b"secret")
    (r / "models" / "link-out").symlink_to(tmp_path / "outside.bin")
    cfg = (r / "mvtools.yaml").read_text() + "  - name: leak\n    path: models/link-out\n"
    (r / "mvtools.yaml").write_text(cfg)
    refused(r, "show", want="mvtools.yaml")


def test_directory_model_with_symlink_leaving_repo(r: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.bin").write_bytes(b"secret")
    write_model(r, "models/dirmodel/w.bin", b"w")
    (r / "models" / "dirmodel" / "leak").symlink_to(tmp_path / "outside.bin")
    # refused by the symlink rule (a git-tracked model holds no links) before the path leaves the repo
    refused(r, "register", "dirm", "--path", "models/dirmodel", want="models/dirmodel/leak: is a symlink")


def test_new_model_taken_version_writes_nothing(r: Path) -> None:
    git(r, "tag", "newm@v1.0.0")
    refused(r, "register", "newm", "--path", "models/other.bin", "--version", "v1.0.0", want="taken")


def test_get_output_in_missing_directory(r: Path) -> None:
    before = snapshot(r)
    proc = mvtools(r, "get", "clf", "-o", "nodir/x.bin", check=False)
    if proc.returncode == 0:  # creating the parent is fine too
        assert (r / "nodir" / "x.bin").read_bytes() == b"weights-1"
        return
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("mvtools: error: ") and len(proc.stderr.splitlines()) == 1
    assert snapshot(r) == before


# -- not a repository ------------------------------------------------------------------
@pytest.mark.parametrize("args", [["show"], ["history", "clf"], ["register", "clf"], ["get", "clf"],
                                  ["init"], ["verify"], ["push"], ["sync-tags"]], ids=lambda a: a[0])
def test_not_a_git_repo(tmp_path: Path, args: list[str]) -> None:
    d = tmp_path / "plain"
    d.mkdir()
    (d / "mvtools.yaml").write_text("models: []\n")
    proc = mvtools(d, *args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("mvtools: error: ") and len(proc.stderr.splitlines()) == 1
    assert "not a git repository" in proc.stderr
    assert sorted(os.listdir(d)) == ["mvtools.yaml"]


def test_dash_c_nonexistent_dir(tmp_path: Path) -> None:
    proc = mvtools(tmp_path, "-C", str(tmp_path / "nope"), "show", check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("mvtools: error: ") and len(proc.stderr.splitlines()) == 1


def test_bare_repository(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "--bare", "b.git")
    proc = mvtools(tmp_path / "b.git", "show", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("mvtools: error: ")
    assert len(proc.stderr.splitlines()) == 1


# -- versions and bumps ----------------------------------------------------------------
@pytest.mark.parametrize("version", ["notsemver", "v1.2", "1", "1.2.3.4", "v01.2.3", "", "vv1.2.3",
                                     "v1.2.3-", "latest", "-v1.0.0", "v1.0.0\nx"], ids=repr)
def test_register_version_not_semver(r: Path, version: str) -> None:
    write_model(r, "models/clf.bin", b"weights-2")
    git(r, "add", "models/clf.bin")
    refused(r, "register", "clf", f"--version={version}")


def test_register_version_taken(r: Path) -> None:
    write_model(r, "models/clf.bin", b"weights-2")
    refused(r, "register", "clf", "--version", "v0.1.0", want="taken")
    refused(r, "register", "clf", "--version", "0.1.0", want="taken")


@pytest.mark.parametrize("bump", ["huge", "", "MAJOR", "patch,minor"], ids=repr)
def test_bad_bump_option(r: Path, bump: str) -> None:
    write_model(r, "models/clf.bin", b"weights-2")
    refused(r, "register", "clf", f"--bump={bump}")


def test_bad_bump_env(r: Path) -> None:
    write_model(r, "models/clf.bin", b"weights-2")
    refused(r, "register", "clf", env={"MVTOOLS_BUMP": "huge"}, want="huge")


def test_bad_bump_env_refuses_commit(r: Path) -> None:
    write_model(r, "models/clf.bin", b"weights-2")
    git(r, "add", "models/clf.bin")
    head = git(r, "rev-parse", "HEAD").stdout
    proc = git(r, "commit", "-q", "-m", "v2", check=False, env={"MVTOOLS_BUMP": "huge"})
    assert proc.returncode != 0
    assert "mvtools: error: invalid bump 'huge'" in proc.stderr and "Traceback" not in proc.stderr
    assert git(r, "rev-parse", "HEAD").stdout == head
    assert git(r, "diff", "--cached", "--name-only").stdout.split() == ["models/clf.bin"]


# -- argparse errors -------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["bogus"], ["--bogus"], ["show", "--bogus"], ["register"], ["get"], ["history"],
    ["register", "clf", "--bump"], ["register", "clf", "--bump", "huge"], ["init", "--scheme", "calver"],
    ["init", "--hooks", "husky"], ["hook", "pre-rebase"],
    ["show", "a", "b"], ["get", "clf", "-o"],
    ["-C"], ["register", "clf", "extra"],
], ids=lambda a: " ".join(a) or "no-args")
def test_argparse_errors_one_line(ro: Path, args: list[str]) -> None:
    r = ro
    err = refused(r, *args)
    assert "usage:" not in err


def test_help_and_version_still_work(ro: Path) -> None:
    r = ro
    assert mvtools(r, "--help").stdout.startswith("usage: mvtools")
    assert mvtools(r, "--version").stdout.startswith("mvtools ")


# -- hook refusals exit 1 --------------------------------------------------------------
def test_hook_refuses_ledger_edit(r: Path) -> None:
    led = r / "registry" / "clf.yaml"
    led.write_text(led.read_text().replace("size: 9", "size: 10"))
    git(r, "add", "registry/clf.yaml")
    before = snapshot(r)
    proc = mvtools(r, "hook", "pre-commit", check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("mvtools: error: commit refused") and len(proc.stderr.splitlines()) == 1
    assert snapshot(r) == before
    proc = git(r, "commit", "-q", "-m", "tamper", check=False)
    assert proc.returncode == 1
    assert "commit refused" in proc.stderr
    assert snapshot(r) == before


def test_hook_refuses_partially_staged_model(r: Path) -> None:
    write_model(r, "models/clf.bin", b"weights-2")
    git(r, "add", "models/clf.bin")
    write_model(r, "models/clf.bin", b"weights-3")
    before = snapshot(r)
    proc = git(r, "commit", "-q", "-m", "partial", check=False)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("mvtools: error: "), proc.stderr
    assert "git add models/clf.bin" in proc.stderr
    assert snapshot(r) == before


# -- input that used to end in exit 3 (issue 9) ----------------------------------------------
def test_a_name_too_long_for_a_file_name(r: Path) -> None:
    write_model(r, "models/other.bin", b"x")
    msg = refused(r, "register", "a" * 300, "--path", "models/other.bin")
    assert "at most 200 bytes between '/'" in msg


def test_a_number_where_dvc_lock_expects_a_list(r: Path) -> None:
    (r / "dvc.yaml").write_text("stages:\n  train:\n    cmd: python train.py\n    outs: [model.pkl]\n"
                                "artifacts:\n  net:\n    path: model.pkl\n    type: model\n")
    (r / "dvc.lock").write_text("schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    deps: 7\n"
                                "    outs:\n    - path: model.pkl\n      md5: 0cc175b9c0f1b6a831c399e269772661\n"
                                "      size: 1\n")
    (r / "model.pkl").write_text("a")
    msg = refused(r, "register", "net")
    assert "dvc.lock: stages.train.deps: expected a list, got int" in msg


def test_a_directory_where_a_ledger_file_should_be(r: Path) -> None:
    (r / "registry" / "clf.yaml").unlink()
    (r / "registry" / "clf.yaml").mkdir()
    for args in (["show", "clf"], ["history", "clf"], ["register", "clf"]):
        assert "registry/clf.yaml: cannot read" in refused(r, *args)
    # all models: the others are shown (none here), the broken one named in one line, exit 1
    proc = mvtools(r, "show", check=False)
    assert proc.returncode == 1 and proc.stdout.split() == ["MODEL", "LATEST", "VERSIONS", "STAGES", "PATH"]
    assert proc.stderr.splitlines() == ["mvtools: error: registry/clf.yaml: cannot read: Is a directory"]


def test_a_directory_where_a_ledger_file_should_be_refuses_the_commit(r: Path) -> None:
    """The pre-commit hook, too, names the directory in one line (it ended in exit 3)."""
    (r / "registry" / "clf.yaml").unlink()
    (r / "registry" / "clf.yaml").mkdir()
    write_model(r, "models/clf.bin", b"weights-2")
    git(r, "add", "models/clf.bin")
    proc = git(r, "commit", "-q", "-m", "clf v2", check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == ["mvtools: error: registry/clf.yaml: cannot read: Is a directory"]


def _one_gigabyte() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
def test_a_ledger_or_config_that_never_ends_is_refused(r: Path, kind: str) -> None:
    """A cloned repository can hold registry/clf.yaml as a symlink to /dev/zero, or a FIFO sit
    there: `show` read it forever (memory growing, or blocked), and so did the shell's Tab.
    Now one line names it, exit 2, at once."""
    for rel in ("registry/clf.yaml", "mvtools.yaml"):
        p = r / rel
        saved = p.read_bytes()
        p.unlink()
        if kind == "fifo":
            os.mkfifo(p)
        else:
            p.symlink_to("/dev/zero")
        proc = subprocess.run([sys.executable, "-m", "mvtools", "show", "clf"], cwd=r, capture_output=True,
                              text=True, timeout=30, preexec_fn=_one_gigabyte)  # /dev/zero: no machine-wide hog
        assert proc.returncode == 2, (rel, proc.stderr)
        assert proc.stderr.splitlines() == [f"mvtools: error: {rel}: cannot read: not a regular file"]
        p.unlink()
        p.write_bytes(saved)
