"""Hook scripts: the environment contract, rendering of .sh.j2, layer order, timeout, the
failure policy, and ``wod backend setup-appliance``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.factories import code, make_workshop, markdown, notebook
from wod.backend.hooks import MASK, Hooks, hook_environment
from wod.backend.orders import local_orders
from wod.backend.verbs import Verbs
from wod.cli.main import app
from wod.content.layers import Content
from wod.errors import HookScriptError
from wod.wire import JobReport, VerbName


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


def local_verbs(tmp_path: Path, layers: list[Path], **settings: Any) -> tuple[Verbs, Content]:
    """The real verbs of a hub-mode host with a fake hub, on ``layers``."""
    from wod.hub.client import FakeHub
    from wod.hub.credentials import MemoryCredentialStore
    from wod.hub.modes.files import LocalSeatFiles
    from wod.hub.modes.hub import HubAccounts
    from wod.settings import Settings

    content = Content(layers)
    current = Settings(
        content={"paths": layers},
        backend={"students_dir": tmp_path / "students"},
        **settings,
    )
    files = LocalSeatFiles(tmp_path / "students")
    return Verbs(current, content, files, FakeHub(), HubAccounts(MemoryCredentialStore())), content


def run_verb(verbs: Verbs, content: Content, verb: VerbName, slug: str, seat: int) -> JobReport:
    (order,) = local_orders(content, verb, slug, (seat, seat))
    return verbs.run(order.job, order.seats)


TOKEN_README = notebook(
    markdown("token {{ APITOKEN }} port {{ hostvars[inventory_hostname]['APIPORT'] }}", "m1"),
    code("seat = {{ STDID }}", "c1"),
)


def token_layer(tmp_path: Path) -> Path:
    """A workshop whose create hook mints a token for the seat, and whose notebook shows it."""
    layer = tmp_path / "content"
    make_workshop(layer, "WKSHP-Tok", (1, 3), readme=TOKEN_README)
    out = tmp_path / "out"
    out.mkdir()
    (layer / "scripts").mkdir()
    (layer / "scripts" / "create-WKSHP-Tok.sh").write_text(
        "token=$(openssl rand -hex 16)\n"
        'echo "APITOKEN: $token" >> "$WOD_VARIABLES_FILE"\n'
        'echo "APIPORT: 1700$WOD_SEAT" >> "$WOD_VARIABLES_FILE"\n'
        'echo "STDID: 99" >> "$WOD_VARIABLES_FILE"\n'  # the seat's identity is not a hook's
        f'echo "$token" > {out}/token-$WOD_SEAT\n'
        f'echo "create {{$(ls "$WOD_HOME")}}" >> {out}/log\n'
    )
    (layer / "scripts" / "post-copy-WKSHP-Tok.sh.j2").write_text(
        f'echo "post-copy $APITOKEN {{{{ APITOKEN }}}}" >> {out}/log\n'
    )
    return layer


def test_a_create_hook_hands_back_a_token_that_reaches_the_notebook(tmp_path: Path) -> None:
    verbs, content = local_verbs(tmp_path, [token_layer(tmp_path)])
    report = run_verb(verbs, content, "CREATE", "WKSHP-Tok", 2)
    assert report.ok, report.log
    token = (tmp_path / "out" / "token-2").read_text().strip()
    assert len(token) == 32 and int(token, 16) >= 0
    home = tmp_path / "students" / "student2"
    readme = json.loads((home / "WKSHP-Tok" / "0-ReadMeFirst.ipynb").read_text())
    assert readme["cells"][0]["source"] == f"token {token} port 17002"
    assert readme["cells"][1]["source"] == "seat = 2"  # STDID stays the seat's
    # the create hook ran before the workshop was deployed; post-copy sees the token both ways
    assert (tmp_path / "out" / "log").read_text().splitlines() == [
        "create {}",
        f"post-copy {token} {token}",
    ]
    assert token not in report.log  # a seat's token is never in the job log
    assert "handed back APIPORT, APITOKEN, STDID" in report.log
    assert "ignored: STDID (the platform's own)" in report.log
    assert "APIPORT, APITOKEN not defined yet: left to the create hook(s)" in report.log
    steps = [
        "locked: password changed",
        "new password set, home reset",
        "hook ",  # create-WKSHP-Tok.sh
        "handed back",
        "files rendered for seat 2",
        "WKSHP-Tok deployed",
        "post-copy-WKSHP-Tok.sh.j2 ok",
    ]
    lines = report.log.splitlines()
    found = [next(i for i, line in enumerate(lines) if step in line) for step in steps]
    assert found == sorted(found), report.log  # the original platform's order

    again = run_verb(verbs, content, "CREATE", "WKSHP-Tok", 2)  # a new holder, a new token
    assert again.ok
    assert (tmp_path / "out" / "token-2").read_text().strip() != token


def test_the_original_pass_file_is_read_then_removed(tmp_path: Path) -> None:
    layer = tmp_path / "content"
    make_workshop(layer, "WKSHP-Ml", (1, 3), readme=notebook(markdown("tok {{ MLTOK }}", "m1")))
    (layer / "variables").mkdir()
    (layer / "variables" / "WKSHP-Ml.yml").write_text("MLTOK: placeholder\n")  # the check's
    (layer / "scripts").mkdir()
    # as the original's hooks did, from the scripts/ folder: only for seat 2
    (layer / "scripts" / "create-WKSHP-Ml.sh").write_text(
        'if [ "$stdid" = 2 ]; then mkdir -p ../pass\n'
        '  echo "MLTOK: ml-$stdid" >> "../pass/variables_${w}_${stdid}.yml"; fi\n'
    )
    verbs, content = local_verbs(tmp_path, [layer])
    assert run_verb(verbs, content, "CREATE", "WKSHP-Ml", 2).ok
    text = (tmp_path / "students" / "student2" / "WKSHP-Ml" / "0-ReadMeFirst.ipynb").read_text()
    assert "tok ml-2" in text  # the hook's value wins over the variables file's
    assert not (layer / "pass" / "variables_WKSHP-Ml_2.yml").exists()
    # a file an interrupted CREATE left is removed before the hooks run: never another's token
    (layer / "pass" / "variables_WKSHP-Ml_3.yml").write_text("MLTOK: an-earlier-holders\n")
    assert run_verb(verbs, content, "CREATE", "WKSHP-Ml", 3).ok
    text = (tmp_path / "students" / "student3" / "WKSHP-Ml" / "0-ReadMeFirst.ipynb").read_text()
    assert "tok placeholder" in text
    assert not (layer / "pass" / "variables_WKSHP-Ml_3.yml").exists()


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("APITOKEN: [unclosed\n", "not valid YAML"),
        ("- a list\n", "not a mapping of KEY: value lines"),
        ("APITOKEN: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n", "an Ansible Vault value"),
        ("OTHER: 1\n", "'APITOKEN' is undefined"),  # never handed back: fails after the hook
    ],
)
def test_what_a_create_hook_hands_back_must_be_a_mapping(
    tmp_path: Path, written: str, message: str
) -> None:
    layer = token_layer(tmp_path)
    (layer / "scripts" / "create-WKSHP-Tok.sh").write_text(
        f"cat >> \"$WOD_VARIABLES_FILE\" <<'EOF'\n{written}EOF\n"
    )
    verbs, content = local_verbs(tmp_path, [layer])
    report = run_verb(verbs, content, "CREATE", "WKSHP-Tok", 1)
    assert not report.ok and message in (report.error or ""), report.log
    assert "6162" not in report.log and "unclosed" not in report.log  # values are not shown
    assert not (tmp_path / "students" / "student1" / "WKSHP-Tok").exists()


def test_a_template_error_no_hook_can_mend_fails_before_the_seat_is_touched(
    tmp_path: Path,
) -> None:
    layer = tmp_path / "content"
    folder = make_workshop(layer, "WKSHP-Plain", (1, 3))
    verbs, content = local_verbs(tmp_path, [layer])
    assert run_verb(verbs, content, "CREATE", "WKSHP-Plain", 1).ok
    readme = folder / "0-ReadMeFirst.ipynb"
    readme.write_text(readme.read_text().replace("{{ STDID }}", "{{ NOPE }}", 1))
    report = run_verb(verbs, content, "CREATE", "WKSHP-Plain", 1)
    assert not report.ok and "NOPE" in (report.error or "")
    assert "locked" not in report.log  # no create hook could define NOPE: refused first
    kept = tmp_path / "students" / "student1" / "WKSHP-Plain" / "0-ReadMeFirst.ipynb"
    assert "Welcome student1" in kept.read_text()


def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ``ssh`` first on PATH that records its calls and refuses the connection."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "ssh-calls"
    ssh = bin_dir / "ssh"
    ssh.write_text(
        f'#!/bin/sh\necho "$*" >> {calls}\necho "ssh: connect to host x port 22: refused" >&2\n'
        "exit 255\n"
    )
    ssh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return calls


def appliance_layer(tmp_path: Path) -> Path:
    layer = tmp_path / "content"
    make_workshop(layer, "WKSHP-App", (1, 3), monoappliance=True)
    make_workshop(layer, "WKSHP-NoApp", (4, 6))
    (layer / "variables").mkdir()
    (layer / "variables" / "WKSHP-App.yml").write_text("IP-WKSHP-App: 127.0.0.1\n")
    return layer


def test_an_appliance_seat_gets_its_key_pair_and_no_ssh_without_the_agents_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_ssh(tmp_path, monkeypatch)
    verbs, content = local_verbs(tmp_path, [appliance_layer(tmp_path)])
    report = run_verb(verbs, content, "CREATE", "WKSHP-App", 1)
    assert report.ok, report.log
    key = tmp_path / "students" / "student1" / ".ssh" / "id_ed25519"
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    derived = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(key)], capture_output=True, text=True, check=True
    )
    public = key.with_suffix(".pub").read_text().split()
    assert derived.stdout.split()[:2] == public[:2] and public[2] == "student1@wod"
    assert "PRIVATE KEY" not in report.log and "seat key SHA256:" in report.log
    assert "accounts left to the workshop's hooks" in report.log
    assert run_verb(verbs, content, "CLEANUP", "WKSHP-App", 1).ok
    assert not calls.exists()  # no appliance.ssh_key_file: the agent never opened SSH


def test_an_unreachable_appliance_fails_create_names_the_host_and_cleanup_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_ssh(tmp_path, monkeypatch)
    agent_key = tmp_path / "agent_key"
    agent_key.write_text("not used by the fake ssh\n")
    appliance = {"ssh_key_file": agent_key, "known_hosts_file": tmp_path / "known_hosts"}
    verbs, content = local_verbs(tmp_path, [appliance_layer(tmp_path)], appliance=appliance)
    both: tuple[VerbName, ...] = ("CREATE", "CLEANUP")
    for verb in both:
        assert run_verb(verbs, content, verb, "WKSHP-NoApp", 4).ok
    assert not calls.exists()  # a workshop without appliance never opens SSH

    refused = "appliance 127.0.0.1: cannot log in as root: ssh: connect to host x port 22: refused"
    report = run_verb(verbs, content, "CREATE", "WKSHP-App", 2)
    assert not report.ok and report.error == refused
    args = calls.read_text().split()
    assert args[0] == "-F" and args[2] == "appliance"
    going_on: tuple[VerbName, ...] = ("CLEANUP", "RESET")
    for verb in going_on:
        done = run_verb(verbs, content, verb, "WKSHP-App", 2)
        assert done.ok, done.log
        assert f"{refused} (not fatal for a {verb}: going on)" in done.log
    # a PURGE of the api names the seat's workshop (one built on the host names none)
    (order,) = local_orders(content, "CLEANUP", "WKSHP-App", (2, 2))
    purged = verbs.run(order.job.model_copy(update={"verb": "PURGE"}))
    assert purged.ok and f"{refused} (not fatal for a PURGE: going on)" in purged.log


def test_the_check_reports_the_agents_appliance_key(tmp_path: Path) -> None:
    from wod.backend.conformity import check_host, repair
    from wod.hub.modes import load_host_mode
    from wod.settings import Settings

    key = tmp_path / "appliance_key"
    current = Settings(
        content={"paths": []},
        backend={"students_dir": tmp_path / "s", "credentials_dir": tmp_path / "c"},
        appliance={"ssh_key_file": key, "known_hosts_file": tmp_path / "known_hosts"},
    )
    mode = load_host_mode(current)
    found = [f.what for f in check_host(current, mode, range(0)).findings]
    assert f"appliance.ssh_key_file {key}: missing" in found
    assert f"appliance.known_hosts_file {tmp_path / 'known_hosts'}: missing" in found
    key.write_text("a key\n")
    key.chmod(0o644)
    report = check_host(current, mode, range(0))
    assert f"{key}: mode 644, expected 600 (ssh refuses it)" in [f.what for f in report.findings]
    repair(report)
    assert key.stat().st_mode & 0o777 == 0o600


def test_the_job_log_never_shows_a_secret_a_hook_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WOD_BACKEND__TOKEN", "wodl_" + "a1" * 20)
    settings_file = tmp_path / "agent.env"  # the hook can read the agent's settings
    settings_file.write_text(f"WOD_BACKEND__TOKEN={os.environ['WOD_BACKEND__TOKEN']}\n")
    layer = tmp_path / "content"
    make_workshop(layer, "WKSHP-Leak", (1, 3))
    (layer / "scripts").mkdir()
    (layer / "scripts" / "create-WKSHP-Leak.sh").write_text(
        'echo "password $WOD_PASSWORD, again $randompw"\n'
        # the password in two writes; the agent's token read from its settings
        'printf "%s" "${WOD_PASSWORD:0:3}"; printf "%s\\n" "${WOD_PASSWORD:3}"\n'
        f"cat {settings_file}\n"
        'echo "MINTED: minted-$WOD_SEAT-secret-value" >> "$WOD_VARIABLES_FILE"\n'
        "exit 0\n"
    )
    (layer / "scripts" / "post-copy-WKSHP-Leak.sh.j2").write_text("echo 'minted {{ MINTED }}'\n")
    verbs, content = local_verbs(tmp_path, [layer])
    report = run_verb(verbs, content, "CREATE", "WKSHP-Leak", 2)
    assert report.ok, report.log
    assert report.password and report.password not in report.log
    lines = [line.split(" ", 1)[1] for line in report.log.splitlines()]  # no time stamps
    assert f"  | password {MASK}, again {MASK}" in lines and f"  | {MASK}" in lines
    assert "a1a1a1" not in report.log and f"  | WOD_BACKEND__TOKEN={MASK}" in lines
    # a value a create hook handed back is the seat's secret when its name says so
    assert "minted-2-secret-value" in report.log  # MINTED is not a secret-looking name
    monkeypatch.setenv("WOD_BACKEND__TOKEN", "wodl_" + "b2" * 20)
    (layer / "scripts" / "create-WKSHP-Leak.sh").write_text(
        'echo "APITOKEN: minted-$WOD_SEAT-token-value" >> "$WOD_VARIABLES_FILE"\n'
    )
    (layer / "scripts" / "post-copy-WKSHP-Leak.sh.j2").write_text(
        "echo 'token {{ APITOKEN }}'; exit 3\n"
    )
    failed = run_verb(verbs, content, "CREATE", "WKSHP-Leak", 2)
    assert not failed.ok and "minted-2-token-value" not in failed.log
    assert f"  | token {MASK}" in [line.split(" ", 1)[1] for line in failed.log.splitlines()]
