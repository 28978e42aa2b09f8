"""``.dvcignore`` as DVC applies it (``dvc/ignore.py``): gitignore patterns from the
``.dvcignore`` of the repository root and of every folder below it, each relative to its own
folder, a deeper file's patterns overriding its parents'; a path inside an ignored folder is
ignored. DVC skips ignored files when it hashes a directory output, so mvtools does too."""

from __future__ import annotations

import re
from pathlib import Path

FILE = ".dvcignore"
_Rule = tuple["re.Pattern[str]", bool, bool]  # regex, ignore (not negated), folder-only


def _rules(text: str) -> list[_Rule]:
    try:  # pathspec >= 1 (DVC's own import); imported only when a .dvcignore exists
        from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern as _Pattern
    except ImportError:  # pragma: no cover - pathspec < 1
        from pathspec.patterns import GitWildMatchPattern as _Pattern

    rules: list[_Rule] = []
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        regex, include = _Pattern.pattern_to_regex(line)
        if regex is not None and include is not None:
            rules.append((re.compile(regex), include, line.endswith("/")))
    return rules


class DvcIgnore:
    """The ``.dvcignore`` files of the work tree under ``root``, read on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._rules: dict[str, list[_Rule]] = {}

    def _of(self, folder: str) -> list[_Rule]:
        if folder not in self._rules:
            path = self.root / folder / FILE if folder else self.root / FILE
            try:
                self._rules[folder] = _rules(path.read_text(encoding="utf-8")) if path.is_file() else []
            except (OSError, UnicodeDecodeError):
                self._rules[folder] = []
        return self._rules[folder]

    def _decide(self, path: str, is_dir: bool) -> bool | None:
        """The last matching rule's verdict on ``path`` (repo-relative), deepest file first."""
        parts = path.split("/")
        for depth in range(len(parts) - 1, -1, -1):
            folder = "/".join(parts[:depth])
            rel = "/".join(parts[depth:])
            candidates = [rel, rel + "/"] if is_dir else [rel]
            for regex, ignore, dir_only in reversed(self._of(folder)):
                if dir_only and not is_dir:
                    continue
                if any(regex.match(c) for c in candidates):
                    return ignore
        return None

    def ignored(self, path: str, is_dir: bool = False) -> bool:
        """Whether DVC ignores repo-relative ``path`` (or any folder holding it)."""
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            if self._decide("/".join(parts[:i]), is_dir or i < len(parts)):
                return True
        return False
