"""A real Chroma server (`chroma run`, from the chromadb package) on loopback, for tests.

It can be stopped and started again on the same port and data folder (an
outage and the server coming back), and frozen (SIGSTOP: the port still
accepts connections but nothing answers, like a hung server).

The port is picked free and then kept: `chroma run --port 0` does not say
which port it got, and a restart must come back where tomo looks for it.

The server runs under the network guard's sitecustomize; that covers its
Python side only — the server itself is Rust. ANONYMIZED_TELEMETRY=False keeps
it from reporting home; it was seen making no connection at all (strace, 1.5.9).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

NETGUARD = Path(__file__).parents[1] / "netguard"
CHROMA = Path(sys.executable).with_name("chroma")
_OUR_PREFIXES = ("TOMO_", "LINE_", "SLACK_", "OPENAI_", "ANTHROPIC_")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ChromaServer:
    """One `chroma run` process over a data folder, on a fixed loopback port."""

    def __init__(self, path: Path, log_path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self.started_in: float | None = None  # seconds the last start took

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until its heartbeat answers."""
        if self.running:
            return
        env = {k: v for k, v in os.environ.items() if not k.startswith(_OUR_PREFIXES)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETGUARD), env.get("PYTHONPATH")]))
        env["ANONYMIZED_TELEMETRY"] = "False"
        env["NO_COLOR"] = "1"
        started = time.perf_counter()
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    CHROMA,
                    "run",
                    "--path",
                    self.path,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    f"{self.port}",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"chroma run exited ({self._process.returncode}): {self.log()}")
            if self._answers():
                self.started_in = time.perf_counter() - started
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"chroma run did not answer in {timeout} s: {self.log()}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait until it is gone."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # a frozen server cannot act on SIGTERM
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def freeze(self) -> None:
        """Stop the process without closing its port: connections open, nothing answers."""
        if self._process is None:
            return
        self._process.send_signal(signal.SIGSTOP)
        # The signal is delivered to each thread in its own time: wait until all
        # have stopped, or a request sent at once may still be answered.
        deadline = time.monotonic() + 10
        while not self._all_threads_stopped(self._process.pid):
            if time.monotonic() > deadline:
                raise RuntimeError("chroma run did not stop on SIGSTOP")
            time.sleep(0.01)

    def thaw(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def log(self) -> str:
        return self._log_path.read_text(errors="replace")[-2000:]

    @staticmethod
    def _all_threads_stopped(pid: int) -> bool:
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            # "pid (comm) state ...": comm may hold spaces and parentheses.
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
            if state not in ("T", "t"):
                return False
        return True

    def _answers(self) -> bool:
        try:
            response = httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0)
        except httpx.TransportError:
            return False
        return response.status_code == 200
