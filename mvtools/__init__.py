"""mvtools: git-native model versioning on top of git, DVC and pre-commit."""

__version__ = "0.1.0"
