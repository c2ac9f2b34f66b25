"""The public URLs of the platform that emails and pages link to."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, urlencode

from wod.content.variables import content_folder_name
from wod.db.models import Location, Seat, Workshop
from wod.domain.secrets import claim_token, confirm_token, keep_token, manage_token
from wod.domain.unlock import start_token
from wod.hub.config import unlock_key
from wod.settings import Settings


def manage_url(settings: Settings, nonce: str) -> str:
    """The personal manage page of a registration."""
    token = manage_token(settings.secret_key.get_secret_value(), nonce)
    return settings.absolute_url(f"/manage/{token}")


def confirm_url(settings: Settings, nonce: str) -> str:
    """The page that confirms an unconfirmed registration (``registration.confirm_email``)."""
    token = confirm_token(settings.secret_key.get_secret_value(), nonce)
    return settings.absolute_url(f"/confirm/{token}")


def claim_url(settings: Settings, nonce: str) -> str:
    """The page that claims the seat a waiting-list offer holds."""
    token = claim_token(settings.secret_key.get_secret_value(), nonce)
    return settings.absolute_url(f"/waitlist/claim/{token}")


def keep_url(settings: Settings, nonce: str) -> str:
    """The page of an idle warning's "Keep my seat" link."""
    token = keep_token(settings.secret_key.get_secret_value(), nonce)
    return settings.absolute_url(f"/keep/{token}")


def first_notebook(seat: Seat, workshop: Workshop) -> str:
    """The path on the hub of the workshop's first notebook in the seat."""
    folder = content_folder_name(workshop.slug)
    return f"/user/{seat.username}/lab/tree/{folder}/0-ReadMeFirst.ipynb"


def start_url(location: Location, seat: Seat, workshop: Workshop) -> str:
    """The hub login (user name filled in) that opens the workshop's first notebook."""
    start = quote(first_notebook(seat, workshop))
    return f"{location.hub_public_url}/hub/login?next={start}&username={seat.username}"


def start_link(
    settings: Settings, now: datetime, location: Location, seat: Seat, workshop: Workshop
) -> str | None:
    """The one-click start link: a fresh one-time token that logs in to the seat and opens
    the first notebook (:mod:`wod.domain.unlock`); None when start links are off (no key)."""
    key = unlock_key(settings)
    if not key:
        return None
    token = start_token(key, seat.username, now.timestamp(), settings.hub.start_link_validity)
    query = urlencode({"token": token, "next": first_notebook(seat, workshop)})
    return f"{location.hub_public_url}/hub/wod-start/{seat.username}?{query}"


def workshop_url(settings: Settings, workshop: Workshop) -> str:
    return settings.absolute_url(f"/workshops/{workshop.slug}")


def share_url(page_url: str) -> str:
    """A LinkedIn share link for a public page."""
    return "https://www.linkedin.com/sharing/share-offsite/?url=" + quote(page_url, safe="")


def content_image(settings: Settings, value: str, folder: str) -> str | None:
    """An image named in wod.yml: a URL or a path on the portal as it is, a bare file name
    from the content layers' ``folder`` (served at ``/<folder>/files/<name>``), or None."""
    if not value:
        return None
    if "://" not in value and not value.startswith("/"):
        value = f"/{folder}/files/{quote(value)}"
    return settings.absolute_url(value)


def avatar_url(settings: Settings, workshop: Workshop) -> str | None:
    """The presenter's picture (``avatar``), or None (the portal shows initials)."""
    return content_image(settings, workshop.avatar, "avatars")


def workshop_cover(settings: Settings, workshop: Workshop) -> str:
    """The workshop's cover on the catalogue: its own ``workshopImg`` (a URL, a path on the
    portal, or a file name in a content layer's ``covers/`` folder), else the one the portal
    draws for it."""
    own = content_image(settings, workshop.workshop_img, "covers")
    return own or settings.absolute_url(f"/covers/workshop/{workshop.slug}.svg")


def mastodon_share_url(instance: str, text: str) -> str:
    """The share page of a Mastodon server (``instance``: a host name already checked)."""
    return f"https://{instance}/share?text=" + quote(text, safe="")


def workshop_badge_image(settings: Settings, workshop: Workshop) -> str:
    """The workshop's own ``badgeImg`` (a URL, a path on the portal, or a file name in a
    content layer's ``badges/`` folder), else the badge the portal draws for it."""
    own = content_image(settings, workshop.badge_img, "badges")
    return own or settings.absolute_url(f"/badges/workshop/{workshop.slug}.png")


def workshop_badge_page(settings: Settings, workshop: Workshop) -> str:
    return settings.absolute_url(f"/badges/workshop/{workshop.slug}")


def level_badge_image(settings: Settings, number: int) -> str:
    return settings.absolute_url(f"/badges/level/{number}.png")


def level_badge_page(settings: Settings, number: int) -> str:
    return settings.absolute_url(f"/badges/level/{number}")
