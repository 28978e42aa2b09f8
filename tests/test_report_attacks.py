"""`mvtools report` attacked: hostile text in every field, numbers at the edge of a float,
names at the edge of a file name, folders that are not what `-o` expects, imported GTO
registries. (The demo registry and the browser helpers are test_report.py's.)"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import assert_refused, commit_model, git, mvtools, set_up_mvtools
from test_report import dom

# each a piece of markup that would run or show as an element if it were not escaped
EVIL = '</script><script>document.title="pwned"</script><img id="evil" src=x onerror=alert(1)>'
METRIC = '</title><svg id="evil-svg" onload=alert(2)>"\'&'  # a metric name: a chart's title and card
PARAM = '<b id="evil-param">p</b>'
FETCH = "url(https://evil.example/a.png) @import 'https://evil.example/x.css'"  # text, never a fetch
MESSAGE = '</textarea></script><img id="evil-msg" src=x> “quotes” \'single\' Ünïcödé 😀'
ACTOR = "Ève \"O'Brien\" & co"  # git keeps no < or > in a name
HUGE = 10 ** 400  # a JSON integer no float can hold


def _metrics(r: Path, **extra: object) -> None:
    doc = {"acc": 0.5, METRIC: 1.5, "big": 1e308, "ünï😀": 0.1, "huge": HUGE, **extra}
    (r / "metrics.json").write_text(json.dumps(doc).replace('"NaN"', "NaN"))


@pytest.fixture
def hostile(repo: Path) -> Path:
    """Two versions of `clf` whose metrics, params, messages and promotion hold markup, quotes,
    unicode, an integer too large for a float and ±1e308 (whose span overflows a float)."""
    r = repo
    _metrics(r)
    (r / "params.yaml").write_text(json.dumps({PARAM: EVIL, "lr": 0.1, "nested": {'a"b': "'x'"}, "fetch": FETCH}))
    set_up_mvtools(r, "models:\n  - name: clf\n    path: models/clf.bin\n"
                      "    metrics: [metrics.json]\n    params: [params.yaml]")
    who = {"GIT_AUTHOR_NAME": ACTOR, "GIT_COMMITTER_NAME": ACTOR}
    commit_model(r, "v1\n", MESSAGE, env=who)
    _metrics(r, big=-1e308, acc=0.7)
    (r / "params.yaml").write_text(json.dumps({PARAM: "<i>2</i>", "lr": "<i>0.2</i>", "nested": {'a"b': "y"}}))
    commit_model(r, "v2\n", EVIL, env=who)
    mvtools(r, "promote", "clf", "v0.1.1", "staging", "-m", MESSAGE, env=who)
    return r


class Elements(HTMLParser):
    """Every element's tag and id in an HTML page as written (before any script ran)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, str | None]] = []
        self.values: list[str] = []  # every attribute's value
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs).get("id")))
        self.values += [v or "" for _, v in attrs]


def test_hostile_text_and_edge_numbers_are_reported_as_text(hostile: Path) -> None:
    """The report is written (a huge integer metric no longer stops it, nor compare), every
    page has exactly its own one script and no element the registry's text smuggled in, and
    the charts of ±1e308 and of the huge integer have no NaN coordinate."""
    r = hostile
    assert json.loads(mvtools(r, "compare", "clf", "v0.1.0", "v0.1.1", "--json").stdout)["metrics"]["huge"]
    mvtools(r, "report", "-o", "site")
    for page in sorted((r / "site").rglob("*.html")):
        html = page.read_text()
        tags, values = Elements(html).tags, Elements(html).values
        # no attribute names anything off the page: no address, no url() but a fragment
        assert not [v for v in values if "//" in v or re.search(r"url\((?!#)", v)], page
        assert "@import" not in html.split("<main>", 1)[0], page  # the stylesheet imports nothing
        assert [t for t, _ in tags].count("script") == 1, page
        assert not [t for t in tags if t[0] in ("img", "b", "i") or (t[1] or "").startswith("evil")], page
        coords = re.findall(r'\s(?:x|y|x1|x2|y1|y2|cx|cy|points)="([^"]*)"', html)
        assert not [c for c in coords if "nan" in c.lower() or "inf" in c.lower()], page
    model = (r / "site" / "models" / "clf.html").read_text()
    assert "&lt;/title&gt;&lt;svg id=&#34;evil-svg&#34;" in model  # the metric name, in its card and chart
    assert str(HUGE) in model and "ünï😀" in model and "“quotes”" in model
    assert "url(https://evil.example/a.png) @import &#39;https://evil.example/x.css&#39;" in model
    charts = re.findall(r'data-metric="([^"]*)"', model)
    assert "big" in charts and "acc" in charts  # ±1e308: a chart with two points on it
    big = model.split('data-metric="big"', 1)[1].split("</svg>", 1)[0]
    assert len(re.findall(r'<circle class="point"', big)) == 2


@pytest.mark.slow
def test_hostile_text_stays_text_in_the_browser(hostile: Path, tmp_path: Path) -> None:
    r = hostile
    mvtools(r, "report", "-o", "site")
    for page in ("index.html", "models/clf.html", "models/clf-compare.html", "timeline.html", "verify.html"):
        d = dom(tmp_path, r / "site" / page)
        assert d.all("html")[0]["attrs"].get("data-js") == "ready", page  # the page's own script ran
        assert len(d.all("script")) == 1, page
        assert not [e for e in d.elements if e["attrs"].get("id", "").startswith("evil")], page
        assert d.all("title")[0]["text"] != "pwned", page
    text = " ".join(e["text"] for e in dom(tmp_path, r / "site" / "timeline.html").all("td"))
    assert MESSAGE in text and ACTOR in text
    cards = [e["attrs"]["data-metric"] for e in dom(tmp_path, r / "site" / "models" / "clf.html").all("div")
             if "data-metric" in e["attrs"]]
    assert METRIC in cards


# -- names and folders ------------------------------------------------------------------------
LONG = "/".join(["abcdefghijklmnopqrstuvwxyz"] * 12) + "/m"  # a valid name; its slug alone is over 255 bytes


def test_a_model_name_too_long_for_a_file_name_gets_a_page(git_model_repo: Path) -> None:
    r = git_model_repo
    cfg = (r / "mvtools.yaml").read_text().replace("models:\n", f"models:\n  - name: {LONG}\n    path: models/long.bin\n")
    (r / "mvtools.yaml").write_text(cfg)
    git(r, "commit", "-qam", "declare a model with a long name")
    out = json.loads(mvtools(r, "report", "--json", "--no-verify", "-o", "site").stdout)
    assert out["models"] == 2
    names = [p.name for p in (r / "site" / "models").iterdir()]
    assert len(names) == 4 and max(len(n.encode()) for n in names) <= 120
    index = (r / "site" / "index.html").read_text()
    link = re.search(r'<a href="(models/abcdef[^"]*)">' + re.escape(LONG) + "</a>", index)
    assert link and (r / "site" / link.group(1)).is_file()


def test_o_through_a_symlink_writes_where_it_points(git_model_repo: Path, tmp_path: Path) -> None:
    r, real = git_model_repo, tmp_path / "public" / "registry"
    real.parent.mkdir()
    mvtools(r, "report", "--no-verify", "-o", str(real))
    (real / "stale.html").write_text("old")
    (r / "site").symlink_to(real)
    out = json.loads(mvtools(r, "report", "--json", "--no-verify", "-o", "site").stdout)
    assert (r / "site").is_symlink() and (r / "site").resolve() == real  # the link is kept
    assert out["index"] == str(real / "index.html")
    assert (real / "index.html").is_file() and not (real / "stale.html").exists()  # the old report replaced
    assert sorted(p.name for p in r.iterdir() if "site" in p.name) == ["site"]  # nothing left beside it
    assert sorted(p.name for p in real.parent.iterdir()) == ["registry"]


def test_o_paths_that_cannot_be_written_are_one_error_line(git_model_repo: Path) -> None:
    r = git_model_repo
    (r / "notes.txt").write_text("mine\n")
    git(r, "add", "notes.txt")
    assert_refused(r, "report", "--no-verify", "-o", "notes.txt", want="notes.txt: exists and is a file")
    assert_refused(r, "report", "--no-verify", "-o", "notes.txt/site", want="notes.txt: not a directory")
    assert_refused(r, "report", "--no-verify", "-o", "missing/site", want="missing: no such directory")
    assert_refused(r, "report", "--no-verify", "-o", ".", want="exists and is not an mvtools report")
    if Path("/proc/self").is_dir():  # a folder no one can write in, even root
        assert_refused(r, "report", "--no-verify", "-o", "/proc/mvtools-report", want="/proc: cannot write the report there")
    assert (r / "notes.txt").read_text() == "mine\n"


# -- an adopted GTO registry ------------------------------------------------------------------
@pytest.mark.slow
def test_an_imported_gto_registry_is_reported_with_what_it_does_not_record(tmp_path: Path) -> None:
    """GTO's test fixture, adopted: versions without metrics, params, lineage or environment,
    an s3:// path, a version bound to its DVC md5 only, nine models."""
    from test_gto_bundles import _adopt, _clone

    r = _clone(tmp_path, "amritghimire__fixture-model-registry")
    _adopt(r)
    out = json.loads(mvtools(r, "report", "--json", "-o", "site").stdout)
    assert out["models"] == 9 and out["verify_ok"] is True
    site = r / "site"
    assert "s3://mycorp/proj-ml/segm-model-2022-04-15.pt" in (site / "index.html").read_text()
    # a version bound to its DVC md5 says so, with the md5, where the sha256 would be
    mlem = (site / "models" / "gto-mlem-dvc.html").read_text()
    assert "md5 c260024d5469c601d1559d9cdaa12ddb" in mlem and "models/constant-model" in mlem
    # its metrics and params are unknown (its commit records none), not "none recorded"
    assert mlem.count("unknown: imported from GTO") == 2 and "none recorded" not in mlem
    # what a side does not record is named by its version, never by the side's letter
    cmp = (site / "models" / "gto-mlem-not-in-mlem-dir-compare.html").read_text()
    section = cmp.split('data-pair="v0.0.3|v0.0.1"', 1)[1].split("</section>", 1)[0]
    assert "not recorded for v0.0.3, v0.0.1" in section
    assert "for a, b" not in cmp and "for a<" not in cmp and "for b<" not in cmp
    # newest first, also within one second: GTO registered and promoted v3.0.0 in the same one
    rows = re.findall(r"<td>gto-mlem-dvc</td><td><span[^>]*></span>(.*?)</td>", (site / "index.html").read_text())
    assert rows[-1] == "registered v3.0.0" and len(rows) == 3, rows


@pytest.mark.slow
def test_the_not_run_badge_is_readable(git_model_repo: Path, tmp_path: Path) -> None:
    """With --no-verify the header's badge says "not run" in white on grey (it was grey on grey)."""
    from PIL import Image

    from test_report import _unavailable, chromium

    r = git_model_repo
    mvtools(r, "report", "--no-verify", "-o", "site")
    assert ">not run</span>" in (r / "site" / "index.html").read_text()
    png = tmp_path / "header.png"
    chromium(tmp_path, f"--screenshot={png}", "--window-size=900,200", (r / "site" / "index.html").as_uri())
    if not png.is_file():
        _unavailable("chromium wrote no screenshot")
    img = Image.open(png).convert("RGB")
    grey = [(x, y) for y in range(50) for x in range(img.width)
            if all(abs(a - b) <= 4 for a, b in zip(img.getpixel((x, y)), (0x65, 0x6D, 0x76)))]
    assert grey, "no grey badge in the header"
    x0, x1 = min(x for x, _ in grey), max(x for x, _ in grey)
    y0, y1 = min(y for _, y in grey), max(y for _, y in grey)
    light = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1) if min(img.getpixel((x, y))) > 200]
    assert len(light) > 20, f"the badge's text cannot be seen ({len(light)} light pixels in {x0},{y0}-{x1},{y1})"


@pytest.mark.slow
def test_an_address_naming_no_version_opens_the_default_pair(git_model_repo: Path, tmp_path: Path) -> None:
    """`#constructor..toString` names no version (it did match the lookup's inherited names,
    leaving the picker empty and every pair hidden)."""
    r = git_model_repo
    for i in range(3):
        commit_model(r, f"v{i}\n", f"clf {i}")
    mvtools(r, "report", "--no-verify", "-o", "site")
    page = r / "site" / "models" / "clf-compare.html"
    for fragment, pair in (("#constructor..toString", "v0.1.1|v0.1.2"), ("#v0.1.0..v0.1.2", "v0.1.0|v0.1.2")):
        d = dom(tmp_path, page, fragment)
        assert [s["attrs"]["data-pair"] for s in d.all("section") if "hidden" not in s["attrs"]] == [pair], fragment


@pytest.mark.slow
def test_the_lineage_page_draws_the_graph_mvtools_lineage_reads(tmp_path: Path) -> None:
    """DVC's get-started pipeline (imported from GTO): every node of `mvtools lineage --json`,
    with its type, and every edge are drawn, the model node named."""
    from test_gto_bundles import _adopt, _clone

    r = _clone(tmp_path, "iterative__example-get-started")
    _adopt(r)
    graph = json.loads(mvtools(r, "lineage", "--json").stdout)
    mvtools(r, "report", "--no-verify", "-o", "site")
    html = (r / "site" / "lineage.html").read_text()
    drawn = sorted(re.findall(r"<title>([a-z]+): ([^<]*)</title></g>", html))
    assert drawn == sorted((n["type"], n["id"]) for n in graph["nodes"]) and len(drawn) > 20
    assert html.count('class="edge"') == len(graph["edges"])
    assert "model.pkl (text-classification)" in html


def test_a_ledger_that_cannot_be_read_is_named_in_the_summary(git_model_repo: Path) -> None:
    """The summary line (what CI logs show) says a model is missing from the report, not only
    "0 models"."""
    r = git_model_repo
    (r / "registry" / "clf.yaml").write_text("events: [oops\n")
    out = json.loads(mvtools(r, "report", "--json", "--no-verify", "-o", "site").stdout)
    assert out["models"] == 0 and out["unreadable"] == ["clf"]
    line = mvtools(r, "report", "--no-verify", "-o", "site").stdout
    assert "0 models, 4 pages, 1 ledger that cannot be read (see index.html)" in line, line


def test_a_file_added_to_an_old_report_is_never_deleted(git_model_repo: Path) -> None:
    """Replacing a report deletes only what a report writes: a CNAME or a checkout's .git
    someone put in the folder stops it (one error line, the folder as it was)."""
    r = git_model_repo
    mvtools(r, "report", "--no-verify", "-o", "site")
    (r / "site" / "CNAME").write_text("registry.example.org\n")
    assert_refused(r, "report", "--no-verify", "-o", "site", want="site/CNAME: not written by mvtools report")
    (r / "site" / "CNAME").unlink()
    (r / "site" / "models" / ".git").mkdir()
    assert_refused(r, "report", "--no-verify", "-o", "site", want="site/models/.git: not written by mvtools report")
    (r / "site" / "models" / ".git").rmdir()
    (r / "site" / "models" / "gone.html").write_text("a page of a model since removed")
    mvtools(r, "report", "--no-verify", "-o", "site")  # pages it wrote before are replaced
    assert not (r / "site" / "models" / "gone.html").exists()
