"""Provisioning: the jobs the backend agents claim and run (:mod:`.jobs`), the seats they act
on (:mod:`.seats`), the workshops' pools of warm seats (:mod:`.warm`), the locations with their
agents' tokens (:mod:`.locations`), and an admin's retry of a failed job (:mod:`.retry`). What a
job's outcome means for its registration is decided one floor up, in
:mod:`wod.services.registrations.outcomes`.

Convention of every service package: a public function takes the context and owns its
transaction; the helpers that take a session (``enqueue_job``, ``purge_seat``,
``ensure_location``, …) are called by the other services inside theirs, never by an edge.
"""

from wod.services.provisioning.jobs import claim, lease_duration, record_external_job
from wod.services.provisioning.locations import (
    LocationAdded,
    LocationState,
    add_location,
    agent_location,
    list_locations,
    location_for_token,
    new_location_token,
    set_location_state,
    state_of,
    watch_silence,
)
from wod.services.provisioning.retry import retry_job, retryable_seat
from wod.services.provisioning.seats import list_seats, purge
from wod.services.provisioning.warm import fill_pools

__all__ = [
    "LocationAdded",
    "LocationState",
    "add_location",
    "agent_location",
    "claim",
    "fill_pools",
    "lease_duration",
    "list_locations",
    "list_seats",
    "location_for_token",
    "new_location_token",
    "purge",
    "record_external_job",
    "retry_job",
    "retryable_seat",
    "set_location_state",
    "state_of",
    "watch_silence",
]
