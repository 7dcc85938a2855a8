"""`python -m tollway_edge --certfile ... --keyfile ...` serves the API over HTTPS."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.support.stack import Stack

from tollway_cli.processes import spawn_module, wait_until_ready
from tollway_cli.servers import free_port
from tollway_common.bus_permissions import Service


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_edge_serves_https_with_a_certificate(
    stack: Stack, api_key: str, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    trust = ssl.create_default_context(cafile=str(cert))
    port = free_port()
    edge = spawn_module(
        "edge-tls",
        "tollway_edge",
        {
            **stack.nats.env(Service.EDGE),
            "TOLLWAY_EDGE_REDIS__URL": stack.redis.url,
            "TOLLWAY_EDGE_PORT": str(port),
            "TOLLWAY_EDGE_METRICS__PORT": "0",
        },
        stack.workdir / "logs",
        args=["--certfile", str(cert), "--keyfile", str(key)],
    )
    stack.processes.append(edge)
    wait_until_ready(edge, f"https://127.0.0.1:{port}/readyz", verify=trust)
    async with httpx.AsyncClient(verify=trust) as client:
        response = await client.post(
            f"https://127.0.0.1:{port}/v1/chat/completions",
            json={"model": "tollway-demo", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {api_key}"},
        )
    assert response.status_code == 200


def test_half_a_tls_setup_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tollway_edge", "--certfile", "x.crt"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "TLS needs both a certificate file and a key file" in result.stderr
