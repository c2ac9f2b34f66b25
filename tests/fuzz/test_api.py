"""The api answers as its OpenAPI document says, whatever it is sent: schemathesis generates
requests for every operation of ``/api/v1/openapi.json``, fetched from the running api, both
valid ones (positive) and ones that break the document's rules (negative), as four callers.
Every answer must be no server error, with a documented status, content type, headers and
body, and an operation that asks for a token must refuse the request without it. Generation
is derandomized: two runs send the same requests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.conftest import Figures, Target

#: Cases per operation and generation mode: enough to reach the refusals of every route, few
#: enough that the four runs take a minute or two on a busy machine.
MAX_EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]
CALLERS = ["anonymous", "participant", "admin", "location"]


def steer(case: Case[Any], target: Target) -> None:
    """Point the case's path parameters and body fields at things that exist, so that the
    fuzzer gets past "not found" to the routes' other answers."""
    for name in case.path_parameters:
        if name in target.known:
            case.path_parameters[name] = target.known[name]
    if isinstance(case.body, dict):
        for name in ("workshop", "seat"):
            if name in case.body:
                case.body[name] = target.known[name]


def unbreakable(operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode) -> bool:
    """Whether finding no case is no failure: a negative case of an operation without a body,
    whose parameters may have no rule to break, or only rules that characters a URL cannot
    carry would break."""
    return mode is GenerationMode.NEGATIVE and "requestBody" not in operation.definition.raw


def fuzz(cases: SearchStrategy[Case[Any]], send: Callable[[Case[Any], bool], None]) -> None:
    """``send`` each case, half of them steered; a failing case is shrunk to a small one."""

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, steered=st.booleans())
    def run(case: Case[Any], steered: bool) -> None:
        send(case, steered)

    run()


@pytest.mark.parametrize("caller", CALLERS)
def test_every_operation_answers_as_documented(
    target: Target, caller: str, figures: list[Figures]
) -> None:
    schema = schemathesis.openapi.from_url(f"{target.url}/api/v1/openapi.json")
    token = target.tokens.get(caller)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    run = Figures(caller)
    before = target.answered.copy()
    started = time.monotonic()
    failures: list[str] = []
    with requests.Session() as session:

        def send(case: Case[Any], steered: bool) -> None:
            if steered:
                steer(case, target)
            case.call_and_validate(
                base_url=target.url, session=session, headers=headers, checks=CHECKS
            )

        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            run.operations += 1
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    fuzz(operation.as_strategy(generation_mode=mode), send)
                except Unsatisfiable as exc:
                    if not unbreakable(operation, mode):
                        failures.append(f"{operation.label} ({mode.value}): {exc}")
                    run.unbroken.append(operation.label)
                except (Exception, BaseExceptionGroup) as exc:  # every operation is run
                    failures.append(f"{operation.label} ({mode.value}): {exc}")
    run.seconds = time.monotonic() - started
    run.statuses = target.answered - before
    figures.append(run)
    print(f"\n{run.line()}")
    assert not failures, "\n\n".join(failures)
    assert run.operations == len(schema_operations(schema.raw_schema))


def schema_operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return [(m, p) for p, item in document["paths"].items() for m in item if m in methods]
