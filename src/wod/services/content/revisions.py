"""Content revisions on the api host: the revision in service, the layers' archives in the
database, their files unpacked on this host, and the ``current`` folders the api reads.

The database is the truth: a revision row names each layer's source (a git commit, or a
folder's digest) and its archive, stored in the database, so every api host can rebuild any
revision's files without git or credentials. Each host keeps, under ``content.checkout_dir``:

- ``trees/<layer>/<source>/`` — a layer's files at one source, unpacked once;
- ``current/<layer>`` — a link to the tree of the revision in service, switched atomically
  (``content.paths`` names these folders for git layers);
- ``git/<layer>.git`` — the mirrors a sync fetches (:mod:`.sync`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from wod.content.git import extract
from wod.content.snapshot import archive_folder, digest_of
from wod.context import AppContext
from wod.db.models import ContentArchive, ContentRevision
from wod.errors import ContentNotFound, ContentSyncError

MARKER = ".revision"


@dataclass(frozen=True)
class LayerSource:
    """One layer of a revision: what it is, where it came from, where its files are."""

    name: str
    kind: str  # git or folder
    source: str  # the commit, or the folder's digest
    ref: str
    url: str
    tree: Path

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "ref": self.ref,
            "url": self.url,
        }


def revision_digest(layers: Sequence[LayerSource]) -> str:
    """The name of the layers at these sources, in this order."""
    text = "\n".join(f"{layer.name}:{layer.kind}:{layer.source}" for layer in layers)
    return hashlib.sha256(text.encode()).hexdigest()


def _in_service(what: Any) -> Select[Any]:
    return (
        select(what)
        .where(ContentRevision.applied_at.is_not(None))
        .order_by(ContentRevision.applied_at.desc(), ContentRevision.id.desc())
        .limit(1)
    )


def current_revision(session: Session) -> ContentRevision | None:
    """The revision in service: the last one applied."""
    revision: ContentRevision | None = session.scalar(_in_service(ContentRevision))
    return revision


def current_revision_id() -> Any:
    """The id of :func:`current_revision` as a scalar subquery, to read with other values in
    one round trip (NULL before any revision)."""
    return _in_service(ContentRevision.id).scalar_subquery()


def revision_named(session: Session, digest: str) -> ContentRevision:
    revision = session.scalar(select(ContentRevision).where(ContentRevision.digest == digest))
    if revision is None:
        raise ContentNotFound(f"the api holds no content revision {digest[:12]}")
    return revision


def tree_path(ctx: AppContext, layer: str, source: str) -> Path:
    return ctx.settings.content.checkout_dir.absolute() / "trees" / layer / source


def store_archives(session: Session, layers: Sequence[LayerSource], now: datetime) -> None:
    """Each layer's files in the database, once per (layer, source)."""
    for layer in layers:
        found = session.scalar(
            select(ContentArchive.id).where(
                ContentArchive.layer == layer.name, ContentArchive.source == layer.source
            )
        )
        if found is None:
            data = archive_folder(layer.tree)
            session.add(
                ContentArchive(
                    layer=layer.name,
                    source=layer.source,
                    digest=digest_of(data),
                    size=len(data),
                    data=data,
                    created_at=now,
                )
            )
    session.flush()


def unpack_tree(ctx: AppContext, session: Session, layer: str, source: str) -> Path:
    """The files of ``layer`` at ``source`` on this host, unpacked from the database when this
    host has not got them yet."""
    target = tree_path(ctx, layer, source)
    if (target / MARKER).is_file():
        return target
    archive = session.scalar(
        select(ContentArchive).where(ContentArchive.layer == layer, ContentArchive.source == source)
    )
    if archive is None:
        raise ContentNotFound(f"the api holds no archive of layer {layer} at {source[:12]}")
    if digest_of(archive.data) != archive.digest:
        raise ContentSyncError(f"the archive of layer {layer} at {source[:12]} is damaged")
    place_tree(target, lambda folder: extract(archive.data, folder))
    return target


def place_tree(target: Path, fill: Callable[[Path], None]) -> None:
    """Fill a new tree in a scratch folder, then move it into place (never half a tree)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        fill(scratch / "files")
        (scratch / "files" / MARKER).write_text(target.name)
        if target.exists():
            shutil.rmtree(target)
        os.replace(scratch / "files", target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def serve(ctx: AppContext, session: Session, revision: ContentRevision) -> None:
    """Point this host's ``current/<layer>`` links at ``revision``'s git layers' trees."""
    current = ctx.settings.content.checkout_dir.absolute() / "current"
    current.mkdir(parents=True, exist_ok=True)
    for layer in revision.layers:
        if layer["kind"] != "git":
            continue
        tree = unpack_tree(ctx, session, layer["name"], layer["source"])
        link = current / layer["name"]
        scratch = current / f".{layer['name']}.new"
        scratch.unlink(missing_ok=True)
        scratch.symlink_to(tree, target_is_directory=True)
        os.replace(scratch, link)
    (current / MARKER).write_text(revision.digest)


def served_here(ctx: AppContext) -> str | None:
    """The revision this host's ``current`` folders show."""
    marker = ctx.settings.content.checkout_dir.absolute() / "current" / MARKER
    return marker.read_text().strip() if marker.is_file() else None


def converge(ctx: AppContext) -> bool:
    """Make this host serve the revision in service (another api host may have synced it);
    whether anything changed."""
    with ctx.db.read() as session:
        revision = current_revision(session)
        if revision is None or served_here(ctx) == revision.digest:
            return False
        serve(ctx, session, revision)
    return True
