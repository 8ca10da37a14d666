"""The organisation's seal: a certificate, its private key and the chain up to the root.

Configured with ``seal_cert``/``seal_key``/``seal_chain`` (PEM, or PKCS #12 in ``seal_cert``;
the password is read from the environment variable named by ``seal_key_password_env``).
Without configuration, ``init_keys`` makes a local CA and seal certificate in ``keys_dir``,
clearly named as not qualified, for the configured organisation (O= and organizationIdentifier;
an obviously fictitious stand-in while none is configured, which sealing then refuses).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from archive.errors import SettingsError
from archive.files import write_atomic
from archive.package.organisation import organisation_or_fictitious, require_organisation
from archive.settings import Settings

SealKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
NOT_QUALIFIED = "local seal, not qualified"


@dataclass
class SealIdentity:
    cert: x509.Certificate
    key: SealKey
    chain: list[x509.Certificate]  # issuers of cert, up to and including the root if known
    local: bool


@dataclass
class KeyPaths:
    ca_cert: Path
    seal_cert: Path
    seal_key: Path
    created: bool
    organisation: str | None = None  # O= of the seal certificate (when read or made)
    fictitious: bool = False  # made for the fictitious stand-in: no organisation configured


def local_paths(settings: Settings) -> KeyPaths:
    d = settings.keys_dir
    return KeyPaths(d / "ca.pem", d / "seal.pem", d / "seal-key.pem", False)


def _write_private(path: Path, data: bytes) -> None:
    write_atomic(path, data, mode=0o600)


def init_keys(settings: Settings, *, force: bool = False) -> KeyPaths:
    """Make a local CA and seal certificate in ``keys_dir`` (kept if present, unless ``force``)."""
    paths = local_paths(settings)
    if paths.seal_cert.exists() and paths.seal_key.exists() and paths.ca_cert.exists() and not force:
        return KeyPaths(paths.ca_cert, paths.seal_cert, paths.seal_key, False,
                        _cert_organisation(paths.seal_cert))
    try:
        settings.keys_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"cannot create {settings.keys_dir}: {exc.strerror}") from None
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    organisation, fictitious = organisation_or_fictitious(settings)
    org = organisation.name[:64]  # the X.520 upper bound of organizationName
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, f"Archive CA ({NOT_QUALIFIED})"),
    ])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=365 * 30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA384())
    )
    seal_key = ec.generate_private_key(ec.SECP256R1())
    seal = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, organisation.identifier),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Archive seal ({NOT_QUALIFIED})"),
        ]))
        .issuer_name(ca_name)
        .public_key(seal_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=365 * 30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(seal_key.public_key()),
                       critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    _write_private(paths.seal_key, seal_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    _write_private(settings.keys_dir / "ca-key.pem", ca_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    _write_private(paths.ca_cert, ca.public_bytes(pem))
    _write_private(paths.seal_cert, seal.public_bytes(pem))
    return KeyPaths(paths.ca_cert, paths.seal_cert, paths.seal_key, True, org, fictitious)


def _cert_organisation(path: Path) -> str | None:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(names[0].value) if names else None


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"cannot read the {what} {path}: {exc.strerror}") from None


def _password(settings: Settings) -> bytes | None:
    if not settings.seal_key_password_env:
        return None
    value = os.environ.get(settings.seal_key_password_env)
    if value is None:
        raise SettingsError(
            f"seal_key_password_env names {settings.seal_key_password_env}, which is not set"
        )
    return value.encode()


def load_identity(settings: Settings) -> SealIdentity:
    """The configured seal, or the local one (made on first use)."""
    if settings.seal_cert is None:
        wanted = require_organisation(settings).name[:64]
        paths = init_keys(settings)
        cert = x509.load_pem_x509_certificate(_read(paths.seal_cert, "seal certificate"))
        names = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        named = str(names[0].value) if names else None
        if named != wanted:
            raise SettingsError(
                f"the local seal certificate {paths.seal_cert} names the organisation "
                f"{named!r}, but the configured organisation is {wanted!r}; make keys for it "
                f"with `bewaar keys init --force` (keep a copy of {paths.ca_cert} first: it is "
                "the trust anchor of the packages sealed so far)"
            )
        key = serialization.load_pem_private_key(_read(paths.seal_key, "seal key"), None)
        ca = x509.load_pem_x509_certificates(_read(paths.ca_cert, "CA certificate"))
        assert isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey))
        return SealIdentity(cert, key, ca, True)
    password = _password(settings)
    raw = _read(settings.seal_cert, "seal certificate")
    chain: list[x509.Certificate] = []
    loaded_key: object
    try:
        if settings.seal_cert.suffix.lower() in (".p12", ".pfx"):
            bundle = pkcs12.load_key_and_certificates(raw, password)
            if bundle[0] is None or bundle[1] is None:
                raise SettingsError(f"{settings.seal_cert} holds no key and certificate")
            loaded_key, cert, chain = bundle[0], bundle[1], list(bundle[2])
        else:
            cert = x509.load_pem_x509_certificate(raw)
            if settings.seal_key is None:
                raise SettingsError("seal_cert is set but seal_key is not")
            loaded_key = serialization.load_pem_private_key(
                _read(settings.seal_key, "seal key"), password
            )
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"cannot load the seal certificate or key: {exc}") from None
    if not isinstance(loaded_key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise SettingsError("the seal key must be an RSA or EC key")
    if settings.seal_chain is not None:
        try:
            chain = x509.load_pem_x509_certificates(_read(settings.seal_chain, "seal chain"))
        except ValueError as exc:
            raise SettingsError(f"cannot load the seal chain {settings.seal_chain}: {exc}") from None
    pub = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if loaded_key.public_key().public_bytes(*pub) != cert.public_key().public_bytes(*pub):
        raise SettingsError(
            f"the seal certificate {settings.seal_cert} does not match the seal key"
        )
    return SealIdentity(cert, loaded_key, [c for c in chain if c != cert], False)
