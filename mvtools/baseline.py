"""The baseline of an adopted repository: the history GTO made before mvtools recorded it.

A repository is *adopted* when HEAD's ledgers hold events imported from GTO
(``imported_from: gto``, written by ``mvtools import-gto``). Its history then has two parts
that ``verify`` judges differently (docs/invariants.md, "The baseline of an adopted
repository"):

* **Commits before adoption**: the strict ancestors of the *adoption commit*, the oldest
  commit of HEAD's history that adds a ledger (mvtools' first write, the import commit or
  the first registration, whichever came first). GTO tagged some of their model changes and
  not others, and no hook ran: a model change there that no register event records is a
  note (``before-adoption``), not I2's ``unregistered`` problem.
* **Tags import-gto has judged**: registry tags created before (in an earlier second than) the newest commit of
  HEAD's history that appends imported events. Each one import-gto saw and either recorded
  or left out (a stage GTO itself ignores, a stage tag on a commit with no version, a
  version whose artifact path its commit does not give); one no ledger records is a note
  (``baseline-tag``), not an orphan. A tag made after that (``gto register`` beside mvtools)
  is judged as before: ``mvtools import-gto`` records it.

Everything else, including every commit from the adoption commit on, follows the rules
unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from mvtools import ledger as L
    from mvtools.gitops import Repo


@dataclass
class Baseline:
    adopted: bool = False
    adoption_commit: str | None = None
    import_time: int | None = None  # committer time of the newest import commit
    _before: set[str] = field(default_factory=set)

    def before_adoption(self, commit: str) -> bool:
        return commit in self._before

    def judged_by_import(self, tag_time: int) -> bool:
        return self.import_time is not None and tag_time < self.import_time  # one-second clocks: strict


def imported(ledgers: Iterable[L.Ledger]) -> bool:
    return any(e.get("imported_from") == "gto" for led in ledgers for e in led.events)


def baseline(repo: Repo, registry_dir: str, ledgers: Iterable[L.Ledger]) -> Baseline:
    """The baseline of HEAD's history (empty unless the repository was adopted from GTO)."""
    if repo.head is None or not imported(ledgers):
        return Baseline()
    from mvtools.ledger import is_ledger_path

    adoption = None
    log = repo.out("log", "--diff-filter=A", "--format=%x00%H", "--name-only", "--", registry_dir, check=False)
    for chunk in log.split("\0"):
        commit, *names = chunk.split() or [""]
        if commit and any(is_ledger_path(registry_dir, n) for n in names):
            adoption = commit  # the log is newest first: the last one is the oldest
    newest = repo.out("log", "-1", "-Gimported_from: gto", "--format=%H %ct", "--", registry_dir,
                      check=False).split()
    before: set[str] = set()
    if adoption is not None:
        before = set(repo.out("rev-list", f"{adoption}^@", "--", check=False).split()) if _has_parent(
            repo, adoption) else set()
    return Baseline(True, adoption, int(newest[1]) if len(newest) == 2 else None, before)


def _has_parent(repo: Repo, commit: str) -> bool:
    return bool(repo.out("rev-parse", "--verify", "-q", f"{commit}^", check=False))
