"""The jobs one agent process runs, shared by its workers, its mail orders and its heartbeat."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RunningJobs:
    """The jobs this process runs (or still tries to report): the heartbeat renews their
    leases."""

    def __init__(self) -> None:
        self._ids: set[int] = set()
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, job_id: int) -> Iterator[None]:
        with self._lock:
            self._ids.add(job_id)
        try:
            yield
        finally:
            with self._lock:
                self._ids.discard(job_id)

    def ids(self) -> list[int]:
        with self._lock:
            return sorted(self._ids)
