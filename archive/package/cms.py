"""CMS (PKCS #7) signatures: detached DER signing with ``cryptography``; native verification.

Verification parses the SignedData with our small DER decoder, checks the ``messageDigest``
signed attribute against the content, the signature over the signed attributes with the signer's
public key, and walks the certificate path up to a trust anchor. The same code checks RFC 3161
time-stamp tokens, which are CMS SignedData around a TSTInfo.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from archive.errors import BewaarError
from archive.package import der

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_DATA = "1.2.840.113549.1.7.1"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"

HASH_OIDS: dict[str, str] = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
HASH_BY_NAME = {v: k for k, v in HASH_OIDS.items()}
_HASH_CLASSES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
# signature algorithm OIDs that name their own digest
_SIG_HASH = {
    "1.2.840.113549.1.1.5": "sha1",
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
}


class CmsError(BewaarError):
    """A signature that cannot be read or does not verify."""


@dataclass
class SignedData:
    content_type: str
    econtent: bytes | None
    certificates: list[x509.Certificate]
    signer: x509.Certificate | None = None
    digest_name: str = "sha256"
    signing_time: datetime | None = None
    extra: dict[str, bytes] = field(default_factory=dict)


def sign_detached(
    data: bytes,
    cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    chain: list[x509.Certificate],
) -> bytes:
    """A DER CMS SignedData over ``data`` (not included), binary (no MIME canonicalisation)."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(cert, key, hashes.SHA256())
    for extra in chain:
        if extra != cert:
            builder = builder.add_certificate(extra)
    options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    return builder.sign(Encoding.DER, options)


def _attrs(node: der.Node) -> dict[str, der.Node]:
    out: dict[str, der.Node] = {}
    for attr in node.children:
        values = attr.child(1)
        out[attr.child(0).as_oid()] = values.child(0)
    return out


def _check_signature(cert: x509.Certificate, sig_alg: str, digest: str, sig: bytes, data: bytes) -> None:
    pub = cert.public_key()
    name = _SIG_HASH.get(sig_alg, digest)
    algo = _HASH_CLASSES[name]()
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(sig, data, padding.PKCS1v15(), algo)
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(sig, data, ec.ECDSA(algo))
        else:
            raise CmsError(f"unsupported signer key type {type(pub).__name__}")
    except InvalidSignature:
        raise CmsError("the signature does not match the signed data (wrong key or altered data)") from None


def verify_signed_data(blob: bytes, content: bytes | None = None) -> SignedData:
    """Parse and check a DER CMS SignedData; ``content`` is the detached content, if any.

    Raises ``CmsError`` with a readable problem. Certificate paths are checked separately
    (``verify_path``).
    """
    try:
        info = der.parse(blob)
        if info.child(0).as_oid() != OID_SIGNED_DATA:
            raise CmsError("not a CMS SignedData structure")
        sd = info.child(1).child(0)
        encap = sd.child(2)
        content_type = encap.child(0).as_oid()
        econtent: bytes | None = None
        wrapped = encap.tagged(0)
        if wrapped is not None:
            econtent = wrapped.child(0).content
        certs: list[x509.Certificate] = []
        cert_node = sd.tagged(0)
        if cert_node is not None:
            for c in cert_node.children:
                if c.tag == der.SEQUENCE:
                    certs.append(x509.load_der_x509_certificate(c.raw))
        signer_infos = sd.children[-1]
        if signer_infos.tag != der.SET or not signer_infos.children:
            raise CmsError("the signature has no signer")
        si = signer_infos.child(0)
    except der.DerError as exc:
        raise CmsError(f"unreadable signature structure: {exc}") from None
    except ValueError as exc:
        raise CmsError(f"unreadable certificate in signature: {exc}") from None
    result = SignedData(content_type, econtent, certs)
    data = econtent if econtent is not None else content
    if data is None:
        raise CmsError("detached signature but no content to check it against")
    try:
        sid = si.child(1)
        digest_name = HASH_OIDS.get(si.child(2).child(0).as_oid())
        if digest_name is None:
            raise CmsError("unsupported digest algorithm in signature")
        result.digest_name = digest_name
        rest = si.children[3:]
        signed_attrs = rest[0] if rest and rest[0].tag == 0xA0 else None
        if signed_attrs is not None:
            rest = rest[1:]
        sig_alg = rest[0].child(0).as_oid()
        signature = rest[1].content
        signer = _find_signer(sid, certs)
        if signer is None:
            raise CmsError("the signer's certificate is not in the signature")
        result.signer = signer
        if signed_attrs is None:
            _check_signature(signer, sig_alg, digest_name, signature, data)
            return result
        attrs = _attrs(signed_attrs)
        md = attrs.get(OID_MESSAGE_DIGEST)
        if md is None:
            raise CmsError("the signature has no messageDigest attribute")
        actual = hashlib.new(digest_name, data).digest()
        if md.content != actual:
            raise CmsError(
                "the signed digest does not match the content "
                f"(signed {md.content.hex()[:16]}…, content {actual.hex()[:16]}…)"
            )
        ct = attrs.get(OID_CONTENT_TYPE)
        if ct is not None and ct.as_oid() != content_type:
            raise CmsError("the signed content type does not match")
        st = attrs.get(OID_SIGNING_TIME)
        if st is not None:
            result.signing_time = st.as_time()
        to_verify = bytes([der.SET]) + signed_attrs.raw[1:]
        _check_signature(signer, sig_alg, digest_name, signature, to_verify)
    except der.DerError as exc:
        raise CmsError(f"unreadable signer information: {exc}") from None
    return result


def _find_signer(sid: der.Node, certs: list[x509.Certificate]) -> x509.Certificate | None:
    if sid.tag == der.SEQUENCE:  # IssuerAndSerialNumber
        issuer_raw = sid.child(0).raw
        serial = sid.child(1).as_int()
        for c in certs:
            if c.serial_number == serial and c.issuer.public_bytes() == issuer_raw:
                return c
        return None
    if sid.tag == 0x80:  # subjectKeyIdentifier
        for c in certs:
            try:
                ski = c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            except x509.ExtensionNotFound:
                continue
            if ski == sid.content:
                return c
    return None


def verify_path(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    anchors: list[x509.Certificate],
    *,
    at: datetime | None = None,
    eku: x509.ObjectIdentifier | None = None,
) -> str | None:
    """Check that ``leaf`` chains to one of ``anchors``; return a problem or None."""
    if not anchors:
        return "no trust anchor certificate given"
    if eku is not None:
        try:
            usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            return f"certificate {leaf.subject.rfc4514_string()} lacks the required extended key usage"
        if eku not in usages:
            return f"certificate {leaf.subject.rfc4514_string()} is not allowed for this use"
    current = leaf
    seen: set[bytes] = set()
    for _depth in range(12):
        problem = _check_time(current, at)
        if problem:
            return problem
        if any(a == current for a in anchors):
            return None
        for anchor in anchors:
            if _issued_by(current, anchor):
                return _check_time(anchor, at)
        nxt = None
        for cand in intermediates:
            fp = cand.fingerprint(hashes.SHA256())
            if fp in seen or cand == current:
                continue
            if _issued_by(current, cand) and _is_ca(cand):
                nxt = cand
                seen.add(fp)
                break
        if nxt is None:
            return (
                f"certificate {current.subject.rfc4514_string()} does not chain to the trust anchor"
            )
        current = nxt
    return "certificate chain too long"


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _check_time(cert: x509.Certificate, at: datetime | None) -> str | None:
    if at is None:
        return None
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        return (
            f"certificate {cert.subject.rfc4514_string()} was not valid at {at.isoformat()} "
            f"(valid {cert.not_valid_before_utc.isoformat()} to {cert.not_valid_after_utc.isoformat()})"
        )
    return None


def load_pem_certs(data: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CmsError(f"not a PEM certificate file: {exc}") from None
