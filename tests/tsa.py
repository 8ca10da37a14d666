"""A test PKI made with the openssl command line: a CA, a seal certificate and a time-stamp
authority, with ``openssl ts -reply`` answering RFC 3161 requests over HTTP on 127.0.0.1."""

from __future__ import annotations

import shlex
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

TSA_CONF = """\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/ca.pem
signer_key = $dir/tsa-key.pem
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

EXT = """\
[ ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ tsa ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ seal ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def openssl(*args: str, cwd: Path, input: bytes | None = None) -> bytes:
    proc = subprocess.run(["openssl", *args], cwd=cwd, input=input, capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


@dataclass
class LocalPKI:
    dir: Path
    ca: Path  # trust anchor of seal and TSA certificates
    seal_cert: Path
    seal_key: Path
    other_ca: Path  # an unrelated CA
    other_cert: Path  # a seal certificate of another organisation
    other_key: Path
    tsa_url: str

    def sign_with_other_key(self, content: Path, out: Path) -> None:
        """A detached DER CMS signature over ``content`` by a key that is not the seal's."""
        openssl("cms", "-sign", "-binary", "-outform", "DER", "-in", str(content),
                "-signer", str(self.other_cert), "-inkey", str(self.other_key),
                "-certfile", str(self.other_ca), "-out", str(out), cwd=self.dir)

    def timestamp(self, data: bytes) -> bytes:
        """A DER time-stamp reply over ``data`` (openssl ts -query / -reply)."""
        q = self.dir / "adhoc.tsq"
        openssl("ts", "-query", "-sha512", "-cert", "-out", str(q), cwd=self.dir, input=data)
        return _reply(self.dir, q)


_reply_lock = threading.Lock()


def _reply(d: Path, query: Path) -> bytes:
    with _reply_lock:
        out = d / "reply.tsr"
        openssl("ts", "-reply", "-config", str(d / "tsa.cnf"), "-queryfile", str(query),
                "-out", str(out), cwd=d)
        return out.read_bytes()


def _make_ca(d: Path, name: str, cn: str) -> None:
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}-key.pem", cwd=d)
    openssl("req", "-new", "-x509", "-key", f"{name}-key.pem", "-out", f"{name}.pem", "-days", "3650",
            "-subj", f"/O=Test/CN={cn}", "-config", str(d / "req.cnf"), "-extensions", "ca", cwd=d)


def _make_leaf(d: Path, name: str, ca: str, cn: str, ext: str) -> None:
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}-key.pem", cwd=d)
    openssl("req", "-new", "-key", f"{name}-key.pem", "-out", f"{name}.csr", "-subj",
            f"/O=Test/CN={cn}", "-config", str(d / "req.cnf"), cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}-key.pem",
            "-set_serial", str(abs(hash(name)) % 10**9 + 2), "-days", "3650", "-out", f"{name}.pem",
            "-extfile", str(d / "ext.cnf"), "-extensions", ext, cwd=d)


class _Handler(BaseHTTPRequestHandler):
    directory: Path

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        with tempfile.NamedTemporaryFile(dir=self.directory, suffix=".tsq", delete=False) as fh:
            fh.write(body)
        try:
            reply = _reply(self.directory, Path(fh.name))
        except RuntimeError:
            self.send_response(400)
            self.end_headers()
            return
        finally:
            Path(fh.name).unlink(missing_ok=True)
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPKI]:
    d = tmp_path_factory.mktemp("pki")
    (d / "req.cnf").write_text(
        "[ req ]\ndistinguished_name = dn\nprompt = no\n[ dn ]\n" + EXT
    )
    (d / "ext.cnf").write_text(EXT)
    (d / "tsa.cnf").write_text(TSA_CONF.format(dir=d))
    (d / "tsaserial").write_text("01\n")
    _make_ca(d, "ca", "Test Root CA")
    _make_leaf(d, "tsa", "ca", "Test TSA", "tsa")
    _make_leaf(d, "seal", "ca", "Test Ministerie seal", "seal")
    _make_ca(d, "other-ca", "Other Root CA")
    _make_leaf(d, "other", "other-ca", "Other organisation seal", "seal")
    handler = type("Handler", (_Handler,), {"directory": d})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalPKI(
            dir=d, ca=d / "ca.pem", seal_cert=d / "seal.pem", seal_key=d / "seal-key.pem",
            other_ca=d / "other-ca.pem", other_cert=d / "other.pem", other_key=d / "other-key.pem",
            tsa_url=f"http://127.0.0.1:{server.server_address[1]}/tsa",
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def verify_txt_commands(package: Path, seal_root: Path, tsa_root: Path,
                        schema: Path | None = None) -> list[list[str]]:
    """The commands VERIFY.txt gives an auditor (its lines starting with "$ "), split as a shell
    would, with the trust anchors (and the MDTO schema) filled in."""
    names = {"SEAL-ROOT.pem": str(seal_root), "TSA-ROOT.pem": str(tsa_root)}
    if schema is not None:
        names["MDTO-XML1.0.1.xsd"] = str(schema)
    commands = []
    for line in (package / "seal" / "VERIFY.txt").read_text().splitlines():
        line = line.strip()
        if line.startswith("$ "):
            commands.append([names.get(w, w) for w in shlex.split(line[2:])])
    return commands


def is_check(words: list[str]) -> bool:
    """A command that verifies (bagit.py --validate, openssl cms/ts -verify), not one that
    prints something for the auditor to compare."""
    return words[0] == "bagit.py" or (words[0] == "openssl" and "-verify" in words)


def run_standard_tools(package: Path, seal_root: Path, tsa_root: Path, bin_dir: Path, *,
                       every: bool = False,
                       schema: Path | None = None) -> list[subprocess.CompletedProcess[str]]:
    """Run the VERIFY.txt checks (``every``: all of its commands) in the package folder, in
    the file's order (bagit.py from ``bin_dir``)."""
    results = []
    for words in verify_txt_commands(package, seal_root, tsa_root, schema):
        if not every and not is_check(words):
            continue
        if words[0] == "bagit.py":
            words = [str(bin_dir / "python"), str(bin_dir / "bagit.py"), *words[1:]]
        results.append(subprocess.run(words, cwd=package, capture_output=True, text=True,
                                      timeout=120))
    return results
