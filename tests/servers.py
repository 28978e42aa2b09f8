"""Real servers for team tests, started by the tests on 127.0.0.1 and stopped after them.

* ``git_daemon``: ``git daemon --export-all --enable=receive-pack`` serving a directory
  under the test's tmp_path; ``git_daemon.bare("origin")`` makes a bare repository there
  and returns its ``git://127.0.0.1:PORT/origin.git`` URL.
* ``s3_endpoint`` (one per test process): moto's standalone S3 server, an S3-compatible
  DVC remote; ``s3_remote`` gives each test its own bucket (``s3://BUCKET``) and sets the
  credentials boto reads (``testing``) in the environment.
* ``add_dvc_s3_remote(repo, url, endpoint)``: ``dvc remote add -d`` + ``endpointurl``,
  committed, so clones fetch from it.

conftest.py imports these fixtures (its last line), so any test file can use them.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

BIN = Path(sys.executable).parent
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
          "AWS_EC2_METADATA_DISABLED": "true"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class GitDaemon:
    base: Path
    port: int

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}.git"

    def bare(self, name: str = "origin") -> str:
        """A new bare repository served by the daemon; its git:// URL."""
        path = self.base / f"{name}.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True, capture_output=True)
        return self.url(name)

    def path(self, name: str = "origin") -> Path:
        return self.base / f"{name}.git"


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[GitDaemon]:
    """A ``git daemon`` on 127.0.0.1 serving (and accepting pushes to) tmp_path/served."""
    base = tmp_path / "served"
    base.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        ["git", "daemon", "--export-all", "--enable=receive-pack", f"--base-path={base}", f"--port={port}",
         "--listen=127.0.0.1", "--reuseaddr", "--informative-errors", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, proc, "git daemon")
        yield GitDaemon(base, port)
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's standalone S3 server on 127.0.0.1 (one per test process): its endpoint URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                stdout=fh, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, "moto_server", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


@pytest.fixture
def s3_remote(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new, empty bucket on the moto server: ``s3://BUCKET``; boto's credentials set."""
    for k, v in S3_ENV.items():
        monkeypatch.setenv(k, v)
    import boto3

    bucket = f"mvtools-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, **_creds()).create_bucket(Bucket=bucket)
    return f"s3://{bucket}"


def _creds() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def s3_keys(endpoint: str, url: str) -> list[str]:
    """Every object key in the bucket of ``url`` (``s3://BUCKET[/prefix]``)."""
    import boto3

    bucket, _, prefix = url[len("s3://"):].partition("/")
    client = boto3.client("s3", endpoint_url=endpoint, **_creds())
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def add_dvc_s3_remote(repo: Path, url: str, endpoint: str, name: str = "storage") -> None:
    """``dvc remote add -d NAME URL`` with ``endpointurl``, committed (clones fetch from it)."""
    dvc = str(BIN / "dvc")
    for args in (["remote", "add", "-d", name, url], ["remote", "modify", name, "endpointurl", endpoint]):
        subprocess.run([dvc, *args], cwd=repo, check=True, capture_output=True)
    subprocess.run(["git", "add", ".dvc/config"], cwd=repo, check=True, capture_output=True)
    subprocess.run(["git", "commit", "-q", "-m", "DVC remote on S3"], cwd=repo, check=True, capture_output=True)
