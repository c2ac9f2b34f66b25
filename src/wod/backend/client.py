"""The agent's side of the backend routes: claim a job, report on it (:mod:`wod.wire`)."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from wod import logs
from wod.errors import ApiClientError
from wod.wire import (
    ActivityIn,
    ActivityRecorded,
    ExternalJobIn,
    HeartbeatIn,
    HeartbeatOut,
    JobOrder,
    JobReport,
    JobReported,
    LocationPublic,
)

M = TypeVar("M", bound=BaseModel)


class ApiClient:
    """Talks to ``/api/v1/backend`` with the location's bearer token."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.http = httpx.Client(
            base_url=api_url.rstrip("/") + "/api/v1/backend",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def _post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        try:
            # the id of the job being run, if any: the api's lines about it carry it too
            response = self.http.post(path, json=body or {}, headers=logs.outgoing_headers())
        except httpx.HTTPError as exc:
            raise ApiClientError(f"api {path}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiClientError(
                f"api {path}: {response.status_code} {response.text[:300]}", response.status_code
            )
        return response

    def claim(self) -> JobOrder | None:
        """The next job of this location, or None."""
        response = self._post("/jobs/claim")
        if response.status_code == 204:
            return None
        return _parse(JobOrder, response)

    def external_job(self, order: ExternalJobIn) -> int:
        """Record a verb run on an order taken by another transport; the job's id."""
        return _parse(JobReported, self._post("/jobs/external", order.model_dump())).id

    def location(self) -> LocationPublic:
        """This agent's location: name, seat range, hub URLs."""
        try:
            response = self.http.get("/location")
        except httpx.HTTPError as exc:
            raise ApiClientError(f"api /location: {exc}") from exc
        if response.status_code >= 400:
            raise ApiClientError(f"api /location: {response.status_code}", response.status_code)
        return _parse(LocationPublic, response)

    def heartbeat(self, beat: HeartbeatIn) -> HeartbeatOut:
        """Tell the api the agent is alive and what it holds; what it should hold."""
        return _parse(HeartbeatOut, self._post("/heartbeat", beat.model_dump()))

    def report_activity(self, report: ActivityIn) -> int:
        """Tell the api the last activity of this location's seats; how many live
        registrations it concerned."""
        return _parse(
            ActivityRecorded, self._post("/activity", report.model_dump(mode="json"))
        ).recorded

    def bundle(self, revision: str, folder: str) -> bytes:
        """The bundle of workshop ``folder`` in content ``revision``."""
        path = f"/content/{revision}/{folder}"
        try:
            response = self.http.get(path)
        except httpx.HTTPError as exc:
            raise ApiClientError(f"api {path}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiClientError(
                f"api {path}: {response.status_code} {response.text[:300]}", response.status_code
            )
        return response.content

    def report_check(self, problems: list[str]) -> None:
        self._post("/check", {"problems": problems})

    def report_abuse(self, seat: int, reason: str) -> None:
        self._post(f"/seats/{seat}/abuse", {"reason": reason[:2000]})

    def report_contained(self, seat: int, events: list[str]) -> None:
        self._post(f"/seats/{seat}/contained", {"events": [e[:500] for e in events[:20]]})

    def report(self, job_id: int, report: JobReport) -> None:
        self._post(f"/jobs/{job_id}/report", report.model_dump(exclude_none=True))


def _parse(model: type[M], response: httpx.Response) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise ApiClientError(f"api {response.url.path}: unexpected answer: {exc}") from exc
