"""The lifecycle of versions: stages (promote, rollback), archive and deprecate. Each
appends its event through the write transaction and writes GTO's tag for it, timed
strictly after the model's earlier tags so GTO orders them as mvtools does."""

from __future__ import annotations

import os
import time
from typing import Any, TYPE_CHECKING

from mvtools import ledger as L
from mvtools.errors import CheckFailed, NotFound, UsageError
from mvtools.reading import RegistryReader
from mvtools.versioning import (archive_message, assign_message, deprecate_message, is_model_tag, new_tag,
                                next_counter, stage_tag, unassign_message, utc_now)

if TYPE_CHECKING:
    from mvtools.domain import ArchiveEvent, DeprecateEvent, PromoteEvent, Restored, RollbackEvent


class Lifecycle(RegistryReader):
    """Stages, archive, deprecate."""

    def promote(self, name: str, version: str, stage: str, *, force: bool = False,
                message: str | None = None) -> PromoteEvent:
        from mvtools.domain import PromoteEvent, api_result  # off the hooks' import path
        from mvtools import policy
        from mvtools.config import validate_stage

        validate_stage(stage)
        if stage not in self.config.stages:
            raise UsageError(f"unknown stage {stage!r} (stages: {', '.join(self.config.stages)})")
        with self.transaction() as txn:
            st, v = self.version(name, version)
            if st.deprecated and not force:
                raise UsageError(f"{name} is deprecated; pass --force to promote anyway")
            if v in st.archived and not force:
                raise UsageError(f"{name}@{v} is archived; pass --force to promote it anyway")
            if st.stage_holders().get(stage) == v:
                raise UsageError(f"{name}@{v} already holds {stage}")
            need = self.config.promotes_from.get(stage)
            if need and not force:
                held = any(e["event"] == "promote" and e.get("version") == v and e.get("stage") == need
                           for e in st.events)
                if not held:
                    raise CheckFailed(f"{name}@{v} may enter {stage} only after {need} "
                                      f"(promotes_from rule); promote it to {need} first")
            actor = self.repo.identity()
            policy.check(self.config, actor, "promote", stage)
            tags = self.repo.tags()
            counter = next_counter(tags, name)
            tag = stage_tag(name, stage, counter)
            ev = L.make_event("promote", name, actor, utc_now(), version=v, stage=stage, tag=tag,
                              **({"message": message} if message else {}))
            commit = _version_commit(self, st.versions[v], tags)
            txn.commit({name: [ev]}, message or f"Promote {name} {v} to {stage}")
            env, _ = tag_env(tags, name)
            txn.tag(tag, commit, assign_message(name, v, stage), env=env)
        return api_result(ev, commit, PromoteEvent)

    def rollback(self, name: str, stage: str, message: str | None = None) -> RollbackEvent:
        from mvtools.domain import RollbackEvent, api_result  # off the hooks' import path
        from mvtools import policy

        if stage not in self.config.stages and stage not in self.state(name).stages:
            raise UsageError(f"unknown stage {stage!r} (stages: {', '.join(self.config.stages)})")
        with self.transaction() as txn:
            st = self.state(name)
            stack = st.stages.get(stage, [])
            if not stack:
                raise UsageError(f"no version of {name} holds {stage}; nothing to roll back")
            if len(stack) < 2:
                raise UsageError(f"{name} {stage}: {stack[-1]} has no earlier holder to roll back to")
            popped, restored = stack[-1], stack[-2]
            actor = self.repo.identity()
            policy.check(self.config, actor, "promote", stage)
            tags = self.repo.tags()
            c1 = next_counter(tags, name)
            un_tag, re_tag = stage_tag(name, stage, c1, unassign=True), stage_tag(name, stage, c1 + 1)
            ev = L.make_event("rollback", name, actor, utc_now(), stage=stage, version=restored,
                              previous=popped, tag=re_tag, **({"message": message} if message else {}))
            txn.commit({name: [ev]}, message or f"Roll back {name} {stage} from {popped} to {restored}")
            env, when = tag_env(tags, name)
            txn.tag(un_tag, _version_commit(self, st.versions[popped], tags),
                    unassign_message(name, popped, stage), env=env)
            env2 = dict(env, GIT_COMMITTER_DATE=f"@{when + 1} +0000")
            commit = _version_commit(self, st.versions[restored], tags)
            txn.tag(re_tag, commit, assign_message(name, restored, stage), env=env2)
        return api_result(ev, commit, RollbackEvent)

    def archive(self, name: str, version: str, message: str | None = None) -> ArchiveEvent:
        from mvtools.domain import ArchiveEvent, api_result  # off the hooks' import path
        with self.transaction() as txn:
            st, v = self.version(name, version)
            if v in st.archived:
                raise UsageError(f"{name}@{v} is archived already")
            tags = self.repo.tags()
            tag = new_tag(tags, name, "archive", v)
            ev = L.make_event("archive", name, self.repo.identity(), utc_now(), version=v, tag=tag,
                              **({"message": message} if message else {}))
            commit = _version_commit(self, st.versions[v], tags)
            txn.commit({name: [ev]}, message or f"Archive {name} {v}")
            env, _ = tag_env(tags, name)
            txn.tag(tag, commit, archive_message(name, v), env=env)
        # the stages it held: each one's holder now (None: left empty), as state.fold decides
        order = {s: i for i, s in enumerate(self.config.stages)}
        held = sorted((s for s, h in st.stage_holders().items() if h == v), key=lambda s: (order.get(s, len(order)), s))
        vacated = {s: next((x for x in reversed(st.stages[s]) if x != v and x not in st.archived), None) for s in held}
        return api_result(ev, commit, ArchiveEvent, **({"vacated": vacated} if vacated else {}))

    def deprecate(self, name: str, message: str | None = None) -> DeprecateEvent:
        from mvtools.domain import DeprecateEvent, api_result  # off the hooks' import path
        with self.transaction() as txn:
            st = self.state(name)
            if st.deprecated:
                raise UsageError(f"{name} is deprecated already")
            tags = self.repo.tags()
            tag = new_tag(tags, name, "deprecated")
            ev = L.make_event("deprecate", name, self.repo.identity(), utc_now(), tag=tag,
                              **({"message": message} if message else {}))
            head = txn.commit({name: [ev]}, message or f"Deprecate {name}")
            env, _ = tag_env(tags, name)
            txn.tag(tag, head, deprecate_message(name), env=env)
        return api_result(ev, head, DeprecateEvent)

    def restore_events(self, name: str) -> Restored:
        """Append again, in one commit, the events of ``name`` that a commit of HEAD's
        history dropped (``git revert`` of a registering or promoting commit): a ledger
        only grows. Their tags were never deleted; ``sync-tags`` mends any that are."""
        from mvtools.domain import Restored  # off the hooks' import path
        with self.transaction() as txn:
            dropped = self.dropped_events(name)
            if not dropped:
                raise UsageError(f"{name}: HEAD's ledger holds every event its history recorded; "
                                 "nothing to restore")
            head = txn.commit({name: dropped}, f"Restore {len(dropped)} event(s) of {name} that a commit dropped")
        return Restored(name, tuple(e["id"] for e in dropped), head)


def tag_env(tags: dict[str, tuple[str, int]], name: str) -> tuple[dict[str, str], int]:
    """A tagger date strictly after every tag of the model: GTO orders tags by 1 s times."""
    last = max((when for t, (_c, when) in tags.items() if is_model_tag(t, name)), default=0)
    when = max(int(time.time()), last + 1)
    return dict(os.environ, GIT_COMMITTER_DATE=f"@{when} +0000"), when


def _version_commit(reg: RegistryReader, ev: dict[str, Any], tags: dict[str, tuple[str, int]]) -> str:
    c = reg.event_commit(ev, tags)
    if c is None:
        raise NotFound(f"no commit holds {ev['tag']}; run 'mvtools sync-tags'")
    return c

