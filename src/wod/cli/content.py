"""``wod content``: the content layers from git, their revision in service."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from wod.cli.common import console, context, edge
from wod.cli.workshops import print_plan, print_problems
from wod.services import content

app = typer.Typer(help="Content layers (folders and git repositories).", no_args_is_help=True)


@app.command("sync")
@edge
def sync(
    apply: Annotated[
        bool | None,
        typer.Option(
            "--apply/--dry-run",
            help="Import and put the revision in service (default: content.auto_apply).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Accept a branch forced past the commit in service.")
    ] = False,
) -> None:
    """Fetch every layer, check the workshops, show what importing would change; with --apply
    import it and record the content revision. A failure changes nothing."""
    ctx = context()
    count = len(ctx.settings.content.layers or ctx.settings.content.paths)
    console.print(f"syncing {count} layer(s) …")
    outcome = content.sync_content(ctx, apply=apply, force=force)
    for layer in outcome.layers:
        ref = f" {layer.ref}" if layer.ref else ""
        console.print(f"  {layer.name}: {layer.kind}{ref} at {layer.source[:12]}", highlight=False)
    print_problems(outcome.report.problems)
    print_plan(outcome.plan)
    digest = outcome.digest[:12]
    if outcome.applied:
        console.print(f"revision {digest} in service", highlight=False)
    elif outcome.refused:
        console.print(f"not applied: {'; '.join(outcome.refused)}", highlight=False)
    elif outcome.unchanged:
        console.print(f"revision {digest} is already in service", highlight=False)
    else:
        console.print(f"dry run: revision {digest} not applied (use --apply)", highlight=False)
    if outcome.report.errors or outcome.refused:
        sys.exit(1)


@app.command("status")
@edge
def status() -> None:
    """The revision in service, the last sync, and the revision each location holds."""
    state = content.content_status(context())
    if state.revision is None:
        console.print("no content revision recorded (the hub hosts use their own folders)")
    else:
        when = f"{state.applied_at:%Y-%m-%d %H:%M} UTC" if state.applied_at else "?"
        console.print(f"revision {state.revision[:12]} in service since {when}", highlight=False)
        for layer in state.layers:
            console.print(
                f"  {layer['name']}: {layer['kind']} {layer.get('ref') or ''} at "
                f"{layer['source'][:12]}",
                highlight=False,
            )
    if state.last_attempt_at is not None:
        outcome = f"failed: {state.last_error}" if state.last_error else "ok"
        console.print(f"last sync {state.last_attempt_at:%Y-%m-%d %H:%M} UTC: {outcome}")
    for location in state.locations:
        held = location.revision[:12] if location.revision else "nothing yet"
        mark = " (lags)" if location.lags else ""
        console.print(f"location {location.name}: holds {held}{mark}", highlight=False)
