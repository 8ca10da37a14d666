"""Sealed packages as an auditor meets them: standard tools alone, `bewaar verify`, MDTO, chain."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import pytest
from lxml import etree

from archive.errors import SettingsError
from archive.package import PackageInput, build_package, verify_package
from archive.package.selectielijst import SelectielijstError, add_duration
from archive.settings import Settings, load_settings
from tests.tsa import LocalPKI, pki, run_standard_tools, verify_txt_commands  # noqa: F401

BIN = Path(sys.executable).parent
XSD = Path(__file__).resolve().parents[1] / "archive" / "package" / "schema" / "MDTO-XML1.0.1.xsd"
NS = {"m": "https://www.nationaalarchief.nl/mdto"}
SELECTIELIJST = """\
name = "Selectielijst Ministerie van Proefzaken 2024"

[[categorie]]
code = "1.1"
naam = "Websites over beleid"
waardering = "V"
bewaartermijn = "P10Y"
trigger = "Vastlegging website"

[[categorie]]
code = "2.1"
naam = "Chatberichten bewindspersonen"
waardering = "B"
trigger = "Archivering"
"""


def sealed_settings(home: Path, pki: LocalPKI | None, **extra: object) -> Settings:  # noqa: F811
    home.mkdir(parents=True, exist_ok=True)
    sl = home / "selectielijst.toml"
    sl.write_text(SELECTIELIJST)
    kwargs: dict[str, object] = {"selectielijst": sl, **extra}
    if pki is not None:
        kwargs.update(tsa_url=pki.tsa_url, seal_cert=pki.seal_cert, seal_key=pki.seal_key,
                      seal_chain=pki.ca)
    return load_settings(**kwargs)


def sample_files(tmp: Path) -> list[PackageInput]:
    warc = tmp / "src" / "BEWAAR-20250101120000000-00000-host.warc.gz"
    warc.parent.mkdir(parents=True, exist_ok=True)
    warc.write_bytes(bytes(range(256)) * 4000)
    return [
        PackageInput(f"warcs/{warc.name}", warc, "application/warc"),
        PackageInput("run/report.json", b'{"pages": 3}\n', "application/json"),
        PackageInput("run/crawl log.txt", b"line one\nline two\n"),
    ]


def make(settings: Settings, tmp: Path, source: str = "justid", category: str | None = "1.1"):  # type: ignore[no-untyped-def]
    return build_package(
        settings, source_kind="crawl", source_name=source, title=f"Webarchief {source}",
        category=category, files=sample_files(tmp), description="Een test",
        period=(datetime(2025, 3, 1, 10, tzinfo=UTC), datetime(2025, 3, 2, 11, tzinfo=UTC)),
    )


def test_package_verifies_with_standard_tools_alone(home: Path, tmp_path: Path,
                                                     pki: LocalPKI) -> None:  # noqa: F811
    s = sealed_settings(home, pki)
    result = make(s, tmp_path)
    pkg = result.path
    assert pkg.parent == s.packages_dir and result.timestamped
    assert sorted(p.name for p in (pkg / "seal").iterdir()) == [
        "VERIFY.txt", "signer-chain.pem", "tagmanifest-sha512.txt.p7s",
        "tagmanifest-sha512.txt.p7s.tsr", "tsa-chain.pem"]
    results = run_standard_tools(pkg, pki.ca, pki.ca, BIN)
    assert [r.args[1 if "python" in r.args[0] else 0] for r in results][0].endswith("bagit.py")
    assert len(results) == 3
    for r in results:
        assert r.returncode == 0, f"{r.args}\n{r.stdout}\n{r.stderr}"
    # and our own verifier agrees, with the auditor's trust anchors
    report = verify_package(pkg, ca=pki.ca, tsa_ca=pki.ca)
    assert report.valid, report.findings
    assert report.warnings == []
    assert report.info["timestamp"]
    # the tag manifest digest we recorded is the one on disk
    tm = (pkg / "bag" / "tagmanifest-sha512.txt").read_bytes()
    assert hashlib.sha512(tm).hexdigest() == result.tagmanifest_sha512


def _command_output(results: list[subprocess.CompletedProcess[str]], *words: str) -> str:
    [out] = [r.stdout for r in results if all(w in r.args for w in words)]
    return out


def test_verify_txt_guides_an_outside_auditor(home: Path, tmp_path: Path,
                                              pki: LocalPKI) -> None:  # noqa: F811
    """Every command VERIFY.txt gives runs and passes on a real package, and what it prints is
    what the text says to compare: root fingerprints, signer, time-stamp time, the chain link."""
    s = sealed_settings(home, pki)
    first, second = make(s, tmp_path), make(s, tmp_path)
    pkg = second.path
    text = (pkg / "seal" / "VERIFY.txt").read_text()
    commands = verify_txt_commands(pkg, pki.ca, pki.ca, XSD)
    assert [w[:2] for w in commands] == [
        ["openssl", "x509"], ["openssl", "x509"], ["bagit.py", "--validate"],
        ["openssl", "cms"], ["openssl", "pkcs7"], ["openssl", "cms"], ["openssl", "ts"],
        ["openssl", "ts"], ["grep", "^Bewaar-Previous-"],
        ["sha512sum", f"../{first.id}/bag/tagmanifest-sha512.txt"], ["find", "bag/data"]]
    results = run_standard_tools(pkg, pki.ca, pki.ca, BIN, every=True, schema=XSD)
    if shutil.which("xmllint") is None:  # libxml2-utils is not installed here
        results = results[:-1]
    for r in results:
        assert r.returncode == 0, f"{r.args}\n{r.stdout}\n{r.stderr}"
    # the root fingerprints written are the ones openssl computes from the auditor's anchors
    for r in results[:2]:
        found = r.stdout.strip().split("=", 1)[1]
        assert f"\n     {found}\n" in text
    assert text.count(found) == 2  # the seal's and the time-stamp authority's root
    assert "Never use seal/signer-chain.pem or seal/tsa-chain.pem as a trust anchor" in text
    assert "Test Ministerie seal" in _command_output(results, "pkcs7", "-print_certs")
    assert "signerInfos" in _command_output(results, "cms", "-cmsout")
    stamp = _command_output(results, "ts", "-reply")
    assert re.search(r"^Time stamp: \w{3} +\d+ \d\d:\d\d:\d\d(\.\d+)? \d{4} GMT$", stamp,
                     re.MULTILINE), stamp
    link = dict(line.split(": ", 1) for line in _command_output(results, "grep").splitlines())
    assert link["Bewaar-Previous-Package"] == first.id
    assert _command_output(results, "sha512sum").split()[0] == (
        link["Bewaar-Previous-Tagmanifest-SHA512"])
    for needed in ("pip install bagit", "MDTO-XML 1.0.1", "Nationaal Archief",
                   "archive/package/schema/MDTO-XML1.0.1.xsd",
                   hashlib.sha256(XSD.read_bytes()).hexdigest()):
        assert needed in text
    if shutil.which("xmllint"):
        assert "validates" in results[-1].stderr


def test_verify_txt_without_time_stamp_has_no_time_stamp_step(home: Path,
                                                              tmp_path: Path) -> None:
    s = sealed_settings(home, None)  # local keys, no time-stamp authority
    pkg = make(s, tmp_path).path
    text = (pkg / "seal" / "VERIFY.txt").read_text()
    commands = verify_txt_commands(pkg, s.keys_dir / "ca.pem", Path("/nonexistent"))
    assert not [w for w in commands if "ts" in w or "/nonexistent" in w or "sha512sum" in w]
    assert "TSA-ROOT.pem" not in text and ".tsr" not in text
    assert "NO time-stamp" in text and "first package of its source" in text
    assert "NOT qualified" in text
    for r in run_standard_tools(pkg, s.keys_dir / "ca.pem", Path("/nonexistent"), BIN,
                                every=True, schema=XSD):
        if r.args[0] != "find" or shutil.which("xmllint"):
            assert r.returncode == 0, f"{r.args}\n{r.stdout}\n{r.stderr}"


def test_mdto_sidecars_validate_and_carry_the_selectielijst(home: Path, tmp_path: Path) -> None:
    s = sealed_settings(home, None)
    pkg = make(s, tmp_path).path
    data = pkg / "bag" / "data"
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    sidecars = sorted(data.rglob("*.mdto.xml"))
    assert len(sidecars) == 4  # one information object, three files
    for sc in sidecars:
        schema.assertValid(etree.parse(str(sc)))
    obj = etree.parse(str(data / f"{pkg.name}.mdto.xml"))
    assert obj.findtext(".//m:waardering/m:begripCode", namespaces=NS) == "V"
    assert obj.findtext(".//m:bewaartermijn/m:termijnLooptijd", namespaces=NS) == "P10Y"
    assert obj.findtext(".//m:bewaartermijn/m:termijnStartdatumLooptijd", namespaces=NS) == "2025-03-02"
    assert obj.findtext(".//m:bewaartermijn/m:termijnEinddatum", namespaces=NS) == "2035-03-02"
    assert obj.findtext(".//m:informatiecategorie/m:begripCode", namespaces=NS) == "1.1"
    assert obj.findtext(".//m:archiefvormer/m:verwijzingNaam", namespaces=NS) == s.organisation
    warc = next((data / "warcs").glob("*.warc.gz"))
    side = etree.parse(str(warc) + ".bestand.mdto.xml")
    assert side.findtext(".//m:bestandsformaat/m:begripCode", namespaces=NS) == "fmt/1355"
    assert side.findtext(".//m:omvang", namespaces=NS) == str(warc.stat().st_size)
    assert side.findtext(".//m:checksumWaarde", namespaces=NS) == hashlib.sha512(
        warc.read_bytes()).hexdigest()
    assert side.findtext(".//m:checksum/m:checksumDatum", namespaces=NS)
    js = etree.parse(str(data / "run" / "report.json.bestand.mdto.xml"))
    assert js.findtext(".//m:bestandsformaat/m:begripCode", namespaces=NS) == "fmt/817"
    info = (pkg / "bag" / "bag-info.txt").read_text()
    for field in ("Source-Organization: ", "External-Identifier: ", "Bagging-Date: ",
                  "Payload-Oxum: ", "Bag-Software-Agent: ", "Bag-Group-Identifier: crawl:justid"):
        assert field in info


def test_without_tsa_sealed_but_warned(home: Path, tmp_path: Path) -> None:
    s = sealed_settings(home, None)
    pkg = make(s, tmp_path, category=None).path
    assert not (pkg / "seal" / "tagmanifest-sha512.txt.p7s.tsr").exists()
    assert (s.keys_dir / "seal.pem").exists()  # local keys made on first use
    report = verify_package(pkg)
    assert report.valid, report.findings
    assert any("no time-stamp" in w for w in report.warnings)
    assert any("taken from the package itself" in w for w in report.warnings)
    assert "NO time-stamp" in (pkg / "seal" / "VERIFY.txt").read_text()
    # the local CA is the auditor's anchor for a local seal
    assert verify_package(pkg, ca=s.keys_dir / "ca.pem").valid


def test_chain_of_packages_per_source(home: Path, tmp_path: Path, pki: LocalPKI) -> None:  # noqa: F811
    s = sealed_settings(home, pki)
    first, second, third = (make(s, tmp_path) for _ in range(3))
    other = make(s, tmp_path, source="rijksoverheid")
    assert first.previous_id is None and other.previous_id is None
    assert second.previous_id == first.id and third.previous_id == second.id
    info = (third.path / "bag" / "bag-info.txt").read_text()
    assert f"Bewaar-Previous-Package: {second.id}" in info
    assert f"Bewaar-Previous-Tagmanifest-SHA512: {second.tagmanifest_sha512}" in info
    for r in (first, second, third):
        assert verify_package(r.path, ca=pki.ca, tsa_ca=pki.ca).valid

    # replace the middle package by another one under its name: the next link shows it
    saved = tmp_path / "saved"
    shutil.move(second.path, saved)
    shutil.copytree(other.path, second.path)
    report = verify_package(third.path, ca=pki.ca, tsa_ca=pki.ca)
    assert [f.problem for f in report.findings] == [
        f"previous package {second.id} was replaced or altered "
        "(its tag manifest differs from the link)"]
    assert report.findings[0].expected == second.tagmanifest_sha512

    # drop it: the gap shows
    shutil.rmtree(second.path)
    report = verify_package(third.path, ca=pki.ca, tsa_ca=pki.ca)
    assert not report.valid
    assert report.findings[0].problem.startswith(f"previous package {second.id} is missing")
    shutil.move(saved, second.path)
    assert verify_package(third.path, ca=pki.ca, tsa_ca=pki.ca).valid

    # a package copied away on its own is still valid, with a warning that the link was not checked
    alone = tmp_path / "alone"
    shutil.copytree(third.path, alone / third.id)
    report = verify_package(alone / third.id, ca=pki.ca, tsa_ca=pki.ca)
    assert report.valid and any("not checked" in w for w in report.warnings)


def test_pkcs12_seal_and_wrong_tsa_anchor(home: Path, tmp_path: Path, pki: LocalPKI,  # noqa: F811
                                          monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p12 = tmp_path / "seal.p12"
    subprocess.run(["openssl", "pkcs12", "-export", "-in", str(pki.seal_cert), "-inkey",
                    str(pki.seal_key), "-certfile", str(pki.ca), "-out", str(p12),
                    "-passout", "pass:geheim"], check=True, capture_output=True, timeout=60)
    monkeypatch.setenv("SEAL_PASS", "geheim")
    s = sealed_settings(home, None, seal_cert=p12, seal_key_password_env="SEAL_PASS",
                        tsa_url=pki.tsa_url)
    pkg = make(s, tmp_path).path
    assert "geheim" not in "".join(p.read_text(errors="replace") for p in pkg.rglob("*")
                                   if p.is_file())
    assert verify_package(pkg, ca=pki.ca, tsa_ca=pki.ca).valid
    report = verify_package(pkg, ca=pki.ca, tsa_ca=pki.other_ca)
    assert [f.path for f in report.findings] == ["seal/tagmanifest-sha512.txt.p7s.tsr"]
    assert "time-stamp authority not trusted" in report.findings[0].problem
    monkeypatch.setenv("SEAL_PASS", "fout")
    with pytest.raises(SettingsError, match="cannot load the seal certificate"):
        make(s, tmp_path)


def test_bewaartermijn_dates() -> None:
    assert add_duration(date(2024, 2, 29), "P1Y") == date(2025, 2, 28)
    assert add_duration(date(2025, 1, 31), "P1M") == date(2025, 2, 28)
    assert add_duration(date(2025, 3, 2), "P10Y2W") == date(2035, 3, 16)
    with pytest.raises(SelectielijstError, match="ISO 8601"):
        add_duration(date(2025, 1, 1), "10 jaar")


@pytest.mark.parametrize("fork", [True, False], ids=["processes", "threads"])
def test_many_files_in_new_folders(home: Path, monkeypatch: pytest.MonkeyPatch,
                                   fork: bool) -> None:
    """Worker processes (the command line) or threads (a server) that copy into folders that
    do not exist yet must not trip over each other."""
    from archive.package import build, parallel

    monkeypatch.setattr(build, "run_batched", partial(parallel.run_batched, fork=fork))
    s = sealed_settings(home, None)
    files = [PackageInput(f"rooms/r{i % 25:02d}/sub/e{i:04d}.json", b'{"n": %d}\n' % i)
             for i in range(400)]
    pkg = build_package(s, source_kind="chat", source_name="kabinet", title="Chat",
                        category="2.1", files=files).path
    assert len(list((pkg / "bag" / "data" / "rooms").rglob("*.json"))) == 400
    assert verify_package(pkg).valid
    bagit = subprocess.run([str(BIN / "python"), str(BIN / "bagit.py"), "--validate",
                            str(pkg / "bag")], capture_output=True, text=True, timeout=120)
    assert bagit.returncode == 0, bagit.stderr


def test_big_files_are_spread_over_the_hashing_threads() -> None:
    """Files go to the threads in batches (64 small files per job), but a batch ends once it
    holds 32 MB, so a package of a few big WARCs is still hashed on every core."""
    from archive.package.parallel import _chunks

    sizes = [40 << 20, 40 << 20, 1, 1, 40 << 20] + [1000] * 130
    batches = list(_chunks(sizes, 64, lambda n: n, 32 << 20))
    assert batches[:3] == [[40 << 20], [40 << 20], [1, 1, 40 << 20]]
    assert [len(b) for b in batches[3:]] == [64, 64, 2]
    assert sum(len(b) for b in batches) == len(sizes)


def _square_in_some_process(batch: list[int]) -> list[tuple[int, int]]:
    time.sleep(0.002)  # long enough that every process takes some batches
    return [(n * n, os.getpid()) for n in batch]


def _children() -> set[int]:
    """This process's child processes, zombies included (other fixtures may have some)."""
    me, found = str(os.getpid()), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            found.add(int(stat.parent.name))
    return found


def test_work_spread_over_processes_comes_back_whole_and_in_order() -> None:
    from archive.package.parallel import run_batched

    before = _children()
    seen: list[int] = []
    out = run_batched(_square_in_some_process, range(1000), batch=10, fork=True, processes=2,
                      on_done=lambda res: seen.append(len(res)))
    assert [sq for sq, _ in out] == [n * n for n in range(1000)]
    assert len({pid for _, pid in out}) == 2, "the work was not spread over two processes"
    assert seen == [10] * 100
    assert _children() <= before, "a worker process was left behind"


def test_a_failing_or_dying_worker_fails_the_whole_run() -> None:
    from archive.package.bag import BagError
    from archive.package.parallel import WorkerError, run_batched

    parent, before = os.getpid(), _children()

    def broken(batch: list[int]) -> list[int]:
        if 500 in batch:
            raise BagError("cannot read item 500")  # in whichever process takes it
        time.sleep(0.002)
        return batch

    with pytest.raises(BagError, match="item 500"):
        run_batched(broken, range(1000), batch=10, fork=True, processes=2)

    def dies(batch: list[int]) -> list[int]:
        time.sleep(0.002)
        if os.getpid() != parent:
            os._exit(3)  # as if killed
        return batch

    with pytest.raises(WorkerError, match="ended before"):
        run_batched(dies, range(1000), batch=10, fork=True, processes=2)
    assert _children() <= before, "a worker process was left behind"
