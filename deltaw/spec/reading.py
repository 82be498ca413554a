"""Reading a spec file safely: its bytes decoded, its text parsed within limits.

What is accepted, and what is refused with a :class:`~deltaw.errors.SpecError`
that names the file, the place and what to do:

- encoding: UTF-8 (with or without a byte-order mark), or UTF-16/UTF-32 *with*
  a byte-order mark (what Windows editors and PowerShell write). Any other
  bytes are refused naming the byte, its offset, line and column;
- size: at most :data:`MAX_BYTES`; nesting: at most :data:`MAX_DEPTH` levels;
  YAML aliases may expand to at most :data:`MAX_NODES` values (a "billion
  laughs" document is refused before it is expanded) and may not refer to
  themselves;
- duplicate keys in one mapping (YAML, JSON, TOML) are refused naming both
  lines: the later one would silently replace the earlier.
"""

from __future__ import annotations

import codecs
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from deltaw.errors import SpecError
from deltaw.spec.parsing import (
    MAX_DEPTH,
    MAX_NODES,
    PARSER_FAULTS,
    Refused,
    describe_error,
    parse_spec_text,
    too_deep,
    value_error,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "SUFFIXES",
    "decode_spec",
    "read_spec_bytes",
    "read_spec_file",
]

SUFFIXES = {".yaml": "YAML", ".yml": "YAML", ".toml": "TOML", ".json": "JSON"}
MAX_BYTES = 4 * 2**20  # a spec is a few hundred bytes; a sweep's lists a few kilobytes
ACCEPTED = (
    "deltaw reads spec files as UTF-8 (UTF-16 or UTF-32 only with a byte-order mark); "
    "save the file as UTF-8"
)
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping in a YAML, TOML or JSON file (chosen by extension)."""
    path = Path(path)
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise SpecError(
            f"{path}: unsupported spec format {path.suffix!r}; use .yaml, .yml, .toml or .json."
        )
    text = decode_spec(path, read_spec_bytes(path))
    try:
        data = parse_spec_text(text, fmt)
    except Refused as exc:
        raise SpecError(f"{path}: {exc}.") from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(f"{path}: not valid {fmt}: {describe_error(exc, text, fmt)}") from None
    except RecursionError:
        raise SpecError(f"{path}: {too_deep()}") from None
    except PARSER_FAULTS as exc:  # a huge int, a date like 2024-13-45
        raise SpecError(f"{path}: not valid {fmt}: {value_error(exc)}") from None
    if not isinstance(data, dict):
        raise SpecError(
            f"{path}: a spec must be a mapping of keys (name, data, network, …), "
            f"got {type(data).__name__}."
        )
    return data


def read_spec_bytes(path: Path) -> bytes:
    """The file's bytes (at most :data:`MAX_BYTES`); a SpecError when it cannot be read."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file.") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a folder; give a spec file (.yaml, .toml or .json).") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the spec file ({exc.strerror or exc}).") from None
    if len(raw) > MAX_BYTES:
        raise SpecError(
            f"{path}: larger than {MAX_BYTES // 2**20} MiB, which no spec needs; "
            f"is it the right file?"
        )
    return raw


def decode_spec(path: Path, raw: bytes) -> str:
    """``raw`` as text: UTF-8, or any UTF with a byte-order mark; a located SpecError otherwise."""
    encoding = next((enc for bom, enc in _BOMS if raw.startswith(bom)), "utf-8")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        where = _position(raw, exc.start, encoding)
        bad = raw[exc.start : exc.start + 1].hex()
        raise SpecError(
            f"{path}: not {encoding.upper().replace('-SIG', '')} text: byte 0x{bad} at {where}"
            f"{_guess(raw, exc.start)}. {ACCEPTED}."
        ) from None
    text = text.lstrip("\ufeff")
    nul = text.find("\x00")
    if nul >= 0:
        what = (
            "it looks like UTF-16 or UTF-32 without a byte-order mark"
            if text.count("\x00") * 4 >= len(text)
            else "a text file never holds one"
        )
        where = _position(raw, len(text[:nul].encode(encoding.replace("-sig", ""))), encoding)
        raise SpecError(f"{path}: a NUL byte (0x00) at {where}: {what}. {ACCEPTED}.")
    return text


def _position(raw: bytes, offset: int, encoding: str) -> str:
    """``offset N (line L, column C)`` of the byte at ``offset`` in ``raw``."""
    before = raw[:offset].decode(encoding, errors="replace")
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return f"offset {offset} (line {line}, column {column})"


def _guess(raw: bytes, offset: int) -> str:
    """What the offending bytes probably are: UTF-16 without its mark, or Latin-1 text."""
    if raw.count(0) * 4 >= len(raw):
        return (
            "; a quarter of the file is NUL bytes, so it is probably UTF-16 or UTF-32 without "
            "a byte-order mark"
        )
    try:
        char = raw[offset : offset + 1].decode("cp1252")
    except UnicodeDecodeError:
        return ""
    if not char.isalpha():
        return ""
    return (
        f" (in Latin-1/Windows-1252 it would be {char!r}: the file was probably saved in "
        f"that encoding)"
    )
