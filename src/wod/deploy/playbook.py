"""Run the project's playbook (``deploy/site.yml``) with the ``ansible-playbook`` of wod's
environment: the thin part of ``wod deploy``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wod.deploy.checkout import Checkout
from wod.deploy.inventory import check_inventory
from wod.deploy.report import Report, read_report, summary
from wod.deploy.vault import check_password
from wod.deploy.wheelhouse import Wheelhouse, build_wheelhouse
from wod.errors import ConfigError, Failure

REPORT_ENV = "WOD_DEPLOY_REPORT"


@dataclass(frozen=True)
class DeployOptions:
    """What the operator asked for."""

    inventory: Path
    password: str
    check: bool = False
    limit: str | None = None
    extra_vars: list[str] = field(default_factory=list)
    verbosity: int = 0
    #: Where to keep the run's JSON report (the callback's), for scripts and benchmarks.
    report: Path | None = None


def ansible_playbook() -> Path:
    """The ``ansible-playbook`` next to this Python (wod's venv)."""
    path = Path(sys.executable).parent / "ansible-playbook"
    if not path.exists():
        raise ConfigError(
            "ansible-playbook is not installed in wod's environment: pip install 'wod[deploy]'"
        )
    return path


def playbook_argv(
    checkout: Checkout, options: DeployOptions, vars_file: Path, fd: int
) -> list[str]:
    """The command line of ``ansible-playbook``; the vault password comes through a pipe."""
    argv = [str(ansible_playbook()), "-i", str(options.inventory), str(checkout.playbook)]
    argv += ["-e", f"@{vars_file}", f"--vault-password-file=/dev/fd/{fd}"]
    if options.check:
        argv += ["--check", "--diff"]
    if options.limit:
        # The controller's own play (the content archives) must run whatever the limit.
        argv += ["--limit", f"{options.limit}:localhost"]
    for extra in options.extra_vars:
        argv += ["-e", extra]
    if options.verbosity:
        argv.append("-" + "v" * options.verbosity)
    return argv


def playbook_env(checkout: Checkout, report: Path) -> dict[str, str]:
    """Our ansible.cfg, our report file, and wod's venv first on PATH."""
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(checkout.root / "deploy" / "ansible.cfg")
    env[REPORT_ENV] = str(report)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if sys.stdout.isatty():
        env.setdefault("ANSIBLE_FORCE_COLOR", "1")
    return env


def run_deploy(
    checkout: Checkout, wheelhouse: Wheelhouse, options: DeployOptions, cache: Path
) -> tuple[int, Report]:
    """Run the playbook, its output going straight to ours; its exit code and report."""
    if not options.inventory.exists():
        raise ConfigError(f"inventory {options.inventory}: no such file or folder")
    with tempfile.TemporaryDirectory(prefix="wod-deploy-") as tmp:
        vars_file = Path(tmp) / "build.json"
        build = {
            "wod_build": wheelhouse.playbook_vars(),
            "wod_source": str(checkout.root),
            "wod_deploy_cache": str(cache),
        }
        vars_file.write_text(json.dumps(build))
        report = Path(tmp) / "report.json"
        read_end, write_end = os.pipe()
        # The password never touches the disk: ansible reads it from the pipe at start.
        feeder = threading.Thread(target=_feed, args=(write_end, options.password), daemon=True)
        feeder.start()
        try:
            result = subprocess.run(
                playbook_argv(checkout, options, vars_file, read_end),
                env=playbook_env(checkout, report),
                pass_fds=(read_end,),
                check=False,
            )
        finally:
            os.close(read_end)
            feeder.join(5)
        if options.report is not None and report.exists():
            shutil.copyfile(report, options.report)
        return result.returncode, read_report(report)


def _feed(fd: int, password: str) -> None:
    try:
        os.write(fd, password.encode() + b"\n")
    finally:
        os.close(fd)


def deploy(
    checkout: Checkout, options: DeployOptions, cache: Path, say: Callable[[str], None]
) -> Report:
    """Build the wheelhouse, run the playbook, and return its report.

    Failure when a host failed or could not be reached, or (in check mode) when something
    would change: drift. ConfigError, before anything runs, for an inventory whose files name
    a wrong monitoring group or an unknown monitoring variable.
    """
    if options.inventory.exists():
        check_inventory(options.inventory, checkout.root)
    files = check_password(options.inventory, options.password)
    if files:
        say(f"vault: {len(files)} file(s) open with the password")
    wheelhouse = build_wheelhouse(checkout, cache, say)
    mode = "checking (nothing is changed)" if options.check else "deploying"
    say(f"{mode} wod {wheelhouse.version} with {checkout.playbook}")
    rc, report = run_deploy(checkout, wheelhouse, options, cache)
    for line in summary(report):
        say(line)
    if rc != 0 or not report.ok:
        bad = [h.host for h in report.hosts if h.failed or h.unreachable]
        raise Failure(
            f"deploy failed (ansible-playbook exit {rc}) on {', '.join(bad) or 'the run'}"
        )
    if options.check and report.changed:
        hosts = sorted({c.host for c in report.changes})
        raise Failure(f"drift: {report.changed} change(s) would be made on {', '.join(hosts)}")
    return report
