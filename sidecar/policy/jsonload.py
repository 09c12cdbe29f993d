"""Strict JSON reading for policy documents.

IAM rejects documents with duplicate keys (reference §1.1), which ``json.loads`` silently
drops. This loader keeps them visible: every object becomes a :class:`JsonObject` that records
its duplicate keys, and numbers keep the text they were written with (:class:`JsonNumber`),
so a condition value ``10.0`` stays ``"10.0"`` and a numeric ``Version`` is not a string.
"""

from __future__ import annotations

import json
from typing import Any


class JsonObject(dict[str, Any]):
    """A JSON object that remembers which keys appeared more than once."""

    __slots__ = ("duplicates",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__()
        dups: list[str] = []
        for key, value in pairs:
            if key in self and key not in dups:
                dups.append(key)
            self[key] = value
        self.duplicates = tuple(dups)


class JsonNumber:
    """A JSON number, kept as written."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"JsonNumber({self.text})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def value(self) -> int | float:
        try:
            return int(self.text)
        except ValueError:
            return float(self.text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str | bytes) -> Any:
    """Parse JSON text strictly; raises ValueError (json.JSONDecodeError) on bad input."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8")
    return json.loads(
        text,
        object_pairs_hook=JsonObject,
        parse_int=JsonNumber,
        parse_float=JsonNumber,
        parse_constant=_reject_constant,
    )


def to_plain(value: Any) -> Any:
    """Back to plain Python values (numbers as int/float) for serialisation."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, JsonNumber):
        return value.value()
    return value


def compact_size(value: Any) -> int:
    """Characters of the document without insignificant whitespace (IAM's size measure);
    numbers count as written. Iterative, so any nesting the JSON reader accepts is measured."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(json.dumps(item, ensure_ascii=False))
        elif isinstance(item, JsonNumber):
            total += len(item.text)
        elif isinstance(item, dict):
            total += 2 + max(len(item) - 1, 0) + len(item)  # braces, commas, colons
            for key, child in item.items():
                total += len(json.dumps(str(key), ensure_ascii=False))
                stack.append(child)
        elif isinstance(item, list | tuple):
            total += 2 + max(len(item) - 1, 0)
            stack.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += _int_length(item)
        else:
            total += len(json.dumps(item))
    return total


def _int_length(value: int) -> int:
    try:
        return len(str(value))
    except ValueError:  # longer than Python prints (sys.get_int_max_str_digits): estimate
        return int(abs(value).bit_length() * 0.30103) + 1 + (value < 0)
