"""``wod locations``: JupyterHub hosts and their agent tokens."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from wod.cli.common import console, context, edge
from wod.errors import FieldProblem, InvalidInput
from wod.services import provisioning

app = typer.Typer(help="Locations (JupyterHub hosts).", no_args_is_help=True)


def parse_seats(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    if not match:
        raise InvalidInput([FieldProblem("seats", f"{text!r} is not FIRST-LAST, e.g. 1-100")])
    return int(match[1]), int(match[2])


@app.command("add")
@edge
def add(
    name: Annotated[str, typer.Argument(help="Location name, e.g. the hub's host name.")],
    hub_url: Annotated[str, typer.Option(help="Hub URL participants open.")],
    seats: Annotated[str, typer.Option(help="Seat numbers FIRST-LAST.")] = "1-100",
    hub_api_url: Annotated[
        str, typer.Option(help="Hub REST API URL; default HUB_URL/hub/api.")
    ] = "",
    rotate: Annotated[
        bool, typer.Option("--rotate-token", help="Replace the token of an existing location.")
    ] = False,
) -> None:
    """Create or update a location with its seats; prints the agent token of a new location."""
    low, high = parse_seats(seats)
    added = provisioning.add_location(
        context(), name, hub_url=hub_url, seats=(low, high), hub_api_url=hub_api_url, rotate=rotate
    )
    console.print(f"location {name}: seats {low}-{high}")
    new_token = added.token
    if new_token is None:
        console.print("agent token unchanged (--rotate-token replaces it)")
        return
    console.print("agent token (shown once; set it as WOD_BACKEND__TOKEN on the hub host):")
    console.print(new_token, highlight=False)


@app.command("token")
@edge
def token(name: Annotated[str, typer.Argument(help="Location name.")]) -> None:
    """Replace a location's agent token (the old one stops working) and print the new one."""
    console.print(provisioning.new_location_token(context(), name), highlight=False)


@app.command("list")
@edge
def list_() -> None:
    """Every location."""
    for loc in provisioning.list_locations(context()):
        state = provisioning.state_of(loc).value + (" (silent)" if loc.silent_since else "")
        console.print(
            f"{loc.name:20} seats {loc.seat_min}-{loc.seat_max:<6} {state:18} {loc.hub_public_url}",
            highlight=False,
        )


def _set_state(name: str, state: provisioning.LocationState, what: str) -> None:
    provisioning.set_location_state(context(), name, state)
    console.print(f"location {name} {what}", highlight=False)


LocationName = Annotated[str, typer.Argument(help="Location name.")]


@app.command("enable")
@edge
def enable(name: LocationName) -> None:
    """Give seats on the location again (after disable or drain)."""
    _set_state(name, provisioning.LocationState.enabled, "enabled: it gives seats again")


@app.command("drain")
@edge
def drain(name: LocationName) -> None:
    """Give no new seat on the location; live seats run to their end, its agent keeps working.
    Registrations still waiting for their seat there move to another location."""
    _set_state(
        name,
        provisioning.LocationState.draining,
        "draining: no new seat; live ones run to their end",
    )


@app.command("disable")
@edge
def disable(name: LocationName) -> None:
    """Take the location out of service: no new seat, its agent's token is refused (the jobs
    of its live seats wait until it is enabled). Waiting registrations move elsewhere."""
    _set_state(name, provisioning.LocationState.disabled, "disabled: out of service")
