"""Terminal rendering: every human-readable line the commands print, one renderer per
result type (``render_x(result) -> str``, no trailing newline). The CLI (mvtools.cli) calls
the API, then prints a renderer's text or, with ``--json``, the result's ``to_json()``.
rich is imported only here, by ``print_compare``.

Tables fit ``width`` columns (:func:`width`: ``$COLUMNS``, else the terminal's; None when
stdout is not a terminal, so a piped row stays one line for grep): the widest columns wrap
their cells at spaces, and a table whose words cannot fit prints each row as a block of
``HEADER  value`` lines instead. A line is wider only when one word alone is."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import unicodedata
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    from mvtools.domain import (Comparison, DeployEvent, DeployStatus, Event, History, Pushed,
                                RegisterEvent, Restored, Retrieved, RollbackEvent, Show, SyncResult, VerifyReport)


def width() -> int | None:
    """The width tables fit: ``$COLUMNS``, else the terminal's when stdout is one, else None."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def cells(text: str) -> int:
    """The terminal cells ``text`` takes: two for a wide (CJK) character, none for a
    combining mark, one for the rest."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def printable(text: str) -> str:
    """``text`` with its control and format characters (escape sequences, a bidi override)
    written as ``\\x1b``/``\\u202e``: text from a ledger (an actor is a committer's name,
    which a cloned repository chooses) never drives the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


def _pad(text: str, w: int) -> str:
    return text + " " * (w - cells(text))


def _wrap(cell: str, w: int) -> list[str]:
    """``cell``'s words in lines of at most ``w`` cells (a longer word alone on its line)."""
    lines: list[str] = []
    for word in cell.split():
        if lines and cells(lines[-1]) + 1 + cells(word) <= w:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def table(rows: Sequence[tuple[str, ...]], width: int | None = None, shrink: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell, two spaces apart, trailing blanks stripped; the
    first row is the header. Wider than ``width``: the columns in ``shrink`` (indexes, first
    given first), then the widest, wrap at spaces down to their longest word; if the words
    still do not fit, :func:`blocks`."""
    rows = [tuple(printable(c) for c in r) for r in rows]
    n = len(rows[0])
    widths = [max(cells(r[i]) for r in rows) for i in range(n)]
    excess = sum(widths) + 2 * (n - 1) - (width or 0)
    if width is not None and excess > 0:
        floor = [max(cells(w) for r in rows for w in (r[i].split() or [""])) for i in range(n)]
        for i in shrink:
            cut = min(excess, widths[i] - floor[i])
            widths[i] -= cut
            excess -= cut
        while excess > 0:
            can = [i for i in range(n) if widths[i] > floor[i]]
            if not can:
                return blocks(rows, width)
            i = max(can, key=lambda i: widths[i])
            widths[i] -= 1
            excess -= 1
    out = []
    for r in rows:
        lines = [_wrap(c, w) if cells(c) > w else [c] for c, w in zip(r, widths)]
        for k in range(max(len(c) for c in lines)):
            out.append("  ".join(_pad(c[k] if k < len(c) else "", w) for c, w in zip(lines, widths)).rstrip())
    return "\n".join(out)


def blocks(rows: Sequence[tuple[str, ...]], width: int) -> str:
    """Each row as ``HEADER  value`` lines (values wrapped at spaces; an empty ``-`` cell is
    left out), a blank line apart: a table too wide for ``width`` even with its cells wrapped."""
    rows = [tuple(printable(c) for c in r) for r in rows]
    head = rows[0]
    lw = max(cells(h) for h in head)
    vw = max(width - lw - 2, 16)
    out: list[str] = []
    for r in rows[1:]:
        if out:
            out.append("")
        for i, (h, c) in enumerate(zip(head, r)):
            if i and c in ("-", ""):
                continue
            lines = _wrap(c, vw)
            out.append(f"{_pad(h, lw)}  {lines[0]}".rstrip())
            out += [" " * (lw + 2) + line for line in lines[1:]]
    return "\n".join(out)


def render_done(lines: Iterable[str], nothing: str) -> str:
    """``init``, ``install-hooks``...: what was done, one ``mvtools: `` line each."""
    return "\n".join(f"mvtools: {line}" for line in (list(lines) or [nothing]))


def render_init(done: Iterable[str], declared: bool) -> str:
    nxt = ("next: commit a new version of a declared model (git add, git commit); mvtools show" if declared else
           "next: declare your model in mvtools.yaml (or a dvc.yaml artifacts: section), "
           "then git add and git commit it")
    return render_done(done, "already set up: nothing to do") + "\n" + nxt


def render_register(ev: RegisterEvent) -> str:
    return (f"registered {ev.model} {ev.version} (tag {ev.tag}, commit {(ev.commit or '-')[:12]}, "
            f"sha256 {(ev.sha256 or '-')[:12]})")


def render_show(res: Show, width: int | None = None) -> str:
    rows = [("MODEL", "LATEST", "VERSIONS", "STAGES", "PATH")]
    for m in res.models:
        stages = ", ".join(f"{s}={v}" for s, v in m.stages.items()) or "-"
        rows.append((m.name + (" (deprecated)" if m.deprecated else ""), m.latest or "-",
                     str(m.versions), stages, m.path or "-"))
    return table(rows, width, shrink=(3,))


def _deploy_cells(ev: Event) -> tuple[str, str]:
    """A deploy event's VERSION and ACTION cells: the version the step sends traffic to
    (a start's own, else the canary's or the stable one after it), the action and a
    canary's share."""
    s = ev.get("state") or {}
    version = ev.get("version") or s.get("candidate") or s.get("stable") or "-"
    pct = f" {s['percent']}%" if s.get("candidate") and ev.get("action") in ("start", "step", "rollback") else ""
    return version, f"{ev.get('action') or '-'}{pct}"


def render_history(res: History, width: int | None = None) -> str:
    """One row per event: when, the kind, its version, the stage (promote, rollback), the
    environment and action (deploy), who. Commits, sha256 and metrics: ``--json``."""
    rows = [("WHEN", "EVENT", "VERSION", "STAGE", "ENV", "ACTION", "ACTOR")]
    for ev in res.events:
        version, action = _deploy_cells(ev) if ev.kind == "deploy" else (ev.get("version") or "-", "-")
        when = ev.timestamp.replace("T", " ").removesuffix("Z")
        actor = ev.actor.split(" <")[0] if " <" in ev.actor else ev.actor
        rows.append((when, ev.kind, version, ev.get("stage") or "-", ev.get("env") or "-", action, actor))
    return table(rows, width, shrink=(6, 0))


def _slot(st: DeployStatus, slot: str) -> str:
    v = st.slots.get(slot)
    return "-" if v is None else v + (" (live)" if st.live_slot == slot else "")


def render_environments(envs: Mapping[str, Sequence[DeployStatus]], width: int | None = None) -> str:
    """``show --environments``: what runs where, a row per environment and model deployed
    there (an environment with nothing deployed: one row of dashes)."""
    rows = [("ENV", "MODEL", "STABLE", "CANARY", "BLUE", "GREEN")]
    for env, sts in envs.items():
        rows += [(env, st.model, st.stable or "-", f"{st.candidate} at {st.percent}%" if st.candidate else "-",
                  _slot(st, "blue"), _slot(st, "green")) for st in sts] or [(env, "-", "-", "-", "-", "-")]
    if len(rows) == 1:
        return "no environments in mvtools.yaml and no deployments"
    return table(rows, width, shrink=(1,))


def render_get(res: Retrieved) -> str:
    return f"{res.model} {res.version} -> {res.path} (sha256 verified)"


def render_sync(res: SyncResult) -> str:
    """What sync-tags mended (its skipped ledgers are errors: ``res.errors()``)."""
    out = [f"created tag {m.tag} on {m.commit[:12]}" for m in res.created]
    out += [f"moved tag {m.tag} to {m.commit[:12]}, where the ledger's event puts it" for m in res.moved]
    out += [f"restored {m.ledger} to HEAD's: dropped events no commit holds (an interrupted registration)"
            for m in res.restored]
    if not (res.created or res.moved or res.restored or res.skipped):
        out.append("tags agree with the ledger")
    return "\n".join(out)


def render_push(res: Pushed) -> str:
    out = [f"renumbered {r} (another clone published it first)" for r in res.renumbered]
    out.append(f"pushed {res.branch} and {res.tags} registry tags to {res.remote}; "
               f"{res.dvc_files_pushed} artifact files to the DVC remote"
               + (f"; {res.retries} retries" if res.retries else "")
               + (f"; upstream set to {res.remote}/{res.branch}" if res.upstream_set else ""))
    return "\n".join(out)


def render_resolved(res: Pushed) -> str:
    out = [f"renumbered {r} (another clone published it first)" for r in res.renumbered]
    return "\n".join(out + [f"{res.branch} is on {res.remote}/{res.branch} with this clone's unpushed commits on "
                             "top; run: mvtools push"])


def render_verify(rep: VerifyReport) -> str:
    out = [f"{label}: {p.kind}: {p.where}: {p.message}"
           for label, items in (("problem", rep.problems), ("warning", rep.warnings), ("note", rep.notes),
                                ("unchecked", rep.unchecked)) for p in items]
    out.append("verify: ok" if not rep.problems else f"verify: {len(rep.problems)} problem(s)")
    return "\n".join(out)


def render_event(ev: Event) -> str:
    """promote, archive, deprecate: the kind, model, version and stage, then the tag; an
    archive of a stage holder says what each of its stages holds now."""
    bits = [ev.kind, ev.model, ev.get("version") or "", ev.get("stage") or ""]
    tail = f" (tag {ev.tag})" if ev.tag else ""
    left = [f"{s} is left empty" if v is None else f"{s} falls back to {v}"
            for s, v in (ev.get("vacated") or {}).items()]
    return " ".join(b for b in bits if b) + tail + "".join(f"; {x}" for x in left)


def render_restored(res: Restored) -> str:
    return f"restored {len(res.restored)} event(s) of {res.model} in {res.commit[:12]}"


def render_rollback(ev: RollbackEvent) -> str:
    return f"rolled back {ev.model} {ev.stage}: {ev.previous} -> {ev.version} (tag {ev.tag})"


def render_deploy_status(doc: DeployStatus) -> str:
    cand = f", canary {doc.candidate} at {doc.percent}%" if doc.candidate else ""
    slots = "" if not any(doc.slots.values()) else "; slots: " + ", ".join(
        f"{s} {_slot(doc, s)}" for s in ("blue", "green"))
    return f"{doc.model} in {doc.env}: stable {doc.stable or '-'} ({doc.strategy or 'no deployment'}){cand}{slots}"


def render_deploy(action: str, ev: DeployEvent) -> str:
    s = ev.state or {}
    cand = f", canary {s['candidate']} at {s['percent']}%" if s.get("candidate") else ""
    return (f"{action}: {ev.model} in {ev.env}: stable {s.get('stable') or '-'}{cand}"
            + (f" (manifest {ev.get('manifest')})" if ev.get("manifest") else ""))


def render_publish(ev: DeployEvent) -> str:
    return f"published {ev.model} {ev.version} to {ev.get('uri')}"


def render_import_gto(res: Mapping[str, Any]) -> str:
    lines = [f"skipped {t['tag']}: {t['skipped']}" for t in res.get("tags", ()) if "skipped" in t]
    if not res["imported"]:
        return "\n".join([*lines, "nothing to import"])
    lines += [f"imported {n} events of {name}" for name, n in res["imported"].items()]
    lines.append(f"committed {res['commit'][:12]}")
    regs = [t for t in res.get("tags", ()) if t.get("imported") == "register"]
    md5_only, none = (sum(1 for t in regs if t.get("bytes") == b) for b in ("md5", "none"))
    if none:
        lines.append(f"{none} imported version(s) have no bytes mvtools can read (a remote path, or none): "
                     "they stay as GTO shows them")
    if md5_only:
        lines.append(f"{md5_only} imported version(s) have no sha256 yet (their bytes are out of reach here); "
                     "until one is recorded, each is bound to the DVC md5 and size its commit records")
    if res.get("follow_up"):
        lines.append(f"once their bytes can be fetched (dvc remote reachable), run: {res['follow_up']}")
    return "\n".join(lines)


def render_record_sha256(res: Mapping[str, Any]) -> str:
    lines = [f"recorded {r['model']}@{r['version']}: sha256 {r['sha256'][:12]}... ({r['size']} bytes)"
             for r in res["recorded"]]
    lines += [f"not recorded {r['model']}@{r['version']}: {r['why']}" for r in res["failed"]]
    lines += [f"no sha256 possible for {r['model']}@{r['version']}: {r['why']}" for r in res.get("without_md5", ())]
    if res["commit"]:
        lines.append(f"committed {res['commit'][:12]}")
    return "\n".join(lines) or "every version has a sha256; nothing to record"


def _short(v: Any) -> str:
    """A hash cut to 12 characters; other values as JSON shows them."""
    from mvtools.domain import thaw

    v = thaw(v)
    if v is None:
        return "absent"
    return v[:12] if isinstance(v, str) and len(v) >= 32 else str(v)


def lineage_lines(lin: Mapping[str, Any], a: str = "a", b: str = "b") -> list[str]:
    """The lineage part of compare and ``lineage --diff``: the producing stage's data and code,
    the params, then each upstream stage's change (``prepare: params.yaml:prepare.seed 1 -> 2``)."""
    out = [f"{kind:6} {k}: {_short(v['a'])} -> {_short(v['b'])}"
           for kind in ("data", "code", "params") for k, v in lin[kind].items()]
    for sid, st in (lin.get("upstream") or {}).items():
        if st["status"] != "changed":
            out.append(f"{sid}: upstream stage only in {b if st['status'] == 'added' else a}")
        out += [f"{sid}: {k} {_short(v['a'])} -> {_short(v['b'])}"
                for part in ("params", "deps") for k, v in st[part].items()]
    for side in lin.get("upstream_unknown") or ():
        what = "lineage" if side in lin["unknown"] else "upstream stages"
        out.append(f"{what} of {a if side == 'a' else b} unknown (not recorded)")
    if not out:
        out.append("identical upstream")
    return out


def environment_lines(env: Mapping[str, Any], a: str = "a", b: str = "b") -> list[str]:
    if not env.get("known"):
        return [f"environment of {a if side == 'a' else b} unknown (not recorded)" for side in env["unknown"]]
    out = [f"{key} {env[key]['a']} -> {env[key]['b']}" for key in ("platform", "python") if key in env]
    for path, ch in env["files"].items():
        state = "added" if ch["a"] is None else "removed" if ch["b"] is None else "changed"
        out.append(f"{path} {state} ({_short(ch['a'])} -> {_short(ch['b'])})")
        out += [f"    {line}" for line in ch.get("changes") or ()]
    return out or ["identical environment"]


def render_lineage_diff(model: str, doc: Mapping[str, Any]) -> str:
    """``lineage --model NAME --diff A B``."""
    return "\n".join([f"{model}: lineage of {doc['a']} (a) vs {doc['b']} (b)",
                      *(f"  {line}" for line in lineage_lines(doc, doc["a"], doc["b"]))])


def print_compare(doc: Comparison) -> None:
    from rich.console import Console
    from rich.markup import escape as _escape
    from rich.table import Table

    def escape(text: str) -> str:  # rich markup off, and the ledger's control characters shown
        return _escape("\n".join(printable(line) for line in text.split("\n")))

    from mvtools.domain import thaw  # values as JSON shows them: a list metric prints as [..]

    w = width()
    # a long path or diff line stays one line (grep, CI logs); piped, the table is not cut to 80
    con = Console(soft_wrap=True, width=w or 100_000)
    title = f"{doc.model}: {doc.a} (A, baseline) vs {doc.b} (B, candidate)"
    # a line of its own (rich would wrap a table's title to the table's width); a long model
    # name wraps it at spaces
    t = Table()
    for col in ("metric", "A", "B", "B - A", ""):
        t.add_column(col, overflow="fold")
    gaps = {side: set(doc.unknown[side]) for side in ("a", "b")}
    for name, m in doc.metrics.items():
        delta = "-" if m["delta"] is None else f"{m['delta']:+.6g}"
        style = "green" if m["improved"] else ("red" if m.get("worse") else "")
        mark = "better" if m["improved"] else ("worse" if m.get("worse") else "")
        va, vb = ("unknown" if "metrics" in gaps[s] else str(thaw(m[s])) for s in ("a", "b"))
        t.add_row(escape(name), escape(va), escape(vb), f"[{style}]{delta}[/]" if style else delta,
                  f"[{style}]{mark}[/]" if style else mark)
    if doc.metrics:
        con.print(escape(textwrap.fill(title, w, break_long_words=False) if w else title))
        con.print(t)
    else:
        con.print(f"{doc.model}: {doc.a} (A, baseline) vs {doc.b} (B, candidate): no metrics recorded")
    names = {"a": f"{doc.a} (A)", "b": f"{doc.b} (B)"}
    for side in ("a", "b"):
        if "metrics" in gaps[side]:
            con.print(f"metrics, params of {names[side]}: unknown (imported from GTO, not recorded)")
    for k, v in doc.params.items():
        con.print(escape(f"params: {k}: {thaw(v['a'])} -> {thaw(v['b'])}"))
    for line in lineage_lines({**doc.lineage, "params": {}}, names["a"], names["b"]):
        if line != "identical upstream":  # (a model with no pipeline has no lineage to call identical)
            con.print(escape(f"lineage {line}"))
    for line in environment_lines(doc.environment, names["a"], names["b"]):
        con.print(escape(f"environment: {line}"))
    art = doc.artifact
    con.print(f"artifact: {'unknown' if art['changed'] is None else 'changed' if art['changed'] else 'identical'} "
              f"({art['size']['a']} -> {art['size']['b']} bytes)")
    sim = "unknown" if doc.similarity is None else f"{doc.similarity:.3f}"
    if doc.importance is None:
        con.print(f"similarity {sim}; [bold]no recommendation[/] ({doc.recommendation}): "
                  "no metric is reported by both versions")
    else:
        con.print(f"similarity {sim}, importance {doc.importance:+.6g}, "
                  f"recommendation [bold]{doc.recommendation}[/]")
