"""The typed domain model the Python API returns: immutable dataclasses for each ledger
event kind, a model version, a model's state, the ``show``/``history`` documents and the
results of ``sync-tags``, ``verify`` and ``deploy status``.

Each object is built from the plain dict the ledger (and the fold over it) uses, with
``from_dict``, in one place per API method; ``to_json()`` gives back exactly that dict, in
its key order, so ``--json`` is the objects' serialisation. Nested mappings are read-only
(``types.MappingProxyType``) and lists are tuples; ``to_json()`` thaws them. Metrics keep
their float values, NaN included (the CLI prints those as strings). Standard library only:
the hooks import this module's users.
"""

from mvtools.domain.events import (ArchiveEvent, DeployEvent, DeprecateEvent, Event, PromoteEvent, RegisterEvent,
                                    RollbackEvent, Sha256Event, api_result, event_from_dict, freeze, thaw)
from mvtools.domain.results import (BrokenModel, Comparison, DeployStatus, Finding, History, LedgerRestored,
                                     LedgerSkipped, ModelSummary, ModelVersion, ModelView, Pushed, Restored, Retrieved,
                                     Show, SyncResult, TagChange, VerifyReport)

__all__ = [
    "ArchiveEvent", "BrokenModel", "Comparison", "DeployEvent", "DeployStatus", "DeprecateEvent", "Event",
    "Finding", "History", "LedgerRestored", "LedgerSkipped", "ModelSummary", "ModelVersion", "ModelView",
    "PromoteEvent", "Pushed", "RegisterEvent", "Restored", "Retrieved", "RollbackEvent", "Sha256Event", "Show", "SyncResult",
    "TagChange", "VerifyReport", "api_result", "event_from_dict", "freeze", "thaw"
]
