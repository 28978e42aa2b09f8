"""GTO's whole tag grammar and GTO's order, beside mvtools.

The pure tests fold events imported from GTO (``imported_from: gto``) out of file order and
check what ``gto show`` would say (gto/base.py: a version is active while its last
registration/deregistration is a registration, a stage is held by the version assigned most
recently among the active assignments of active versions, a cancellation in the same second
wins). The slow ones run the real ``gto`` beside mvtools: counter tags (``gto`` without
``--simple``) and simple ones, deregistration and deprecation, stage tags older than their
version tag, and compare ``gto show --json`` with ``mvtools show --json --all``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import BIN, commit_model, git, gto_show, mvtools, run, set_up_mvtools, tags, write_model
from mvtools.state import fold
from mvtools.versioning import counter_form, is_tag_of, new_tag

T = "2024-01-01T00:00:%02dZ"


def imp(kind: str, sec: int, tag: str, **kw: Any) -> dict[str, Any]:
    return {"event": kind, "model": "clf", "timestamp": T % sec, "tag": tag, "imported_from": "gto", **kw}


# -- the fold: GTO's order, not file position -------------------------------------------------
def test_imported_events_fold_by_tag_time_and_a_stage_tag_may_precede_its_version_tag() -> None:
    evs = [imp("promote", 5, "clf#prod#3", version="v1.0.0", stage="prod"),
           imp("register", 9, "clf@v1.0.0#4", version="v1.0.0"),   # tagged after the stage tag
           imp("register", 1, "clf@v0.9.0#1", version="v0.9.0"),
           imp("promote", 2, "clf#prod#2", version="v0.9.0", stage="prod")]
    s = fold("clf", evs)
    assert s.latest == "v1.0.0" and s.stage_holders() == {"prod": "v1.0.0"}


def test_a_deregistration_in_the_same_second_wins_and_a_registration_after_it_revives() -> None:
    evs = [imp("register", 1, "clf@v0.1.0#1", version="v0.1.0"),
           imp("archive", 3, "clf@v1.0.0!#3", version="v1.0.0"),    # '!' sorts before '#': file order
           imp("register", 3, "clf@v1.0.0#2", version="v1.0.0"),    # and name order say otherwise
           imp("promote", 2, "clf#prod#4", version="v1.0.0", stage="prod")]
    s = fold("clf", evs)
    assert s.latest == "v0.1.0" and s.stage_holders() == {}
    s = fold("clf", evs + [imp("register", 7, "clf@v1.0.0#5", version="v1.0.0")])
    assert s.latest == "v1.0.0" and s.stage_holders() == {"prod": "v1.0.0"}  # its assignment stayed


def test_an_unassign_takes_its_version_out_of_the_stage_wherever_it_stood() -> None:
    evs = [imp("register", 1, "clf@v1#1".replace("v1", "v1.0.0"), version="v1.0.0"),
           imp("register", 1, "clf@v2.0.0#2", version="v2.0.0"),
           imp("promote", 2, "clf#prod#3", version="v1.0.0", stage="prod"),
           imp("promote", 3, "clf#prod#4", version="v2.0.0", stage="prod"),
           imp("promote", 4, "clf#prod#5", version="v1.0.0", stage="prod"),
           imp("rollback", 5, "clf#prod!#6", version="v2.0.0", previous="v1.0.0", stage="prod")]
    assert fold("clf", evs).stage_holders() == {"prod": "v2.0.0"}
    evs.append(imp("rollback", 6, "clf#prod!#7", version=None, previous="v2.0.0", stage="prod"))
    assert fold("clf", evs).stage_holders() == {}
    # an assignment and its unassignment in one second: the unassignment wins, as in GTO
    same = [imp("register", 1, "clf@v1.0.0", version="v1.0.0"),
            imp("rollback", 2, "clf#dev!#2", version=None, previous="v1.0.0", stage="dev"),
            imp("promote", 2, "clf#dev#3", version="v1.0.0", stage="dev")]
    assert fold("clf", same).stage_holders() == {}


def test_stages_outside_the_gto_stage_list_are_ignored_and_deprecation_lasts_until_the_next_event() -> None:
    evs = [imp("register", 1, "clf@v1.0.0", version="v1.0.0"),
           imp("promote", 2, "clf#test#1", version="v1.0.0", stage="test"),
           imp("promote", 3, "clf#dev#2", version="v1.0.0", stage="dev")]
    assert fold("clf", evs, ("dev", "prod")).stage_holders() == {"dev": "v1.0.0"}
    assert fold("clf", evs).stage_holders() == {"test": "v1.0.0", "dev": "v1.0.0"}
    dep = evs + [imp("deprecate", 4, "clf@deprecated#3")]
    assert fold("clf", dep).deprecated
    assert not fold("clf", dep + [imp("register", 4, "clf@v1.1.0#4", version="v1.1.0")]).deprecated


def test_mvtools_own_events_keep_ledger_order_and_merge_with_imported_ones_by_time() -> None:
    native = [{"event": "register", "model": "clf", "version": "v2.0.0", "timestamp": T % 30, "tag": "clf@v2.0.0"},
              {"event": "promote", "model": "clf", "version": "v2.0.0", "stage": "prod", "timestamp": T % 31,
               "tag": "clf#prod#9"}]
    gto = [imp("register", 1, "clf@v1.0.0#1", version="v1.0.0"),
           imp("promote", 2, "clf#prod#2", version="v1.0.0", stage="prod")]
    s = fold("clf", native + gto)  # the import appended after mvtools' events, yet older
    assert s.latest == "v2.0.0" and s.stages["prod"] == ["v1.0.0", "v2.0.0"]


# -- the form mvtools writes: the one the repository uses ----------------------------------
def test_the_tag_form_follows_the_repository() -> None:
    simple = {"clf@v0.1.0": ("c", 1), "clf#prod#1": ("c", 2)}
    assert not counter_form(simple) and new_tag(simple, "clf", "version", "v0.2.0") == "clf@v0.2.0"
    assert new_tag(simple, "clf", "deprecated") == "clf@deprecated"
    counted = {"churn@v3.0.0#1": ("c", 1), "churn#prod#3": ("c", 2), "clf@v0.1.0": ("c", 3)}
    assert counter_form(counted)
    assert new_tag(counted, "churn", "archive", "v3.0.0") == "churn@v3.0.0!#4"
    assert new_tag(counted, "clf", "version", "v0.2.0") == "clf@v0.2.0#1"
    for tag in ("clf@v0.2.0", "clf@v0.2.0#7"):
        assert is_tag_of(tag, "clf", "version", "v0.2.0") and not is_tag_of(tag, "clf", "archive", "v0.2.0")
    assert is_tag_of("clf#prod", "clf", "stage", stage="prod") and is_tag_of("clf#prod!", "clf", "unassign")


# -- the real gto beside mvtools -----------------------------------------------------------
GTO = str(BIN / "gto")  # gto 1.10 CLI: register, deregister (deprecate NAME V) and deprecate write
# the simple form unless --simple false; assign and unassign the counter form unless --simple true


def gto(r: Path, *args: str) -> str:
    out = run([GTO, *args], r).stdout
    time.sleep(1.1)  # GTO orders tags by their 1 s tagger time: one second per step keeps the story
    return out


def mv_show(r: Path) -> dict[str, dict[str, object]]:
    doc = json.loads(mvtools(r, "show", "--json", "--all").stdout)
    return {m["name"]: {"latest": m["latest"], "stages": {s: v for s, v in (m["stages"] or {}).items() if v}}
            for m in doc["models"]}


def skip_commit(r: Path, content: str, msg: str) -> None:
    """A commit of new model bytes that mvtools' hooks leave alone (for gto to register)."""
    write_model(r, "models/clf.bin", content)
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", msg, env={"MVTOOLS_SKIP": "1"})


@pytest.mark.slow
def test_counter_tags_beside_mvtools_and_the_next_registration_writes_the_counter_form(git_model_repo: Path) -> None:
    r = git_model_repo
    commit_model(r, "a", "v1")
    assert "clf@v0.1.0" in tags(r)  # the simple form by default
    skip_commit(r, "b", "b for gto")
    gto(r, "register", "clf", "HEAD", "--version", "v0.3.0", "--simple", "false")
    gto(r, "assign", "clf", "--version", "v0.3.0", "--stage", "prod")
    assert {"clf@v0.3.0#1", "clf#prod#2"} <= set(tags(r))
    commit_model(r, "c", "v3")  # registered above GTO's v0.3.0, in the repository's counter form
    assert "clf@v0.3.1#3" in tags(r), tags(r)
    mvtools(r, "promote", "clf", "v0.3.1", "staging")
    assert gto_show(r)["clf"]["latest"] == "v0.3.1"
    assert gto_show(r)["clf"]["stages"] == {"prod": "v0.3.0", "staging": "v0.3.1"}
    mvtools(r, "import-gto")  # v0.3.0 and its prod tag, made by gto (incremental import: i10import)
    assert mv_show(r)["clf"] == gto_show(r)["clf"]
    mvtools(r, "verify")


@pytest.mark.slow
def test_gto_deregister_and_deprecate_beside_mvtools_are_named_by_verify_and_imported(git_model_repo: Path) -> None:
    r = git_model_repo
    commit_model(r, "a", "v1")
    commit_model(r, "b", "v2")
    time.sleep(2)  # mvtools tags a second apart, maybe ahead of the clock: GTO would see the deregistration first
    gto(r, "deprecate", "clf", "v0.1.1", "--simple", "false")  # deregisters v0.1.1
    assert "clf@v0.1.1!#1" in tags(r)
    assert gto_show(r)["clf"]["latest"] == "v0.1.0"
    out = mvtools(r, "verify", check=False)
    assert out.returncode != 0 and "clf@v0.1.1!#1" in out.stdout + out.stderr
    text = out.stdout + out.stderr
    assert "mvtools still shows it live and as latest" in text and "run: mvtools import-gto" in text
    mvtools(r, "import-gto")  # the repair, as printed
    assert mv_show(r)["clf"]["latest"] == "v0.1.0"
    mvtools(r, "verify")
    gto(r, "deprecate", "clf", "--simple", "false")
    out = mvtools(r, "verify", check=False)
    assert out.returncode != 0 and "clf@deprecated#2" in out.stdout + out.stderr
    mvtools(r, "import-gto")
    assert "clf" not in run([GTO, "show", "--json"], r).stdout
    assert json.loads(mvtools(r, "show", "--json").stdout)["models"] == []
    mvtools(r, "verify")


@pytest.mark.slow
def test_a_gto_history_with_both_forms_and_a_stage_tag_older_than_its_version_imports_as_gto_shows_it(
        repo: Path) -> None:
    r = repo
    write_model(r, "models/clf.bin", "a")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "a")
    c1 = git(r, "rev-parse", "HEAD").stdout.strip()
    gto(r, "assign", "clf", c1, "--stage", "dev", "--sr")          # clf#dev#1, no version yet
    gto(r, "register", "clf", c1, "--version", "v1.0.0", "--simple", "false")         # clf@v1.0.0#2, a second later
    write_model(r, "models/clf.bin", "b")
    git(r, "commit", "-qam", "b")
    gto(r, "register", "clf", "HEAD", "--version", "v1.1.0", "--simple", "true")      # clf@v1.1.0
    gto(r, "assign", "clf", "--version", "v1.1.0", "--stage", "prod", "--simple", "true")  # clf#prod
    gto(r, "assign", "clf", "--version", "v1.1.0", "--stage", "dev")                  # clf#dev#3
    gto(r, "deprecate", "clf", "v1.1.0", "--simple", "false")                     # clf@v1.1.0!#4
    want = gto_show(r)["clf"]
    assert want == {"latest": "v1.0.0", "stages": {"dev": "v1.0.0"}}
    set_up_mvtools(r, "models:\n  - name: clf\n    path: models/clf.bin")
    mvtools(r, "import-gto")
    assert mv_show(r)["clf"] == want
    mvtools(r, "verify")
    write_model(r, "models/clf.bin", "c")
    git(r, "commit", "-qam", "c")  # the hooks register above GTO's highest number, in its counter form
    assert any(re.fullmatch(r"clf@v1\.1\.1#5", t) for t in tags(r)), tags(r)
    assert mv_show(r)["clf"]["latest"] == gto_show(r)["clf"]["latest"] == "v1.1.1"


def test_mvtools_own_archive_and_deprecation_stay_final_beside_imported_events() -> None:
    native = [{"event": "register", "model": "clf", "version": "v1.0.0", "timestamp": T % 1, "tag": "clf@v1.0.0"},
              {"event": "archive", "model": "clf", "version": "v1.0.0", "timestamp": T % 2, "tag": "clf@v1.0.0!"},
              {"event": "deprecate", "model": "clf", "timestamp": T % 3, "tag": "clf@deprecated"}]
    s = fold("clf", native + [imp("register", 4, "clf@v1.0.0#1", version="v1.0.0"),
                              imp("deprecate", 5, "clf@deprecated#2"), imp("register", 6, "clf@v2.0.0#3",
                                                                           version="v2.0.0")])
    assert s.archived == {"v1.0.0"} and s.deprecated and s.latest == "v2.0.0"
