"""What an admin may do: the role of a console user or an admin api token."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"  # reads and acts (end, extend, purge, retry, resend, import)
    viewer = "viewer"  # reads (stats, lists, registrations)
