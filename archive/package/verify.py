"""Verify a sealed package: bag, MDTO, seal, time-stamp, and the link to the previous package.

Every problem becomes a ``Finding`` (path, problem, expected, found); verification never stops at
the first one. Input that is not a package at all raises ``NotAPackageError`` (exit 2).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from cryptography import x509

from archive.errors import BewaarError, Finding, ValidationError
from archive.package import bag, mdto
from archive.package.build import SIG_NAME, TSR_NAME
from archive.package.chain import check_link, is_package
from archive.package.cms import CmsError, load_pem_certs, verify_path, verify_signed_data
from archive.package.parallel import run_batched
from archive.package.rfc3161 import TIME_STAMPING, TimestampError, parse_response

SIDECAR = mdto.SIDECAR


class NotAPackageError(BewaarError):
    """The path given is not a sealed package (or a trust anchor file is unusable)."""


@dataclass
class VerifyReport:
    path: Path
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.findings

    def add(self, path: str, problem: str, expected: str | None = None,
            found: str | None = None) -> None:
        self.findings.append(Finding(path, problem, expected, found))

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "valid": self.valid,
            "findings": [f.to_dict() for f in self.findings],
            "warnings": self.warnings,
            **self.info,
        }

    def raise_for_findings(self) -> None:
        if self.findings:
            raise ValidationError(f"package {self.path} is not valid", self.findings)


def _anchors(path: Path | None, what: str) -> list[x509.Certificate] | None:
    if path is None:
        return None
    try:
        certs = load_pem_certs(Path(path).read_bytes())
    except OSError as exc:
        raise NotAPackageError(f"cannot read the {what} {path}: {exc.strerror}") from None
    except CmsError as exc:
        raise NotAPackageError(f"the {what} {path} is not usable: {exc}") from None
    if not certs:
        raise NotAPackageError(f"the {what} {path} holds no certificate")
    return certs


def verify_package(
    path: Path | str, *, ca: Path | str | None = None, tsa_ca: Path | str | None = None,
) -> VerifyReport:
    """Check everything a package claims. See the module docstring."""
    root = Path(path).absolute()
    if not root.is_dir():
        raise NotAPackageError(f"{root} is not a folder")
    if not is_package(root):
        raise NotAPackageError(f"{root} is not a sealed package (no bag/bagit.txt)")
    ca_certs = _anchors(Path(ca) if ca else None, "trust anchor file")
    tsa_certs = _anchors(Path(tsa_ca) if tsa_ca else None, "TSA trust anchor file")
    report = VerifyReport(root)
    info = _check_bag(root, report)
    report.info["id"] = info.get("External-Identifier")
    report.info["source"] = info.get("Bag-Group-Identifier")
    if report.info["id"] and report.info["id"] != root.name:
        report.warnings.append(
            f"the folder is named {root.name}, the package calls itself {report.info['id']};"
            " the next package of this source finds it only under its own name"
        )
    _check_seal(root, report, ca_certs, tsa_certs)
    for finding_or_warning in check_link(root, info):
        if isinstance(finding_or_warning, Finding):
            report.findings.append(finding_or_warning)
        else:
            report.warnings.append(finding_or_warning)
    return report


def _read_text(path: Path, rel: str, report: VerifyReport) -> str | None:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        report.add(rel, "file missing")
    except (OSError, UnicodeDecodeError) as exc:
        report.add(rel, f"unreadable: {exc}")
    return None


def _check_bag(root: Path, report: VerifyReport) -> dict[str, str]:
    b = root / "bag"
    bagit_txt = _read_text(b / "bagit.txt", "bag/bagit.txt", report)
    if bagit_txt is not None and "BagIt-Version:" not in bagit_txt:
        report.add("bag/bagit.txt", "not a BagIt declaration")
    info_text = _read_text(b / "bag-info.txt", "bag/bag-info.txt", report) or ""
    info = bag.parse_bag_info(info_text)

    # Tag manifest: covers bagit.txt, bag-info.txt and the payload manifest.
    tm_text = _read_text(b / "tagmanifest-sha512.txt", "bag/tagmanifest-sha512.txt", report)
    tag_entries, bad = bag.parse_manifest(tm_text or "")
    for line in bad:
        report.add("bag/tagmanifest-sha512.txt", "unreadable line", found=line[:80])
    for rel, expected in sorted(tag_entries.items()):
        target = b / rel
        if not target.is_file():
            report.add(f"bag/{rel}", "tag file listed in the tag manifest is missing")
            continue
        found, _ = bag.hash_file(target)
        if found != expected:
            report.add(f"bag/{rel}", "sha512 does not match the tag manifest", expected, found)
    for child in sorted(b.iterdir()):
        if child.name == "data" or child.name.startswith("tagmanifest-"):
            continue
        if child.name not in tag_entries:
            report.add(f"bag/{child.name}", "tag file not listed in the tag manifest")
    for required in ("bagit.txt", "bag-info.txt", "manifest-sha512.txt"):
        if tm_text is not None and required not in tag_entries:
            report.add(f"bag/{required}", "not covered by the tag manifest")

    # Payload manifest against the files under data/.
    m_text = _read_text(b / "manifest-sha512.txt", "bag/manifest-sha512.txt", report)
    entries, bad = bag.parse_manifest(m_text or "")
    for line in bad:
        report.add("bag/manifest-sha512.txt", "unreadable line", found=line[:80])
    present: set[str] = set()
    bag_dir = str(b)
    prefix = len(bag_dir) + 1
    for dirpath, _dirs, names in os.walk(b / "data"):
        rel_dir = dirpath[prefix:].replace(os.sep, "/")
        present.update(f"{rel_dir}/{name}" for name in names)
    for rel in sorted(present - set(entries)):
        report.add(f"bag/{rel}", "file not listed in the manifest (added?)")
    missing = sorted(set(entries) - present)
    for rel in missing:
        report.add(f"bag/{rel}", "file listed in the manifest is missing", entries[rel])
    checks = run_batched(partial(_inspect_files, bag_dir), sorted(present),
                             weight=lambda rel: _size_or_zero(f"{bag_dir}/{rel}"))
    sizes: dict[str, int] = {}
    for c in checks:
        if c.relpath not in entries:
            continue
        sizes[c.relpath] = c.size
        if c.sha512 != entries[c.relpath]:
            report.add(f"bag/{c.relpath}", "sha512 does not match the manifest",
                       entries[c.relpath], c.sha512)
    oxum = info.get("Payload-Oxum")
    actual = f"{sum(sizes.values())}.{len(sizes)}"
    if oxum is None:
        report.add("bag/bag-info.txt", "Payload-Oxum missing")
    elif not missing and oxum != actual:
        report.add("bag/bag-info.txt", "Payload-Oxum does not match the payload", oxum, actual)
    _check_mdto(checks, present, entries, sizes, report)
    return info


class _FileCheck(NamedTuple):
    """What one worker found about one file (a tuple: cheap to send between processes)."""

    relpath: str
    sha512: str | None
    size: int
    problems: list[str] | None = None  # MDTO sidecars only
    fields: dict[str, str] | None = None
    error: str | None = None


def _size_or_zero(path: str) -> int:
    """For spreading big files over the threads; a file that cannot be read is reported later."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _inspect_files(bag_dir: str, rels: list[str]) -> list[_FileCheck]:
    """Hash each file; for an MDTO sidecar also validate it, from the same single read."""
    out = []
    for rel in rels:
        path = f"{bag_dir}/{rel}"
        try:
            if rel.endswith(".mdto.xml"):
                raw = bag.read_bytes(path)
                problems, fields = mdto.inspect(raw)
                out.append(_FileCheck(rel, hashlib.sha512(raw).hexdigest(), len(raw), problems,
                                      fields))
                continue
            digest, size = bag.hash_file(path)
        except OSError as exc:
            out.append(_FileCheck(rel, None, 0, error=exc.strerror))
            continue
        out.append(_FileCheck(rel, digest, size))
    return out


def _check_mdto(checks: list[_FileCheck], present: set[str], entries: dict[str, str],
                sizes: dict[str, int], report: VerifyReport) -> None:
    objects = [r for r in present if r.endswith(".mdto.xml") and not r.endswith(SIDECAR)
               and r.count("/") == 1]
    if len(objects) != 1:
        report.add("bag/data", "expected one MDTO information object sidecar (<id>.mdto.xml)",
                   "1", str(len(objects)))
    for c in checks:
        rel = c.relpath
        if c.error is not None:
            report.add(f"bag/{rel}", f"unreadable: {c.error}")
            continue
        if not rel.endswith(".mdto.xml"):
            if f"{rel}{SIDECAR}" not in present:
                report.add(f"bag/{rel}", "no MDTO sidecar for this file", f"{rel}{SIDECAR}")
            continue
        if c.problems:
            report.add(f"bag/{rel}", "MDTO sidecar is not valid against MDTO-XML 1.0.1",
                       found="; ".join(c.problems))
            continue
        if rel.endswith(SIDECAR):
            described = rel[: -len(SIDECAR)]
            fields = c.fields or {}
            if described not in present:
                report.add(f"bag/{rel}", "MDTO sidecar describes a file that is missing",
                           found=described)
                continue
            if described in entries and fields.get("checksumWaarde") != entries[described]:
                report.add(f"bag/{rel}", "MDTO checksum differs from the manifest",
                           entries[described], fields.get("checksumWaarde"))
            if described in sizes and fields.get("omvang") != str(sizes[described]):
                report.add(f"bag/{rel}", "MDTO omvang differs from the file size",
                           str(sizes[described]), fields.get("omvang"))


def _self_signed(certs: list[x509.Certificate]) -> list[x509.Certificate]:
    return [c for c in certs if c.issuer == c.subject]


def _check_seal(root: Path, report: VerifyReport, ca: list[x509.Certificate] | None,
                tsa_ca: list[x509.Certificate] | None) -> None:
    seal = root / "seal"
    sig_rel = f"seal/{SIG_NAME}"
    try:
        signature = (seal / SIG_NAME).read_bytes()
    except OSError:
        report.add(sig_rel, "seal signature missing")
        return
    try:
        tagmanifest = (root / "bag" / "tagmanifest-sha512.txt").read_bytes()
    except OSError:
        return  # already reported
    try:
        chain_pem = load_pem_certs((seal / "signer-chain.pem").read_bytes())
    except (OSError, CmsError):
        chain_pem = []
    signing_time: datetime | None = None
    try:
        signed = verify_signed_data(signature, tagmanifest)
    except CmsError as exc:
        report.add(sig_rel, f"seal signature does not verify: {exc}")
        signed = None
    if signed is not None and signed.signer is not None:
        signing_time = signed.signing_time
        report.info["signer"] = signed.signer.subject.rfc4514_string()
        anchors = ca
        if anchors is None:
            anchors = _self_signed(chain_pem)
            report.warnings.append(
                "the seal's trust anchor was taken from the package itself (seal/signer-chain.pem);"
                " pass --ca with the organisation's root certificate to prove origin"
            )
        problem = verify_path(signed.signer, signed.certificates + chain_pem, anchors,
                              at=signing_time)
        if problem:
            report.add(sig_rel, f"seal certificate not trusted: {problem}")
    tsr_rel = f"seal/{TSR_NAME}"
    try:
        tsr = (seal / TSR_NAME).read_bytes()
    except OSError:
        report.warnings.append("the package has no time-stamp: the sealing time is not proven")
        return
    try:
        token = parse_response(tsr, signature)
    except (TimestampError, CmsError) as exc:
        report.add(tsr_rel, f"time-stamp does not verify: {exc}")
        return
    report.info["timestamp"] = token.gen_time.isoformat()
    try:
        tsa_chain = load_pem_certs((seal / "tsa-chain.pem").read_bytes())
    except (OSError, CmsError):
        tsa_chain = []
    anchors = tsa_ca
    if anchors is None:
        anchors = _self_signed(tsa_chain + token.certificates)
        report.warnings.append(
            "the time-stamp authority's trust anchor was taken from the package itself;"
            " pass --tsa-ca with the TSA's root certificate"
        )
    problem = verify_path(token.tsa_cert, token.certificates + tsa_chain, anchors,
                          at=token.gen_time, eku=TIME_STAMPING)
    if problem:
        report.add(tsr_rel, f"time-stamp authority not trusted: {problem}")
