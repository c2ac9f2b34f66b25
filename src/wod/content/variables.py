"""The variables a seat's files are rendered with (ARCHITECTURE §7.3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from wod.settings import Settings

#: The inventory host name ``hostvars[inventory_hostname][…]`` resolves through.
INVENTORY_HOSTNAME = "wod"


@dataclass(frozen=True)
class SeatContext:
    """What varies per seat and registration."""

    workshop: str  # slug as ordered, e.g. WKSHP-Python101 or CHLG-Python101
    seat: int
    password: str | None = None  # given to the templates only for varpass/ldap workshops


def content_folder_name(slug: str) -> str:
    """The content folder of a workshop: a challenge ``CHLG-X`` is played from ``WKSHP-X``."""
    return slug.replace("CHLG", "WKSHP", 1) if slug.startswith("CHLG") else slug


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
    variables: dict[str, Any] = {
        "STDID": ctx.seat,
        "WORKSHOP": content_folder_name(ctx.workshop),
        "CHALLENGE": ctx.workshop,
        "MODEWS": "CHLG" if ctx.workshop.startswith("CHLG") else "WKSHP",
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
    if expose_password and ctx.password is not None:
        variables["PASSSTU"] = ctx.password
    variables.update(extra or {})
    variables["inventory_hostname"] = INVENTORY_HOSTNAME
    variables["hostvars"] = {INVENTORY_HOSTNAME: dict(variables)}
    return variables
