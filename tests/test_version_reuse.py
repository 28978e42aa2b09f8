"""A version number is never given twice, even when the only thing left holding it is
another model's tag: a commit that registered two models, taken off every branch, with
one model's tag deleted by hand, still holds both models' ledgers (GTO's tags point at it,
verify reads it)."""

from __future__ import annotations

from pathlib import Path

from conftest import git, head, ledger_events, set_up_mvtools, tags, write_model


def test_a_version_held_only_by_another_models_tag_is_not_given_again(repo: Path) -> None:
    r = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin\n"
                             "  - name: net\n    path: models/net.bin")
    write_model(r, "models/clf.bin", "clf 0")
    write_model(r, "models/net.bin", "net 0")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "both v0.1.0")
    base = head(r)
    write_model(r, "models/clf.bin", "clf 1")
    write_model(r, "models/net.bin", "net 1")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "both v0.1.1")
    both = head(r)
    assert tags(r)["clf@v0.1.1"] == both and tags(r)["net@v0.1.1"] == both
    first = next(e for e in ledger_events(r, "clf") if e["version"] == "v0.1.1")
    git(r, "reset", "-q", "--hard", base)  # the commit is on no branch now
    git(r, "tag", "-d", "clf@v0.1.1")  # only net's tag keeps it
    write_model(r, "models/clf.bin", "clf other bytes")
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "clf again")
    assert "registered clf v0.1.2" in proc.stderr, proc.stderr
    again = ledger_events(r, "clf")[-1]
    assert again["version"] == "v0.1.2" and again["sha256"] != first["sha256"]
