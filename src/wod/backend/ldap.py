"""The ``ldap`` option of a workshop: the seat's password is also set in an LDAP directory
(for appliances that authenticate their users there), with python-ldap, the OpenLDAP project's
client library. The password goes through the Password Modify extended operation (RFC 3062),
so the directory hashes it with its own scheme."""

from __future__ import annotations

from typing import Any, Protocol

from wod.errors import ConfigError, VerbError
from wod.settings import LdapSettings


class LdapPasswords(Protocol):
    """Sets seat passwords in a directory. Contract: after ``set_password`` a simple bind as
    the seat's entry with that password succeeds, and with the previous one fails."""

    def set_password(self, username: str, password: str) -> None: ...


def _ldap_module() -> Any:
    try:
        import ldap
    except ImportError as exc:
        raise ConfigError(
            "the ldap option needs python-ldap: pip install 'wod[ldap]' "
            "(with libldap2-dev and libsasl2-dev to build it)"
        ) from exc
    return ldap


class PythonLdapPasswords:
    """Changes the password of ``user_dn_template`` with an admin bind."""

    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        self.ldap = _ldap_module()

    def dn(self, username: str) -> str:
        return self.settings.user_dn_template.format(username=username)

    def set_password(self, username: str, password: str) -> None:
        s, ldap = self.settings, self.ldap
        secret = s.bind_password.get_secret_value() if s.bind_password else ""
        try:
            conn = ldap.initialize(s.url)
            conn.set_option(ldap.OPT_NETWORK_TIMEOUT, s.timeout)
            conn.set_option(ldap.OPT_TIMEOUT, s.timeout)
            try:
                conn.simple_bind_s(s.bind_dn, secret)
                conn.passwd_s(self.dn(username), None, password)
            finally:
                conn.unbind_s()
        except ldap.LDAPError as exc:
            raise VerbError(f"LDAP {s.url} ({self.dn(username)}): {exc}") from exc
