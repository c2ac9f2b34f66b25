"""Syncing the content layers: fetch every layer (git: its mirror, then the configured ref;
folder: its files), check the workshops, show the import's diff and, when applied, import it and
record the **content revision** — each layer's source, its files archived in the database.

A sync that fails — an unreachable remote, refused credentials, a ref not found, a branch
forced past the recorded commit, a check with errors — changes nothing: the revision in service
stays, and the error says which layer and why.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from wod.content.check import CheckReport, check_content
from wod.content.git import Credentials, Mirror
from wod.content.layers import Content
from wod.content.snapshot import SKIPPED, tree_digest
from wod.context import AppContext
from wod.db.models import ContentRevision
from wod.errors import ContentSyncError
from wod.services.catalogue.importer import ImportPlan, apply_import, plan_import
from wod.services.content.revisions import (
    LayerSource,
    current_revision,
    place_tree,
    revision_digest,
    serve,
    store_archives,
    tree_path,
)
from wod.settings import LayerSettings


@dataclass
class SyncOutcome:
    """What a sync found, planned and (when applied) recorded."""

    digest: str
    layers: list[LayerSource]
    report: CheckReport
    plan: ImportPlan
    previous: str | None  # the revision in service before
    applied: bool = False
    refused: list[str] = field(default_factory=list)  # why it was not applied

    @property
    def unchanged(self) -> bool:
        return self.digest == self.previous


def configured_layers(ctx: AppContext) -> list[LayerSettings]:
    """The layers of the settings: ``content.layers``, or the folders of ``content.paths``."""
    content = ctx.settings.content
    if content.layers:
        return list(content.layers)
    return [LayerSettings(name=f"layer{i}", path=p) for i, p in enumerate(content.paths)]


def sync_content(ctx: AppContext, *, apply: bool | None = None, force: bool = False) -> SyncOutcome:
    """Fetch and check every layer; with ``apply`` (default: ``content.auto_apply``), import the
    workshops and put the revision in service when the check found no error. ``force`` accepts
    a branch forced past the recorded commit."""
    with ctx.db.read() as session:
        current = current_revision(session)
        recorded = {layer["name"]: layer for layer in current.layers} if current else {}
        previous = current.digest if current else None
    layers = [
        _fetch(ctx, layer, recorded.get(layer.name), force) for layer in configured_layers(ctx)
    ]
    digest = revision_digest(layers)
    # the revision in service was rendered for a sample seat when it was recorded: unchanged
    # files need not be rendered again (their wod.yml, folders and overlaps are still checked)
    render = digest != previous
    report = check_content(Content([layer.tree for layer in layers]), ctx.settings, render=render)
    with ctx.db.read() as session:
        plan = plan_import(session, report)
    outcome = SyncOutcome(digest, layers, report, plan, previous)
    wanted = ctx.settings.content.auto_apply if apply is None else apply
    if wanted and report.errors:
        outcome.refused.append(f"the check found {len(report.errors)} error(s)")
    elif wanted:
        _record(ctx, outcome, ctx.clock.now())
    return outcome


def _fetch(
    ctx: AppContext, layer: LayerSettings, recorded: dict[str, str] | None, force: bool
) -> LayerSource:
    if layer.git is None:
        return _folder(ctx, layer)
    mirror = Mirror(layer, ctx.settings.content.checkout_dir.absolute())
    mirror.fetch(Credentials.of(layer))
    commit = mirror.resolve(layer.ref)
    old = recorded.get("source") if recorded and recorded.get("kind") == "git" else None
    if old and old != commit and not force and not mirror.descends(old, commit):
        raise ContentSyncError(
            f"layer {layer.name}: {layer.ref} was forced past the commit in service "
            f"({old[:12]}), which is no longer in its history; `wod content sync --force` "
            "accepts it"
        )
    tree = tree_path(ctx, layer.name, commit)
    if not tree.is_dir():
        place_tree(tree, lambda folder: mirror.export(commit, layer.subdir, folder))
    return LayerSource(layer.name, "git", commit, layer.ref, layer.git, tree)


def _folder(ctx: AppContext, layer: LayerSettings) -> LayerSource:
    assert layer.path is not None
    if not layer.path.is_dir():
        raise ContentSyncError(f"layer {layer.name}: the folder {layer.path} does not exist")
    source, digest = layer.path, tree_digest(layer.path)
    tree = tree_path(ctx, layer.name, digest)
    if not tree.is_dir():
        skipped = shutil.ignore_patterns(*SKIPPED)

        def copy(folder: Path) -> None:
            shutil.copytree(source, folder, ignore=skipped)

        place_tree(tree, copy)
    return LayerSource(layer.name, "folder", digest, "", str(source), tree)


def _record(ctx: AppContext, outcome: SyncOutcome, now: datetime) -> None:
    with ctx.db.write() as session:
        store_archives(session, outcome.layers, now)
        revision = session.scalar(
            select(ContentRevision).where(ContentRevision.digest == outcome.digest)
        )
        if revision is None:
            revision = ContentRevision(
                digest=outcome.digest,
                layers=[layer.describe() for layer in outcome.layers],
                created_at=now,
            )
            session.add(revision)
        revision.applied_at = now
        apply_import(session, plan_import(session, outcome.report), now)
        session.flush()
        serve(ctx, session, revision)
    outcome.applied = True
