"""`mvtools report`: the registry as a static site, checked in a real browser.

The demo registry is `mvtools quickstart` (real git, DVC and hooks) carried further: a third
version, promotions, an archive, a blue-green deployment, and a second model (a name with a
slash, a NaN metric, deprecated). The site is loaded in headless Chromium (Debian's
`chromium`, which .ci/run installs): the tests assert on the DOM after the page's script ran
(`--dump-dom`) and on a screenshot (`--screenshot`, read with Pillow), not only on the HTML
text. Where Chromium is missing or cannot start, the browser tests skip saying so; in CI
(CI=true) they fail instead, so they never pass unseen.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, assert_refused, dvc, git, mvtools, template_copy

# -- the demo registry ------------------------------------------------------------------------
HOSTILE = '<img id="injected" src="x" onerror="document.title=1"> & <b>'  # a message is text, never markup
CLF = "  - name: team/clf\n    path: clf/clf.bin\n    metrics: [clf-metrics.json]\n"


def build_demo(r: Path) -> None:
    r.parent.mkdir(parents=True, exist_ok=True)
    mvtools(r.parent, "quickstart", r.name)
    (r / "params.yaml").write_text("train:\n  lr: 0.05\n  epochs: 8\n")
    dvc(r, "repro", "-q")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "Retrain with lr 0.05, 8 epochs")  # v0.1.2
    for args in (("promote", "churn", "v0.1.0", "staging", "-m", HOSTILE), ("promote", "churn", "v0.1.1", "staging"),
                 ("promote", "churn", "v0.1.1", "production"), ("archive", "churn", "v0.1.2")):
        mvtools(r, *args)
    cfg = (r / "mvtools.yaml").read_text().replace("models: []", "models:\n" + CLF)
    (r / "mvtools.yaml").write_text(cfg + "environments:\n  prod:\n    format: sklearn\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "Declare team/clf and the prod environment")
    mvtools(r, "deploy", "start", "churn", "v0.1.1", "--env", "prod", "--strategy", "blue-green")
    for i, f1 in enumerate(("0.71", "NaN")):
        (r / "clf").mkdir(exist_ok=True)
        (r / "clf" / "clf.bin").write_text(f"clf {i}\n")
        (r / "clf-metrics.json").write_text(f'{{"f1": {f1}, "auc": 0.{8 + i}}}')
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", f"clf {i}")
    mvtools(r, "deprecate", "team/clf")


@pytest.fixture
def demo(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_copy("report-demo", tmp_path_factory, tmp_path / "repo", build_demo)


def report(r: Path, *args: str) -> dict[str, Any]:
    return json.loads(mvtools(r, "report", "--json", *args).stdout)


# -- the browser ------------------------------------------------------------------------------
def _unavailable(why: str) -> None:
    """Skip with the reason, except in CI, where the browser tests must run."""
    if os.environ.get("CI"):
        pytest.fail(f"{why}; CI must run the browser tests (.ci/run installs Debian's chromium)")
    pytest.skip(f"{why}: the report is not checked in a browser here")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        _unavailable("chromium is not installed (apt-get install chromium)")
    profile = tmp_path / "chromium-profile"
    cmd = [str(exe), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-extensions", "--disable-background-networking", "--disable-component-update",
           f"--user-data-dir={profile}", "--virtual-time-budget=3000", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        _unavailable("chromium did not finish in 120 s")
    if proc.returncode != 0:
        _unavailable(f"chromium failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    return proc


def dom(tmp_path: Path, page: Path, fragment: str = "") -> DOM:
    html = chromium(tmp_path, "--dump-dom", page.as_uri() + fragment).stdout
    if "<html" not in html:
        _unavailable("chromium printed no DOM")
    return DOM(html)


class DOM(HTMLParser):
    """The rendered DOM Chromium printed: every element's tag, attributes and text, and the
    elements by id."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "col", "area", "base", "source", "wbr"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = {"tag": tag, "attrs": {k: v or "" for k, v in attrs}, "text": "",
              "ancestors": [e["tag"] for e in self._open]}
        self.elements.append(el)
        if tag not in self.VOID:
            self._open.append(el)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        for el in self._open:
            el["text"] += data

    def by_id(self, id_: str) -> dict[str, Any]:
        found = [e for e in self.elements if e["attrs"].get("id") == id_]
        assert found, f"no element #{id_}"
        return found[0]

    def all(self, tag: str, **attrs: str) -> list[dict[str, Any]]:
        return [e for e in self.elements if e["tag"] == tag
                and all(e["attrs"].get(k.replace("_", "-")) == v for k, v in attrs.items())]


# -- the site ---------------------------------------------------------------------------------
class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [v or "" for k, v in attrs if k in ("href", "src", "action", "xlink:href")]


@pytest.mark.slow
def test_the_site_is_complete_offline_and_every_link_resolves(demo: Path) -> None:
    res = report(demo)
    site = demo / "mvtools-report"  # the default folder, in the repository -C names
    assert res["directory"] == str(site) and res["index"] == str(site / "index.html")
    assert res["models"] == 2 and res["verify_ok"] is True
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    slug = next(p for p in pages if p.startswith("models/team_clf-") and not p.endswith("-compare.html"))
    assert pages == sorted(["index.html", "timeline.html", "lineage.html", "verify.html", "models/churn.html",
                            "models/churn-compare.html", slug, slug.replace(".html", "-compare.html")])
    for p in site.rglob("*"):
        if p.is_file():
            text = p.read_text()
            assert "http://" not in text and "https://" not in text, f"{p} names a URL"
    for page in pages:
        links = Links()
        links.feed((site / page).read_text())
        for ref in links.refs:
            target = ref.split("#", 1)[0]
            assert "//" not in ref and not ref.startswith(("/", "data:", "javascript:")), (page, ref)
            assert not target or (site / page).parent.joinpath(target).resolve().is_file(), (page, ref)


@pytest.mark.slow
def test_the_browser_renders_index_model_compare_and_timeline(demo: Path, tmp_path: Path) -> None:
    site = demo / "mvtools-report"
    report(demo)
    index = dom(tmp_path, site / "index.html")
    assert index.all("html")[0]["attrs"].get("data-js") == "ready"  # the page's script ran
    rows = {e["attrs"]["data-model"]: e["text"] for e in index.all("tr") if "data-model" in e["attrs"]}
    assert set(rows) == {"churn", "team/clf"}
    assert "v0.1.1" in rows["churn"] and "staging: v0.1.1" in rows["churn"] and "production: v0.1.1" in rows["churn"]
    assert "deprecated" in rows["team/clf"]
    assert index.by_id("verify-badge")["text"].strip() == "ok"

    model = dom(tmp_path, site / "models" / "churn.html")
    charts = {e["attrs"]["data-metric"] for e in model.all("div", **{"class": "card"}) if "data-metric" in e["attrs"]}
    assert charts == {"accuracy", "latency", "loss"}
    assert len(model.all("circle", **{"class": "point"})) == 3 * 3  # three versions, three metrics
    versions = [e["attrs"]["data-version"] for e in model.all("tr") if "data-version" in e["attrs"]]
    assert versions == ["v0.1.2", "v0.1.1", "v0.1.0"]  # newest first
    deploy = model.by_id("deployments")["text"]
    assert "prod" in deploy and "blue-green" in deploy and "v0.1.1" in deploy
    history = model.by_id("v-v0.1.1")["text"]
    assert "promoted v0.1.1 to staging" in history and "promoted v0.1.1 to production" in history
    assert "deploy start in prod" in history and "archived v0.1.2" in model.by_id("v-v0.1.2")["text"]

    # the compare view: the script shows the pair the address names, hides the others
    cmp = dom(tmp_path, site / "models" / "churn-compare.html", "#v0.1.0..v0.1.2")
    shown = [s for s in cmp.all("section") if "hidden" not in s["attrs"]]
    assert [s["attrs"]["data-pair"] for s in shown] == ["v0.1.0|v0.1.2"]
    assert len(cmp.all("section")) == 3 and "hidden" not in cmp.by_id("compare-picker")["attrs"]
    assert cmp.by_id("compare-shown")["text"] == "v0.1.0 → v0.1.2"
    expected = json.loads(mvtools(demo, "compare", "churn", "v0.1.0", "v0.1.2", "--json").stdout)
    text = shown[0]["text"]
    assert {"RECOMMEND_B": "recommend v0.1.2", "RECOMMEND_A": "recommend v0.1.0",
            "SIMILAR_PERFORMANCE": "similar performance"}[expected["recommendation"]] in text
    assert "train.lr" in text and "train.epochs" in text  # params diff and lineage diff
    # the default pair: the latest (v0.1.1; v0.1.2 is archived) against the one before
    default = dom(tmp_path, site / "models" / "churn-compare.html")
    assert [s["attrs"]["data-pair"] for s in default.all("section") if "hidden" not in s["attrs"]] == ["v0.1.0|v0.1.1"]

    clf = dom(tmp_path, next(p for p in (site / "models").glob("team_clf-*.html") if "-compare" not in p.name))
    assert len(clf.all("text", **{"class": "nonfinite"})) == 1  # f1 NaN: a cross, not a point
    clf_cmp = dom(tmp_path, next((site / "models").glob("team_clf-*-compare.html")))
    section = clf_cmp.all("section")[0]["text"]
    assert "recommend v0.1.0" in section and "v0.1.1 has NaN for f1" in section

    timeline = dom(tmp_path, site / "timeline.html")
    assert not [e for e in timeline.elements if e["attrs"].get("id") == "injected"]
    assert HOSTILE in timeline.by_id("timeline")["text"]  # shown as the text it is
    kinds = [e["attrs"]["data-kind"] for e in timeline.all("tr") if "data-kind" in e["attrs"]]
    assert sorted(set(kinds)) == ["archive", "deploy", "deprecate", "promote", "register"]
    assert timeline.by_id("timeline-count")["text"] == f"{len(kinds)} events shown"
    assert len(timeline.all("circle")) == len(kinds)
    lineage = dom(tmp_path, site / "lineage.html")
    nodes = " ".join(e["text"] for e in lineage.all("g") if "node-model" in e["attrs"].get("class", ""))
    assert "models/model.pkl (churn)" in nodes


def _colour_share(img: Any, rgb: tuple[int, int, int], tol: int = 6) -> float:
    colours = img.convert("RGB").getcolors(maxcolors=1 << 24)
    near = sum(n for n, c in colours if all(abs(a - b) <= tol for a, b in zip(c, rgb)))
    return near / (img.size[0] * img.size[1])


@pytest.mark.slow
def test_the_screenshots_show_the_styled_page_and_its_charts(demo: Path, tmp_path: Path) -> None:
    from PIL import Image

    site = demo / "mvtools-report"
    report(demo)
    shots = {}
    for name, page in (("index", site / "index.html"), ("model", site / "models" / "churn.html")):
        png = tmp_path / f"{name}.png"
        chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,900", page.as_uri())
        if not png.is_file():
            _unavailable("chromium wrote no screenshot")
        shots[name] = Image.open(png)
        assert shots[name].size == (1200, 900)
        colours = shots[name].convert("RGB").getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 50, f"{name}: a blank or unstyled page ({len(colours)} colours)"
        assert _colour_share(shots[name], (255, 255, 255)) < 0.97
    assert _colour_share(shots["index"], (0x24, 0x29, 0x2F)) > 0.02  # the header bar: the stylesheet applied
    assert _colour_share(shots["index"], (0x1A, 0x7F, 0x37)) > 0.00005  # the green "ok" verify badge
    assert _colour_share(shots["model"], (0x09, 0x69, 0xDA)) > 0.0005  # the charts' lines and points


# -- writing the folder -----------------------------------------------------------------------
def test_a_folder_that_is_no_report_is_refused_and_an_old_report_is_replaced(git_model_repo: Path) -> None:
    r = git_model_repo
    (r / "notes").mkdir()
    (r / "notes" / "keep.txt").write_text("mine\n")
    assert_refused(r, "report", "-o", "notes", code=2, want="notes: exists and is not an mvtools report")
    out = report(r, "-o", "site", "--no-verify")
    assert out["models"] == 1 and out["verify_ok"] is None  # clf is declared, nothing registered yet
    assert "Latest <strong class=\"mono\">none</strong> of 0 versions" in (r / "site" / "models" / "clf.html").read_text()
    (r / "site" / "stale.html").write_text("old")
    report(r, "-o", "site", "--no-verify")
    assert not (r / "site" / "stale.html").exists() and (r / "site" / "index.html").is_file()
    assert not [p for p in r.iterdir() if p.name.startswith((".site.", "site."))]  # no temporary folder left


def test_open_shows_the_index_in_the_web_browser(git_model_repo: Path, tmp_path: Path) -> None:
    seen = tmp_path / "browser.log"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" > "{seen}.tmp" && mv "{seen}.tmp" "{seen}"\n')
    browser.chmod(0o755)
    mvtools(git_model_repo, "report", "--no-verify", "--open", env={"BROWSER": str(browser)})
    for _ in range(100):  # the browser is started, not waited for
        if seen.exists():
            break
        time.sleep(0.1)
    assert seen.read_text().strip() == (git_model_repo / "mvtools-report" / "index.html").as_uri()


# -- the workflow template --------------------------------------------------------------------
def test_the_pages_workflow_installs_as_ci_verify_does_and_publishes_the_report() -> None:
    wf = yaml.safe_load((ROOT / "templates" / "report-pages.yml").read_text())
    verify = yaml.safe_load((ROOT / "templates" / "ci-verify.yml").read_text())
    steps = wf["jobs"]["build"]["steps"]
    install = next(s for s in steps if s.get("name") == "install mvtools")
    assert install["run"] == next(s for s in verify["jobs"]["verify"]["steps"] if s.get("name") == "install mvtools")["run"]
    assert wf["env"]["MVTOOLS_SOURCE"] == verify["env"]["MVTOOLS_SOURCE"]
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0 and checkout["with"]["fetch-tags"] is True
    run = next(s for s in steps if "mvtools report" in s.get("run", ""))
    assert run["run"].split() == ["mvtools", "report", "-o", "site"]
    uploads = {s["uses"].split("@")[0]: s["with"]["path"] for s in steps if "upload" in s.get("uses", "")}
    assert uploads == {"actions/upload-pages-artifact": "site", "actions/upload-artifact": "site"}
    assert wf["jobs"]["deploy"]["steps"][0]["uses"].startswith("actions/deploy-pages@")
    assert wf["permissions"] == {"contents": "read"}  # a pull request's build can publish nothing
    assert wf["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert "permissions" not in wf["jobs"]["build"]


def test_the_report_runs_the_steps_of_the_workflow_on_a_real_registry(git_model_repo: Path) -> None:
    """The workflow's report step, run as written (bash -e) in a registry with a version."""
    r = git_model_repo
    (r / "models").mkdir()
    (r / "models" / "clf.bin").write_text("v1\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "clf")
    wf = yaml.safe_load((ROOT / "templates" / "report-pages.yml").read_text())
    step = next(s for s in wf["jobs"]["build"]["steps"] if "mvtools report" in s.get("run", ""))
    proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=r, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and (r / "site" / "models" / "clf.html").is_file()


@pytest.mark.slow
def test_a_ledger_that_cannot_be_read_is_listed_and_the_other_models_reported(demo: Path) -> None:
    (demo / "registry" / "team" / "clf.yaml").write_text("events: [oops\n")
    out = report(demo)
    assert out["models"] == 1 and out["verify_ok"] is False
    index = (demo / "mvtools-report" / "index.html").read_text()
    assert 'id="broken"' in index and "registry/team/clf.yaml: malformed YAML" in index
    assert (demo / "mvtools-report" / "models" / "churn.html").is_file()
    assert "registry/team/clf.yaml" in (demo / "mvtools-report" / "verify.html").read_text()
