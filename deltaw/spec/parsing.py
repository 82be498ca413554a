"""Parsing a spec's text within limits: depth, YAML alias expansion, duplicate keys.

:func:`parse_spec_text` turns YAML, TOML or JSON text into data, or raises
:class:`Refused` (a document the parser read but deltaw refuses) or the
parser's own error. The limits: at most :data:`MAX_DEPTH` levels of nesting;
YAML aliases may expand to at most :data:`MAX_NODES` values (a "billion laughs"
document is refused before it is expanded) and may not refer to themselves; a
key given twice in one mapping is refused naming both lines, the later value
would silently replace the earlier. :mod:`deltaw.spec.reading` reads the file.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
import sys
from typing import Any

import yaml

from deltaw.spec.problems import one_line

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MAX_DEPTH = 100  # the deepest real spec is 5 levels (sweep.random.params.KEY.range)
MAX_NODES = 100_000  # values after YAML aliases are expanded
# what a parser raises on input it does not expect, beyond its own error class
PARSER_FAULTS = (ValueError, TypeError, ArithmeticError, LookupError, AttributeError)


class Refused(ValueError):
    """A document the parser read but deltaw refuses (too deep, too large, duplicate keys)."""


def parse_spec_text(text: str, fmt: str) -> Any:
    """The document in ``text`` (``fmt`` is YAML, TOML or JSON), checked for depth and size."""
    if fmt == "YAML":
        loader = _SpecLoader(text)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
        _raise_duplicates(loader.duplicates)
    elif fmt == "TOML":
        data = tomllib.loads(text)
    else:
        data = _load_json(text)
    check_depth(data)
    return data


# ---------------------------------------------------------------------------------------
# YAML: a SafeLoader that measures what aliases expand to and refuses duplicate keys
# ---------------------------------------------------------------------------------------


class _SpecLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with limits on depth and alias expansion, and duplicate keys found."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.measured: dict[int, tuple[int, int]] = {}  # id(node) → (values expanded, depth)
        self.duplicates: list[Duplicate] = []

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)  # the anchored node, measured already
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Refused(too_deep(self.peek_event().start_mark.line + 1))
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        self._measure(node)
        return node

    def _measure(self, node: Any) -> None:
        """Record what ``node`` expands to; its children are measured before it."""
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        size, depth = 1, 1
        for child in children:
            if id(child) not in self.measured:  # an alias to a node still being composed
                raise Refused(
                    f"line {child.start_mark.line + 1}: an alias refers to the node that "
                    f"contains it, which would make the spec infinitely deep; remove the alias"
                )
            n, d = self.measured[id(child)]
            size, depth = size + n, max(depth, d + 1)
        if size > MAX_NODES:
            raise Refused(
                f"line {node.start_mark.line + 1}: its aliases (*name) expand to more than "
                f"{MAX_NODES:,} values (a 'billion laughs' document?). A spec needs few; "
                f"write the values out, or use fewer aliases"
            )
        if depth > MAX_DEPTH:
            raise Refused(too_deep(node.start_mark.line + 1))
        self.measured[id(node)] = (size, depth)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, Refused):
            raise
        except PARSER_FAULTS as exc:  # 2024-13-45, a 5000-digit integer, `!!int ` with no digits
            mark = node.start_mark
            raise Refused(
                f"line {mark.line + 1}, column {mark.column + 1}: {value_error(exc)}; "
                f"put the value in quotes to keep it as text"
            ) from None

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, tuple[int, int]] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue  # a merge (<<) may be overridden by the mapping's own keys
                key = self.construct_object(key_node)
                mark = key_node.start_mark
                line = (mark.line + 1, mark.column + 1)
                try:
                    if key in seen:
                        self.duplicates.append((str(key), seen[key], line))
                    else:
                        seen[key] = line
                except TypeError:  # an unhashable key: the base class reports it
                    continue
        return super().construct_mapping(node, deep=deep)


Duplicate = tuple[str, tuple[int, int], tuple[int, int]]  # key, (line, column) of both


def _raise_duplicates(duplicates: list[Duplicate]) -> None:
    if duplicates:
        listed = "; ".join(f"{key!r} {_both(a, b)}" for key, a, b in duplicates)
        raise Refused(
            f"a key is given twice in the same mapping: {listed}. The later value would "
            f"silently replace the earlier one; keep one of them"
        )


def _both(a: tuple[int, int], b: tuple[int, int]) -> str:
    if a[0] != b[0]:
        return f"on line {a[0]} and again on line {b[0]}"
    return f"on line {a[0]}, at columns {a[1]} and {b[1]}"


# ---------------------------------------------------------------------------------------
# JSON: the pure-Python scanner, so an object's position is known when a key repeats
# ---------------------------------------------------------------------------------------


def _load_json(text: str) -> Any:
    duplicates: list[Duplicate] = []
    skip = json.JSONDecoder().scan_once  # reads a value without looking for duplicates

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[dict[str, Any], int]:
        s, start = s_and_end
        strict, scan_once, _hook, _pairs_hook, *memo = args
        pairs, end = json.decoder.JSONObject(s_and_end, strict, scan_once, None, list, *memo)
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            lines: dict[str, tuple[int, int]] = {}
            for key, at in _json_keys(s, start, skip):
                line = (s.count("\n", 0, at) + 1, at - s.rfind("\n", 0, at))
                if key in lines:
                    duplicates.append((key, lines[key], line))
                lines.setdefault(key, line)
        return dict(pairs), end

    decoder = json.JSONDecoder()
    decoder.parse_object = parse_object  # type: ignore[assignment]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    data = decoder.decode(text)
    _raise_duplicates(duplicates)
    return data


def _json_keys(s: str, i: int, skip: Any) -> list[tuple[str, int]]:
    """The keys of the (valid) object whose ``{`` is just before ``i``, with their offsets."""
    ws = json.decoder.WHITESPACE.match
    out = []
    i = ws(s, i).end()
    while s[i] == '"':
        key, j = json.decoder.scanstring(s, i + 1)
        out.append((key, i))
        j = ws(s, ws(s, j).end() + 1).end()  # past the colon
        _, j = skip(s, j)
        j = ws(s, j).end()
        if s[j] != ",":
            break
        i = ws(s, j + 1).end()
    return out


# ---------------------------------------------------------------------------------------
# Shared checks and wording
# ---------------------------------------------------------------------------------------


def check_depth(data: Any) -> None:
    """Refuse a document nested deeper than :data:`MAX_DEPTH` (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Refused(too_deep())
        if isinstance(node, (dict, list)):
            children = node.values() if isinstance(node, dict) else node
            stack += [(child, depth + 1) for child in children]


def value_error(exc: Exception) -> str:
    message = one_line(str(exc)) or type(exc).__name__
    if not isinstance(exc, ValueError):
        message = f"cannot read this value ({type(exc).__name__}: {message})"
    if "Exceeds the limit" in message:  # int(str) refuses more than sys.get_int_max_str_digits()
        return f"a number has more than {sys.get_int_max_str_digits()} digits; no spec needs one"
    return message


def too_deep(line: int | None = None) -> str:
    at = f"line {line}: " if line else ""
    return (
        f"{at}nested more than {MAX_DEPTH} levels deep, where a spec needs a handful "
        f"(sweep.random.params.KEY.range is 5)"
    )


_TOML_PART = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_TOML_KEY = re.compile(rf"^\s*({_TOML_PART}(?:\s*\.\s*{_TOML_PART})*)\s*=")
_TOML_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")


def describe_error(exc: Exception, text: str, fmt: str) -> str:
    """The parser's message on one line; for a TOML key given twice, both lines."""
    message = one_line(str(exc))
    if fmt == "TOML" and ("overwrite" in message or "twice" in message):
        twice = _toml_duplicates(text)
        if twice:
            key, a, b = twice[0]
            return (
                f"{key!r} is given on line {a} and again on line {b}; each key may appear once "
                f"(the later value would replace the earlier one). Keep one of them."
            )
        return f"{message} (a key or table given twice?)"
    return message


def _toml_duplicates(text: str) -> list[tuple[str, int, int]]:
    """Keys and ``[tables]`` a TOML text gives twice, by a line scan (best effort)."""
    seen: dict[str, int] = {}
    found = []
    table = ""
    for number, line in enumerate(text.splitlines(), 1):
        header = _TOML_TABLE.match(line)
        if header:
            table = _dotted(header.group(1))
            name, line_key = table, table
        else:
            key = _TOML_KEY.match(line)
            if not key:
                continue
            name = ".".join(filter(None, (table, _dotted(key.group(1)))))
            line_key = name
        if line_key in seen:
            found.append((name, seen[line_key], number))
        seen.setdefault(line_key, number)
    return found


def _dotted(key: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in key.split("."))
