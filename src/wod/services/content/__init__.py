"""Content from git: syncing the layers and recording the **content revision** in service
(:mod:`.sync`), the revisions' files on each api host (:mod:`.revisions`), the bundles the
agents receive (:mod:`.bundles`), their heartbeat (:mod:`.heartbeat`), the push webhook
(:mod:`.webhook`) and the syncs the scheduler runs (:mod:`.schedule`).

Convention of every service package: a public function takes the context and owns its
transaction; the helpers that take a session are called by the other services inside theirs,
never by an edge.
"""

from wod.services.content.bundles import Bundle, bundle_of, content_ref
from wod.services.content.heartbeat import heartbeat
from wod.services.content.revisions import converge
from wod.services.content.schedule import request_sync, sync_due, sync_state
from wod.services.content.status import ContentStatus, content_status
from wod.services.content.sync import SyncOutcome, sync_content
from wod.services.content.webhook import receive_delivery

__all__ = [
    "Bundle",
    "ContentStatus",
    "SyncOutcome",
    "bundle_of",
    "content_ref",
    "content_status",
    "converge",
    "heartbeat",
    "receive_delivery",
    "request_sync",
    "sync_content",
    "sync_due",
    "sync_state",
]
