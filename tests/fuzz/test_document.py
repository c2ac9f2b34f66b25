"""What the OpenAPI document of the running api promises of its errors, checked against the
routes: every error answer is declared as a problem document, each route declares the
refusals its inputs and its token can give, and a method a path does not have is answered
405 with ``Allow`` naming exactly the methods the document gives it."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.fuzz.conftest import Target

METHODS = ("get", "put", "post", "delete", "patch")
PROBLEM = {"schema": {"$ref": "#/components/schemas/Problem"}}


@pytest.fixture
def document(target: Target) -> dict[str, Any]:
    answer = httpx.get(f"{target.url}/api/v1/openapi.json")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_error_answer_is_a_problem_document(document: dict[str, Any]) -> None:
    checked = 0
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            content = response.get("content", {})
            assert content.get("application/problem+json") == PROBLEM, (method, path, status)
            others = set(content) - {"application/problem+json"}
            assert others == ({"text/plain"} if status == "413" else set()), (method, path)
            checked += 1
    assert checked > len(operations(document))
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["Problem"]["required"]) == {"title", "status", "code", "detail"}


def test_each_route_declares_the_refusals_of_its_inputs_and_token(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document):
        declared = set(operation["responses"])
        where = f"{method.upper()} {path}"
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in declared or not _validated(operation), where
        if "requestBody" in operation:
            assert {"400", "408", "413"} <= declared, where
        if operation.get("security"):
            assert "401" in declared, where
            headers = operation["responses"]["401"].get("headers", {})
            assert headers["WWW-Authenticate"]["required"] is True, where
        if "429" in declared:
            assert operation["responses"]["429"]["headers"]["Retry-After"]["required"], where
        # any operation may meet the unexpected, or the database away (503 + Retry-After)
        assert {"500", "503"} <= declared, where
        assert operation["responses"]["503"]["headers"]["Retry-After"]["required"], where


def _validated(operation: dict[str, Any]) -> bool:
    """Whether any parameter has a rule a value can break (a bare string cannot)."""
    bare = {"type": "string"}
    return (
        any(
            {k: v for k, v in p["schema"].items() if k not in ("title", "description")} != bare
            for p in operation.get("parameters", [])
        )
        or "requestBody" in operation
    )


def test_a_method_a_path_lacks_is_405_with_what_it_has(
    target: Target, document: dict[str, Any]
) -> None:
    tried = 0
    with httpx.Client(base_url=target.url) as client:
        for path, item in document["paths"].items():
            allowed = {m.upper() for m in item if m in METHODS}
            url = re.sub(r"\{\w+\}", "1", path)
            for method in sorted({m.upper() for m in METHODS} - allowed):
                answer = client.request(method, url)
                assert answer.status_code == 405, (method, url, answer.text)
                assert set(answer.headers["allow"].split(", ")) == allowed, (method, url)
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.json()["code"] == "method_not_allowed"
                tried += 1
    assert tried >= 4 * len(document["paths"])
