"""HAProxy (Debian's package, installed by ``scripts/bootstrap --test``) in front of several
``wod api`` processes: round robin, health checks on ``/healthz``, a refused connection tried
on another instance. Used by the fault tests and by ``bench/burst.py --instances``."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx

from wod.ports import free_port

HAPROXY = "/usr/sbin/haproxy"

_CONFIG = """\
global
    maxconn 4000
defaults
    mode http
    timeout connect 2s
    timeout client 300s
    timeout server 300s
    # a loaded machine answers a health check slowly: slow is not down
    timeout check 10s
    retries 3
    option redispatch
frontend wod
    bind 127.0.0.1:{port}
    default_backend apis
backend apis
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 1s fall 3 rise 1
{servers}
"""


def available() -> bool:
    return shutil.which("haproxy") is not None or Path(HAPROXY).exists()


class LoadBalancer:
    """One HAProxy process in the foreground on a free port; its log in ``folder``."""

    def __init__(self, folder: Path, backends: list[int]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        servers = "\n".join(
            f"    server api{n} 127.0.0.1:{port} check" for n, port in enumerate(backends)
        )
        self.config = folder / "haproxy.cfg"
        self.config.write_text(_CONFIG.format(port=self.port, servers=servers))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> LoadBalancer:
        binary = shutil.which("haproxy") or HAPROXY
        with (self.folder / "haproxy.log").open("wb") as out:
            self.process = subprocess.Popen(
                [binary, "-db", "-f", str(self.config)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.folder / "haproxy.log").read_text()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("HAProxy did not answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
