"""Where the agent's jobs get their content: the bundle of the content revision a job names,
received from the api and kept per revision on this host (hub hosts need no git and no
credentials), or this host's own content folders for a job that names none (``wod up``,
``wod test-action``, mail orders, an api without recorded revisions).

A bundle is checked against the digest the job order names before anything of it is used: a
bundle changed on the way, or in the cache, is refused.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from wod.content.git import extract
from wod.content.layers import Content
from wod.content.snapshot import digest_of, layer_folders
from wod.errors import ApiClientError, VerbError
from wod.wire import ContentRef, JobOrder

log = logging.getLogger(__name__)
#: Fetches the bundle of a workshop in a revision: ``(revision, folder) → bytes``.
Fetch = Callable[[str, str], bytes]
DIGEST = ".bundle-digest"


class ContentSource(Protocol):
    """The content of one job. Contract: the content returned holds the job's workshop as the
    job's revision has it, or this host's folders (:attr:`local`) when the job names no
    revision."""

    local: Content

    def content_for(self, job: JobOrder) -> Content: ...


class HostContent:
    """This host's own content folders; a job that names a revision needs :class:`AgentContent`."""

    def __init__(self, local: Content) -> None:
        self.local = local

    def content_for(self, job: JobOrder) -> Content:
        if job.content is not None:
            raise VerbError(
                f"job {job.id} runs with content revision {job.content.revision[:12]}, and "
                "this command has no api to fetch it from"
            )
        return self.local


class AgentContent(HostContent):
    """Bundles from the api, cached under ``cache`` by revision and workshop."""

    def __init__(self, local: Content, fetch: Fetch, cache: Path) -> None:
        super().__init__(local)
        self.fetch = fetch
        self.cache = cache

    def content_for(self, job: JobOrder) -> Content:
        if job.content is None or job.workshop is None:
            return self.local
        return Content(layer_folders(self.ensure(job.content, job.workshop.slug)))

    def folder(self, revision: str, slug: str) -> Path:
        return self.cache / revision / slug

    def held(self) -> list[str]:
        """The revisions this host holds bundles of, oldest first."""
        if not self.cache.is_dir():
            return []
        found = [p for p in self.cache.iterdir() if p.is_dir() and not p.name.startswith(".")]
        return [p.name for p in sorted(found, key=lambda p: p.stat().st_mtime)]

    def ensure(self, ref: ContentRef, slug: str) -> Path:
        """The unpacked bundle of ``slug`` in ``ref.revision``, fetched when missing or when the
        cached one is not the bundle ``ref`` names."""
        target = self.folder(ref.revision, slug)
        marker = target / DIGEST
        if marker.is_file() and marker.read_text().strip() == ref.bundle:
            return target
        try:
            data = self.fetch(ref.revision, slug)
        except ApiClientError as exc:
            raise VerbError(
                f"cannot receive {slug} of content revision {ref.revision[:12]}: {exc}"
            ) from exc
        if digest_of(data) != ref.bundle:
            raise VerbError(
                f"the bundle of {slug} in content revision {ref.revision[:12]} is not the one "
                "the job names (changed on the way?): refused"
            )
        self._place(target, data, ref.bundle)
        log.info("content: %s of revision %s received", slug, ref.revision[:12])
        return target

    def _place(self, target: Path, data: bytes, digest: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            extract(data, scratch / "files")
            (scratch / "files" / DIGEST).write_text(digest)
            if target.exists():
                shutil.rmtree(target)
            os.replace(scratch / "files", target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def as_source(content: Content | ContentSource) -> ContentSource:
    return HostContent(content) if isinstance(content, Content) else content
