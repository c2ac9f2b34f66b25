"""An agent's heartbeat: it says which content revisions it holds; it hears the revision in
service and the bundles of its location's workshops in it, which it fetches when it lacks them —
so that every hub host holds the revision in service, and the console shows one that lags."""

from __future__ import annotations

from sqlalchemy import select, update

from wod.context import AppContext
from wod.db.models import Location, Workshop
from wod.services.catalogue.read import serving_locations
from wod.services.content.bundles import bundle_of
from wod.services.content.revisions import current_revision
from wod.wire import BundleRef, HeartbeatIn, HeartbeatOut


def heartbeat(ctx: AppContext, location: Location, beat: HeartbeatIn) -> HeartbeatOut:
    """Note the revisions the agent of ``location`` holds; what it should hold."""
    with ctx.db.read() as session:
        current = current_revision(session)
        locations = list(session.scalars(select(Location)))
        workshops = [
            w.slug
            for w in session.scalars(select(Workshop).where(Workshop.active))
            if any(loc.id == location.id for loc in serving_locations(w, locations))
        ]
    revision = current.digest if current is not None else None
    held = revision if revision in beat.revisions else next(reversed(beat.revisions), None)
    if held != location.content_revision or beat.version != location.agent_version:
        with ctx.db.write() as session:
            session.execute(
                update(Location)
                .where(Location.id == location.id)
                .values(content_revision=held, agent_version=beat.version)
            )
    if revision is None:
        return HeartbeatOut(revision=None, bundles=[])
    bundles = [BundleRef(folder=f, bundle=bundle_of(ctx, revision, f).digest) for f in workshops]
    return HeartbeatOut(revision=revision, bundles=bundles)
