"""Lifecycle with real git (and the real GTO): promote, promotes_from, archive, deprecate,
rollback; tags in GTO's grammar; `gto show` names the same holders as `mvtools show`;
every refusal one line, the right exit code, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import BIN, git, head, init_repo, mvtools, refused, run, tags, template_copy, write_model
from conftest import ledger_events as ledger

GTO = str(BIN / "gto")
CONTENTS = [b"clf-bytes-1", b"clf-bytes-2", b"clf-bytes-3"]


# -- helpers --------------------------------------------------------------------------------
def show(r: Path, *extra: str) -> dict:
    return {m["name"]: m for m in json.loads(mvtools(r, "show", "--json", *extra).stdout)["models"]}


def gto_stages(r: Path) -> dict[str, dict[str, str]]:
    doc = json.loads(run([GTO, "show", "--json"], r).stdout)
    return {name: {s: v for s, v in (a.get("stage") or {}).items() if v} for name, a in doc.items()}


def gto_latest(r: Path) -> dict[str, str | None]:
    return {name: a.get("version") for name, a in json.loads(run([GTO, "show", "--json"], r).stdout).items()}


def mv_stages(r: Path) -> dict[str, dict[str, str]]:
    return {n: m["stages"] for n, m in show(r).items()}


def add_config(r: Path, text: str) -> None:
    with open(r / "mvtools.yaml", "a") as fh:
        fh.write(text)
    git(r, "commit", "-q", "-m", "config", "--", "mvtools.yaml")


def build_clf3(r: Path) -> None:
    """What the `repo` and `git_model_repo` fixtures build, plus three versions of `clf`."""
    init_repo(r, "  - name: clf\n    path: models/clf.bin\n    metrics: [metrics.json]")
    for i, content in enumerate(CONTENTS):
        write_model(r, "models/clf.bin", content)
        (r / "metrics.json").write_text(json.dumps({"accuracy": 0.8 + i / 100, "latency": 0.1}))
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", f"clf {i}")


@pytest.fixture
def clf3(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """`clf` with versions v0.1.0, v0.1.1, v0.1.2 (one commit each); returns their commits.

    Built once per worker through the real hooks, then copied (a git repo is relocatable)."""
    r = template_copy("clf3", tmp_path_factory, tmp_path / "repo", build_clf3)
    t = tags(r)
    commits = [t[f"clf@v0.1.{i}"] for i in range(3)]
    assert git(r, "status", "--porcelain").stdout == ""
    return r, commits


# -- promote ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_promote_writes_stage_tag_show_and_get(clf3: tuple[Path, list[str]]) -> None:
    r, commits = clf3
    before = head(r)
    out = mvtools(r, "promote", "clf", "0.1.0", "staging").stdout  # "0.1.0" is accepted too
    assert "clf#staging#1" in out
    t = tags(r)
    assert t["clf#staging#1"] == commits[0]  # on the commit that holds the version
    assert git(r, "rev-parse", "HEAD~1").stdout.strip() == before  # one commit: the ledger event
    assert git(r, "show", "--name-only", "--format=", "HEAD").stdout.split() == ["registry/clf.yaml"]
    assert git(r, "status", "--porcelain").stdout == ""
    ev = ledger(r)[-1]
    assert (ev["event"], ev["version"], ev["stage"], ev["tag"]) == ("promote", "v0.1.0", "staging", "clf#staging#1")
    assert ev["actor"] == "Test User <test@example.com>"
    # annotated tag, in GTO's message grammar
    assert git(r, "cat-file", "-t", "clf#staging#1").stdout.strip() == "tag"

    mvtools(r, "promote", "clf", "v0.1.2", "production")
    assert tags(r)["clf#production#2"] == commits[2]  # N = 1 + largest counter on any tag of clf
    assert show(r)["clf"]["stages"] == {"staging": "v0.1.0", "production": "v0.1.2"}
    assert show(r)["clf"]["latest"] == "v0.1.2"

    mvtools(r, "get", "clf#staging", "-o", "staged.bin")
    assert (r / "staged.bin").read_bytes() == CONTENTS[0]
    mvtools(r, "get", "clf#production", "-o", "prod.bin")
    assert (r / "prod.bin").read_bytes() == CONTENTS[2]

    hist = json.loads(mvtools(r, "history", "clf", "--json").stdout)["events"]
    assert [(e["event"], e["version"], e["stage"]) for e in hist[-2:]] == [
        ("promote", "v0.1.0", "staging"), ("promote", "v0.1.2", "production")]
    assert mvtools(r, "verify").returncode == 0


@pytest.mark.slow
def test_promotes_from_rule(clf3: tuple[Path, list[str]]) -> None:
    r, _ = clf3
    add_config(r, "promotes_from: {production: staging}\n")
    msg = refused(r, ["promote", "clf", "v0.1.1", "production"], 1)
    assert "staging" in msg
    mvtools(r, "promote", "clf", "v0.1.1", "staging")
    mvtools(r, "promote", "clf", "v0.1.2", "staging")
    # v0.1.1 held staging before (no longer holds it): still allowed into production
    mvtools(r, "promote", "clf", "v0.1.1", "production")
    assert show(r)["clf"]["stages"] == {"staging": "v0.1.2", "production": "v0.1.1"}
    refused(r, ["promote", "clf", "v0.1.0", "production"], 1)
    # --force skips the rule
    mvtools(r, "promote", "clf", "v0.1.0", "production", "--force")
    assert show(r)["clf"]["stages"]["production"] == "v0.1.0"


@pytest.mark.parametrize("args, code", [
    (["promote", "clf", "v9.9.9", "staging"], 2),          # unknown version
    (["promote", "clf", "v0.1.0", "qa"], 2),                # stage not in mvtools.yaml
    (["promote", "clf", "not-a-version", "staging"], 2),
    (["promote", "nope", "v0.1.0", "staging"], 2),          # unknown model
    (["promote", "clf", "v0.1.0", "bad#stage"], 2),
    (["archive", "clf", "v9.9.9"], 2),
    (["archive", "nope", "v0.1.0"], 2),
    (["rollback", "clf", "--stage", "production"], 2),      # nothing ever held production
    (["rollback", "nope", "--stage", "production"], 2),
    (["deprecate", "nope"], 2),
])
def test_refusals_write_nothing(clf3: tuple[Path, list[str]], args: list[str], code: int) -> None:
    r, _ = clf3
    refused(r, args, code)


def test_promote_same_holder_twice_refused(clf3: tuple[Path, list[str]]) -> None:
    r, _ = clf3
    mvtools(r, "promote", "clf", "v0.1.0", "staging")
    refused(r, ["promote", "clf", "v0.1.0", "staging"], 2)


@pytest.mark.slow
def test_gto_agrees_after_quick_promotions(clf3: tuple[Path, list[str]]) -> None:
    r, _ = clf3
    seq = [("v0.1.0", "staging"), ("v0.1.1", "staging"), ("v0.1.0", "production"), ("v0.1.2", "staging"),
           ("v0.1.1", "production"), ("v0.1.0", "staging"), ("v0.1.2", "development"), ("v0.1.0", "production")]
    for v, s in seq:  # each in well under a second
        mvtools(r, "promote", "clf", v, s)
    expected = {"staging": "v0.1.0", "production": "v0.1.0", "development": "v0.1.2"}
    assert mv_stages(r)["clf"] == expected
    assert gto_stages(r)["clf"] == expected
    # tagger times strictly increase in creation order
    out = git(r, "for-each-ref", "--format=%(refname:strip=2) %(creatordate:unix)", "refs/tags/clf#*").stdout
    times = sorted((int(t.split("#")[-1]), int(when)) for t, when in (ln.split() for ln in out.splitlines()))
    assert [c for c, _ in times] == list(range(1, len(seq) + 1))
    assert all(a[1] < b[1] for a, b in zip(times, times[1:]))


# -- archive, deprecate --------------------------------------------------------------------
@pytest.mark.slow
def test_archive(clf3: tuple[Path, list[str]]) -> None:
    r, commits = clf3
    mvtools(r, "archive", "clf", "v0.1.2")
    assert tags(r)["clf@v0.1.2!"] == commits[2]
    assert ledger(r)[-1]["event"] == "archive" and ledger(r)[-1]["version"] == "v0.1.2"
    m = show(r)["clf"]
    assert m["latest"] == "v0.1.1" and m["versions"] == 3
    msg = refused(r, ["promote", "clf", "v0.1.2", "staging"], 2)
    assert "--force" in msg
    refused(r, ["archive", "clf", "v0.1.2"], 2)  # archived already
    mvtools(r, "promote", "clf", "v0.1.2", "staging", "--force")
    # recorded, but as in GTO an archived version holds no stage
    assert ledger(r)[-1]["event"] == "promote" and show(r)["clf"]["stages"] == {}
    # the archived number is never reused
    write_model(r, "models/clf.bin", b"clf-bytes-4")
    git(r, "commit", "-qam", "clf 4")
    assert "clf@v0.1.3" in tags(r)
    assert show(r)["clf"]["latest"] == "v0.1.3"
    assert mvtools(r, "verify").returncode == 0


@pytest.mark.slow
def test_gto_agrees_on_latest_after_archive(clf3: tuple[Path, list[str]]) -> None:
    r, _ = clf3
    mvtools(r, "archive", "clf", "v0.1.2")
    assert gto_latest(r)["clf"] == show(r)["clf"]["latest"] == "v0.1.1"


@pytest.mark.slow
def test_gto_agrees_on_stages_after_archiving_a_holder(clf3: tuple[Path, list[str]]) -> None:
    r, _ = clf3
    mvtools(r, "promote", "clf", "v0.1.0", "production")
    mvtools(r, "promote", "clf", "v0.1.1", "production")
    mvtools(r, "archive", "clf", "v0.1.1")
    assert mv_stages(r)["clf"] == gto_stages(r)["clf"]


@pytest.mark.slow
def test_deprecate(clf3: tuple[Path, list[str]]) -> None:
    r, _ = clf3
    mvtools(r, "promote", "clf", "v0.1.1", "staging")
    mvtools(r, "deprecate", "clf")
    assert tags(r)["clf@deprecated"] == head(r)
    assert ledger(r)[-1]["event"] == "deprecate"
    assert show(r) == {}
    assert json.loads(mvtools(r, "show", "clf", "--json").stdout)["models"][0]["name"] == "clf"
    m = show(r, "--all")["clf"]
    assert (m["latest"], m["stages"]) == ("v0.1.2", {"staging": "v0.1.1"})
    refused(r, ["deprecate", "clf"], 2)
    refused(r, ["promote", "clf", "v0.1.0", "staging"], 2)
    mvtools(r, "promote", "clf", "v0.1.0", "staging", "--force")
    assert mvtools(r, "verify").returncode == 0


# -- rollback --------------------------------------------------------------------------------
@pytest.mark.slow
def test_rollback_stack_and_gto_agrees(clf3: tuple[Path, list[str]]) -> None:
    r, commits = clf3
    for v in ("v0.1.0", "v0.1.1", "v0.1.2"):
        mvtools(r, "promote", "clf", v, "production")
    mvtools(r, "promote", "clf", "v0.1.2", "staging")
    n_events = len(ledger(r))

    h = head(r)
    out = mvtools(r, "rollback", "clf", "--stage", "production").stdout
    assert "v0.1.2 -> v0.1.1" in out
    assert git(r, "rev-parse", "HEAD~1").stdout.strip() == h
    ev = ledger(r)[-1]
    assert len(ledger(r)) == n_events + 1
    assert (ev["event"], ev["stage"], ev["version"], ev["previous"]) == ("rollback", "production", "v0.1.1", "v0.1.2")
    t = tags(r)
    assert t["clf#production!#5"] == commits[2]  # unassign tag on the popped version
    assert t["clf#production#6"] == commits[1] and ev["tag"] == "clf#production#6"
    assert mv_stages(r)["clf"] == {"production": "v0.1.1", "staging": "v0.1.2"}
    assert gto_stages(r)["clf"] == mv_stages(r)["clf"]
    mvtools(r, "get", "clf#production", "-o", "p.bin")
    assert (r / "p.bin").read_bytes() == CONTENTS[1]

    mvtools(r, "rollback", "clf", "--stage", "production")  # walks further back
    assert mv_stages(r)["clf"] == {"production": "v0.1.0", "staging": "v0.1.2"}
    assert gto_stages(r)["clf"] == mv_stages(r)["clf"]

    msg = refused(r, ["rollback", "clf", "--stage", "production"], 2)  # no earlier holder
    assert "roll back" in msg
    refused(r, ["rollback", "clf", "--stage", "staging"], 2)
    assert mvtools(r, "verify").returncode == 0
    # promoting after rollbacks continues the stack
    mvtools(r, "promote", "clf", "v0.1.2", "production")
    assert gto_stages(r)["clf"] == mv_stages(r)["clf"] == {"production": "v0.1.2", "staging": "v0.1.2"}


def test_rollback_after_repromotion(clf3: tuple[Path, list[str]]) -> None:
    """Stack [v0.1.0, v0.1.1, v0.1.0]: rollback returns to v0.1.1, then to v0.1.0."""
    r, _ = clf3
    for v in ("v0.1.0", "v0.1.1", "v0.1.0"):
        mvtools(r, "promote", "clf", v, "production")
    mvtools(r, "rollback", "clf", "--stage", "production")
    assert mv_stages(r)["clf"] == {"production": "v0.1.1"}
    mvtools(r, "rollback", "clf", "--stage", "production")
    assert mv_stages(r)["clf"] == {"production": "v0.1.0"}
    refused(r, ["rollback", "clf", "--stage", "production"], 2)


def test_python_api_matches_cli(clf3: tuple[Path, list[str]]) -> None:
    from mvtools.errors import NotFound, UsageError
    from mvtools.registry import Registry

    r, _ = clf3
    reg = Registry(r)
    ev = reg.promote("clf", "v0.1.1", "staging")
    assert ev.tag == "clf#staging#1" and ev.to_json()["tag"] == "clf#staging#1"
    with pytest.raises(NotFound) as exc:
        reg.promote("clf", "v7.0.0", "staging")
    assert exc.value.exit_code == 2
    with pytest.raises(UsageError):
        Registry(r).rollback("clf", "staging")
    assert Registry(r).show().models[0].stages == {"staging": "v0.1.1"}
