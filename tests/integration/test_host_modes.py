"""Host modes are chosen by name from the ``wod.host_modes`` entry-point group: a mode that a
test installs there (a distribution's metadata on ``sys.path``, as a plug-in would have) is
used by the agent, the verbs, the hub configuration, the watchdog and the conformity check,
with no change to any of them."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import psutil
import pytest
from pydantic import SecretStr

from tests.servers import ApiServer
from wod.backend.agent import build_agent
from wod.backend.conformity import check_host
from wod.context import AppContext
from wod.errors import ConfigError
from wod.hub.client import FakeHub
from wod.hub.config import render_config
from wod.hub.credentials import MemoryCredentialStore
from wod.hub.modes import Accounts, Finding, HostMode, SeatFiles, load_host_mode, names
from wod.hub.modes.files import LocalSeatFiles
from wod.hub.modes.hub import HubAccounts
from wod.services.registrations import RegistrationRequest, register
from wod.settings import Settings

MARKER = "# the folder mode's spawner"


class FolderMode(HostMode):
    """A mode of the tests: seats' homes under ``<students_dir>/folder-mode``, passwords in
    memory, every process of this test's own pid belonging to student1."""

    name = "folder"

    def make_accounts(self) -> Accounts:
        return HubAccounts(MemoryCredentialStore())

    def make_seat_files(self) -> SeatFiles:
        return LocalSeatFiles(self.settings.backend.students_dir / "folder-mode")

    def hub_config(self, values: Mapping[str, str]) -> str:
        return f"{MARKER}\nc.Spawner.cmd = [{values['singleuser']}]\n"

    def seat_of(self, process: psutil.Process) -> str | None:
        return "student1" if process.pid == 1 else None

    def check_host(self) -> list[Finding]:
        return [Finding("folder mode: checked by the folder mode")]


@pytest.fixture
def folder_mode_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The metadata of a distribution that registers :class:`FolderMode` as ``folder``."""
    dist = tmp_path / "plugins" / "wod_folder_mode-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: wod-folder-mode\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            f"""\
            [wod.host_modes]
            folder = {__name__}:FolderMode
            """
        )
    )
    monkeypatch.syspath_prepend(str(dist.parent))


def folder_settings(ctx: AppContext, token: str, url: str) -> Settings:
    backend = ctx.settings.backend.model_copy(
        update={"account_mode": "folder", "token": SecretStr(token), "api_url": url}
    )
    return ctx.settings.model_copy(update={"backend": backend})


def test_a_mode_of_a_plugin_runs_seats_without_any_change_to_the_agent(
    ctx: AppContext, server: ApiServer, token: str, folder_mode_installed: None
) -> None:
    assert names() == ["folder", "hub", "system", "systemd"]
    settings = folder_settings(ctx, token, server.url)
    agent = build_agent(settings, hub=FakeHub())
    mode = load_host_mode(settings)
    assert isinstance(mode, FolderMode)
    register(ctx, RegistrationRequest("WKSHP-Python101", "ada@example.org", "Ada", "E", True))
    assert agent.run_once()  # the CREATE, through the api
    home = settings.backend.students_dir / "folder-mode" / "student1"
    notebook = home / "WKSHP-Python101" / "0-ReadMeFirst.ipynb"
    assert "student1" in notebook.read_text()
    assert agent.watchdog is not None and agent.watchdog.seat_of(psutil.Process(1)) == "student1"
    assert MARKER in render_config(settings)
    report = check_host(settings, mode, range(1, 3))
    assert "folder mode: checked by the folder mode" in [f.what for f in report.findings]
    agent.close()


def test_an_unknown_mode_names_the_installed_ones(ctx: AppContext) -> None:
    backend = ctx.settings.backend.model_copy(update={"account_mode": "kubernetes"})
    with pytest.raises(ConfigError, match=r"no host mode 'kubernetes'.*hub, system, systemd"):
        load_host_mode(ctx.settings.model_copy(update={"backend": backend}))
