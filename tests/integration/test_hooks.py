"""Hook scripts: the environment contract, rendering of .sh.j2, layer order, timeout, the
failure policy, and ``wod backend setup-appliance``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.factories import make_workshop
from wod.backend.hooks import Hooks, hook_environment
from wod.cli.main import app
from wod.content.layers import Content
from wod.errors import HookScriptError


def layer_with(tmp_path: Path, name: str, scripts: dict[str, str]) -> Path:
    layer = tmp_path / name
    (layer / "scripts").mkdir(parents=True)
    for file, text in scripts.items():
        (layer / "scripts" / file).write_text(text)
    return layer


def env(tmp_path: Path) -> dict[str, str]:
    return hook_environment(
        verb="CREATE",
        seat=7,
        username="student7",
        home=tmp_path / "student7",
        folder="WKSHP-X",
        slug="CHLG-X",
        workshop_id=3,
        password="Secr3t",
        api_url="http://api",
        seat_range=(7, 7),
        variables={
            "HTTPPORT": 14157,
            "WODRTARGET": "10.0.0.7",
            "HTTPPORT-WKSHP-X": 14151,
            "FLAG": True,
        },
    )


def test_environment_contract_and_layer_order(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    dump = (
        'echo "$WOD_VERB $WOD_SEAT $WOD_USERNAME $WOD_WORKSHOP $WOD_WORKSHOP_SLUG '
        "$WOD_WORKSHOP_ID $WOD_PASSWORD $WOD_API_URL $WOD_SEAT_MIN-$WOD_SEAT_MAX "
        f'$HTTPPORT $WODRTARGET $HTTPPORT_WKSHP_X $FLAG $stdid $ws $w $randompw $(pwd)" >> {out}\n'
    )
    public = layer_with(tmp_path, "public", {"create-WKSHP-X.sh": dump})
    private = layer_with(
        tmp_path, "private", {"create-WKSHP-X.sh.j2": f'echo "private {{{{ STDID }}}}" >> {out}\n'}
    )
    lines: list[str] = []
    ran = Hooks(Content([public, private]), timeout=10).run(
        "create", "WKSHP-X", env(tmp_path), {"STDID": 7}, lines.append
    )
    assert ran == 2
    first, second = out.read_text().splitlines()
    assert first == (
        f"CREATE 7 student7 WKSHP-X CHLG-X 3 Secr3t http://api 7-7 14157 10.0.0.7 "
        f"14151 true 7 WKSHP-X CHLG-X Secr3t {public / 'scripts'}"
    )
    assert second == "private 7"  # the private layer's hook, rendered, ran after the public one
    assert any("create-WKSHP-X.sh ok" in line for line in lines)


def test_failure_policy_and_timeout(tmp_path: Path) -> None:
    layer = layer_with(
        tmp_path,
        "l",
        {
            "create-WKSHP-X.sh": "echo boom; exit 2\n",
            "cleanup-WKSHP-X.sh": "echo soft; exit 2\n",
            "reset-WKSHP-X.sh": "sleep 30\n",
            "post-copy-WKSHP-X.sh.j2": "echo {{ MISSING }}\n",
        },
    )
    hooks = Hooks(Content([layer]), timeout=1)
    lines: list[str] = []
    with pytest.raises(HookScriptError, match="exited with 2"):
        hooks.run("create", "WKSHP-X", env(tmp_path), {}, lines.append)
    assert "  | boom" in lines
    hooks.run("cleanup", "WKSHP-X", env(tmp_path), {}, lines.append)  # logged, not raised
    assert any("not fatal for a cleanup hook" in line for line in lines)
    hooks.run("reset", "WKSHP-X", env(tmp_path), {}, lines.append)
    assert any("timed out" in line for line in lines)
    with pytest.raises(HookScriptError, match="could not run"):
        hooks.run("post-copy", "WKSHP-X", env(tmp_path), {}, lines.append)
    assert any("MISSING" in line for line in lines)  # the template error is in the log


def test_a_daemon_left_running_does_not_hold_the_hook(tmp_path: Path) -> None:
    layer = layer_with(
        tmp_path,
        "d",
        {
            "create-WKSHP-X.sh": "sleep 30 &\necho started\n",
            "cleanup-WKSHP-X.sh.j2": "echo {{ NOPE }}\n",
        },
    )
    hooks = Hooks(Content([layer]), timeout=5)
    lines: list[str] = []
    hooks.run("create", "WKSHP-X", env(tmp_path), {}, lines.append)
    assert "  | started" in lines and any("ok in" in line for line in lines)
    hooks.run("cleanup", "WKSHP-X", env(tmp_path), {}, lines.append)  # not fatal
    assert any("could not run" in line and "going on" in line for line in lines)


def test_hooks_never_see_the_agents_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WOD_BACKEND__TOKEN", "wodl_secret")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    environment = hook_environment(
        verb="PURGE",
        seat=1,
        username="student1",
        home=None,
        folder="W",
        slug="W",
        workshop_id=None,
        password=None,
        api_url="x",
        seat_range=None,
        variables={"PATH": "/evil", "HTTPPORT": 1},
    )
    assert "WOD_BACKEND__TOKEN" not in environment
    assert environment["PATH"] == "/usr/bin:/bin" and environment["HTTPPORT"] == "1"


def test_setup_appliance_runs_once_per_appliance(tmp_path: Path) -> None:
    layer = tmp_path / "content"
    make_workshop(layer, "WKSHP-App", (1, 3), multiappliance=True)
    log = tmp_path / "setup.log"
    (layer / "variables").mkdir()
    (layer / "variables" / "WKSHP-App.yml").write_text("IP-WKSHP-App: 10.1.0.10\n")
    (layer / "scripts").mkdir()
    (layer / "scripts" / "setup-pre-WKSHP-App.sh").write_text(
        f'echo "pre $WOD_SEAT_MIN-$WOD_SEAT_MAX" >> {log}\n'
    )
    (layer / "scripts" / "setup-WKSHP-App.sh").write_text(
        f'echo "setup $WOD_SEAT $WODRTARGET" >> {log}\n'
    )
    (layer / "scripts" / "setup-post-WKSHP-App.sh").write_text(f"echo post >> {log}\n")
    result = CliRunner().invoke(
        app,
        ["backend", "setup-appliance", "WKSHP-App"],
        env={
            "WOD_CONTENT__PATHS": f'["{layer}"]',
            "WOD_BACKEND__STUDENTS_DIR": str(tmp_path / "s"),
            "WOD_BACKEND__CREDENTIALS_DIR": str(tmp_path / "c"),
        },
    )
    assert result.exit_code == 0, result.output
    assert log.read_text().splitlines() == [
        "pre 1-3",
        "setup 1 10.1.0.10",
        "setup 2 10.1.0.11",
        "setup 3 10.1.0.12",
        "post",
    ]
    (layer / "scripts" / "setup-post-WKSHP-App.sh").write_text("exit 1\n")
    failed = CliRunner().invoke(
        app, ["backend", "setup-appliance", "WKSHP-App"], env={"WOD_CONTENT__PATHS": f'["{layer}"]'}
    )
    assert failed.exit_code == 1 and "setup-post-WKSHP-App.sh exited with 1" in failed.output


def test_a_challenge_plays_its_workshop_in_challenge_mode(tmp_path: Path) -> None:
    from tests.conftest import SAMPLE_CONTENT
    from tests.factories import wod_yml
    from wod.backend.orders import local_orders
    from wod.backend.verbs import Verbs
    from wod.content.check import check_content
    from wod.hub.client import FakeHub
    from wod.hub.credentials import MemoryCredentialStore
    from wod.hub.modes.files import LocalSeatFiles
    from wod.hub.modes.hub import HubAccounts
    from wod.settings import Settings

    private = tmp_path / "private"
    (private / "CHLG-Python101").mkdir(parents=True)
    (private / "CHLG-Python101" / "wod.yml").write_text(wod_yml("Python challenge", (21, 22)))
    content = Content([SAMPLE_CONTENT, private])
    settings = Settings(
        content={"paths": [SAMPLE_CONTENT, private]},
        backend={"students_dir": tmp_path / "students"},
    )
    report = check_content(content, settings)
    assert report.errors == [] and "CHLG-Python101" in report.workshops
    verbs = Verbs(
        settings,
        content,
        LocalSeatFiles(tmp_path / "students"),
        FakeHub(),
        HubAccounts(MemoryCredentialStore()),
    )
    (order,) = local_orders(content, "CREATE", "CHLG-Python101", (21, 21))
    assert verbs.run(order.job, order.seats).ok
    conclusion = (
        tmp_path / "students" / "student21" / "WKSHP-Python101" / "3-WKSHP-Conclusion.ipynb"
    ).read_text()
    assert "https://example.org/quiz" in conclusion  # MODEWS == 'CHLG'


def test_a_challenge_reads_its_own_variables_file(tmp_path: Path) -> None:
    from wod.content.variables import seat_context, seat_variables
    from wod.settings import Settings

    layer = tmp_path / "content"
    (layer / "variables").mkdir(parents=True)
    (layer / "variables" / "all.yml").write_text("GREETING: hello\n")
    (layer / "variables" / "WKSHP-X.yml").write_text(
        "HTTPPORT-WKSHP-X: 14100\nIP-WKSHP-X: 10.0.0.1\nLEVEL: base\n"
    )
    (layer / "variables" / "CHLG-X.yml").write_text("HTTPPORT-CHLG-X: 15100\nLEVEL: hard\n")
    ctx = seat_context(
        Content([layer]), "CHLG-X", 22, None, seat_min=21, monoappliance=False, multiappliance=True
    )
    variables = seat_variables(Settings(), ctx)
    assert variables["LEVEL"] == "hard" and variables["GREETING"] == "hello"
    assert variables["HTTPPORT"] == 15101 and variables["WODRTARGET"] == "10.0.0.2"
    assert variables["MODEWS"] == "CHLG" and variables["WORKSHOP"] == "WKSHP-X"
