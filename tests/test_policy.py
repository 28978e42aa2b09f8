"""Access policy with real git: who may promote into a stage and deploy to an environment;
`mvtools verify --policy` re-checks the history, signatures included (SSH signing)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import git, init_repo, mvtools, refused, template_repo, write_model

POLICY = """\
policy:
  promote:
    production: [alice@example.com, "*@ml-platform.example.com"]
  deploy:
    prod: [alice@example.com]
"""
ENVS = "environments:\n  prod: {}\n  dev: {}\n"


def who(name: str, email: str) -> dict[str, str]:
    return {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
            "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}


ALICE = who("Alice", "alice@example.com")
BOB = who("Bob", "bob@example.com")
CAROL = who("Carol", "carol@ml-platform.example.com")


def build(r: Path) -> None:
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n    metrics: [metrics.json]",
              metrics='{"accuracy": 0.9}')
    (r / "mvtools.yaml").write_text((r / "mvtools.yaml").read_text() + ENVS)
    for i in range(3):
        write_model(r, "models/clf.bin", f"clf {i}\n")
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", f"clf {i}")


r = template_repo("policy", build)


def set_policy(r: Path, text: str = POLICY) -> None:
    with open(r / "mvtools.yaml", "a") as fh:
        fh.write(text)
    git(r, "commit", "-q", "-m", "tighten the policy", "--", "mvtools.yaml")


def last_actor(r: Path) -> str:
    return json.loads(mvtools(r, "history", "clf", "--json").stdout)["events"][-1]["actor"]


@pytest.mark.slow
def test_promote_policy(r: Path) -> None:
    set_policy(r)
    msg = refused(r, ["promote", "clf", "v0.1.0", "production"], 1)  # Test User
    assert "policy" in msg and "test@example.com" in msg
    refused(r, ["promote", "clf", "v0.1.0", "production"], 1, env=BOB)
    mvtools(r, "promote", "clf", "v0.1.0", "staging", env=BOB)  # staging is not in the policy: open
    assert last_actor(r) == "Bob <bob@example.com>"
    mvtools(r, "promote", "clf", "v0.1.0", "production", env=ALICE)
    assert last_actor(r) == "Alice <alice@example.com>"
    assert git(r, "log", "-1", "--format=%ce").stdout.strip() == "alice@example.com"
    mvtools(r, "promote", "clf", "v0.1.1", "production", env=CAROL)  # wildcard entry
    assert last_actor(r) == "Carol <carol@ml-platform.example.com>"
    # rollback of a guarded stage is guarded too
    refused(r, ["rollback", "clf", "--stage", "production"], 1, env=BOB)
    mvtools(r, "rollback", "clf", "--stage", "production", env=ALICE)
    assert json.loads(mvtools(r, "show", "--json").stdout)["models"][0]["stages"]["production"] == "v0.1.0"
    assert mvtools(r, "verify", "--policy").returncode == 0


@pytest.mark.slow
def test_deploy_policy(r: Path) -> None:
    set_policy(r)
    refused(r, ["deploy", "start", "clf", "v0.1.0", "--env", "prod"], 1)
    refused(r, ["deploy", "start", "clf", "v0.1.0", "--env", "prod"], 1, env=CAROL)  # promote rule only
    mvtools(r, "deploy", "start", "clf", "v0.1.0", "--env", "dev", env=BOB)  # open environment
    mvtools(r, "deploy", "start", "clf", "v0.1.0", "--env", "prod", env=ALICE)
    refused(r, ["deploy", "start", "clf", "v0.1.1", "--env", "prod", "--strategy", "canary", "--percent", "10"], 1,
            env=BOB)
    refused(r, ["deploy", "rollback", "clf", "--env", "prod"], 1, env=BOB)
    mvtools(r, "deploy", "start", "clf", "v0.1.1", "--env", "prod", "--strategy", "canary", "--percent", "10",
            env=ALICE)
    for action in (["step", "clf", "--env", "prod", "--by", "10"], ["promote", "clf", "--env", "prod"],
                   ["abort", "clf", "--env", "prod"]):
        refused(r, ["deploy", *action], 1, env=BOB)
    assert mvtools(r, "verify", "--policy").returncode == 0


@pytest.mark.slow
def test_a_policy_applies_from_the_commit_that_introduced_it(r: Path) -> None:
    """Events made before the policy existed stay valid (CI does not go red for ever);
    an event made after it, against it, fails `verify --policy`."""
    mvtools(r, "promote", "clf", "v0.1.0", "production", env=BOB)
    mvtools(r, "deploy", "start", "clf", "v0.1.0", "--env", "prod", env=BOB)
    mvtools(r, "promote", "clf", "v0.1.1", "production", env=ALICE)
    mvtools(r, "promote", "clf", "v0.1.1", "staging", env=BOB)
    assert mvtools(r, "verify", "--policy").returncode == 0
    set_policy(r)
    p = mvtools(r, "verify", "--policy", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    # Bob bypasses the command's check by dropping the policy from his work tree only: the
    # commit that holds his event has the policy, so verify reports it
    committed = (r / "mvtools.yaml").read_text()
    (r / "mvtools.yaml").write_text(committed.split("policy:")[0])
    mvtools(r, "promote", "clf", "v0.1.2", "production", env=BOB)
    mvtools(r, "deploy", "start", "clf", "v0.1.2", "--env", "prod", env=BOB)
    git(r, "checkout", "--", "mvtools.yaml")
    assert git(r, "status", "--porcelain").stdout == ""
    p = mvtools(r, "verify", "--policy", check=False)
    assert p.returncode == 1
    assert "bob@example.com" in p.stdout and "Traceback" not in p.stderr
    doc = json.loads(mvtools(r, "verify", "--policy", "--json", check=False).stdout)
    assert doc["ok"] is False
    pol = [pr for pr in doc["problems"] if pr["kind"].startswith("policy")]
    assert len(pol) == 2 and all("Bob" in pr["message"] and "v0.1.2" in pr["where"] for pr in pol)
    assert {("promote" in pr["where"], "deploy" in pr["where"]) for pr in pol} == {(True, False), (False, True)}


def test_a_policy_change_applies_from_its_commit(r: Path) -> None:
    """Each event is judged by the policy of its own commit: Alice's promote by the first
    policy, Bob's (after the change) by the changed one, though neither policy allows both."""
    set_policy(r, "policy:\n  promote:\n    production: [alice@example.com]\n")
    mvtools(r, "promote", "clf", "v0.1.0", "production", env=ALICE)
    text = (r / "mvtools.yaml").read_text()
    (r / "mvtools.yaml").write_text(text.replace("[alice@example.com]", "[bob@example.com]"))
    git(r, "commit", "-q", "-m", "Bob takes over production", "--", "mvtools.yaml")
    mvtools(r, "promote", "clf", "v0.1.1", "production", env=BOB)
    assert mvtools(r, "verify", "--policy").returncode == 0  # each event under its own commit's policy


def test_verify_policy_signed_reports_unsigned_commits(r: Path) -> None:
    set_policy(r, POLICY + "  signed: true\n")
    mvtools(r, "promote", "clf", "v0.1.0", "production", env=ALICE)
    mvtools(r, "promote", "clf", "v0.1.0", "staging", env=BOB)
    doc = json.loads(mvtools(r, "verify", "--policy", "--json", check=False).stdout)
    sig = [pr for pr in doc["problems"] if pr["kind"] == "policy-signature"]
    assert len(sig) == 2, doc  # every promote event, whatever the stage
    assert mvtools(r, "verify", "--policy", check=False).returncode == 1


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_verify_policy_signed_passes_with_ssh_signatures(r: Path, tmp_path: Path) -> None:
    key = tmp_path / "alice_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f", str(key)], check=True,
                   capture_output=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"alice@example.com {(tmp_path / 'alice_key.pub').read_text().strip()}\n")
    for k, v in (("gpg.format", "ssh"), ("user.signingkey", str(key)), ("commit.gpgsign", "true"),
                 ("gpg.ssh.allowedSignersFile", str(allowed))):
        git(r, "config", k, v)
    set_policy(r, POLICY + "  signed: true\n")
    mvtools(r, "promote", "clf", "v0.1.0", "production", env=ALICE)
    mvtools(r, "deploy", "start", "clf", "v0.1.0", "--env", "prod", env=ALICE)
    assert git(r, "verify-commit", "HEAD", check=False).returncode == 0
    p = mvtools(r, "verify", "--policy", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    # a commit signed by a key the allowed-signers file does not list is reported
    key2 = tmp_path / "mallory_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key2)], check=True, capture_output=True)
    git(r, "config", "user.signingkey", str(key2))
    mvtools(r, "promote", "clf", "v0.1.1", "production", env=ALICE)
    doc = json.loads(mvtools(r, "verify", "--policy", "--json", check=False).stdout)
    assert [pr["kind"] for pr in doc["problems"]] == ["policy-signature"]


def test_a_commit_cannot_widen_the_policy_for_its_own_event(r: Path) -> None:
    """Bob adds himself to the policy in the very commit that holds his promote: the event is
    judged by the policy before that commit too (a commit cannot authorise itself)."""
    set_policy(r, "policy:\n  promote:\n    production: [alice@example.com]\n")
    text = (r / "mvtools.yaml").read_text()
    (r / "mvtools.yaml").write_text(text.replace("[alice@example.com]", "[alice@example.com, bob@example.com]"))
    mvtools(r, "promote", "clf", "v0.1.0", "production", env=BOB)  # the work tree's policy lets him
    if git(r, "status", "--porcelain", "mvtools.yaml").stdout:  # promote left it out: fold it in
        git(r, "commit", "-q", "--amend", "--no-edit", "--", "mvtools.yaml", env={**BOB, "MVTOOLS_SKIP": "1"})
    assert "mvtools.yaml" in git(r, "show", "--name-only", "--format=", "HEAD").stdout
    p = mvtools(r, "verify", "--policy", check=False)
    assert p.returncode == 1 and "<bob@example.com> may not promote" in p.stdout, p.stdout + p.stderr


def test_the_commit_gaining_each_event_is_found_in_bulk_as_one_by_one(git_model_repo: Path) -> None:
    """verify --policy finds every event's commit from one git log per model; it must name
    the commit Registry.commit_holding names for each event: merges (a side branch's events,
    a merge that registers), a revert's restore, cherry-picked events included."""
    from mvtools.registry import Registry

    r = git_model_repo
    for i in range(2):
        write_model(r, "models/clf.bin", f"main {i}\n")
        git(r, "add", "-A")
        git(r, "commit", "-qm", f"main {i}")
    mvtools(r, "promote", "clf", "v0.1.0", "staging")
    git(r, "checkout", "-qb", "side")
    mvtools(r, "promote", "clf", "v0.1.1", "production")
    git(r, "checkout", "-q", "main")
    write_model(r, "models/clf.bin", "main 2\n")
    git(r, "commit", "-qam", "main 2")
    git(r, "merge", "-q", "--no-edit", "side")
    git(r, "checkout", "-qb", "other", "HEAD~1")
    mvtools(r, "promote", "clf", "v0.1.2", "staging")
    git(r, "checkout", "-q", "main")
    git(r, "merge", "-q", "--no-edit", "other")
    mvtools(r, "archive", "clf", "v0.1.0")
    reg = Registry(r)
    events = reg.state("clf").events
    assert len(events) >= 7
    gained = reg.commits_gaining("clf")
    assert {e["id"]: gained.get(e["id"]) for e in events} == {e["id"]: reg.commit_holding("clf", e["id"])
                                                             for e in events}
    assert json.loads(mvtools(r, "verify", "--policy", "--json").stdout)["ok"]
