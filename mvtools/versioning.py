"""Versions and the tag grammar (GTO's, so GTO and DVC Studio read mvtools' tags).

Tags:  NAME@vX.Y.Z        a registered version (annotated, on the commit that holds it)
       NAME@vX.Y.Z!       that version archived (GTO: deregistered)
       NAME#STAGE#N       a stage assignment, N = 1 + the largest counter on any tag of NAME
       NAME#STAGE!#N      a stage unassignment
       NAME@deprecated    the model retired
Every form may also carry GTO's counter, ``#N`` (``NAME@vX.Y.Z#4``, ``NAME#STAGE`` without one):
``gto register`` and friends write it unless ``--simple``; both spellings are read.
``NAME`` is the model name with ``:`` written ``=`` (``sub/dvc.yaml`` artifact ``m``: ``sub=m``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache, total_ordering
from typing import Iterable, Tuple, Union

from mvtools.errors import UsageError

SEMVER = (
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
SEMVER_RE = re.compile(rf"^v?{SEMVER}$")
TIMESTAMP_RE = re.compile(r"^v?(?P<ts>\d{14})_(?P<hash>[0-9a-f]{8})$")
# (0, semver precedence key) for semver versions, (1, timestamp prefix) for the others (merge
# adds (2, "")). The precedence key is SemVer 2.0's order (python-semver's compare): major,
# minor, patch, then a release above its pre-releases, pre-release identifiers compared
# numerically when numeric, numbers below words, more identifiers above fewer; build ignored.
# Computed here rather than by semver, whose import (with argparse's) costs a hook's start.
PrecedenceKey = Tuple[int, int, int, int, Tuple[Tuple[int, Union[int, str]], ...]]
SortKey = Tuple[int, Union[str, PrecedenceKey]]
_NAME = r"(?:[a-zA-Z0-9_./-]+=)?[a-zA-Z0-9](?:[a-zA-Z0-9_/-]*[a-zA-Z0-9])?"
# a version as the ledger and tags spell it: "v" + semver, or "v" + the timestamp form
_VERSION = rf"v(?:{SEMVER.replace('?P<', '?P<v_')}|\d{{14}}_[0-9a-f]{{8}})"
VERSION_RE = re.compile(rf"^{_VERSION}$")
TAG_RE = re.compile(
    rf"^(?P<name>{_NAME})(?:"
    rf"@(?P<version>{_VERSION})(?P<archived>!)?"
    rf"|#(?P<stage>[a-zA-Z0-9](?:[a-zA-Z0-9_/-]*[a-zA-Z0-9])?)(?P<unassign>!)?"
    rf"|@(?P<deprecated>deprecated))(?:#(?P<counter>\d+))?$"
)  # GTO's tag_re (gto/constants.py): every form has a simple and a counter (#N) spelling


def is_version(value: object) -> bool:
    """Is ``value`` a version as the ledger and tags spell it: ``vX.Y.Z`` (semver with GTO's
    leading ``v``) or the timestamp form ``vYYYYMMDDHHMMSS_<8 hex>``? ``Version.parse``
    also takes ``1.2.3`` from a user and writes it ``v1.2.3``; a ledger holds only this form."""
    return isinstance(value, str) and VERSION_RE.fullmatch(value) is not None


@total_ordering
@dataclass(frozen=True)
class Version:
    """A semver version or a timestamp-hash version; orders semver by precedence."""

    text: str  # always with the leading "v"

    @classmethod
    def parse(cls, value: object) -> "Version":
        if not isinstance(value, str):
            raise UsageError(f"invalid version {value!r}")
        value = value.strip()
        if SEMVER_RE.match(value) or TIMESTAMP_RE.match(value):
            return cls(value if value.startswith("v") else "v" + value)
        raise UsageError(f"invalid version {value!r}: expected vMAJOR.MINOR.PATCH (e.g. v1.2.3)")

    @property
    def is_semver(self) -> bool:
        return SEMVER_RE.match(self.text) is not None

    def _key(self) -> SortKey:
        return _sort_key(self.text)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        return self.text

    def bump(self, part: str) -> "Version":
        if not self.is_semver:
            raise UsageError(f"cannot bump non-semver version {self.text}")
        if part not in ("major", "minor", "patch"):
            raise UsageError(f"invalid bump {part!r}: expected major, minor or patch")
        major, minor, patch = _release(self.text)
        bumped = {"major": (major + 1, 0, 0), "minor": (major, minor + 1, 0), "patch": (major, minor, patch + 1)}
        return Version("v{}.{}.{}".format(*bumped[part]))  # a bump drops pre-release and build


@lru_cache(maxsize=65536)
def _sort_key(text: str) -> SortKey:
    m = SEMVER_RE.match(text)
    if m is None:
        return (1, text[:15])  # timestamp versions sort by time; callers break ties by order
    pre = m.group("pre")
    ids = tuple((0, int(i)) if i.isdigit() else (1, i) for i in pre.split(".")) if pre else ()
    return (0, (int(m.group("major")), int(m.group("minor")), int(m.group("patch")), 0 if pre else 1, ids))


def _release(text: str) -> tuple[int, int, int]:
    m = SEMVER_RE.match(text)
    assert m is not None
    return int(m.group("major")), int(m.group("minor")), int(m.group("patch"))


FIRST = Version("v0.1.0")


def next_semver(taken: list[Version] | set[Version], bump: str) -> Version:
    semvers = [v for v in taken if v.is_semver]
    if not semvers:
        return FIRST
    return max(semvers).bump(bump)


def timestamp_version(sha256: str, when: datetime | None = None) -> Version:
    when = when or datetime.now(timezone.utc)
    return Version(f"v{when.strftime('%Y%m%d%H%M%S')}_{sha256[:8]}")


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- tags ------------------------------------------------------------------------------
def tag_name_of(model: str) -> str:
    return model.replace(":", "=")


def model_of_tag(name: str) -> str:
    return name.replace("=", ":")


def version_tag(model: str, version: Version | str, archived: bool = False) -> str:
    return f"{tag_name_of(model)}@{version}{'!' if archived else ''}"


def stage_tag(model: str, stage: str, counter: int | str, unassign: bool = False) -> str:
    return f"{tag_name_of(model)}#{stage}{'!' if unassign else ''}#{counter}"


def deprecated_tag(model: str) -> str:
    return f"{tag_name_of(model)}@deprecated"


def counter_form(tags: Iterable[str]) -> bool:
    """Does the repository spell its version, archive and deprecation tags in GTO's counter
    form (``NAME@vX.Y.Z#N``, ``NAME@vX.Y.Z!#N``, ``NAME@deprecated#N``, what ``gto register``
    writes without ``--simple``)? Stage tags carry a counter in both forms, so they do not tell."""
    for t in tags:
        f = _tag_fields(t) if "#" in t else None  # a counter is spelt "#N"
        if f is not None and f[4] and f[1] in ("version", "archive", "deprecated"):
            return True
    return False


def new_tag(tags: dict[str, tuple[str, int]] | list[str], model: str, kind: str,
            version: Version | str | None = None) -> str:
    """The name of the tag mvtools writes next for ``model``: the one place the form is decided.
    ``kind`` is ``version``, ``archive`` or ``deprecated``; the simple form unless the
    repository's tags (``tags``: every tag name) already use GTO's counter form, then
    ``#N`` with N = :func:`next_counter`. (Stage tags always carry a counter: ``stage_tag``.)"""
    base = deprecated_tag(model) if kind == "deprecated" else version_tag(model, str(version), kind == "archive")
    return f"{base}#{next_counter(tags, model)}" if counter_form(tags) else base


def is_tag_of(tag: object, model: str, kind: str, version: str | None = None, stage: str | None = None) -> bool:
    """Is ``tag`` a ``kind`` tag of ``model`` (and of ``version`` / ``stage``), in either form?"""
    f = _tag_fields(tag) if isinstance(tag, str) else None  # parse_tag's, without a ParsedTag per event
    return (f is not None and f[1] == kind and model_of_tag(f[0]) == model
            and (version is None or f[2] == version) and (stage is None or f[3] == stage))


def model_tag_pattern(model: str, *, versions_only: bool = False) -> str:
    """The ``refs/tags/`` glob of the model's tags (``Repo.tags``): all of them, or its
    version tags (archived ones included)."""
    return tag_name_of(model) + ("@v*" if versions_only else "[@#]*")


def is_model_tag(tag: str, model: str) -> bool:
    """Is ``tag`` one of the model's (version, archive, stage or deprecation tag)?"""
    prefix = tag_name_of(model)
    return tag.startswith(prefix + "@") or tag.startswith(prefix + "#")


def next_counter(tags: dict[str, tuple[str, int]] | list[str], model: str) -> int:
    """GTO's stage counter: 1 + the largest counter on any tag of the model."""
    best = 0
    mine = (tag_name_of(model) + "@", tag_name_of(model) + "#")
    for t in tags:
        p = parse_tag(t) if t.startswith(mine) else None  # (another model's tag is not)
        if p is not None and p.model == model and p.counter is not None:
            best = max(best, p.counter)
    return best + 1


# -- tag messages: the annotations GTO writes (gto/registry.py), so `git tag -n` reads alike
def register_message(model: str, version: object) -> str:
    return f"Registering artifact {model} version {version}"


def assign_message(model: str, version: object, stage: object) -> str:
    return f"Assigning stage {stage} to artifact {model} version {version}"


def unassign_message(model: str, version: object, stage: object) -> str:
    return f"Unassigning stage {stage} from artifact {model} version {version}"


def archive_message(model: str, version: object) -> str:
    return f"Deregistering artifact {model} version {version}"


def deprecate_message(model: str) -> str:
    return f"Deprecating artifact {model}"


@dataclass(frozen=True)
class ParsedTag:
    """A tag name in GTO's grammar, split into its parts."""

    model: str
    kind: str  # "version", "archive", "stage", "unassign", "deprecated"
    version: str | None = None
    stage: str | None = None
    counter: int | None = None


def _tag_fields(tag: str) -> tuple[str, str, str | None, str | None, str | None] | None:
    """(name as spelt in the tag, kind, version, stage, counter's digits) of a tag, or None."""
    m = TAG_RE.fullmatch(tag)
    if not m:
        return None
    name, version, archived, stage, unassign, counter = m.group("name", "version", "archived", "stage",
                                                                "unassign", "counter")
    if version:
        return name, "archive" if archived else "version", version, None, counter
    if stage:
        return name, "unassign" if unassign else "stage", None, stage, counter
    return name, "deprecated", None, None, counter


def parse_tag(tag: str) -> ParsedTag | None:
    f = _tag_fields(tag)
    if f is None:
        return None
    return ParsedTag(model_of_tag(f[0]), f[1], version=f[2], stage=f[3], counter=int(f[4]) if f[4] else None)
