"""Bounds every input surface checks at the edge, so a value too large for the database is a
422 and never an overflow inside it."""

from __future__ import annotations

#: The largest row id or seat number accepted: PostgreSQL's ``integer`` (SQLite holds it too).
ID_MAX = 2**31 - 1

#: The longest file name a file system keeps (a longer one names no file).
NAME_MAX = 255
