"""The agent's side of the backend routes: claim a job, report on it."""

from __future__ import annotations

from typing import Any

import httpx

from wod.errors import ApiClientError


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
            response = self.http.post(path, json=body or {})
        except httpx.HTTPError as exc:
            raise ApiClientError(f"api {path}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiClientError(
                f"api {path}: {response.status_code} {response.text[:300]}", response.status_code
            )
        return response

    def claim(self) -> dict[str, Any] | None:
        """The next job of this location, or None."""
        response = self._post("/jobs/claim")
        if response.status_code == 204:
            return None
        order: dict[str, Any] = response.json()
        return order

    def external_job(self, verb: str, seat: int, workshop: str | None, source: str) -> int:
        """Record a verb run on an order taken by another transport; the job's id."""
        body = {"verb": verb, "seat": seat, "workshop": workshop, "source": source}
        return int(self._post("/jobs/external", body).json()["id"])

    def location(self) -> dict[str, Any]:
        """This agent's location: name, seat range, hub URLs."""
        try:
            response = self.http.get("/location")
        except httpx.HTTPError as exc:
            raise ApiClientError(f"api /location: {exc}") from exc
        if response.status_code >= 400:
            raise ApiClientError(f"api /location: {response.status_code}", response.status_code)
        answer: dict[str, Any] = response.json()
        return answer

    def report_check(self, problems: list[str]) -> None:
        self._post("/check", {"problems": problems})

    def report_abuse(self, seat: int, reason: str) -> None:
        self._post(f"/seats/{seat}/abuse", {"reason": reason[:2000]})

    def report(self, job_id: int, report: dict[str, Any]) -> None:
        self._post(f"/jobs/{job_id}/report", report)
