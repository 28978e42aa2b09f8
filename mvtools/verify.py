"""`mvtools verify`: ledgers parse and match their ids, tags and ledger agree."""

from __future__ import annotations

from typing import Any

from mvtools import ledger as L
from mvtools.errors import ConfigError
from mvtools.versioning import parse_tag


def verify(reg: Any) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []

    def add(kind: str, where: str, message: str) -> None:
        problems.append({"kind": kind, "where": where, "message": message})

    repo, cfg = reg.repo, reg.config
    states = {}
    try:
        states = reg.states()
    except ConfigError as exc:
        add("schema", cfg.registry_dir, str(exc))
    tags = repo.tags()
    head = repo.head
    for name, st in states.items():
        ledger_rel = cfg.ledger_path(name)
        for ver, ev in st.versions.items():
            t = tags.get(ev["tag"])
            if t is None:
                add("tag-missing", ev["tag"], "the ledger registers it but the tag is missing; run: mvtools sync-tags")
                continue
            blob = repo.show_blob(f"{t[0]}:{ledger_rel}")
            ids = set()
            if blob:
                try:
                    ids = set(L.parse(blob, ledger_rel).ids)
                except ConfigError:
                    ids = set()
            if ev["id"] not in ids and not ev.get("imported_from"):
                add("tag-commit", ev["tag"], f"commit {t[0][:12]} does not hold this version's ledger event")
            elif head and not repo.is_ancestor(t[0], head):
                add("tag-unreachable", ev["tag"], f"commit {t[0][:12]} is not reachable from HEAD")
    for tag in tags:
        pt = parse_tag(tag)
        if pt is None or pt.kind != "version":
            continue
        st = states.get(pt.model)
        if st is None or pt.version not in st.versions:
            add("tag-orphan", tag, "tag without a register event in the ledger")
    # append-only through history: every commit that touched a ledger extends its parents
    if head:
        log = repo.out("log", "--format=%H %P", "--", cfg.registry_dir, check=False)
        for line in log.splitlines():
            commit, *parents = line.split()
            for p in repo.out("diff-tree", "-r", "--name-only", "--no-commit-id", "--root", commit).split():
                if not (p.startswith(cfg.registry_dir + "/") and p.endswith(".yaml")):
                    continue
                new = repo.show_blob(f"{commit}:{p}")
                olds = [repo.show_blob(f"{par}:{p}") for par in parents]
                if len(parents) > 1:
                    why = L.check_union(olds, new, p)
                else:
                    why = L.check_extends(olds[0] if olds else None, new, p)
                if why:
                    add("rewrite", f"{commit[:12]}", why)
    return problems
