"""Keep each event exactly as the server sent it.

A ``/messages`` answer is parsed once; alongside every element of its ``chunk`` array we keep the
exact text the server sent for that element, so the archive holds the server's bytes, not a
re-serialisation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_decoder = json.JSONDecoder()
_WS = " \t\n\r"


class NotJsonError(ValueError):
    """The body is not a JSON object."""


@dataclass(frozen=True)
class RawElement:
    raw: bytes  # the element's exact bytes in the answer
    value: Any  # the parsed element


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def split_answer(body: bytes, array_key: str = "chunk") -> tuple[dict[str, Any], list[RawElement]]:
    """Parse a JSON object; return it and the raw elements of its top-level ``array_key`` list.

    Raises ``NotJsonError`` when the body is not a JSON object (HTML error page, truncated body).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotJsonError(f"not UTF-8 ({exc.reason})") from None
    try:
        i = _skip_ws(text, 0)
        if i >= len(text) or text[i] != "{":
            raise NotJsonError("not a JSON object")
        obj: dict[str, Any] = {}
        elements: list[RawElement] = []
        i = _skip_ws(text, i + 1)
        if i < len(text) and text[i] == "}":
            end = i + 1
        else:
            while True:
                key, i = _decoder.raw_decode(text, i)
                i = _skip_ws(text, i)
                if text[i] != ":":
                    raise NotJsonError("bad JSON object")
                i = _skip_ws(text, i + 1)
                if key == array_key and text[i] == "[":
                    values, i = _split_array(text, i, elements)
                    obj[key] = values
                else:
                    obj[key], i = _decoder.raw_decode(text, i)
                i = _skip_ws(text, i)
                if text[i] == ",":
                    i = _skip_ws(text, i + 1)
                    continue
                if text[i] == "}":
                    end = i + 1
                    break
                raise NotJsonError("bad JSON object")
        if _skip_ws(text, end) != len(text):
            raise NotJsonError("trailing data after the JSON object")
    except (json.JSONDecodeError, IndexError) as exc:
        raise NotJsonError(f"not valid JSON ({exc})") from None
    return obj, elements


def _split_array(text: str, i: int, out: list[RawElement]) -> tuple[list[Any], int]:
    values: list[Any] = []
    i = _skip_ws(text, i + 1)
    if text[i] == "]":
        return values, i + 1
    while True:
        value, end = _decoder.raw_decode(text, i)
        out.append(RawElement(text[i:end].encode("utf-8"), value))
        values.append(value)
        i = _skip_ws(text, end)
        if text[i] == ",":
            i = _skip_ws(text, i + 1)
            continue
        if text[i] == "]":
            return values, i + 1
        raise NotJsonError("bad JSON array")


def one_line(raw: bytes) -> bytes:
    """The element on one line for JSON Lines: as sent when it has no line break, else compacted."""
    if b"\n" not in raw and b"\r" not in raw:
        return raw
    return json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":")).encode()
