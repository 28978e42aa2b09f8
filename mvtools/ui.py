"""Terminal rendering: every human-readable line the commands print, one renderer per
result type (``render_x(result) -> str``, no trailing newline). The CLI (mvtools.cli) calls
the API, then prints a renderer's text or, with ``--json``, the result's ``to_json()``.
rich is imported only here, by ``print_compare``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    from mvtools.domain import (Comparison, DeployEvent, DeployStatus, Event, History, Pushed, RegisterEvent,
                                Restored, Retrieved, RollbackEvent, Show, SyncResult, VerifyReport)


def table(rows: Sequence[tuple[str, ...]]) -> str:
    """Columns padded to their widest cell, two spaces apart, trailing blanks stripped."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


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
            f"sha256 {ev.sha256[:12]})")


def render_show(res: Show) -> str:
    rows = [("MODEL", "LATEST", "VERSIONS", "STAGES", "PATH")]
    for m in res.models:
        stages = ", ".join(f"{s}={v}" for s, v in m.stages.items()) or "-"
        rows.append((m.name + (" (deprecated)" if m.deprecated else ""), m.latest or "-",
                     str(m.versions), stages, m.path or "-"))
    return table(rows)


def render_history(res: History) -> str:
    rows = [("TIMESTAMP", "EVENT", "VERSION", "COMMIT", "SHA256", "ACTOR")]
    for ev in res.events:
        rows.append((ev.timestamp, ev.kind, ev.get("version") or "-", (ev.commit or "-")[:12],
                     (ev.get("sha256") or "-")[:12], ev.actor))
    return table(rows)


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
    """promote, archive, deprecate: the kind, model, version and stage, then the tag."""
    bits = [ev.kind, ev.model, ev.get("version") or "", ev.get("stage") or ""]
    tail = f" (tag {ev.tag})" if ev.tag else ""
    return " ".join(b for b in bits if b) + tail


def render_restored(res: Restored) -> str:
    return f"restored {len(res.restored)} event(s) of {res.model} in {res.commit[:12]}"


def render_rollback(ev: RollbackEvent) -> str:
    return f"rolled back {ev.model} {ev.stage}: {ev.previous} -> {ev.version} (tag {ev.tag})"


def render_deploy_status(doc: DeployStatus) -> str:
    cand = f", canary {doc.candidate} at {doc.percent}%" if doc.candidate else ""
    return f"{doc.model} in {doc.env}: stable {doc.stable or '-'} ({doc.strategy or 'no deployment'}){cand}"


def render_deploy(action: str, ev: DeployEvent) -> str:
    s = ev.state or {}
    cand = f", canary {s['candidate']} at {s['percent']}%" if s.get("candidate") else ""
    return (f"{action}: {ev.model} in {ev.env}: stable {s.get('stable') or '-'}{cand}"
            + (f" (manifest {ev.get('manifest')})" if ev.get("manifest") else ""))


def render_publish(ev: DeployEvent) -> str:
    return f"published {ev.model} {ev.version} to {ev.get('uri')}"


def render_import_gto(res: Mapping[str, Any]) -> str:
    if not res["imported"]:
        return "nothing to import"
    return "\n".join([*(f"imported {n} events of {name}" for name, n in res["imported"].items()),
                      f"committed {res['commit'][:12]}"])


def print_compare(doc: Comparison) -> None:
    from rich.console import Console
    from rich.table import Table

    from mvtools.domain import thaw  # values as JSON shows them: a list metric prints as [..]

    con = Console()
    t = Table(title=f"{doc.model}: {doc.a} (A, baseline) vs {doc.b} (B, candidate)")
    for col in ("metric", "A", "B", "B - A", ""):
        t.add_column(col)
    for name, m in doc.metrics.items():
        delta = "-" if m["delta"] is None else f"{m['delta']:+.6g}"
        style = "green" if m["improved"] else ("red" if m.get("worse") else "")
        mark = "better" if m["improved"] else ("worse" if m.get("worse") else "")
        t.add_row(name, str(thaw(m["a"])), str(thaw(m["b"])), f"[{style}]{delta}[/]" if style else delta,
                  f"[{style}]{mark}[/]" if style else mark)
    con.print(t)
    for k, v in doc.params.items():
        con.print(f"params: {k}: {thaw(v['a'])} -> {thaw(v['b'])}")
    for kind in ("data", "code", "params"):
        for k, v in doc.lineage[kind].items():
            if kind != "params":
                con.print(f"lineage {kind}: {k}: {str(thaw(v['a']))[:12]} -> {str(thaw(v['b']))[:12]}")
    art = doc.artifact
    con.print(f"artifact: {'changed' if art['changed'] else 'identical'} "
              f"({art['size']['a']} -> {art['size']['b']} bytes)")
    con.print(f"similarity {doc.similarity:.3f}, importance {doc.importance:+.6g}, "
              f"recommendation [bold]{doc.recommendation}[/]")
