"""What `mvtools init` adopts from a repository GTO (and DVC) already use.

* Stage names: ``.gto``'s ``stages:`` list when it has one (GTO ignores stage tags outside
  it and refuses to assign them, so mvtools does too); else the stage names of the
  registry tags already there, oldest first; else mvtools' defaults.
* The GTO history: when registry tags exist and no ledger records anything yet, init says
  how to import them (``mvtools import-gto``).
* DVC: a root that is no DVC project but holds DVC subrepos (``dvc init --subdir``) is left
  as it is unless ``--dvc-root`` asks for a project there: ``dvc init`` at the root would
  change what DVC sees (its walk from the root skips the subrepos, but its commands at the
  root would then work on a new, empty project).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mvtools.dvcroots import subrepos
from mvtools.gitops import Repo
from mvtools.gtoconfig import FILE as GTO_FILE, read_gto_config
from mvtools.settings import DEFAULT_STAGES
from mvtools.versioning import parse_tag


@dataclass
class Adoption:
    stages: list[str] = field(default_factory=lambda: list(DEFAULT_STAGES))
    stages_from: str | None = None  # ".gto", "the registry tags", or None (mvtools' defaults)
    gto_tags: int = 0  # registry tags already in the repository
    subrepos: list[str] = field(default_factory=list)


def adoption(repo: Repo) -> Adoption:
    """What this repository already says (reads .gto, the tags and the DVC layout; writes nothing)."""
    from mvtools.config import validate_stage
    from mvtools.errors import UsageError

    res = Adoption(subrepos=subrepos(repo.root))
    rows = sorted(((when, name) for name, (_c, when) in repo.tags().items() if parse_tag(name)))
    res.gto_tags = len(rows)
    cfg = read_gto_config(repo.root)
    if cfg.stages:
        res.stages, res.stages_from = list(cfg.stages), GTO_FILE
        return res
    seen: list[str] = []
    for _when, name in rows:
        pt = parse_tag(name)
        if pt is not None and pt.stage and pt.stage not in seen:
            try:
                seen.append(validate_stage(pt.stage))
            except UsageError:
                continue  # a name mvtools cannot write is not adopted (GTO's grammar is wider)
    if seen:
        res.stages, res.stages_from = seen, "the registry tags"
    return res


def stages_line(stages: list[str]) -> str:
    return "stages: [" + ", ".join(stages) + "]"
