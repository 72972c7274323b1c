from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from tomo_netguard import NetworkBlockedError


def test_connecting_outside_loopback_fails() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(NetworkBlockedError),
    ):
        sock.connect(("192.0.2.1", 443))


def test_name_lookups_outside_loopback_fail() -> None:
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("api.line.me", 443)


def test_loopback_connections_are_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass


def test_subprocesses_get_the_guard_too(subprocess_env: dict[str, str]) -> None:
    code = "import socket; socket.create_connection(('192.0.2.1', 443), timeout=1)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "NetworkBlockedError" in done.stderr
