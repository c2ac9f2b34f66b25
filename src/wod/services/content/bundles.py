"""What an agent receives of a revision: the *bundle* of one workshop (its folders, the layers'
scripts, skeletons and variables files — :func:`wod.content.snapshot.bundle_entries`), built
once per (revision, workshop) on each api host and kept there, named by its digest so that the
agent can check that what it received is what the job order meant."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from wod.content.snapshot import bundle_entries, digest_of, pack
from wod.content.variables import content_folder_name
from wod.context import AppContext
from wod.errors import ContentNotFound
from wod.services.content.revisions import revision_named, unpack_tree
from wod.wire import ContentRef


@dataclass(frozen=True)
class Bundle:
    revision: str
    folder: str
    digest: str
    path: Path

    def read(self) -> bytes:
        return self.path.read_bytes()


def _cached(ctx: AppContext, revision: str, folder: str) -> Path:
    root = ctx.settings.content.checkout_dir.absolute() / "bundles" / revision
    return root / f"{folder}.tar.gz"


def bundle_of(ctx: AppContext, revision: str, folder: str) -> Bundle:
    """The bundle of workshop ``folder`` in ``revision``; :class:`ContentNotFound` when the api
    holds no such revision, or the revision no such workshop."""
    if "/" in folder or folder.startswith(".") or len(folder) > 200:
        raise ContentNotFound(f"no workshop {folder!r}")
    path = _cached(ctx, revision, folder)
    digest_file = path.with_suffix(".sha256")
    if path.is_file() and digest_file.is_file():
        return Bundle(revision, folder, digest_file.read_text().strip(), path)
    with ctx.db.read() as session:
        data = _build(ctx, session, revision, folder)
    digest = digest_of(data)
    _keep(path, data)
    _keep(digest_file, digest.encode())
    return Bundle(revision, folder, digest, path)


def _build(ctx: AppContext, session: Session, revision: str, folder: str) -> bytes:
    row = revision_named(session, revision)
    trees = [
        (layer["name"], unpack_tree(ctx, session, layer["name"], layer["source"]))
        for layer in row.layers
    ]
    wanted = {folder, content_folder_name(folder)}
    if not any((tree / name).is_dir() for _, tree in trees for name in wanted):
        raise ContentNotFound(f"content revision {revision[:12]} has no workshop {folder}")
    return pack(bundle_entries(trees, folder))


def _keep(path: Path, data: bytes) -> None:
    """Write a file whole or not at all (another request may build the same bundle)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(scratch, path)


def content_ref(ctx: AppContext, revision: str | None, folder: str) -> ContentRef | None:
    """What a job order says of its content: the revision and its bundle's digest."""
    if revision is None:
        return None
    return ContentRef(revision=revision, bundle=bundle_of(ctx, revision, folder).digest)
