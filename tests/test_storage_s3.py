"""The S3 backend, chosen by an s3:// URL, against an S3-compatible server on 127.0.0.1.

No real S3 or MinIO server can run on these machines (no internet; MinIO is not on the package
registries), so moto's S3 server stands in for it, over real HTTP on loopback through boto3.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

from archive.errors import StorageError  # noqa: E402
from archive.storage import S3Storage, storage_from_url  # noqa: E402


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    client = boto3.client("s3", endpoint_url=endpoint)
    if "archief" not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket="archief",
                             CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield endpoint
    server.stop()


def test_s3_round_trip(s3_endpoint: str, tmp_path: Path) -> None:
    store = storage_from_url("s3://archief/warcs")
    assert isinstance(store, S3Storage)
    src = tmp_path / "x.warc.gz"
    src.write_bytes(b"\x1f\x8b" + bytes(1000))
    location = store.put(src, "2026/x.warc.gz")
    assert location == "s3://archief/warcs/2026/x.warc.gz"
    assert store.exists("2026/x.warc.gz") and not store.exists("2026/y.warc.gz")
    assert list(store.keys()) == ["2026/x.warc.gz"]
    assert store.open("2026/x.warc.gz").read() == src.read_bytes()
    # the object is really there, as another S3 client sees it
    body = boto3.client("s3", endpoint_url=s3_endpoint).get_object(
        Bucket="archief", Key="warcs/2026/x.warc.gz")["Body"].read()
    assert body == src.read_bytes()
    store.delete("2026/x.warc.gz")
    assert not store.exists("2026/x.warc.gz")


def test_s3_errors_are_clear_and_hold_no_secret(s3_endpoint: str, tmp_path: Path) -> None:
    store = storage_from_url("s3://no-such-bucket/p")
    src = tmp_path / "a"
    src.write_bytes(b"a")
    with pytest.raises(StorageError) as err:
        store.put(src, "a")
    assert "no-such-bucket" in str(err.value) and "test-secret" not in str(err.value)
    with pytest.raises(StorageError):
        store.open("missing")
