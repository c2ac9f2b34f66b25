"""Git layers, through the git command line: a bare mirror per layer, fetched; a ref resolved to
its commit; a commit's tree exported as files.

Credentials never appear on a command line, in a URL that git stores, or in a message: an SSH
deploy key goes through ``GIT_SSH_COMMAND``, an HTTPS token through git's environment
configuration (``GIT_CONFIG_*``) as an ``Authorization`` header; git never prompts.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from wod.errors import ContentSyncError
from wod.settings import LayerSettings

TIMEOUT = 300.0
#: What git prints that says the remote refused the credentials.
_AUTH_WORDS = ("permission denied", "authentication failed", "invalid username or password")


@dataclass(frozen=True)
class Credentials:
    """What a layer authenticates with; read from files or the environment when used."""

    ssh_key_file: Path | None = None
    token: str | None = None

    @classmethod
    def of(cls, layer: LayerSettings) -> Credentials:
        token = None
        if layer.token_file is not None:
            try:
                token = layer.token_file.read_text().strip()
            except OSError as exc:
                raise ContentSyncError(
                    f"layer {layer.name}: cannot read its token_file {layer.token_file}: "
                    f"{exc.strerror}"
                ) from exc
        elif layer.token_env is not None:
            token = os.environ.get(layer.token_env)
            if not token:
                raise ContentSyncError(
                    f"layer {layer.name}: the environment variable {layer.token_env} "
                    "(its token_env) is not set"
                )
        key = layer.ssh_key_file
        if key is not None and not key.is_file():
            raise ContentSyncError(f"layer {layer.name}: its ssh_key_file {key} does not exist")
        return cls(key, token)

    def environment(self, known_hosts: Path) -> dict[str, str]:
        env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false"}
        ssh = [
            "ssh",
            "-o BatchMode=yes",
            "-o StrictHostKeyChecking=accept-new",
            f"-o UserKnownHostsFile={known_hosts}",
        ]
        if self.ssh_key_file is not None:
            ssh += [f"-i {self.ssh_key_file}", "-o IdentitiesOnly=yes"]
        env["GIT_SSH_COMMAND"] = " ".join(ssh)
        if self.token is not None:
            basic = base64.b64encode(f"x-access-token:{self.token}".encode()).decode()
            env |= {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
            }
        return env

    def redact(self, text: str) -> str:
        return text.replace(self.token, "***") if self.token else text


class Mirror:
    """The bare mirror of one git layer on the api host."""

    def __init__(self, layer: LayerSettings, folder: Path) -> None:
        assert layer.git is not None
        self.layer = layer
        self.url = layer.git
        self.path = folder / "git" / f"{layer.name}.git"
        self.known_hosts = folder / "known_hosts"

    def _git(
        self, *args: str, credentials: Credentials | None = None, text: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **(credentials or Credentials()).environment(self.known_hosts)}
        try:
            return subprocess.run(
                ["git", *args],
                capture_output=True,
                text=text,
                env=env,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ContentSyncError(
                f"layer {self.layer.name}: git {args[0]} did not finish in {TIMEOUT:.0f} s "
                f"({self.url})"
            ) from exc

    def fetch(self, credentials: Credentials) -> None:
        """Clone the repository as a bare mirror the first time, then fetch what changed."""
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        if not (self.path / "HEAD").is_file():
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            result = self._git(
                "clone", "--mirror", "--quiet", self.url, str(self.path), credentials=credentials
            )
        else:
            result = self._git(
                "-C", str(self.path), "fetch", "--prune", "--quiet", "--force", self.url,
                "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*",
                credentials=credentials,
            )  # fmt: skip
        if result.returncode != 0:
            raise ContentSyncError(self._why(result.stderr, credentials))

    def _why(self, stderr: str, credentials: Credentials) -> str:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        telling = [line for line in lines if "fatal:" in line or "denied" in line.lower()]
        said = credentials.redact((telling or lines or [""])[0].removeprefix("fatal: "))
        name, url = self.layer.name, self.url
        if any(word in stderr.lower() for word in _AUTH_WORDS):
            return f"layer {name}: {url} refused its credentials ({said})"
        return f"layer {name}: cannot fetch {url}: {said or 'git failed'}"

    def resolve(self, ref: str) -> str:
        """The commit that ``ref`` (a branch, a tag, or a commit) names."""
        for candidate in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
            result = self._git(
                "-C", str(self.path), "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}"
            )
            if result.returncode == 0:
                return result.stdout.strip()
        raise ContentSyncError(
            f"layer {self.layer.name}: no branch, tag or commit {ref!r} in {self.url}"
        )

    def has_commit(self, commit: str) -> bool:
        result = self._git("-C", str(self.path), "cat-file", "-e", f"{commit}^{{commit}}")
        return result.returncode == 0

    def descends(self, old: str, new: str) -> bool:
        """Whether ``new`` has ``old`` in its history (False after a push that dropped it)."""
        if not self.has_commit(old):
            return False
        return (
            self._git("-C", str(self.path), "merge-base", "--is-ancestor", old, new).returncode == 0
        )

    def export(self, commit: str, subdir: str, target: Path) -> None:
        """Write the files of ``commit`` (its ``subdir`` only, when given) into ``target``."""
        args = ["-C", str(self.path), "archive", "--format=tar", commit]
        if subdir:
            args.append(subdir.strip("/"))
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        result = subprocess.run(
            ["git", *args], capture_output=True, env=env, timeout=TIMEOUT, check=False
        )
        if result.returncode != 0:
            said = result.stderr.decode(errors="replace").strip()
            where = f" (its subdir {subdir!r})" if subdir else ""
            raise ContentSyncError(
                f"layer {self.layer.name}: cannot read commit {commit[:12]}{where}: {said}"
            )
        extract(result.stdout, target, strip=subdir.strip("/"))


def extract(data: bytes, target: Path, strip: str = "") -> None:
    """Unpack a tar archive into ``target`` (made empty first), dropping the ``strip`` folder
    prefix. Only files and folders inside the target are written: a link, a device, an
    absolute name or one with ``..`` is refused (Debian 12's Python has no extraction filter)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    prefix = f"{strip}/" if strip else ""
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive.getmembers():
            if prefix and not member.name.startswith(prefix):
                continue
            name = member.name[len(prefix) :].strip("/")
            if not name or member.isdir():
                continue
            _write(archive, member, name, target)


def _write(archive: tarfile.TarFile, member: tarfile.TarInfo, name: str, target: Path) -> None:
    parts = Path(name).parts
    if not member.isfile() or Path(name).is_absolute() or ".." in parts:
        raise ContentSyncError(f"an archive entry {member.name!r} is not a plain file: refused")
    dest = target.joinpath(*parts)
    dest.parent.mkdir(parents=True, exist_ok=True)
    source = archive.extractfile(member)
    assert source is not None
    with source, dest.open("wb") as out:
        shutil.copyfileobj(source, out)
    dest.chmod(0o755 if member.mode & 0o111 else 0o644)
