"""Real git repositories for the tests of git layers: a bare repository (the remote) and a
working clone to commit and push from; and an sshd on 127.0.0.1 that serves a repository to a
deploy key."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.factories import make_workshop, markdown, notebook
from wod.ports import free_port

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.org",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.org",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def readme(version: str) -> str:
    return notebook(
        markdown(f"Welcome student{{{{ STDID }}}}: version {version}", "m1"),
        kernel="python3",
    )


@dataclass
class Repo:
    """A remote (bare) and the work tree that pushes to it."""

    remote: Path
    work: Path

    @property
    def url(self) -> str:
        return f"file://{self.remote}"

    def commit(self, message: str) -> str:
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", "HEAD:main", "--force")
        return git(self.work, "rev-parse", "HEAD")

    def set_version(self, version: str, slug: str = "WKSHP-Git101") -> str:
        (self.work / slug / "0-ReadMeFirst.ipynb").write_text(readme(version))
        return self.commit(f"{slug}: version {version}")


def make_repo(folder: Path) -> Repo:
    """A content repository with one workshop (seats 1-4, its notebook at version 1)."""
    remote, work = folder / "remote.git", folder / "work"
    folder.mkdir(parents=True, exist_ok=True)
    git(folder, "init", "-q", "--bare", "-b", "main", str(remote))
    git(folder, "init", "-q", "-b", "main", str(work))
    git(work, "remote", "add", "origin", str(remote))
    make_workshop(work, "WKSHP-Git101", (1, 4), readme=readme("1"))
    (work / "README.md").write_text("# Content\n")
    repo = Repo(remote, work)
    repo.commit("first")
    return repo


def keypair(folder: Path, name: str) -> Path:
    key = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key


@contextmanager
def sshd(folder: Path, authorized: Path) -> Iterator[int]:
    """An sshd on 127.0.0.1 (root logs in with the key ``authorized`` only); its port."""
    folder.mkdir(parents=True, exist_ok=True)
    host_key = keypair(folder, "host_key")
    (folder / "authorized_keys").write_text(authorized.with_suffix(".pub").read_text())
    (folder / "authorized_keys").chmod(0o600)
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {folder / 'authorized_keys'}",
                f"PidFile {folder / 'sshd.pid'}",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "",
            ]
        )
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # its privilege-separation folder
    with (folder / "sshd.log").open("wb") as log:
        process = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            _wait_port(port, process)
            yield port
        finally:
            process.terminate()
            process.wait(10)


def _wait_port(port: int, process: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "sshd exited"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("sshd did not listen in 30 s")


def notebook_text(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "".join("".join(c["source"]) for c in cells)
