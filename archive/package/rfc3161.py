"""RFC 3161 time-stamps: build the request, ask the TSA over HTTP, read and check the response."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import httpx
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from archive.errors import BewaarError
from archive.package import der
from archive.package.cms import HASH_BY_NAME, HASH_OIDS, OID_TST_INFO, CmsError, verify_signed_data

_STATUS_TEXT = {0: "granted", 1: "granted with modifications", 2: "rejection", 3: "waiting",
                4: "revocation warning", 5: "revocation notification"}


class TimestampError(BewaarError):
    """The TSA could not be reached or answered with something that is not a time-stamp."""


@dataclass
class TimestampInfo:
    gen_time: datetime
    digest_name: str
    imprint: bytes
    serial: int
    policy: str
    nonce: int | None
    tsa_cert: x509.Certificate
    certificates: list[x509.Certificate]


def build_request(data: bytes, *, digest: str = "sha512", nonce: int | None = None) -> bytes:
    """A DER TimeStampReq over ``data`` asking for the TSA certificate in the reply."""
    imprint = der.seq(
        der.seq(der.oid(HASH_BY_NAME[digest]), der.null()),
        der.octets(hashlib.new(digest, data).digest()),
    )
    parts = [der.integer(1), imprint]
    if nonce is not None:
        parts.append(der.integer(nonce))
    parts.append(der.boolean(True))
    return der.seq(*parts)


def request_timestamp(url: str, data: bytes, *, timeout: float = 30.0) -> bytes:
    """Ask the TSA at ``url`` for a time-stamp over ``data``; return the DER TimeStampResp.

    The reply is checked (status, imprint, nonce, signature) before it is returned.
    """
    nonce = secrets.randbits(63)
    body = build_request(data, nonce=nonce)
    try:
        resp = httpx.post(
            url,
            content=body,
            headers={"Content-Type": "application/timestamp-query"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise TimestampError(f"time-stamp authority {url} unreachable: {exc}") from None
    if resp.status_code != 200:
        raise TimestampError(f"time-stamp authority {url} answered HTTP {resp.status_code}")
    try:
        info = parse_response(resp.content, data)
    except (TimestampError, CmsError) as exc:
        raise TimestampError(f"time-stamp authority {url} sent a bad reply: {exc}") from None
    if info.nonce != nonce:
        raise TimestampError(f"time-stamp authority {url} sent a reply with the wrong nonce")
    return resp.content


def parse_response(blob: bytes, data: bytes) -> TimestampInfo:
    """Read a DER TimeStampResp and check its token against ``data``.

    Checks: status granted, token signature and messageDigest, and that the message imprint is
    the hash of ``data``. The TSA certificate path is checked separately.
    """
    try:
        resp = der.parse(blob)
        status_info = resp.child(0)
        status = status_info.child(0).as_int()
    except der.DerError as exc:
        raise TimestampError(f"unreadable time-stamp response: {exc}") from None
    if status not in (0, 1):
        raise TimestampError(f"time-stamp not granted (status {_STATUS_TEXT.get(status, status)})")
    if len(resp.children) < 2:
        raise TimestampError("time-stamp response holds no token")
    token = resp.child(1)
    signed = verify_signed_data(token.raw)
    if signed.content_type != OID_TST_INFO or signed.econtent is None:
        raise TimestampError("time-stamp token does not hold a TSTInfo")
    try:
        tst = der.parse(signed.econtent)
        policy = tst.child(1).as_oid()
        imprint = tst.child(2)
        digest_name = HASH_OIDS.get(imprint.child(0).child(0).as_oid())
        hashed = imprint.child(1).content
        serial = tst.child(3).as_int()
        gen_time = tst.child(4).as_time()
        nonce = None
        for c in tst.children[5:]:
            if c.tag == der.INTEGER:
                nonce = c.as_int()
    except der.DerError as exc:
        raise TimestampError(f"unreadable TSTInfo: {exc}") from None
    if digest_name is None:
        raise TimestampError("time-stamp uses an unsupported hash algorithm")
    expected = hashlib.new(digest_name, data).digest()
    if hashed != expected:
        raise TimestampError(
            "time-stamp is over other data: message imprint "
            f"{hashed.hex()[:32]}… is not the {digest_name} of the signature {expected.hex()[:32]}…"
        )
    assert signed.signer is not None
    return TimestampInfo(gen_time, digest_name, hashed, serial, policy, nonce,
                         signed.signer, signed.certificates)


TIME_STAMPING = ExtendedKeyUsageOID.TIME_STAMPING
