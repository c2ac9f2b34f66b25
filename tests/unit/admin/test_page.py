"""The login page's ``next``: only ever a path inside the console."""

from __future__ import annotations

import pytest

from wod.admin.page import local_path


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/admin/jobs", "/admin/jobs"),
        ("/admin/jobs?state=failed&page=2", "/admin/jobs?state=failed&page=2"),
        ("/admin", "/admin"),
        (None, "/admin"),
        ("", "/admin"),
        ("https://evil.example/admin", "/admin"),
        ("//evil.example/admin", "/admin"),
        ("/admin//evil.example", "/admin"),
        ("/adminx", "/admin"),
        ("/admin/../manage/x", "/admin"),
        ("/admin/\\evil", "/admin"),
        ("/admin/jobs\r\nSet-Cookie: x=y", "/admin"),
        ("/", "/admin"),
        ("/admin/login?next=/admin", "/admin"),
        ("/admin/logout", "/admin"),
        ("javascript:alert(1)", "/admin"),
    ],
)
def test_next_is_only_ever_a_local_admin_path(value: str | None, expected: str) -> None:
    assert local_path(value) == expected
