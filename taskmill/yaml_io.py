"""Strict YAML and JSON reading for configs and task files: every error is one line with its place.

What `yaml.safe_load` lets through and this refuses:
- bytes that are not UTF-8 (error names file, line and column of the first bad byte);
- a mapping with the same key twice (YAML 1.2 §3.2.1.1 says keys are unique; PyYAML keeps the last);
- alias expansion beyond `MAX_NODES` nodes or a recursive alias (the "billion laughs" shape:
  PyYAML builds shared objects cheaply, but every later walk — path resolution, validation,
  hashing — expands them, so the bound is checked on the composed graph before construction);
- nesting deeper than Python's recursion allows.

Errors are `InputFileError`s reading `path:line:column: problem`, lines and columns 1-based.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

MAX_NODES = 1_000_000  # expanded nodes one document may hold (a big config has a few thousand)


class InputFileError(ValueError):
    """A file taskmill cannot read; the message is `path:line:column: problem`."""


def _place(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of character `index` in `text`, counting lines on `\\n` only."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def read_utf8(path: str) -> str:
    """The file's text (a leading BOM dropped); undecodable bytes raise `InputFileError` with their place."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        raise InputFileError(
            f"{path}:{line}:{column}: not UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        ) from None


_LIBYAML = hasattr(yaml, "CSafeLoader")


class _StrictLoader(yaml.CSafeLoader if _LIBYAML else yaml.SafeLoader):  # libyaml parses about 10x faster
    """The safe loader, rejecting duplicate keys (merge keys `<<` may still be overridden, as YAML allows)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: construct_mapping below reports it with its place
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"duplicate key {key!r} (first at line {first.start_mark.line + 1})",
                    key_node.start_mark,
                )  # fmt: skip
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes in the document once every alias is expanded; stops early past `limit`."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _Recursive(node)
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > limit:
                break
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)


class _Recursive(Exception):
    def __init__(self, node: yaml.Node):
        self.node = node


def parse_yaml(text: str, path: str, max_nodes: int = MAX_NODES, lines: dict | None = None) -> Any:
    """Parse one YAML document strictly; `path` only names the file in errors.

    With `lines` (a dict), fills it with key path (tuple of keys and list indices) → 1-based line.
    """
    loader = None
    try:
        loader = _StrictLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            if _expanded_size(node, max_nodes) > max_nodes:
                raise InputFileError(
                    f"{path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: aliases expand to more than "
                    f"{max_nodes:,} nodes (an alias bomb?); write the values out or use fewer nested aliases"
                )
        except _Recursive as exc:
            mark = exc.node.start_mark
            raise InputFileError(f"{path}:{mark.line + 1}:{mark.column + 1}: recursive alias (a value contains itself)") from None
        if lines is not None:
            _record_lines(node, (), lines)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = ": ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        near = _text_at(text, mark) if mark and "'" not in problem else ""  # a quoted name says it already
        raise InputFileError(f"{where}: {problem}" + (f" (at {near!r})" if near else "")) from None
    except yaml.reader.ReaderError as exc:
        # libyaml reports a byte offset into the UTF-8 text, the pure-Python reader a character index
        index = len(text.encode("utf-8", "surrogatepass")[: exc.position].decode("utf-8", "ignore")) if _LIBYAML else exc.position
        line, column = _place(text, index)
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise InputFileError(f"{path}:{line}:{column}: control character U+{code:04X} is not allowed in YAML") from None
    except yaml.YAMLError as exc:
        raise InputFileError(f"{path}: invalid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    except RecursionError:
        raise InputFileError(f"{path}: nested too deeply for a config (thousands of levels)") from None
    finally:
        if loader is not None:
            loader.dispose()


def _text_at(text: str, mark: Any) -> str:
    """The token at a parser mark (up to 20 characters), or the one blank character there (a tab): libyaml's
    messages ("found undefined alias", "found character that cannot start any token") do not name it."""
    lines = text.splitlines()
    line = lines[mark.line] if 0 <= mark.line < len(lines) else ""
    start = mark.column - (0 < mark.column <= len(line) and not line[mark.column - 1].isprintable())  # an invisible BOM
    rest = line[start:]
    if rest[:1].isspace():
        return rest[:1]
    token = re.match(r"\S{1,20}", rest)
    return token.group() if token else ""


def _record_lines(node: yaml.Node, prefix: tuple, lines: dict) -> None:
    lines.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            _record_lines(child, prefix + (index,), lines)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                lines.setdefault(prefix + (key.value,), key.start_mark.line + 1)
                _record_lines(value, prefix + (key.value,), lines)


def parse_json(text: str, path: str) -> Any:
    """Parse JSON text; errors name the file, line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise InputFileError(f"{path}: JSON nested too deeply") from None


def load_yaml(path: str, max_nodes: int = MAX_NODES, lines: dict | None = None) -> Any:
    """Read and parse a YAML file strictly (see the module docstring); `lines` as in `parse_yaml`."""
    return parse_yaml(read_utf8(path), path, max_nodes, lines)


def load_structured(path: str) -> Any:
    """A `.yaml`/`.yml` file as YAML, anything else as JSON."""
    text = read_utf8(path)
    return parse_yaml(text, path) if path.lower().endswith((".yaml", ".yml")) else parse_json(text, path)
