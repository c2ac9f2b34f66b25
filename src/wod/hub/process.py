"""Running a JupyterHub as a child process (``wod up``, tests): start, wait, stop cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from wod.errors import ConfigError, HubError
from wod.hub.config import write_config
from wod.hub.modes import load_host_mode
from wod.settings import Settings


class HubProcess:
    """One JupyterHub for one location, with its config written from the settings.

    ``launcher`` is a command the hub is started through (``setpriv …`` to run it as another
    user); without one the hub runs as this process's user, which the host mode must accept
    (:meth:`~wod.hub.modes.HostMode.hub_user_problem`: never root in the hub mode)."""

    def __init__(
        self, settings: Settings, log_path: Path | None = None, launcher: Sequence[str] = ()
    ) -> None:
        self.settings = settings
        self.log_path = log_path or settings.hub.dir / "jupyterhub.log"
        self.launcher = list(launcher)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.hub.port}/hub/api"

    def start(self, timeout: float = 60.0) -> None:
        if not self.launcher:
            mode = load_host_mode(self.settings)
            if (problem := mode.hub_user_problem(os.geteuid())) is not None:
                raise ConfigError(f"JupyterHub not started: {problem}")
        config = write_config(self.settings)
        hub_bin = Path(sys.executable).parent / "jupyterhub"
        env = dict(os.environ)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*self.launcher, str(hub_bin), "-f", str(config)],
            cwd=self.settings.hub.dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HubError(
                    f"JupyterHub exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                if httpx.get(self.api_url + "/", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise HubError(f"JupyterHub did not answer within {timeout} s; see {self.log_path}")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the hub (it stops the proxy and every single-user server), then wait."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
