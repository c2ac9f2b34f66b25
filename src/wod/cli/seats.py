"""``wod seats``: the seats of the locations."""

from __future__ import annotations

from typing import Annotated

import typer

from wod.cli.common import console, context, edge
from wod.domain.states import SeatState
from wod.services import provisioning

app = typer.Typer(help="Seats of the locations.", no_args_is_help=True)


@app.command("list")
@edge
def list_(
    location: Annotated[str | None, typer.Option(help="Only this location.")] = None,
    state: Annotated[SeatState | None, typer.Option(help="Only seats in this state.")] = None,
) -> None:
    """Seats with their state."""
    for name, seat in provisioning.list_seats(context(), location, state):
        console.print(f"{name:20} {seat.username:12} {seat.state.value}", highlight=False)


@app.command("purge")
@edge
def purge(
    location: Annotated[str, typer.Argument(help="Location name.")],
    number: Annotated[int, typer.Argument(help="Seat number.")],
) -> None:
    """Queue a PURGE of a seat (repairs a broken one: the seat is free once the agent ran it)."""
    job = provisioning.purge(context(), location, number)
    console.print(f"PURGE queued as job {job.id}")
