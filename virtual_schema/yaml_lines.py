"""YAML loading that remembers line numbers, so every model problem can say `file:line`.

PyYAML's SafeLoader is extended to build `LineDict` / `LineList` nodes that carry the 1-based line of the
node and of each mapping key; normalisation code copies those lines to the dicts it derives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml


class LineDict(dict[str, Any]):
    line: int = 0
    key_lines: dict[str, int]

    def __init__(self, *args: Any, line: int = 0, key_lines: dict[str, int] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.line = line
        self.key_lines = dict(key_lines or {})


class LineList(list[Any]):
    line: int = 0


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict(line=node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[str(key)] = loader.construct_object(value_node, deep=True)
        out.key_lines[str(key)] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_documents(text: str) -> list[Any]:
    """All documents of a YAML stream with line-carrying containers (raises yaml.YAMLError)."""
    return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]


def line_of(root: Any, loc: Sequence[int | str]) -> int:
    """The line of the deepest node along a pydantic error location that still has one."""
    node = root
    line = getattr(root, "line", 0)
    for step in loc:
        if isinstance(node, LineDict) and isinstance(step, str) and step in node:
            line = node.key_lines.get(step, line)
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
            line = getattr(node, "line", line)
        else:
            break
    return line


def with_line(d: dict[str, Any], src: Any) -> LineDict:
    """A derived dict that keeps the source's line numbers (for its own and matching keys)."""
    out = LineDict(d, line=getattr(src, "line", 0))
    if isinstance(src, LineDict):
        out.key_lines = {k: src.key_lines.get(k, src.line) for k in d}
    return out
