"""``wod hub config``: a working ``jupyterhub_config.py`` for one location, whose spawner part
comes from the host mode (:mod:`wod.hub.modes`)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from wod.branding import readable_on_white
from wod.domain.unlock import derive_unlock_key
from wod.errors import ConfigError
from wod.hub.modes import HostMode, load_host_mode
from wod.settings import DEV_SECRET_KEY, Mode, Settings

#: What the backend agent may do through the hub API, and nothing more.
BACKEND_SCOPES = ["admin:users", "admin:servers", "list:users", "read:users"]
SERVICE_NAME = "wod-backend"
#: The hub's own templates (its login page with the portal's branding).
TEMPLATES = Path(__file__).resolve().parent / "templates"


def unlock_key(settings: Settings) -> str:
    """The key of the unlock links (``hub.unlock_key``, else derived from ``secret_key``);
    empty in production when neither is set: a known key would let anyone sign them."""
    if settings.hub.unlock_key is not None:
        return settings.hub.unlock_key.get_secret_value()
    secret = settings.secret_key.get_secret_value()
    if settings.mode is Mode.production and secret == DEV_SECRET_KEY:
        return ""
    return derive_unlock_key(secret)


def branding_vars(settings: Settings) -> dict[str, str]:
    """What the hub's login page shows of the portal's branding."""
    branding = settings.branding
    return {
        "wod_name": branding.wod_name,
        "wod_logo_url": settings.absolute_url(branding.logo_url),
        "wod_portal_url": settings.absolute_url("/"),
        "wod_primary": readable_on_white(branding.primary_color),
    }


def find_proxy(settings: Settings) -> str:
    """The configurable-http-proxy executable: from settings, ./node_modules, or PATH."""
    if settings.hub.proxy_command:
        return settings.hub.proxy_command
    local = Path.cwd() / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return str(local)
    found = shutil.which("configurable-http-proxy")
    if found is None:
        raise ConfigError(
            "configurable-http-proxy not found: run scripts/bootstrap (npm install) "
            "or set hub.proxy_command"
        )
    return found


def singleuser_bin(settings: Settings) -> Path:
    """The ``jupyterhub-singleuser`` the seats' servers run."""
    venv = settings.hub.singleuser_venv
    return (venv / "bin" if venv else Path(sys.executable).parent) / "jupyterhub-singleuser"


def render_config(settings: Settings, mode: HostMode | None = None) -> str:
    """The text of ``jupyterhub_config.py``; its spawner part is the host mode's."""
    mode = mode or load_host_mode(settings)
    hub = settings.hub
    state = hub.dir.resolve()
    students = settings.backend.students_dir.resolve()
    values = {
        "bind_url": f"http://{hub.host}:{hub.port}",
        "hub_bind_url": f"http://127.0.0.1:{hub.internal_port}",
        "proxy_api_url": f"http://127.0.0.1:{hub.proxy_api_port}",
        "proxy": find_proxy(settings),
        "db_url": f"sqlite:///{state / 'jupyterhub.sqlite'}",
        "cookie_secret_file": str(state / "jupyterhub_cookie_secret"),
        "pid_file": str(state / "jupyterhub.pid"),
        "credentials_dir": str(settings.backend.credentials_dir.resolve()),
        "home_template": f"{students}/{{username}}",
        "singleuser": str(singleuser_bin(settings)),
        "token": hub.api_token.get_secret_value(),
        "unlock_key": unlock_key(settings),
        "used_tokens_file": str(state / "wod-used-start-tokens.json"),
        "template_paths": [str(TEMPLATES)],
        "template_vars": branding_vars(settings),
    }
    v = {k: repr(val) for k, val in values.items()}
    return f"""# Written by `wod hub config` for the {mode.name} account mode.
import os

c = get_config()  # noqa: F821

c.JupyterHub.bind_url = {v["bind_url"]}
c.JupyterHub.hub_bind_url = {v["hub_bind_url"]}
c.ConfigurableHTTPProxy.api_url = {v["proxy_api_url"]}
c.ConfigurableHTTPProxy.command = [{v["proxy"]}]
c.JupyterHub.db_url = {v["db_url"]}
c.JupyterHub.cookie_secret_file = {v["cookie_secret_file"]}
c.JupyterHub.pid_file = {v["pid_file"]}
c.JupyterHub.cleanup_servers = True
c.JupyterHub.redirect_to_server = True
# Answer a spawn request at once: the backend agent starts seats ahead of the first login and
# must not wait for the server to be ready.
c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0}}

# The login page with the portal's branding.
c.JupyterHub.template_paths = {v["template_paths"]}
c.JupyterHub.template_vars = {v["template_vars"]}

c.JupyterHub.authenticator_class = "wod"
c.WodAuthenticator.credentials_dir = {v["credentials_dir"]}
c.WodAuthenticator.lockout_attempts = {hub.lockout_attempts}
c.WodAuthenticator.lockout_address_attempts = {hub.lockout_address_attempts}
c.WodAuthenticator.lockout_seat_attempts = {hub.lockout_seat_attempts}
c.WodAuthenticator.unlock_key = {v["unlock_key"]}
c.WodAuthenticator.used_tokens_file = {v["used_tokens_file"]}
c.WodAuthenticator.lockout_duration = {hub.lockout_duration!r}
c.WodAuthenticator.lockout_window = {hub.lockout_window!r}

{mode.hub_config(v)}c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = {hub.spawn_timeout!r}
c.Spawner.http_timeout = {hub.spawn_timeout!r}

c.JupyterHub.services = [{{"name": {SERVICE_NAME!r}, "api_token": {v["token"]}}}]
c.JupyterHub.load_roles = [
    {{"name": {SERVICE_NAME!r}, "scopes": {BACKEND_SCOPES!r}, "services": [{SERVICE_NAME!r}]}},
]
"""


def write_config(settings: Settings, path: Path | None = None) -> Path:
    """Write the config (mode 0600: it holds the service token) and create the hub's folders."""
    target = path or settings.hub.dir / "jupyterhub_config.py"
    mode = load_host_mode(settings)
    text = render_config(settings, mode)
    for folder in (settings.hub.dir, target.parent, settings.backend.students_dir):
        folder.mkdir(parents=True, exist_ok=True)
    mode.prepare_hub()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return target
