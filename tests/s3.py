"""An S3 server on loopback for the tests: moto's, because no real S3, MinIO or Ceph can run
on these machines (no internet; MinIO is not on the package registries). boto3 talks to it
over real HTTP on 127.0.0.1, as it would to MinIO through ``AWS_ENDPOINT_URL``.

``s3_server`` (session) starts one server; ``s3`` (per test) gives a fresh bucket on it and sets
the AWS_* variables for in-process calls; ``S3Server.env(bucket)`` gives them for a ``bewaar``
subprocess (with ``BEWAAR_STORAGE_URL``). ``S3Server.enforce_auth()`` makes the server check
credentials and IAM policies for a while (moto accepts anything otherwise); ``read_only_user``
makes a user that may read the bucket but not write it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

REGION = "eu-west-1"
SECRET = "moto-test-secret-" + "s3cr3t" * 3  # grep for it: it must never be printed


@dataclass
class S3Server:
    endpoint: str

    def client(self, **credentials: str) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=credentials.get("key", "testing"),
                            aws_secret_access_key=credentials.get("secret", SECRET))

    def new_bucket(self) -> str:
        name = f"archief-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name,
                                    CreateBucketConfiguration={"LocationConstraint": REGION})
        return name

    def env(self, bucket: str | None = None, prefix: str = "depot", **credentials: str
            ) -> dict[str, str]:
        """AWS_* for boto3 (and BEWAAR_STORAGE_URL when ``bucket`` is given)."""
        out = {"AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION,
               "AWS_ACCESS_KEY_ID": credentials.get("key", "testing"),
               "AWS_SECRET_ACCESS_KEY": credentials.get("secret", SECRET),
               # no ~/.aws files of whoever runs the tests
               "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
        if bucket:
            out["BEWAAR_STORAGE_URL"] = f"s3://{bucket}/{prefix}"
        return out

    @contextmanager
    def enforce_auth(self) -> Iterator[None]:
        """Check credentials and IAM policies (moto's reset-auth) until the block ends."""
        import httpx

        httpx.post(f"{self.endpoint}/moto-api/reset-auth", content=b"0", timeout=10)
        try:
            yield
        finally:
            httpx.post(f"{self.endpoint}/moto-api/reset-auth", content=b"inf", timeout=10)

    def read_only_user(self, bucket: str) -> dict[str, str]:
        """Credentials of a new IAM user that may list and read ``bucket``, not write it."""
        import boto3

        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name=REGION,
                           aws_access_key_id="testing", aws_secret_access_key=SECRET)
        name = f"reader-{secrets.token_hex(3)}"
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            # moto names HEAD of a bucket s3:HeadBucket (AWS checks s3:ListBucket for it)
            "Statement": [{"Effect": "Allow",
                           "Action": ["s3:HeadBucket", "s3:ListBucket", "s3:GetObject"],
                           "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield S3Server(f"http://{host}:{port}")
    server.stop()


@dataclass
class S3Bucket:
    server: S3Server
    name: str

    @property
    def url(self) -> str:
        return f"s3://{self.name}/depot"

    def env(self) -> dict[str, str]:
        return self.server.env(self.name)

    def object_keys(self) -> list[str]:
        pages = self.server.client().get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """A fresh bucket; AWS_* set for in-process calls (storage_url is the test's to set)."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    from archive import storage

    storage._buckets.clear()
    storage._checked.clear()
    return S3Bucket(s3_server, s3_server.new_bucket())
