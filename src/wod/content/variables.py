"""The variables a seat's files and hook scripts see (ARCHITECTURE §7.3).

In order, later ones winning: the platform's own (branding, hosts), the variables files of the
content layers (``variables/all.yml`` then ``variables/<WKSHP>.yml``, layer by layer), what
derives from them for this seat (per-seat ports), what the seat's ``create`` hooks handed back
(an API token, a port: :attr:`SeatContext.produced`), the appliance target, and the seat's
identity (``STDID``, ``WORKSHOP``, ``MODEWS``, ``PASSSTU`` for ``varpass``/``ldap`` workshops)
and whether the host mode isolates seats from each other (``SEATISOLATED``: what a notebook may
promise a participant about their files).
Every variable is also reachable as ``hostvars[inventory_hostname]['…']``, as in notebooks
written for the original platform.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from wod.content.layers import Content
from wod.errors import ContentProblem, TemplateError
from wod.settings import Settings

#: The inventory host name ``hostvars[inventory_hostname][…]`` resolves through.
INVENTORY_HOSTNAME = "wod"
PLACEHOLDER_ADDRESS = "x.y.z.t"
#: Names that what the hooks hand back never sets: the seat's identity, its password, its
#: appliance (the agent installed the seat's key there) and the ``hostvars`` alias.
PROTECTED_NAMES = frozenset(
    {
        "STDID",
        "WORKSHOP",
        "CHALLENGE",
        "MODEWS",
        "PASSSTU",
        "SEATISOLATED",
        "WODRTARGET",
        "inventory_hostname",
        "hostvars",
    }
)


@dataclass(frozen=True)
class SeatContext:
    """What varies per seat and registration."""

    workshop: str  # slug as ordered, e.g. WKSHP-Python101 or CHLG-Python101
    seat: int
    password: str | None = None  # given to the templates only for varpass/ldap workshops
    seat_min: int = 1  # first seat of the workshop's range: per-seat offsets count from it
    appliance: str | None = None  # "mono" (one shared) or "multi" (one per seat)
    layer_vars: Mapping[str, Any] = field(default_factory=dict)
    #: What the seat's ``create`` hooks handed back: wins over the variables files and the
    #: per-seat ports, never over :data:`PROTECTED_NAMES`.
    produced: Mapping[str, Any] = field(default_factory=dict)
    #: Whether the host mode keeps other seats from this one's files (``SEATISOLATED``); off
    #: unless the host says so: a notebook never promises what the host does not keep.
    isolated: bool = False


def seat_context(
    content: Content,
    slug: str,
    seat: int,
    password: str | None,
    *,
    seat_min: int,
    monoappliance: bool,
    multiappliance: bool,
) -> SeatContext:
    """The context of one seat of a workshop, with the variables of the content layers."""
    appliance = "multi" if multiappliance else ("mono" if monoappliance else None)
    folder = content_folder_name(slug)
    names = [folder] if slug == folder else [folder, slug]  # a challenge's own file wins
    return SeatContext(slug, seat, password, seat_min or 1, appliance, content.variables(*names))


def content_folder_name(slug: str) -> str:
    """The content folder of a workshop: a challenge ``CHLG-X`` is played from ``WKSHP-X``."""
    return slug.replace("CHLG", "WKSHP", 1) if slug.startswith("CHLG") else slug


def seat_ports(names: Sequence[str], offset: int, layer_vars: Mapping[str, Any]) -> dict[str, int]:
    """``<NAME>PORT = base + N − range_min`` for each ``<NAME>PORT-<WKSHP>: base`` variable
    (for a challenge, a ``<NAME>PORT-<CHLG>`` variable wins: ``names`` go weakest first)."""
    ports = {}
    for folder in names:
        suffix = f"-{folder}"
        for key, value in layer_vars.items():
            name = key[: -len(suffix)] if key.endswith(suffix) else ""
            if name.endswith("PORT") and isinstance(value, int) and not isinstance(value, bool):
                ports[name] = value + offset
    return ports


def appliance_target(ctx: SeatContext, folder: str) -> str | None:
    """``WODRTARGET``: the shared appliance's address, or the seat's own (base + offset)."""
    if ctx.appliance not in ("mono", "multi"):
        return None
    key = f"IP-{ctx.workshop}" if f"IP-{ctx.workshop}" in ctx.layer_vars else f"IP-{folder}"
    base = ctx.layer_vars.get(key)
    if base is None or str(base) == PLACEHOLDER_ADDRESS:
        raise TemplateError(
            [
                ContentProblem(
                    f"variables/{folder}.yml",
                    key,
                    "the appliance address of this workshop is not set",
                )
            ]
        )
    if ctx.appliance == "mono":
        return str(base)
    try:
        return str(ipaddress.ip_address(str(base)) + (ctx.seat - ctx.seat_min))
    except ValueError as exc:
        raise TemplateError(
            [ContentProblem(f"variables/{folder}.yml", key, f"not an IP address: {base!r}")]
        ) from exc


def seat_variables(
    settings: Settings,
    ctx: SeatContext,
    *,
    expose_password: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every template variable for one seat, including the ``hostvars`` alias."""
    branding = settings.branding
    hub_host = urlsplit(settings.hub.public_url).hostname or "localhost"
    folder = content_folder_name(ctx.workshop)
    variables: dict[str, Any] = {
        "BRANDING": branding.name,
        "BRANDINGWOD": branding.wod_name,
        "BRANDINGURL": branding.url,
        "BRANDINGLOGO": settings.absolute_url(branding.logo_url),
        "BRANDINGSLACK": "",
        "SURVEYURL": branding.survey_url,
        "SURVEYCHALURL": branding.survey_challenge_url,
        "WODBEEXTFQDN": hub_host,
        "WODBEFQDN": hub_host,
        "WODAPIURL": settings.api.public_url,
    }
    variables.update(ctx.layer_vars)
    names = list(dict.fromkeys([folder, ctx.workshop]))
    variables.update(seat_ports(names, ctx.seat - ctx.seat_min, ctx.layer_vars))
    variables.update({k: v for k, v in ctx.produced.items() if k not in PROTECTED_NAMES})
    target = appliance_target(ctx, folder)
    if target is not None:
        variables["WODRTARGET"] = target
    variables.update(
        {
            "STDID": ctx.seat,
            "WORKSHOP": folder,
            "CHALLENGE": ctx.workshop,
            "MODEWS": "CHLG" if ctx.workshop.startswith("CHLG") else "WKSHP",
            "SEATISOLATED": ctx.isolated,
        }
    )
    if expose_password and ctx.password is not None:
        variables["PASSSTU"] = ctx.password
    variables.update(extra or {})
    variables["inventory_hostname"] = INVENTORY_HOSTNAME
    variables["hostvars"] = {INVENTORY_HOSTNAME: dict(variables)}
    return variables


_ENV_NAME = re.compile(r"[^A-Za-z0-9_]")


def environment_names(variables: Mapping[str, Any]) -> dict[str, str]:
    """The scalar variables as environment variables (``HTTPPORT-X`` becomes ``HTTPPORT_X``)."""
    env = {}
    for key, value in variables.items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            env[_ENV_NAME.sub("_", key)] = str(value)
        elif isinstance(value, bool):
            env[_ENV_NAME.sub("_", key)] = "true" if value else "false"
    return env
