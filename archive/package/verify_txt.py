"""seal/VERIFY.txt: how an outside auditor checks a package with bagit.py and openssl alone.

Written from ``templates/VERIFY.txt.j2``; every command in it is a line starting with ``$ ``,
run from the package folder (the tests run each one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes

from archive.package.mdto import SCHEMA_PATH

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).with_name("templates")
SCHEMA_URL = "https://www.nationaalarchief.nl/mdto/MDTO-XML1.0.1.xsd"
SCHEMA_COPY = "archive/package/schema/MDTO-XML1.0.1.xsd"  # in the Bewaarplaats source


@dataclass(frozen=True)
class VerifyFacts:
    package_id: str
    software: str
    sealed_at: str
    organisation: str
    organisation_id: str
    organisation_id_source: str
    source: str
    sig_name: str
    tsr_name: str
    local_seal: bool
    seal_root_fingerprint: str | None
    timestamped: bool
    tsa_root_fingerprint: str | None
    previous_id: str | None


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as ``openssl x509 -fingerprint -sha256`` prints it (AB:CD:…)."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def root_of(certs: list[x509.Certificate]) -> x509.Certificate | None:
    """The self-signed certificate among ``certs`` (the root of the chain), if it is there."""
    for cert in certs:
        if cert.subject == cert.issuer:
            try:
                cert.verify_directly_issued_by(cert)
            except (ValueError, TypeError, InvalidSignature):  # not signed by itself
                continue
            return cert
    return None


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    import jinja2  # only sealing needs it

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,  # plain text, not HTML
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("VERIFY.txt.j2")


@lru_cache(maxsize=1)
def _schema_sha256() -> str:
    return hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest()


def render(facts: VerifyFacts) -> bytes:
    text: str = _template().render(
        **facts.__dict__, schema_url=SCHEMA_URL, schema_copy=SCHEMA_COPY,
        schema_sha256=_schema_sha256(),
    )
    return text.encode("utf-8")
