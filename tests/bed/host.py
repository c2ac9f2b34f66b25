"""One host: its overlay folders, the files written into it before its first boot, and the
``systemd-nspawn --boot`` that runs it.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.bed.system import Proc, run, spawn_daemon

# Runs in a private mount namespace (unshare): nspawn refuses to start while /run/systemd is
# on disk, as /run is here, so it gets a tmpfs; the overlay lives and dies with the namespace,
# which is why a power cut (SIGKILL of the cgroup) leaves no mount behind.
# nspawn exits with 133 when the host reboots itself (`systemctl reboot`, Ansible's reboot
# module): start it again, as a machine would; any other exit (poweroff) ends the host.
BOOT_SCRIPT = r"""
set -e
lower="$1"; upper="$2"; work="$3"; merged="$4"; name="$5"; netns="$6"
mount -t tmpfs -o mode=0755 wod-testbed-run /run/systemd
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$merged"
while :; do
  rc=0
  systemd-nspawn -D "$merged" -M "$name" --boot --register=no --keep-unit \
    --network-namespace-path="/run/netns/$netns" --console=read-only \
    --capability=CAP_NET_ADMIN --resolv-conf=off --timezone=off --link-journal=no \
    -- systemd.show_status=yes || rc=$?
  [ "$rc" = 133 ] || exit "$rc"
  echo "===== wod test bed: $name rebooting ====="
done
"""

# nspawn mounts the v1 resource controllers read-only in a host, so its systemd finds them
# unusable at boot. Each host's folder in them is its own (cgroup.py): this unit makes them
# writable and has systemd look again (daemon-reexec), before sshd answers, at every boot.
DELEGATE_UNIT = """[Unit]
Description=wod test bed: the host's own cgroup controllers made writable
DefaultDependencies=no
After=local-fs.target
Before=ssh.service multi-user.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for c in memory pids cpu cpuacct; do \\
  if mountpoint -q /sys/fs/cgroup/$$c; then mount -o remount,bind,rw /sys/fs/cgroup/$$c; fi; \\
  done'
ExecStart=/bin/systemctl daemon-reexec

[Install]
WantedBy=multi-user.target
"""
DELEGATE_NAME = "wod-testbed-delegate.service"


@dataclass(frozen=True)
class HostFiles:
    """Where one host keeps its disk (overlay upper layer), console log and host key."""

    folder: Path

    @property
    def upper(self) -> Path:
        """The host's own changes: its disk, kept across power cuts."""
        return self.folder / "upper"

    @property
    def work(self) -> Path:
        """overlayfs work folder (same file system as ``upper``)."""
        return self.folder / "work"

    @property
    def merged(self) -> Path:
        """Mount point of the host's root (mounted only inside its own mount namespace)."""
        return self.folder / "root"

    @property
    def console(self) -> Path:
        """What the host's systemd prints on its console."""
        return self.folder / "console.log"

    @property
    def host_key(self) -> Path:
        """A copy of the host's ed25519 private key (its .pub makes the known_hosts line)."""
        return self.folder / "ssh_host_ed25519_key"


@dataclass(frozen=True)
class HostConfig:
    """What a host is told before its first boot."""

    name: str
    hosts_file: str
    authorized_key: str
    apt_conf: str
    apt_sources: str
    pip_conf: str


def prepare(files: HostFiles, lower: Path, config: HostConfig) -> None:
    """Create the overlay folders and write the per-host files into the upper layer."""
    for folder in (files.upper, files.work, files.merged):
        folder.mkdir(parents=True, exist_ok=True)
    comment = f"root@{config.name}"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", files.host_key])
    key = files.host_key.read_bytes()
    pub = files.host_key.with_suffix(".pub").read_bytes()
    put = _Writer(files.upper, lower)
    put("etc/hostname", f"{config.name}\n".encode())
    put("etc/hosts", config.hosts_file.encode())
    put("etc/machine-id", f"{secrets.token_hex(16)}\n".encode(), 0o444)
    put("etc/ssh/ssh_host_ed25519_key", key, 0o600)
    put("etc/ssh/ssh_host_ed25519_key.pub", pub)
    put("root/.ssh/authorized_keys", config.authorized_key.encode(), 0o600, dir_mode=0o700)
    put("etc/apt/apt.conf.d/00wod-testbed", config.apt_conf.encode())
    put("etc/apt/sources.list.d/debian.sources", config.apt_sources.encode())
    put("etc/pip.conf", config.pip_conf.encode())
    put(f"etc/systemd/system/{DELEGATE_NAME}", DELEGATE_UNIT.encode())
    wants = files.upper / "etc/systemd/system/multi-user.target.wants"
    put._folders(Path("etc/systemd/system/multi-user.target.wants"), 0o755)
    (wants / DELEGATE_NAME).unlink(missing_ok=True)
    (wants / DELEGATE_NAME).symlink_to(f"/etc/systemd/system/{DELEGATE_NAME}")


class _Writer:
    """Writes files straight into an overlay upper layer before it is mounted.

    A folder that exists in both layers shows the upper one's owner and mode, so each folder
    created here copies them from the lower layer (``/root`` must stay 0700 for sshd).
    """

    def __init__(self, upper: Path, lower: Path) -> None:
        self.upper = upper
        self.lower = lower

    def __call__(self, rel: str, data: bytes, mode: int = 0o644, dir_mode: int = 0o755) -> None:
        target = self.upper / rel
        self._folders(Path(rel).parent, dir_mode)
        target.unlink(missing_ok=True)
        target.write_bytes(data)
        os.chown(target, 0, 0)
        target.chmod(mode)

    def _folders(self, rel: Path, dir_mode: int) -> None:
        parts = rel.parts
        for depth in range(1, len(parts) + 1):
            sub = Path(*parts[:depth])
            made = self.upper / sub
            if made.is_dir():
                continue
            made.mkdir()
            model = self.lower / sub
            if model.is_dir() and not model.is_symlink():
                shutil.copystat(model, made)
                st = model.stat()
                os.chown(made, st.st_uid, st.st_gid)
            else:
                made.chmod(dir_mode)


def boot(files: HostFiles, lower: Path, name: str, netns: str, cgroup_procs: list[Path]) -> Proc:
    """Start the host's systemd-nspawn detached; its console goes to ``files.console``."""
    with files.console.open("a") as log:
        log.write(f"\n===== wod test bed: booting {name} =====\n")
    argv: list[str | Path] = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        BOOT_SCRIPT,
        "boot",
        lower,
        files.upper,
        files.work,
        files.merged,
        name,
        netns,
    ]
    return spawn_daemon(
        argv,
        log=files.console,
        pid_file=files.folder / "nspawn.pid",
        cgroup_procs=cgroup_procs,
        # Lets the host's systemd set net.* sysctls (kernel.* stays read-only).
        env={"SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"},
    )
