"""How ``wod up`` runs the seats of one machine: the host mode chosen by who runs it (never root
seats), the warnings it prints, its own secret key per data folder, and the hub mode's refusal
of root."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from wod.cli.serve import secret_key_file, up_environment, up_notices
from wod.errors import ConfigError
from wod.hub.config import render_config
from wod.hub.modes import isolates_seats, load_host_mode
from wod.hub.modes.hub import ROOT_REFUSED
from wod.hub.modes.local import (
    HUB_MODE_WARNING,
    choose_local_seats,
    clashing_accounts,
    prepare_local_seats,
    ready_seat_accounts,
    seats_folder,
)
from wod.hub.process import HubProcess
from wod.settings import DEV_SECRET_KEY, Settings, UpSettings, secret_weakness

UP = UpSettings(uid_base=71000, seats_root=Path("/srv/seats"))


def test_an_ordinary_user_gets_the_hub_mode_and_the_warning(tmp_path: Path) -> None:
    seats = choose_local_seats(tmp_path / "state", UP, euid=1000)
    assert seats.mode == "hub" and not seats.isolated
    assert seats.students_dir == (tmp_path / "state" / "students").resolve()
    assert seats.singleuser_venv is None
    printed = "\n".join(up_notices(seats, 8000))
    assert seats.warning == HUB_MODE_WARNING
    assert "seats are NOT isolated from each other" in printed
    assert "http://127.0.0.1:8000/dev/mail" in printed and "not for an event" in printed

    env = up_environment(tmp_path / "state", 8000, 8001, 8025, UP, euid=1000)
    assert env["WOD_BACKEND__ACCOUNT_MODE"] == "hub"
    assert "WOD_HUB__SINGLEUSER_VENV" not in env


def test_root_gets_the_system_mode_with_seats_outside_the_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "state"
    seats = choose_local_seats(data, UP, euid=0)
    folder = seats_folder(data, UP.seats_root)
    assert seats.mode == "system" and seats.isolated and seats.warning is None
    assert folder.parent == Path("/srv/seats") and folder.name.startswith("state-")
    assert seats.students_dir == folder / "students"
    assert seats.singleuser_venv == folder / "singleuser" and seats.builds_venv
    assert seats.uid_base == 71000
    printed = "\n".join(up_notices(seats, 8000))
    assert "NOT isolated" not in printed and "uid 71000 + N" in printed
    assert "not for an event" in printed  # the mail catcher, in every mode

    env = up_environment(data, 8000, 8001, 8025, UP, euid=0)
    assert env["WOD_BACKEND__ACCOUNT_MODE"] == "system"
    assert env["WOD_BACKEND__UID_BASE"] == "71000"
    assert env["WOD_BACKEND__STUDENTS_DIR"] == str(folder / "students")
    assert env["WOD_HUB__SINGLEUSER_VENV"] == str(folder / "singleuser")

    given = UpSettings(singleuser_venv=tmp_path / "venv")
    own = choose_local_seats(data, given, euid=0)
    assert own.singleuser_venv == (tmp_path / "venv").resolve() and not own.builds_venv


def test_each_data_folder_has_a_seats_folder_of_its_own(tmp_path: Path) -> None:
    root = Path("/var/lib/wod")
    one, two = seats_folder(tmp_path / ".wod", root), seats_folder(tmp_path / "x" / ".wod", root)
    assert one != two and one.name.startswith("wod-") and two.name.startswith("wod-")
    assert seats_folder(tmp_path / ".wod", root) == one  # the same folder every start


def test_the_secret_key_is_made_once_private_and_reused(tmp_path: Path) -> None:
    data = tmp_path / "state"
    first = up_environment(data, 8000, 8001, 8025, euid=1000)["WOD_SECRET_KEY"]
    path = secret_key_file(data.resolve())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first != DEV_SECRET_KEY and secret_weakness(first) is None
    assert path.read_text() == first
    again = up_environment(data, 9000, 9001, 9025, euid=1000)["WOD_SECRET_KEY"]
    assert again == first
    other = up_environment(tmp_path / "other", 8000, 8001, 8025, euid=1000)["WOD_SECRET_KEY"]
    assert other != first  # one per data folder


def test_the_data_folder_is_closed_to_other_users(tmp_path: Path) -> None:
    data = tmp_path / "state"
    data.mkdir(mode=0o755)
    prepare_local_seats(choose_local_seats(data, UP, euid=1000), data, ["python3"])
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_the_seats_folder_must_be_reachable_and_a_given_environment_built(
    tmp_path: Path,
) -> None:
    hidden = UpSettings(seats_root=tmp_path / "seats")  # pytest's folders are 0700
    seats = choose_local_seats(tmp_path / "state", hidden, euid=0)
    with pytest.raises(ConfigError, match="the seats' users cannot enter"):
        prepare_local_seats(seats, tmp_path / "state", ["python3"])

    root = Path(tempfile.mkdtemp(dir="/var/tmp"))  # every user may enter /var/tmp
    try:
        root.chmod(0o711)
        up = UpSettings(seats_root=root, singleuser_venv=tmp_path / "missing")
        seats = choose_local_seats(tmp_path / "state", up, euid=0)
        with pytest.raises(ConfigError, match="wod hub venv"):
            prepare_local_seats(seats, tmp_path / "state", ["python3"])
        students = seats.students_dir
        assert [stat.S_IMODE(p.stat().st_mode) for p in (students, students.parent)] == [
            0o711,
            0o711,
        ]
    finally:
        shutil.rmtree(root)


def test_an_account_of_another_uid_is_a_clash_that_stops_wod_up(tmp_path: Path) -> None:
    import pwd

    uid = pwd.getpwnam("nobody").pw_uid
    assert clashing_accounts(uid - 7, [7]) == [f"uid {uid} belongs to nobody, not student7"]
    assert clashing_accounts(3_000_000_000, range(1, 4)) == []
    seats = choose_local_seats(tmp_path, UpSettings(uid_base=uid - 8), euid=0)
    with pytest.raises(ConfigError, match=r"uid \d+ belongs to nobody.*another up\.uid_base"):
        ready_seat_accounts(seats, range(1, 8))  # the seat past them (8: the preview's) too


def test_the_hub_mode_refuses_root_and_says_why(tmp_path: Path) -> None:
    settings = Settings(hub={"dir": tmp_path / "hub"}, backend={"account_mode": "hub"})
    mode = load_host_mode(settings)
    assert mode.hub_user_problem(0) == ROOT_REFUSED
    assert mode.hub_user_problem(1000) is None
    assert "every participant would be root" in ROOT_REFUSED and "system" in ROOT_REFUSED
    assert not isolates_seats("hub") and isolates_seats("system")
    assert not isolates_seats("not-installed")
    if os.geteuid() == 0:
        with pytest.raises(ConfigError, match="every participant would be root"):
            HubProcess(settings).start()
        assert not (tmp_path / "hub" / "jupyterhub_config.py").exists()  # nothing started


def test_the_hub_mode_config_stops_a_hub_run_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from traitlets.config import Config

    settings = Settings(hub={"dir": tmp_path / "hub", "proxy_command": "chp"})
    text = render_config(settings)
    assert "allow-root" not in text and "allow_root" not in text
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    config = Config()
    exec(compile(text, "jupyterhub_config.py", "exec"), {"get_config": lambda: config})  # noqa: S102
    assert config.JupyterHub.spawner_class == "simple"
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(SystemExit, match="every participant would be root"):
        exec(compile(text, "jupyterhub_config.py", "exec"), {"get_config": Config})  # noqa: S102
