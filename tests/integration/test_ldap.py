"""The ldap option against a real OpenLDAP server (Debian's slapd) started for the tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import ldap
import pytest

from wod.backend.ldap import PythonLdapPasswords
from wod.backend.orders import local_orders
from wod.backend.verbs import Verbs
from wod.content.layers import Content
from wod.errors import VerbError
from wod.hub.client import FakeHub
from wod.hub.credentials import MemoryCredentialStore
from wod.hub.modes.files import LocalSeatFiles
from wod.hub.modes.hub import HubAccounts
from wod.ports import free_port
from wod.settings import LdapSettings, Settings

SUFFIX = "dc=example,dc=org"
ADMIN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-secret"


def slapd_binary() -> str:
    found = shutil.which("slapd") or "/usr/sbin/slapd"
    if not Path(found).exists():
        pytest.fail("slapd is not installed: scripts/bootstrap --test installs it")
    return found


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A slapd on a free loopback port with ou=People and seats student1..student3."""
    folder = tmp_path_factory.mktemp("slapd")
    (folder / "db").mkdir()
    config = folder / "slapd.conf"
    config.write_text(
        "".join(
            f"include /etc/ldap/schema/{s}.schema\n"
            for s in ("core", "cosine", "nis", "inetorgperson")
        )
        + f"pidfile {folder}/slapd.pid\nargsfile {folder}/slapd.args\n"
        "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
        "password-hash {SSHA}\n"
        f'database mdb\nsuffix "{SUFFIX}"\nrootdn "{ADMIN}"\nrootpw {ADMIN_PASSWORD}\n'
        f"directory {folder}/db\n"
        "access to attrs=userPassword by self write by anonymous auth by * none\n"
        "access to * by * read\n"
    )
    url = f"ldap://127.0.0.1:{free_port()}"
    subprocess.run([slapd_binary(), "-f", str(config), "-h", f"{url}/"], check=True)
    conn = None
    for _ in range(100):
        try:
            conn = ldap.initialize(url)
            conn.simple_bind_s(ADMIN, ADMIN_PASSWORD)
            break
        except ldap.SERVER_DOWN:
            time.sleep(0.05)
    assert conn is not None
    conn.add_s(
        SUFFIX,
        [
            ("objectClass", [b"dcObject", b"organization"]),
            ("dc", [b"example"]),
            ("o", [b"Example"]),
        ],
    )
    conn.add_s(
        f"ou=People,{SUFFIX}", [("objectClass", [b"organizationalUnit"]), ("ou", [b"People"])]
    )
    for n in (1, 2, 3):
        conn.add_s(
            f"uid=student{n},ou=People,{SUFFIX}",
            [
                ("objectClass", [b"inetOrgPerson"]),
                ("uid", [f"student{n}".encode()]),
                ("cn", [f"student{n}".encode()]),
                ("sn", [b"Seat"]),
                ("userPassword", [b"initial-password"]),
            ],
        )
    conn.unbind_s()
    yield url
    pid = int((folder / "slapd.pid").read_text())
    os.kill(pid, signal.SIGTERM)


def settings_for(url: str) -> LdapSettings:
    return LdapSettings(
        url=url,
        bind_dn=ADMIN,
        bind_password=ADMIN_PASSWORD,
        user_dn_template="uid={username},ou=People," + SUFFIX,
        timeout=5,
    )


def can_bind(url: str, username: str, password: str) -> bool:
    conn = ldap.initialize(url)
    try:
        conn.simple_bind_s(f"uid={username},ou=People,{SUFFIX}", password)
    except ldap.INVALID_CREDENTIALS:
        return False
    finally:
        conn.unbind_s()
    return True


def test_password_changes_in_the_directory(directory: str) -> None:
    passwords = PythonLdapPasswords(settings_for(directory))
    assert can_bind(directory, "student1", "initial-password")
    passwords.set_password("student1", "Brand-New-Passw0rd")
    assert can_bind(directory, "student1", "Brand-New-Passw0rd")
    assert not can_bind(directory, "student1", "initial-password")
    conn = ldap.initialize(directory)
    conn.simple_bind_s(ADMIN, ADMIN_PASSWORD)
    stored = conn.search_s(
        f"uid=student1,ou=People,{SUFFIX}", ldap.SCOPE_BASE, attrlist=["userPassword"]
    )[0][1]["userPassword"][0]
    conn.unbind_s()
    assert stored.startswith(b"{SSHA}")  # hashed by the directory, never stored in clear


def test_errors_are_clear(directory: str) -> None:
    wrong = LdapSettings(**{**settings_for(directory).model_dump(), "bind_password": "nope"})
    with pytest.raises(VerbError, match="LDAP"):
        PythonLdapPasswords(wrong).set_password("student2", "x" * 16)
    with pytest.raises(VerbError, match="uid=student9"):
        PythonLdapPasswords(settings_for(directory)).set_password("student9", "x" * 16)


def test_create_of_an_ldap_workshop_sets_the_seat_password_there(
    directory: str, tmp_path: Path
) -> None:
    from tests.factories import make_workshop

    layer = tmp_path / "content"
    make_workshop(layer, "WKSHP-Ldap", (1, 3), ldap=True)
    settings = Settings(content={"paths": [layer]}, backend={"students_dir": tmp_path / "students"})
    verbs = Verbs(
        settings,
        _content(layer),
        LocalSeatFiles(tmp_path / "students"),
        FakeHub(),
        HubAccounts(MemoryCredentialStore()),
        ldap=PythonLdapPasswords(settings_for(directory)),
    )
    (order,) = local_orders(_content(layer), "CREATE", "WKSHP-Ldap", (3, 3))
    outcome = verbs.run(order.job, order.seats)
    assert outcome.ok, outcome.log
    assert outcome.password is not None and can_bind(directory, "student3", outcome.password)
    assert "password also set in LDAP" in outcome.log
    (cleanup,) = local_orders(_content(layer), "CLEANUP", "WKSHP-Ldap", (3, 3))
    assert verbs.run(cleanup.job, cleanup.seats).ok
    assert not can_bind(directory, "student3", outcome.password)


def _content(layer: Path) -> Content:
    return Content([layer])
