"""Tamper evidence: every change to a sealed package is found, with the right finding."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from archive.package import verify_package
from archive.package.verify import VerifyReport
from tests.conftest import TEST_ORGANISATION
from tests.test_package import make, sealed_settings
from tests.tsa import LocalPKI, pki, run_standard_tools  # noqa: F401

BIN = Path(sys.executable).parent
SIG = "seal/tagmanifest-sha512.txt.p7s"
TSR = SIG + ".tsr"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, pki: LocalPKI) -> Path:  # noqa: F811
    home = tmp_path_factory.mktemp("tamper") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BEWAAR_HOME", str(home))
        for key, value in TEST_ORGANISATION.items():
            mp.setenv(key, value)
        s = sealed_settings(home, pki)
        return make(s, home.parent).path


@pytest.fixture
def pkg(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / pristine.name
    shutil.copytree(pristine, copy)
    return copy


def check(pkg: Path, pki: LocalPKI) -> VerifyReport:  # noqa: F811
    return verify_package(pkg, ca=pki.ca, tsa_ca=pki.ca)


def flip(path: Path, offset: int = 10) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def warc(pkg: Path) -> Path:
    return next((pkg / "bag" / "data" / "warcs").glob("*.warc.gz"))


def test_untouched_copy_is_valid(pkg: Path, pki: LocalPKI) -> None:  # noqa: F811
    assert check(pkg, pki).valid


def test_flipped_byte_in_payload(pkg: Path, pki: LocalPKI) -> None:  # noqa: F811
    target = warc(pkg)
    before = hashlib.sha512(target.read_bytes()).hexdigest()
    flip(target, 5000)
    report = check(pkg, pki)
    rel = target.relative_to(pkg).as_posix()
    assert [(f.path, f.problem) for f in report.findings] == [
        (rel, "sha512 does not match the manifest")]
    assert report.findings[0].expected == before
    assert report.findings[0].found == hashlib.sha512(target.read_bytes()).hexdigest()
    bagit = run_standard_tools(pkg, pki.ca, pki.ca, BIN)[0]
    assert bagit.returncode != 0  # the independent tool agrees


def test_flipped_byte_in_sidecar(pkg: Path, pki: LocalPKI) -> None:  # noqa: F811
    sidecar = Path(str(warc(pkg)) + ".bestand.mdto.xml")
    text = sidecar.read_text()
    sidecar.write_text(text.replace("<omvang>", "<omvang>1", 1))
    report = check(pkg, pki)
    rel = sidecar.relative_to(pkg).as_posix()
    problems = {(f.path, f.problem) for f in report.findings}
    assert (rel, "sha512 does not match the manifest") in problems
    assert (rel, "MDTO omvang differs from the file size") in problems


def test_flipped_byte_in_bag_info(pkg: Path, pki: LocalPKI) -> None:  # noqa: F811
    info = pkg / "bag" / "bag-info.txt"
    info.write_text(info.read_text().replace("Source-Organization: M", "Source-Organization: N"))
    report = check(pkg, pki)
    assert [(f.path, f.problem) for f in report.findings] == [
        ("bag/bag-info.txt", "sha512 does not match the tag manifest")]


def test_removed_file(pkg: Path, pki: LocalPKI) -> None:  # noqa: F811
    target = pkg / "bag" / "data" / "run" / "report.json"
    target.unlink()
    report = check(pkg, pki)
    problems = {(f.path, f.problem) for f in report.findings}
    assert ("bag/data/run/report.json", "file listed in the manifest is missing") in problems
    assert ("bag/data/run/report.json.bestand.mdto.xml",
            "MDTO sidecar describes a file that is missing") in problems


def test_added_file(pkg: Path, pki: LocalPKI) -> None:  # noqa: F811
    (pkg / "bag" / "data" / "run" / "extra.txt").write_text("slipped in later\n")
    report = check(pkg, pki)
    problems = {(f.path, f.problem) for f in report.findings}
    assert ("bag/data/run/extra.txt", "file not listed in the manifest (added?)") in problems
    assert ("bag/data/run/extra.txt", "no MDTO sidecar for this file") in problems


def test_payload_change_with_rewritten_manifests(pkg: Path, pki: LocalPKI) -> None:  # noqa: F811
    """An attacker who also rewrites both manifests is caught by the seal."""
    bag = pkg / "bag"
    target = bag / "data" / "run" / "report.json"
    old = hashlib.sha512(target.read_bytes()).hexdigest()
    target.write_bytes(b'{"pages": 4}\n')
    new = hashlib.sha512(target.read_bytes()).hexdigest()
    manifest = bag / "manifest-sha512.txt"
    manifest.write_text(manifest.read_text().replace(old, new))
    sidecar = bag / "data" / "run" / "report.json.bestand.mdto.xml"
    sidecar.write_text(sidecar.read_text().replace(old, new))
    side_old = None
    lines = []
    for line in manifest.read_text().splitlines():
        digest, name = line.split("  ", 1)
        if name.endswith("report.json.bestand.mdto.xml"):
            side_old = digest
            digest = hashlib.sha512(sidecar.read_bytes()).hexdigest()
        lines.append(f"{digest}  {name}\n")
    assert side_old
    manifest.write_text("".join(lines))
    tm = bag / "tagmanifest-sha512.txt"
    tm_lines = []
    for line in tm.read_text().splitlines():
        digest, name = line.split("  ", 1)
        if name == "manifest-sha512.txt":
            digest = hashlib.sha512(manifest.read_bytes()).hexdigest()
        tm_lines.append(f"{digest}  {name}\n")
    tm.write_text("".join(tm_lines))
    report = check(pkg, pki)
    assert [f.path for f in report.findings] == [SIG]
    assert "signed digest does not match the content" in report.findings[0].problem


def test_signature_by_another_key(pkg: Path, pki: LocalPKI) -> None:  # noqa: F811
    pki.sign_with_other_key(pkg / "bag" / "tagmanifest-sha512.txt", pkg / SIG)
    report = check(pkg, pki)
    problems = [(f.path, f.problem) for f in report.findings]
    assert problems[0][0] == SIG and "seal certificate not trusted" in problems[0][1]
    # the old time-stamp no longer covers the new signature either
    assert (TSR, "time-stamp does not verify: time-stamp is over other data") in [
        (p, m.split(": message imprint")[0]) for p, m in problems]
    cms = run_standard_tools(pkg, pki.ca, pki.ca, BIN)[1]
    assert cms.args[:2] == ["openssl", "cms"] and cms.returncode != 0


def test_timestamp_over_other_data(pkg: Path, pki: LocalPKI) -> None:  # noqa: F811
    (pkg / TSR).write_bytes(pki.timestamp(b"some other signature"))
    report = check(pkg, pki)
    assert [f.path for f in report.findings] == [TSR]
    assert "time-stamp is over other data" in report.findings[0].problem
    ts = run_standard_tools(pkg, pki.ca, pki.ca, BIN)[2]
    assert ts.args[:2] == ["openssl", "ts"] and ts.returncode != 0


@pytest.mark.parametrize("name", [SIG, TSR])
@pytest.mark.parametrize("how", ["truncated", "garbage", "empty"])
def test_broken_seal_files(pkg: Path, pki: LocalPKI, name: str, how: str) -> None:  # noqa: F811
    target = pkg / name
    data = target.read_bytes()
    target.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x30\x82garbage" * 9,
                        "empty": b""}[how])
    report = check(pkg, pki)
    assert not report.valid
    assert report.findings[0].path == name
    assert "does not verify" in report.findings[0].problem


def test_wrong_trust_anchor(pkg: Path, pki: LocalPKI) -> None:  # noqa: F811
    report = verify_package(pkg, ca=pki.other_ca, tsa_ca=pki.ca)
    assert [f.path for f in report.findings] == [SIG]
    assert "does not chain to the trust anchor" in report.findings[0].problem
    proc = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", SIG,
                           "-content", "bag/tagmanifest-sha512.txt", "-CAfile", str(pki.other_ca),
                           "-out", "/dev/null"], cwd=pkg, capture_output=True, timeout=60)
    assert proc.returncode != 0
