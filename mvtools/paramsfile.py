"""Params and vars files read the way DVC reads them (``dvc/utils/serialize``): YAML 1.2,
JSON, TOML and Python, chosen by suffix. A Python params file is never run: its top-level
constants, class attributes and ``self.x`` assignments in a class's ``__init__`` are read
from its syntax tree with :func:`ast.literal_eval`, as DVC's ``parse_py`` does."""

from __future__ import annotations

import ast
import json
import sys
from typing import Any

from mvtools.errors import ConfigError
from mvtools.yamlio import load_yaml


def load_params(data: bytes, rel: str) -> Any:
    """The parsed content of params or vars file ``rel`` (its format by suffix)."""
    suffix = rel.rsplit(".", 1)[-1].lower() if "." in rel.rsplit("/", 1)[-1] else ""
    if suffix == "json":
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ConfigError(f"{rel}: malformed JSON: {exc}") from None
    if suffix == "toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python < 3.11: the tomli backport (a dependency there)
            import tomli as tomllib
        try:
            return tomllib.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{rel}: malformed TOML: {exc}") from None
    if suffix == "py":
        return parse_py(data, rel)
    return load_yaml(data, rel)


def parse_py(data: bytes, rel: str) -> dict[str, Any]:
    """DVC's reading of a Python params file: literal assignments, never executed."""
    try:
        tree = ast.parse(data, filename=rel)
    except (SyntaxError, ValueError) as exc:
        line = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise ConfigError(f"{rel}: Python file structure is corrupted{line}") from None
    return _body(tree.body, False)


def _body(body: list[ast.stmt], only_self: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for node in body:
        try:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                result.update(_assign(node, only_self))
            elif isinstance(node, ast.ClassDef):
                result[node.name] = _body(node.body, False)
            elif isinstance(node, ast.FunctionDef) and node.name == "__init__":
                result.update(_body(node.body, True))
        except (ValueError, AttributeError, TypeError, SyntaxError, RecursionError):
            continue  # DVC skips what is not a literal
    return result


def _assign(node: ast.Assign | ast.AnnAssign, only_self: bool) -> dict[str, Any]:
    target: ast.expr
    if isinstance(node, ast.AnnAssign):
        target = node.target
    elif len(node.targets) == 1:
        target = node.targets[0]
    else:
        raise AttributeError
    name = _name(target, only_self)
    value_node = node.value
    if value_node is None:
        raise AttributeError
    value: Any
    if isinstance(value_node, ast.Dict):
        value = {ast.literal_eval(k): ast.literal_eval(v)  # type: ignore[arg-type]
                 for k, v in zip(value_node.keys, value_node.values)}
    elif isinstance(value_node, ast.List):
        value = [ast.literal_eval(v) for v in value_node.elts]
    elif isinstance(value_node, ast.Set):
        value = {ast.literal_eval(v) for v in value_node.elts}
    elif isinstance(value_node, ast.Tuple):
        value = tuple(ast.literal_eval(v) for v in value_node.elts)
    else:
        value = ast.literal_eval(value_node)
    return {name: value}


def _name(target: ast.expr, only_self: bool) -> str:
    if isinstance(target, ast.Name) and not only_self:
        return target.id
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
        return target.attr
    raise AttributeError
