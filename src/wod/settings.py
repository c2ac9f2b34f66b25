"""Typed settings: environment variables ``WOD_…`` over an optional TOML file over defaults.

Every setting is declared here with its type, default and description; ``wod docs generate``
writes the reference page (docs/reference/settings.md) from these declarations. Nested
settings use ``__`` in the environment (``WOD_SMTP__HOST``) and tables in the TOML file
(``[smtp] host = …``).
"""

from __future__ import annotations

import contextvars
import math
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from wod.domain.seat_limits import (
    LimitError,
    SeatLimits,
    parse_cpu,
    parse_memory,
    parse_tasks,
)
from wod.errors import ConfigError

#: Development defaults that production refuses (ARCHITECTURE §10).
DEV_SECRET_KEY = "dev-secret-key-change-me"  # noqa: S105 - a known default that production refuses
DEV_HUB_TOKEN = "dev-hub-token-change-me"  # noqa: S105

_config_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "wod_config_file", default=None
)


def _seconds(value: Any) -> Any:
    """Durations may be written as seconds ("600"), besides ISO 8601 ("PT10M") and "00:10:00"."""
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        return float(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds)]


class Mode(StrEnum):
    development = "development"
    production = "production"


class SmtpSecurity(StrEnum):
    none = "none"
    starttls = "starttls"
    ssl = "ssl"


class ApiSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the api listens on.")
    forwarded_allow_ips: str = Field(
        "",
        description="Proxies trusted for X-Forwarded-For, comma-separated (the client address "
        "of rate limits); none by default: behind a proxy on the same host, 127.0.0.1.",
    )
    port: int = Field(8000, description="Port the api listens on.")
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="URL participants use to reach the portal (used in emails).",
    )
    catalogue_ttl: float = Field(
        2.0,
        ge=0,
        description="Seconds the catalogue (page and api) may be served from memory before "
        "it is read again: the most the seats-left figures lag behind.",
    )
    max_body_size: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest request body in bytes (413 beyond, refused before it is read; "
        "the content webhook allows 5 MiB).",
    )
    request_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a client may pause while sending a request body (408 beyond).",
    )


class BrandingSettings(BaseModel):
    name: str = Field("Acme", description="Organisation name (BRANDING).")
    wod_name: str = Field(
        "Acme Workshops-on-Demand", description="Platform display name (BRANDINGWOD)."
    )
    url: str = Field("https://example.org", description="Organisation web site (BRANDINGURL).")
    logo_url: str = Field(
        "/static/logo.png",
        description="Logo image URL (BRANDINGLOGO); a path is taken relative to api.public_url.",
    )
    survey_url: str = Field("https://example.org/survey", description="Survey link (SURVEYURL).")
    survey_challenge_url: str = Field(
        "https://example.org/quiz", description="Challenge quiz link (SURVEYCHALURL)."
    )
    sender: str = Field("workshops@localhost", description="From address of every email.")
    primary_color: str = Field(
        "#01a982",
        pattern=r"^#[0-9a-fA-F]{6}$",
        description="Colour of buttons and headings (#rrggbb; darkened where needed so that "
        "text on it stays readable).",
    )
    text_color: str = Field(
        "#1f2328", pattern=r"^#[0-9a-fA-F]{6}$", description="Colour of body text (#rrggbb)."
    )
    links: dict[str, str] = Field(
        default_factory=dict,
        description="Extra links of the portal's footer, label = URL (e.g. a code of conduct).",
    )


class SmtpSettings(BaseModel):
    host: str = Field("127.0.0.1", description="SMTP server host.")
    port: int = Field(8025, description="SMTP server port.")
    security: SmtpSecurity = Field(SmtpSecurity.none, description="none, starttls or ssl.")
    username: str | None = Field(None, description="SMTP login, if the server needs one.")
    password: SecretStr | None = Field(None, description="SMTP password.")
    timeout: float = Field(10.0, description="Seconds before an SMTP operation gives up.")
    ca_file: Path | None = Field(
        None, description="CA bundle to verify the SMTP server's certificate (default: system)."
    )


class LayerSettings(BaseModel):
    """One content layer: a folder, or a git repository."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$",
        description="The layer's name (letters, digits, - and _), unique among the layers.",
    )
    path: Path | None = Field(None, description="A folder layer: the folder.")
    git: str | None = Field(
        None,
        description="A git layer: the repository's URL (file://, https:// or ssh://, or "
        "user@host:path), without credentials.",
    )
    ref: str = Field("main", min_length=1, description="Git layers: the branch or tag to serve.")
    subdir: str = Field(
        "", description="Git layers: the folder of the repository that holds the layer."
    )
    ssh_key_file: Path | None = Field(
        None, description="Git layers over SSH: the file of the private deploy key."
    )
    token_file: Path | None = Field(
        None, description="Git layers over HTTPS: a file holding the access token."
    )
    token_env: str | None = Field(
        None, description="Git layers over HTTPS: the environment variable holding the token."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> LayerSettings:
        if (self.path is None) == (self.git is None):
            raise ValueError(f"layer {self.name!r}: give either path or git")
        secrets = (self.ssh_key_file, self.token_file, self.token_env)
        if self.git is None and any(v is not None for v in secrets):
            raise ValueError(f"layer {self.name!r}: credentials only apply to a git layer")
        if self.git is not None and "://" in self.git and urlsplit(self.git).password:
            raise ValueError(
                f"layer {self.name!r}: the URL holds a password; use token_file or token_env"
            )
        if ".." in Path(self.subdir).parts or self.subdir.startswith("/"):
            raise ValueError(f"layer {self.name!r}: subdir must be a folder inside the repository")
        return self

    @property
    def is_git(self) -> bool:
        return self.git is not None


class ContentSettings(BaseModel):
    paths: list[Path] = Field(
        default_factory=lambda: [Path("content")],
        description="Content layers in order, public first, private overlays after, as "
        "folders (a shorthand of content.layers; with content.layers, the folders the api "
        "serves them from).",
    )
    layers: list[LayerSettings] = Field(
        default_factory=list,
        description="Content layers in order, each a folder or a git repository (see "
        "[[content.layers]] below); synced with `wod content sync`.",
    )
    checkout_dir: Path = Field(
        Path(".wod/content"),
        description="Where the api host keeps its git mirrors and the revisions it serves.",
    )
    sync_interval: Duration = Field(
        timedelta(0),
        description="How often the scheduler syncs the layers from git (0: only by "
        "`wod content sync` and the webhook).",
    )
    auto_apply: bool = Field(
        False,
        description="A sync whose check finds no error imports its workshops and becomes "
        "the revision in service without `--apply` (the webhook and the schedule need it).",
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="Secret of the push webhook (POST /api/v1/content/webhook): GitHub's "
        "signature key or GitLab's token. Unset: the webhook refuses every delivery.",
    )
    template_patterns: list[str] = Field(
        default_factory=lambda: [
            "*.ipynb",
            "*.yaml",
            "*.py",
            "*.sh",
            "*.src",
            "*.tf",
            "*.env",
            "Variables.ps1",
        ],
        description="File name patterns rendered as Jinja2 templates when a seat is deployed.",
    )

    @model_validator(mode="after")
    def _layers_or_paths(self) -> ContentSettings:
        if not self.layers:
            return self
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValueError(f"content.layers: each layer needs its own name ({names})")
        served = [
            self.checkout_dir.absolute() / "current" / layer.name
            if layer.is_git
            else (layer.path or Path())
            for layer in self.layers
        ]
        # paths given by hand beside layers is a mistake; paths this validator set is not
        if "paths" in self.model_fields_set and self.paths != served:
            raise ValueError("give content.layers or content.paths, not both")
        self.paths = served
        return self

    @property
    def has_git_layers(self) -> bool:
        return any(layer.is_git for layer in self.layers)


class SchedulerSettings(BaseModel):
    enabled: bool = Field(True, description="Run the scheduler loop inside the api process.")
    interval: float = Field(1.0, description="Seconds between two scheduler passes.")
    batch: int = Field(200, description="Rows handled per timer and pass.")
    job_lease: float = Field(
        90.0,
        gt=0,
        description="Seconds a claimed job is leased to its agent; each heartbeat of the agent "
        "renews it while the job runs (keep it 3 times backend.heartbeat_interval or more). A "
        "job whose lease runs out is given again.",
    )
    job_attempts: int = Field(3, description="Attempts of a job before it fails for good.")
    hub_outage_patience: Duration = Field(
        timedelta(minutes=15),
        description="How long a job whose attempts fail because the JupyterHub is unavailable "
        "(refused connection, timeout, 502/503/504) is tried again without counting those "
        "attempts, from the job's creation; a CREATE also ends at registration.provision_timeout.",
    )


class OutboxSettings(BaseModel):
    enabled: bool = Field(True, description="Run the email outbox worker in the api process.")
    interval: float = Field(0.5, description="Seconds between two outbox passes.")
    attempts: int = Field(8, description="Send attempts of one email before it is given up.")
    backoff: float = Field(5.0, description="First retry delay in seconds; doubles each time.")
    send_lease: float = Field(
        120.0,
        gt=0,
        description="Seconds an email being sent is leased to its worker (longer than "
        "smtp.timeout); a worker that died is relieved when it runs out.",
    )
    combine_within: Duration = Field(
        timedelta(seconds=10),
        ge=timedelta(0),
        le=timedelta(minutes=5),
        description="The welcome email waits this long after registering: when the seat is "
        "ready meanwhile, welcome and credentials go as one email (0: always two).",
    )


class RegistrationSettings(BaseModel):
    name_max: int = Field(100, description="Longest accepted full name.")
    company_max: int = Field(100, description="Longest accepted company name.")
    email_max: int = Field(254, description="Longest accepted email address.")
    provision_timeout: Duration = Field(
        timedelta(minutes=10),
        description="A seat not ready this long after registering: PURGE, apology, failed.",
    )
    reminder_before: Duration = Field(
        timedelta(hours=1), description="Reminder email this long before the end."
    )
    reminder_before_short: Duration = Field(
        timedelta(minutes=15),
        description="Reminder lead time for workshops of an hour or less.",
    )
    extend_by: Duration = Field(
        timedelta(minutes=30), description="The one extension a participant may take."
    )
    badge_min_completion: int = Field(
        50, ge=0, le=100, description="Completion (%) that earns the workshop badge."
    )
    block_disposable: bool = Field(
        True, description="Refuse addresses of disposable-email domains (maintained list)."
    )
    deny_list: list[str] = Field(
        default_factory=lambda: ["1secmail.com", "1secmail.org"],
        description="Refused email domains (a domain also refuses its subdomains).",
    )
    rate_per_ip: int = Field(
        600,
        ge=1,
        description="Registrations accepted per client address and window (a conference room "
        "shares one address).",
    )
    rate_per_email: int = Field(
        5, ge=1, description="Registration attempts per address and window."
    )
    rate_window: Duration = Field(timedelta(minutes=1), description="Window of the rate limits.")
    live_per_address: int = Field(
        10,
        ge=0,
        description="Live registrations (queued, provisioning, active or ending: holding or "
        "waiting for a seat; and unconfirmed ones, see confirm_email) one client address may "
        "have at once; another is refused (409 address_limit_reached) until one ends. 0: no "
        "cap. The default leaves room for a small group behind one address (a classroom, a "
        "company's NAT); a portal whose participants register from home may take 3.",
    )
    already_registered_every: Duration = Field(
        timedelta(minutes=10),
        description="At most one 'already registered' email, or one confirmation email sent "
        "again, per registration in this time.",
    )
    confirm_email: bool = Field(
        False,
        description="Hold no seat until the address confirms: a registration starts "
        "unconfirmed, with no seat and no job, and the only email is a link to confirm it; "
        "opening that link and confirming reserves the seat (or says the workshop is full). "
        "Off: the seat is reserved at once, as without it.",
    )
    confirm_within: Duration = Field(
        timedelta(minutes=30),
        gt=timedelta(0),
        description="An unconfirmed registration not confirmed this long after its "
        "confirmation email was queued (the last one, when sent again) expires "
        "(failed, confirm_timeout), with no email.",
    )


class WaitlistSettings(BaseModel):
    enabled: bool = Field(
        True,
        description="A full workshop offers a waiting list: when a seat frees, the first in "
        "line is emailed a link to claim it (docs/howto/waiting-list.md).",
    )
    max_entries: int = Field(
        200, ge=1, le=10000, description="Addresses one workshop's waiting list holds at most."
    )
    claim_minutes: int = Field(
        30,
        ge=1,
        le=10080,
        description="Minutes an offer's claim link works; the seat is held for it meanwhile, "
        "then goes to the next in line.",
    )


class IdleSettings(BaseModel):
    """Idle seats given back (docs/howto/idle-seats.md)."""

    timeout: Duration = Field(
        timedelta(minutes=45),
        ge=timedelta(0),
        description="The idle_timeout of a workshop whose wod.yml sets none: a seat with no "
        "activity (no kernel execution, no open lab) for this long gets a warning email, "
        "then is ended as idle. 0: off.",
    )
    min_duration: Duration = Field(
        timedelta(hours=2),
        description="The default timeout applies only to workshops at least this long; "
        "shorter ones are off unless their wod.yml sets idle_timeout.",
    )
    grace: Duration = Field(
        timedelta(minutes=10),
        gt=timedelta(0),
        description="Time between the warning email and the end, during which a click on "
        "its link or any activity keeps the seat.",
    )
    report_interval: float = Field(
        60.0,
        ge=0,
        description="Backend agent: seconds between two reports of its seats' last activity "
        "(read from the hub) to the api; 0: no report, so no seat of the location is ended "
        "as idle.",
    )
    stale_after: Duration = Field(
        timedelta(minutes=10),
        gt=timedelta(0),
        description="The api warns and ends only seats whose activity was reported this "
        "recently: an agent or a hub that stopped reporting never makes seats look idle.",
    )


class BackendSettings(BaseModel):
    model_config = ConfigDict(validate_default=True)

    @field_validator("students_dir", "credentials_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # Relative to where the command starts, once: hooks run elsewhere, useradd needs it.
        return value.absolute()

    api_url: str = Field("http://127.0.0.1:8000", description="URL of the api the agent calls.")
    token: SecretStr | None = Field(None, description="The location's agent token.")
    account_mode: str = Field(
        "hub",
        min_length=1,
        description="The host mode, how seats exist on this hub host: hub, system, or a mode "
        "a plug-in registers under the wod.host_modes entry-point group.",
    )
    students_dir: Path = Field(
        Path(".wod/students"), description="Folder holding the seat homes (studentN)."
    )
    credentials_dir: Path = Field(
        Path(".wod/credentials"),
        description="Folder of the seat password hashes the wod authenticator reads (hub mode).",
    )
    poll_interval: float = Field(0.5, description="Seconds between two claims when idle.")
    workers: int = Field(4, ge=1, le=64, description="Jobs the agent runs at once.")
    hook_timeout: float = Field(600.0, description="Seconds a hook script may run.")
    uid_base: int = Field(2000, description="System mode: seat N is Linux uid/gid uid_base + N.")
    check_interval: float = Field(
        86400.0, description="Seconds between two conformity checks reported to the api."
    )
    heartbeat_interval: float = Field(
        15.0,
        gt=0,
        description="Seconds between two calls that tell the api the agent is alive and "
        "renew the leases of its running jobs (keep it well below locations.silent_after and "
        "a third of scheduler.job_lease or less).",
    )
    prespawn: bool = Field(True, description="Start the seat's server at CREATE.")
    content_cache: Path = Field(
        Path(".wod/content-cache"),
        description="Where the agent keeps the workshops it received from the api, by content "
        "revision (hub hosts need no git).",
    )
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Port of the agent's Prometheus metrics (GET /metrics, no authentication: "
        "keep it on a private address); 0: off.",
    )
    metrics_host: str = Field(
        "127.0.0.1", description="Address the agent's metrics listen on (with metrics_port)."
    )


class HubSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the hub's public proxy listens on.")
    port: int = Field(8001, description="Port of the hub's public proxy.")
    internal_port: int = Field(8081, description="Port of the hub process behind the proxy.")
    proxy_api_port: int = Field(8082, description="Port of the proxy's REST API.")
    proxy_command: str = Field(
        "",
        description="configurable-http-proxy executable; empty means search node_modules and PATH.",
    )
    public_url: str = Field("http://127.0.0.1:8001", description="Hub URL participants open.")
    api_url: str = Field("http://127.0.0.1:8001/hub/api", description="Hub REST API URL.")
    api_token: SecretStr = Field(
        SecretStr(DEV_HUB_TOKEN),
        description="Token of the wod-backend hub service (scopes limited to users and servers).",
    )
    dir: Path = Field(Path(".wod/hub"), description="Folder of the hub's config, db and pid.")
    singleuser_venv: Path | None = Field(
        None,
        description="Virtualenv the seats' servers run from (system mode: built from "
        "/usr/bin/python3 by `wod hub venv`, readable by every user); empty: wod's own.",
    )
    kernels: list[str] = Field(
        default_factory=lambda: ["python3", "bash"],
        description="Jupyter kernels the seats have (`wod hub venv` installs them; "
        "`wod workshops check` warns about notebooks asking for another).",
    )
    lockout_attempts: int = Field(
        5,
        ge=1,
        description="Failed logins from one address on one seat that lock that address out of "
        "the seat (others still log in to it).",
    )
    lockout_address_attempts: int = Field(
        50, ge=1, description="Failed logins from one address that lock the address out."
    )
    lockout_seat_attempts: int = Field(
        100,
        ge=1,
        description="Failed logins on one seat, from any address, that lock the seat for "
        "everyone; its participant lifts that with the start button of the manage page.",
    )
    unlock_key: SecretStr | None = Field(
        None,
        description="Key the api signs the start links with (the one-click login of the "
        "credentials email and the manage page) and the hub's authenticator checks them with: "
        "the same on the api and every hub host. Unset: derived from secret_key (nothing to "
        "set when they share the settings); a hub host in production with the default "
        "secret_key and no unlock_key takes no start link.",
    )
    start_link_validity: float = Field(
        3600.0,
        gt=0,
        le=86400,
        description="Seconds a start link logs in (once) after it was made: the credentials "
        "email's from its sending, the manage page's from its click. A used or expired one "
        "leads to the hub's login page with the user name filled in.",
    )
    lockout_duration: float = Field(300.0, description="Seconds a login lockout lasts.")
    lockout_window: float = Field(
        300.0, description="Seconds over which failed logins count towards a lockout."
    )
    spawn_timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds JupyterHub waits for a seat's server to start and answer before "
        "it gives up on it (Spawner.start_timeout and http_timeout).",
    )
    seat_memory: str = Field(
        "1G",
        description="systemd mode: memory of each seat's server unless its workshop's wod.yml "
        "sets limits.memory (MemoryMax=; K, M, G, T are powers of 1024).",
    )
    seat_cpu: float = Field(
        1.0, description="systemd mode: CPUs of each seat's server by default (CPUQuota=)."
    )
    seat_tasks: int = Field(
        256, description="systemd mode: processes and threads of a seat by default (TasksMax=)."
    )

    @field_validator("seat_memory", "seat_cpu", "seat_tasks", mode="before")
    @classmethod
    def _seat_limit(cls, value: Any, info: ValidationInfo) -> Any:
        parse = {"seat_memory": parse_memory, "seat_cpu": parse_cpu, "seat_tasks": parse_tasks}
        try:
            parse[info.field_name or ""](value)
        except LimitError as exc:
            raise ValueError(str(exc)) from None
        return value

    def seat_limits(self) -> SeatLimits:
        """The location's default limits of a seat (systemd mode)."""
        return SeatLimits(parse_memory(self.seat_memory), self.seat_cpu, self.seat_tasks)


class ApplianceSettings(BaseModel):
    """How the agent reaches the appliances of monoappliance/multiappliance workshops to give
    each seat its account and key there (docs/howto/appliances.md)."""

    model_config = ConfigDict(validate_default=True)

    @field_validator("ssh_key_file", "known_hosts_file", mode="after")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # The agent's ssh config and the hooks' WOD_APPLIANCE_SSH_CONFIG name it from elsewhere.
        return value.absolute() if value is not None else None

    ssh_key_file: Path | None = Field(
        None,
        description="Private key the agent logs in to the appliances with, to create each "
        "seat's account there, install the seat's key at CREATE and wipe the account's home at "
        "CLEANUP/RESET; empty: the agent only makes the seat's key pair and leaves the "
        "appliances to the workshops' hooks.",
    )
    user: str = Field(
        "root",
        min_length=1,
        description="Account the agent logs in as on the appliances (root, or one with "
        "passwordless sudo).",
    )
    port: int = Field(22, ge=1, le=65535, description="SSH port of the appliances.")
    known_hosts_file: Path | None = Field(
        None,
        description="The appliances' host keys, checked strictly; empty: the agent user's "
        "~/.ssh/known_hosts, where the first connection to an appliance records its key.",
    )
    connect_timeout: float = Field(
        10.0, gt=0, description="Seconds before an SSH connection to an appliance gives up."
    )
    command_timeout: float = Field(
        120.0, gt=0, description="Seconds one step of the agent on an appliance may take."
    )


class LdapSettings(BaseModel):
    url: str = Field("", description="LDAP server of the ldap option, e.g. ldap://ldap:389.")
    bind_dn: str = Field("", description="DN that may change the seats' passwords.")
    bind_password: SecretStr | None = Field(None, description="Password of bind_dn.")
    user_dn_template: str = Field(
        "uid={username},ou=People,dc=example,dc=org",
        description="DN of a seat's entry; {username} is studentN.",
    )
    timeout: float = Field(10.0, description="Seconds before an LDAP operation gives up.")


class AlertSettings(BaseModel):
    recipients: list[str] = Field(
        default_factory=list,
        description="Admins emailed when a seat breaks or a job fails for good.",
    )


class WatchdogSettings(BaseModel):
    enabled: bool = Field(True, description="Run the abuse watchdog in the backend agent.")
    interval: float = Field(10.0, description="Seconds between two scans of the processes.")
    cpu_percent: float = Field(
        90.0, description="CPU use (% of one core) above which a seat process is watched."
    )
    period: float = Field(
        300.0, description="Seconds above the CPU threshold before the seat is purged."
    )
    deny_list: list[str] = Field(
        default_factory=lambda: [
            "xmrig",
            "minerd",
            "cpuminer",
            "ethminer",
            "packetcrypt",
            "nbminer",
        ],
        description="Program name fragments killed at once (miners).",
    )
    whitelist: list[str] = Field(
        default_factory=lambda: [
            "jupyterhub-singleuser",
            "ipykernel_launcher",
            "bash_kernel",
            "jupyter-lab",
        ],
        description="Programs never killed for their CPU use (kernels, the server): "
        "executables, or modules run with python -m.",
    )


class MailOrderSettings(BaseModel):
    enabled: bool = Field(False, description="Take orders by mail (the original procmail API).")
    host: str = Field("127.0.0.1", description="Address the agent's SMTP listener binds.")
    port: int = Field(10025, description="Port of the agent's SMTP listener.")
    sender: str = Field("wodadmin@localhost", description="The only accepted envelope sender.")
    secret: SecretStr | None = Field(
        None, description="Shared secret every order carries in its X-Wod-Secret header."
    )


class DevSettings(BaseModel):
    mail_catcher: bool = Field(False, description="Run the dev mail catcher in the api process.")
    maildir: Path = Field(Path(".wod/mail"), description="Where the dev mail catcher stores mail.")


class LocationSettings(BaseModel):
    silent_after: Duration = Field(
        timedelta(minutes=2),
        description="A location whose agent has not called the api for this long is silent: "
        "the admins are told (once), and again when it is back.",
    )


class AdminSettings(BaseModel):
    lockout_attempts: int = Field(
        5, ge=1, description="Failed logins in a row that lock an admin console account."
    )
    lockout_duration: Duration = Field(
        timedelta(minutes=15), description="How long a locked admin console account stays locked."
    )
    session_lifetime: Duration = Field(
        timedelta(hours=12), description="How long an admin console login lasts."
    )
    login_attempts_per_address: int = Field(
        30,
        ge=1,
        description="Admin console logins one client address may try per login_window, "
        "whichever accounts they name.",
    )
    login_window: Duration = Field(
        timedelta(minutes=15), description="The window of login_attempts_per_address."
    )


class MetricsSettings(BaseModel):
    token: SecretStr | None = Field(
        None,
        description="Bearer token the Prometheus scraper presents at GET /metrics of the api. "
        "Unset: /metrics answers anyone in development and nobody (401) in production.",
    )


class HealthSettings(BaseModel):
    job_wait: Duration = Field(
        timedelta(minutes=5),
        description="A job due this long without being claimed is stuck (health page, in red).",
    )
    outbox_wait: Duration = Field(
        timedelta(minutes=10),
        description="An email not sent this long after it was queued is stuck (health page).",
    )
    failure_window: Duration = Field(
        timedelta(hours=24),
        description="Jobs and emails that failed for good within this time show on the health "
        "page, in red.",
    )


class LogSettings(BaseModel):
    format: Literal["text", "json"] = Field(
        "text",
        description="text: one readable line per record; json: one JSON object per line, with "
        "the request id of the api request (or of the job) that the record belongs to.",
    )


class RetentionSettings(BaseModel):
    days: int = Field(
        365,
        ge=1,
        le=36500,
        description="Days a registration's personal data (name, company, address, its emails' "
        "recipients and contents) are kept after it ended; then the scheduler anonymises "
        "them. The same delay applies to the client addresses of the audit log and to the "
        "admin alert emails (docs/explanation/personal-data.md).",
    )


class UpSettings(BaseModel):
    """How ``wod up`` runs the seats of this machine (docs/tutorial/first-workshop.md)."""

    uid_base: int = Field(
        70000,
        ge=1000,
        description="wod up as root: seat N is the Linux user studentN with uid and gid "
        "uid_base + N. The default is far from real accounts (Debian gives users 1000-59999, "
        "subordinate uids of containers start at 100000); a second wod up as root on the "
        "machine, or a test, picks another.",
    )
    seats_root: Path = Field(
        Path("/var/lib/wod"),
        description="wod up as root: the seats' homes and their Python environment go in a "
        "folder of this one named after the data folder (its name and a hash of its path), "
        "since the seats' users cannot reach a data folder under /root. This folder and its "
        "parents must be enterable by every user.",
    )
    singleuser_venv: Path | None = Field(
        None,
        description="wod up as root: the seats' Python environment, used as it is (build it "
        "with `wod hub venv PATH`). Empty: wod up builds its own from /usr/bin/python3 on "
        "its first start, in the seats' folder, and reuses it.",
    )


class Settings(BaseSettings):
    """Every setting of the platform."""

    model_config = SettingsConfigDict(
        env_prefix="WOD_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    mode: Mode = Field(Mode.development, description="development or production.")
    secret_key: SecretStr = Field(
        SecretStr(DEV_SECRET_KEY),
        description="Key that encrypts seat passwords at rest and derives the manage links; "
        "random and private in production (changing it breaks the manage links already sent).",
    )
    data_dir: Path = Field(Path(".wod"), description="Folder of local state (SQLite file, …).")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means a SQLite file in data_dir."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Logging threshold."
    )
    api: ApiSettings = Field(default_factory=ApiSettings)
    branding: BrandingSettings = Field(default_factory=BrandingSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    content: ContentSettings = Field(default_factory=ContentSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    registration: RegistrationSettings = Field(default_factory=RegistrationSettings)
    waitlist: WaitlistSettings = Field(default_factory=WaitlistSettings)
    backend: BackendSettings = Field(default_factory=BackendSettings)
    idle: IdleSettings = Field(default_factory=IdleSettings)
    hub: HubSettings = Field(default_factory=HubSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    ldap: LdapSettings = Field(default_factory=LdapSettings)
    appliance: ApplianceSettings = Field(default_factory=ApplianceSettings)
    mailorders: MailOrderSettings = Field(default_factory=MailOrderSettings)
    watchdog: WatchdogSettings = Field(default_factory=WatchdogSettings)
    dev: DevSettings = Field(default_factory=DevSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    locations: LocationSettings = Field(default_factory=LocationSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    up: UpSettings = Field(default_factory=UpSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def require_secrets(self, *names: str) -> None:
        """In production, refuse the development defaults of the secrets this process uses
        (``secret_key`` for the api, ``hub.api_token`` for the agent and the hub)."""
        if self.mode is not Mode.production:
            return
        defaults = {
            "secret_key": (self.secret_key, DEV_SECRET_KEY),
            "hub.api_token": (self.hub.api_token, DEV_HUB_TOKEN),
        }
        for name in names:
            value, default = defaults[name]
            if value.get_secret_value() == default:
                raise ConfigError(
                    f"{name} still has its development default; "
                    "production needs a random private value"
                )
            if (weakness := secret_weakness(value.get_secret_value())) is not None:
                raise ConfigError(f"{name} is too weak for production: {weakness}")
        token = self.metrics.token
        metrics = token.get_secret_value() if token is not None else None
        if "secret_key" in names and metrics is not None:  # the api serves /metrics
            weakness = secret_weakness(metrics)
            if weakness is not None:
                raise ConfigError(f"metrics.token is too weak for production: {weakness}")
        if self.dev.mail_catcher:
            raise ConfigError(
                "dev.mail_catcher is on: in production the caught mail (every participant's "
                "password and manage link) would be served to anyone; use a real SMTP relay"
            )

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'wod.sqlite3'}"

    def absolute_url(self, url: str) -> str:
        """``url`` itself when absolute, else joined to ``api.public_url``."""
        if "://" in url:
            return url
        return self.api.public_url.rstrip("/") + "/" + url.lstrip("/")


#: What production asks of a secret: enough characters, enough different ones.
SECRET_MIN_LENGTH = 32
SECRET_MIN_BITS = 128


def secret_weakness(value: str) -> str | None:
    """Why ``value`` is too weak to be a production secret, or None. The estimate is its length
    times the bits of its distinct characters: a random 32-character token passes, a word
    repeated or a blank value does not."""
    if len(value.strip()) < SECRET_MIN_LENGTH:
        return f"fewer than {SECRET_MIN_LENGTH} characters (make one: openssl rand -hex 32)"
    bits = len(value) * math.log2(len(set(value)))
    if bits < SECRET_MIN_BITS:
        return f"about {bits:.0f} bits of entropy, fewer than {SECRET_MIN_BITS}"
    return None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings once per process: ``overrides`` > environment > file > defaults."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {config_file} does not exist")
    token = _config_file.set(config_file)
    try:
        return Settings(**overrides)
    except ValueError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
    finally:
        _config_file.reset(token)
