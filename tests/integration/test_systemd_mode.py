"""The ``systemd`` host mode without systemd (the bed's tests/bed/test_systemd_mode.py runs it on a
real host): the limits of wod.yml and of the settings, refused when systemd would refuse them;
the hub's config and its per-seat hook; the cgroup counters a unit's containment is read from;
the job log of CLEANUP; the containment report that reaches the admins."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from traitlets.config import Config
from typer.testing import CliRunner

from tests.factories import make_workshop, seed
from tests.servers import serve
from wod.backend.agent import report_containment
from wod.backend.client import ApiClient
from wod.backend.orders import local_orders
from wod.backend.verbs import Verbs
from wod.cli.main import app
from wod.content.layers import Content
from wod.content.wodyml import parse_wod_yml
from wod.context import AppContext
from wod.db.models import Email, Workshop
from wod.domain.seat_limits import LimitError, SeatLimits, parse_cpu, parse_memory, parse_tasks
from wod.hub.client import FakeHub
from wod.hub.config import render_config
from wod.hub.credentials import MemoryCredentialStore
from wod.hub.modes import load_host_mode, names
from wod.hub.modes.files import LocalSeatFiles
from wod.hub.modes.hub import HubAccounts
from wod.hub.modes.systemd import Counters, SystemdLimiter, SystemdMode, describe, read_counters
from wod.settings import Settings
from wod.web.app import create_app

GIB = 1024**3


def test_limits_read_as_systemd_reads_them() -> None:
    assert parse_memory("512M") == 512 * 1024**2
    assert parse_memory("1.5G") == int(1.5 * GIB)
    assert parse_memory("2GiB") == 2 * GIB
    assert parse_cpu("0.5") == 0.5 and parse_cpu(2) == 2.0
    assert parse_tasks(256) == 256 and parse_tasks("64") == 64


@pytest.mark.parametrize(
    ("parse", "value", "message"),
    [
        (parse_memory, "12Q", "is not a size"),
        (parse_memory, "1M", "no server starts"),
        (parse_memory, "2048T", "more than"),
        (parse_memory, True, "expected a size"),
        (parse_cpu, 0, "at least 0.01 CPU"),
        (parse_cpu, -1, "at least"),
        (parse_cpu, "nan", "at least"),
        (parse_cpu, "lots", "not a number"),
        (parse_tasks, 0, "less than 32"),
        (parse_tasks, "1.5", "not a whole number"),
        (parse_tasks, 2.0, "expected a whole number"),
    ],
)
def test_limits_systemd_would_refuse_are_refused_with_the_reason(
    parse: Any, value: Any, message: str
) -> None:
    with pytest.raises(LimitError, match=message):
        parse(value)


def test_wod_yml_limits_name_the_field_and_line(tmp_path: Path) -> None:
    folder = make_workshop(tmp_path, "WKSHP-Big", (1, 2))
    spec, problems = parse_wod_yml(folder / "wod.yml")
    assert spec is not None and spec.limits == SeatLimits()  # none: the location's
    with (folder / "wod.yml").open("a") as f:
        f.write("limits:\n  memory: 12Q\n  cpu: 0\n  tasks: 0\n  disk: 1G\n")
    spec, problems = parse_wod_yml(folder / "wod.yml", "WKSHP-Big/wod.yml")
    assert spec is None
    shown = [str(p) for p in problems if not p.warning]
    assert any(s.startswith("WKSHP-Big/wod.yml:23: limits.memory: '12Q' is not") for s in shown)
    assert any("limits.cpu: 0: at least 0.01 CPU" in s for s in shown)
    assert any("limits.tasks: 0 is less than 32" in s for s in shown)
    assert any("limits.disk: unknown limit" in s for s in shown)
    good = (folder / "wod.yml").read_text().split("limits:")[0] + "limits: {memory: 2G, cpu: 1}\n"
    (folder / "wod.yml").write_text(good)
    spec, problems = parse_wod_yml(folder / "wod.yml")
    assert spec is not None and spec.limits == SeatLimits(2 * GIB, 1.0, None)


def test_a_bad_limit_is_refused_at_check_and_import_changes_nothing(
    ctx: AppContext, tmp_path: Path
) -> None:
    layer = tmp_path / "content"
    folder = make_workshop(layer, "WKSHP-Big", (1, 2))
    env = {
        "WOD_DATABASE_URL": ctx.settings.resolved_database_url,
        "WOD_CONTENT__PATHS": f'["{layer}"]',
        "COLUMNS": "300",
    }
    runner = CliRunner()
    assert runner.invoke(app, ["workshops", "import", "--apply"], env=env).exit_code == 0
    text = (folder / "wod.yml").read_text()
    (folder / "wod.yml").write_text(text.replace("duration: 2", "duration: 3") + "limits:\n")
    (folder / "wod.yml").write_text((folder / "wod.yml").read_text() + "  memory: 12Q\n")
    checked = runner.invoke(app, ["workshops", "check", str(layer)], env=env)
    assert checked.exit_code == 1
    assert f"{folder}/wod.yml:23: limits.memory: '12Q' is not a size" in checked.output
    imported = runner.invoke(app, ["workshops", "import", "--apply"], env=env)
    assert imported.exit_code == 1 and "! WKSHP-Big: skipped" in imported.output
    with ctx.db.read() as s:
        workshop = s.scalar(select(Workshop).where(Workshop.slug == "WKSHP-Big"))
    assert workshop is not None and workshop.duration_hours == 2  # as it was


def test_location_defaults_are_checked_as_strictly() -> None:
    assert Settings().hub.seat_limits() == SeatLimits(GIB, 1.0, 256)
    with pytest.raises(ValidationError, match=r"hub.seat_memory\n.*'12Q' is not a size"):
        Settings.model_validate({"hub": {"seat_memory": "12Q"}})
    with pytest.raises(ValidationError, match=r"hub.seat_cpu\n.*at least 0.01"):
        Settings.model_validate({"hub": {"seat_cpu": 0}})
    with pytest.raises(ValidationError, match=r"hub.seat_tasks\n.*less than 32"):
        Settings.model_validate({"hub": {"seat_tasks": 0}})


def systemd_settings(tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {
            "backend": {
                "account_mode": "systemd",
                "students_dir": str(tmp_path / "students"),
                "credentials_dir": str(tmp_path / "data" / "credentials"),
                "content_cache": str(tmp_path / "data" / "cache"),
            },
            "hub": {
                "dir": str(tmp_path / "hub"),
                "seat_memory": "512M",
                "seat_cpu": 0.5,
                "seat_tasks": 128,
                "proxy_command": "/bin/true",
            },
        }
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="the systemd mode's accounts need root")
def test_the_hub_config_starts_units_with_the_seats_limits(tmp_path: Path) -> None:
    assert "systemd" in names()
    settings = systemd_settings(tmp_path)
    mode = load_host_mode(settings)
    assert isinstance(mode, SystemdMode) and mode.isolates_seats and mode.hides_files
    found = [f.what for f in mode.check_host()]
    no_systemd = not Path("/run/systemd/system").is_dir()
    assert ("systemd is not PID 1: systemd mode needs it" in found) == no_systemd
    assert not any("systemdspawner" in what for what in found)  # installed with wod[hub]
    text = render_config(settings, mode)
    config = Config()
    exec(compile(text, "jupyterhub_config.py", "exec"), {"get_config": lambda: config})  # noqa: S102
    assert config.JupyterHub.spawner_class == "systemdspawner.SystemdSpawner"
    spawner_config = config.SystemdSpawner
    assert spawner_config.mem_limit == 512 * 1024**2 and spawner_config.cpu_limit == 0.5
    assert spawner_config.isolate_tmp and spawner_config.isolate_devices
    assert spawner_config.disable_user_sudo
    properties = spawner_config.unit_extra_properties
    assert properties["TasksMax"] == "128" and properties["ProtectSystem"] == "strict"
    students = tmp_path / "students"
    assert properties["TemporaryFileSystem"] == f"{students}:ro"
    assert properties["BindPaths"] == f"{students}/{{USERNAME}}"
    hidden = properties["InaccessiblePaths"].split()
    assert f"-{tmp_path / 'hub'}" in hidden and "-/etc/wod" in hidden
    assert f"-{tmp_path / 'data' / 'credentials'}" in hidden

    # the hook gives a seat the limits the agent wrote at CREATE; none written: the defaults
    hook = config.Spawner.pre_spawn_hook
    limiter = mode.limiter
    assert isinstance(limiter, SystemdLimiter)
    applied = limiter.apply("student3", SeatLimits(memory=2 * GIB, tasks=300))
    assert applied == SeatLimits(2 * GIB, 0.5, 300)  # cpu: the location's
    assert (limiter.folder.stat().st_mode & 0o777) == 0o700
    spawner = SimpleNamespace(
        user=SimpleNamespace(name="student3"),
        mem_limit=None,
        cpu_limit=None,
        unit_extra_properties=dict(properties),
    )
    hook(spawner)
    assert spawner.mem_limit == 2 * GIB and spawner.cpu_limit == 0.5
    assert spawner.unit_extra_properties["TasksMax"] == "300"
    assert properties["TasksMax"] == "128"  # the shared defaults are left alone
    other = SimpleNamespace(user=SimpleNamespace(name="student4"), mem_limit=None)
    hook(other)
    assert other.mem_limit is None  # the config's defaults apply
    limiter.clear("student3")
    limiter.clear("student3")  # idempotent
    assert not limiter.path("student3").exists()


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_containment_is_read_from_the_units_cgroup_v1_and_v2(tmp_path: Path) -> None:
    unit = "system.slice/jupyter-student1-singleuser.service"
    v2 = tmp_path / "v2"
    write(v2 / unit / "memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n")
    write(v2 / unit / "pids.events", "max 31\n")
    write(v2 / unit / "cpu.stat", "usage_usec 900\nthrottled_usec 2500000\n")
    assert read_counters(f"/{unit}", v2) == Counters(2, 31, 2.5)
    v1 = tmp_path / "v1"
    write(
        v1 / "memory" / unit / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"
    )
    write(v1 / "pids" / unit / "pids.events", "max 7\n")
    write(
        v1 / "cpu" / unit / "cpu.stat", "nr_periods 3\nnr_throttled 2\nthrottled_time 4000000000\n"
    )
    assert read_counters(f"/{unit}", v1) == Counters(1, 7, 4.0)
    assert read_counters("/system.slice/gone.service", v1) == Counters()
    lines = describe(Counters(1, 7, 4.0), Counters(3, 7, 4.5))
    assert lines == ["memory limit reached: 2 process(es) killed by the OOM killer"]
    assert describe(Counters(), Counters(0, 5, 1.0))[0] == "tasks limit reached: 5 fork(s) refused"


class FakeUnits:
    """``systemctl`` of a host whose seats' units have the counters the test sets."""

    def __init__(self) -> None:
        self.counters: dict[str, Counters] = {}
        self.generation: dict[str, int] = {}

    def limiter(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> SystemdLimiter:
        limiter = SystemdLimiter(folder, SeatLimits(GIB, 1.0, 256))
        monkeypatch.setattr(limiter, "running", lambda: sorted(self.counters))

        def counters(username: str) -> tuple[str, Counters] | None:
            if username not in self.counters:
                return None
            return f"/{username}/{self.generation.get(username, 0)}", self.counters[username]

        monkeypatch.setattr(limiter, "counters", counters)
        return limiter


def test_new_containment_events_are_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    units = FakeUnits()
    limiter = units.limiter(tmp_path, monkeypatch)
    assert limiter.events() == {}
    units.counters["student1"] = Counters(1, 0, 0.0)
    units.counters["student2"] = Counters()
    assert limiter.events() == {
        "student1": ["memory limit reached: 1 process(es) killed by the OOM killer"]
    }
    assert limiter.events() == {}  # nothing new
    units.counters["student1"] = Counters(1, 40, 0.0)
    assert limiter.events() == {"student1": ["tasks limit reached: 40 fork(s) refused"]}
    units.generation["student1"] = 1  # a new server: its counters start again
    units.counters["student1"] = Counters(1, 0, 0.0)
    assert list(limiter.events()) == ["student1"]


def test_create_gives_the_workshops_limits_and_cleanup_logs_what_was_contained(
    ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layer = tmp_path / "content"
    make_workshop(layer, "WKSHP-Big", (1, 2), limits={"memory": "2G", "tasks": 300})
    units = FakeUnits()
    limiter = units.limiter(tmp_path / "limits", monkeypatch)
    content = Content([layer])
    verbs = Verbs(
        ctx.settings,
        content,
        LocalSeatFiles(tmp_path / "students"),
        FakeHub(),
        HubAccounts(MemoryCredentialStore()),
        limiter=limiter,
    )
    (create,) = local_orders(content, "CREATE", "WKSHP-Big", (1, 1))
    report = verbs.run(create.job)
    assert report.ok, report.log
    assert "limits of student1: memory 2 GiB, cpu 1, tasks 300" in report.log
    assert json.loads(limiter.path("student1").read_text()) == {
        "memory": 2 * GIB,
        "cpu": 1.0,
        "tasks": 300,
    }
    units.counters["student1"] = Counters(1, 40, 3.0)  # the seat's server met its limits
    (cleanup,) = local_orders(content, "CLEANUP", "WKSHP-Big", (1, 1))
    report = verbs.run(cleanup.job)
    assert report.ok, report.log
    assert "contained on student1: memory limit reached: 1 process(es) killed" in report.log
    assert "contained on student1: tasks limit reached: 40 fork(s) refused" in report.log
    assert "contained on student1: CPU quota reached: throttled 3.0 s" in report.log
    assert not limiter.path("student1").exists()


def test_containment_reaches_the_admins_and_the_seat_goes_on(ctx: AppContext) -> None:
    ctx.settings.alerts.recipients.append("ops@example.org")
    token = seed(ctx)
    with serve(create_app(ctx, background=False)) as server:
        client = ApiClient(server.url, token)
        client.report_contained(4, ["tasks limit reached: 40 fork(s) refused"])
        with pytest.raises(Exception, match="404"):
            client.report_contained(999, ["memory limit reached"])
        with pytest.raises(Exception, match="422"):
            client.report_contained(4, [])
        client.close()
    with ctx.db.read() as s:
        alerts = list(s.scalars(select(Email).where(Email.kind == "admin_alert")))
    assert len(alerts) == 1
    payload = alerts[0].payload or {}
    assert "student4" in payload["subject"] and "40 fork(s) refused" in payload["text"]


def test_the_agent_reports_what_the_limits_contained(
    ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx.settings.alerts.recipients.append("ops@example.org")
    token = seed(ctx)
    units = FakeUnits()
    limiter = units.limiter(tmp_path, monkeypatch)
    with serve(create_app(ctx, background=False)) as server:
        client = ApiClient(server.url, token)
        report_containment(limiter, client)  # nothing contained: nothing sent
        units.counters["student7"] = Counters(2, 0, 0.0)
        report_containment(limiter, client)
        report_containment(limiter, client)  # the same counters: no news
        client.close()
    with ctx.db.read() as s:
        alerts = list(s.scalars(select(Email).where(Email.kind == "admin_alert")))
    assert len(alerts) == 1
    assert "2 process(es) killed by the OOM killer" in (alerts[0].payload or {})["text"]
