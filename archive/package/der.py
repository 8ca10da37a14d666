"""A small DER (ASN.1) encoder and decoder: just enough for CMS and RFC 3161 structures.

``parse(data)`` returns a ``Node`` tree that keeps the exact encoded bytes of every element, which
signature checks need (signed attributes are verified over their original encoding).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from archive.errors import BewaarError

# Universal tags (class 0); constructed types carry 0x20.
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTF8_STRING = 0x0C
SEQUENCE = 0x30
SET = 0x31
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
BOOLEAN = 0x01


class DerError(BewaarError):
    """Bytes that are not the DER structure expected."""


@dataclass
class Node:
    tag: int
    raw: bytes  # the whole element: tag, length and content
    content: bytes
    children: list[Node] = field(default_factory=list)

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    def child(self, index: int) -> Node:
        try:
            return self.children[index]
        except IndexError:
            raise DerError(f"element {index} missing in ASN.1 structure") from None

    def tagged(self, number: int) -> Node | None:
        """The first context-specific child ``[number]`` (implicit or explicit), if any."""
        for c in self.children:
            if c.tag & 0xC0 == 0x80 and c.tag & 0x1F == number:
                return c
        return None

    def as_int(self) -> int:
        if self.tag != INTEGER:
            raise DerError("expected an INTEGER")
        return int.from_bytes(self.content, "big", signed=True)

    def as_oid(self) -> str:
        if self.tag != OID:
            raise DerError("expected an OBJECT IDENTIFIER")
        return decode_oid(self.content)

    def as_time(self) -> datetime:
        text = self.content.decode("ascii", "replace")
        if self.tag == GENERALIZED_TIME:
            main = text.rstrip("Z")
            frac = ""
            if "." in main:
                main, frac = main.split(".", 1)
            dt = datetime.strptime(main, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
            if frac:
                dt = dt.replace(microsecond=int((frac + "000000")[:6]))
            return dt
        if self.tag == UTC_TIME:
            return datetime.strptime(text.rstrip("Z"), "%y%m%d%H%M%S").replace(tzinfo=UTC)
        raise DerError("expected a time")


def _read(data: bytes, pos: int) -> tuple[Node, int]:
    if pos + 2 > len(data):
        raise DerError("truncated ASN.1 data")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError("high tag numbers are not supported")
    length = data[pos + 1]
    head = 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 8:
            raise DerError("indefinite or oversized ASN.1 length")
        if pos + 2 + n > len(data):
            raise DerError("truncated ASN.1 length")
        length = int.from_bytes(data[pos + 2 : pos + 2 + n], "big")
        head += n
    end = pos + head + length
    if end > len(data):
        raise DerError("truncated ASN.1 data")
    content = data[pos + head : end]
    node = Node(tag, data[pos:end], content)
    if tag & 0x20:
        inner = 0
        while inner < len(content):
            child, inner = _read(content, inner)
            node.children.append(child)
    return node, end


def parse(data: bytes) -> Node:
    """Decode one DER element that fills ``data`` exactly."""
    node, end = _read(data, 0)
    if end != len(data):
        raise DerError("trailing bytes after ASN.1 data")
    return node


def decode_oid(content: bytes) -> str:
    if not content:
        raise DerError("empty OBJECT IDENTIFIER")
    parts: list[int] = []
    value = 0
    for b in content:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
    first = parts[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(p) for p in head + parts[1:])


# Encoding -----------------------------------------------------------------------------------


def encode(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        body = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(body)]) + body
    return bytes([tag]) + length + content


def seq(*items: bytes) -> bytes:
    return encode(SEQUENCE, b"".join(items))


def integer(value: int) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)
    return encode(INTEGER, value.to_bytes(size, "big", signed=True))


def octets(value: bytes) -> bytes:
    return encode(OCTET_STRING, value)


def boolean(value: bool) -> bytes:
    return encode(BOOLEAN, b"\xff" if value else b"\x00")


def null() -> bytes:
    return encode(NULL, b"")


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    values = [parts[0] * 40 + parts[1], *parts[2:]]
    out = bytearray()
    for v in values:
        chunk = [v & 0x7F]
        v >>= 7
        while v:
            chunk.append(0x80 | (v & 0x7F))
            v >>= 7
        out.extend(reversed(chunk))
    return encode(OID, bytes(out))
