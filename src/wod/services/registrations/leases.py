"""Leases of running jobs, kept alive by the agent's heartbeat.

A claimed job is leased for ``scheduler.job_lease`` (90 s by default, much shorter than the
provision timeout). Each heartbeat names the jobs the agent is running and renews their
leases, so a long CREATE keeps its job while its agent lives, and a job whose agent died is
given again within a lease, not at the provision deadline. A heartbeat also names the agent's
process (``boot``): when it changes, the agent has restarted, and the jobs of its location it
does not say it runs were lost with the old process; they are given again at once (an attempt
each, as a lease that ran out would count).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from wod.context import AppContext
from wod.db.models import Job, Location
from wod.domain.states import JobState
from wod.services.provisioning.jobs import lease_duration
from wod.services.registrations.outcomes import fail_attempt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Beat:
    """What a heartbeat changed: leases renewed, jobs given again after a restart."""

    renewed: int
    released: list[int]


def keep_alive(
    ctx: AppContext, location: Location, running: Sequence[int], boot: str | None
) -> Beat:
    """Renew the leases of ``running`` jobs of ``location``; after a restart of its agent
    (``boot`` changed), give again the location's running jobs it no longer runs."""
    now = ctx.clock.now()
    with ctx.db.write() as session:
        renewed = 0
        if running:
            result = session.execute(
                update(Job)
                .where(
                    Job.location_id == location.id,
                    Job.state == JobState.running,
                    Job.id.in_(running),
                )
                .values(lease_until=now + lease_duration(ctx))
                .execution_options(synchronize_session=False)
            )
            renewed = result.rowcount  # type: ignore[attr-defined]
        row = session.get(Location, location.id, with_for_update=True)
        if row is None or boot is None or row.agent_boot == boot:
            return Beat(renewed, [])
        # a new process (or the first that names itself): what it does not run was lost
        row.agent_boot = boot
        lost = list(
            session.scalars(
                select(Job)
                .where(
                    Job.location_id == location.id,
                    Job.state == JobState.running,
                    Job.id.not_in(running),
                )
                .order_by(Job.id)
                .with_for_update()
            )
        )
        for job in lost:
            log.warning(
                "job %s at %s: its agent restarted while running it (attempt %s)",
                job.id,
                row.name,
                job.attempts,
            )
            lost_with = "the agent restarted while running it"
            fail_attempt(ctx, session, job, lost_with, now, retry_after=timedelta(0))
        return Beat(renewed, [job.id for job in lost])
