"""mvtools: git-native model versioning on top of git, DVC and pre-commit.

``from mvtools import Registry`` is the Python API. It is exported lazily (PEP 562), so the
hooks, which import ``mvtools.hooks``, do not pay for the registry's imports.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Registry", "__version__"]

if TYPE_CHECKING:
    from mvtools.registry import Registry


def __getattr__(name: str) -> Any:
    if name == "Registry":
        from mvtools.registry import Registry

        return Registry
    raise AttributeError(f"module 'mvtools' has no attribute {name!r}")
