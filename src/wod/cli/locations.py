"""``wod locations``: JupyterHub hosts and their agent tokens."""

from __future__ import annotations

import json
import re
import sys
from typing import Annotated, Any

import typer

from wod.cli.common import console, context, edge
from wod.db.models import Location
from wod.errors import FieldProblem, InvalidInput
from wod.services import provisioning

app = typer.Typer(help="Locations (JupyterHub hosts).", no_args_is_help=True)

#: ``--json``: one JSON object on stdout, for scripts (the deploy playbooks read it).
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object (for scripts).")]


def _describe(location: Location) -> dict[str, Any]:
    return {
        "name": location.name,
        "hub_url": location.hub_public_url,
        "hub_api_url": location.hub_api_url,
        "seats": f"{location.seat_min}-{location.seat_max}",
        "enabled": location.enabled,
    }


def _print_json(data: dict[str, Any]) -> None:
    # print, not the rich console: nothing may wrap or colour what a script parses.
    print(json.dumps(data))


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
    as_json: JsonOption = False,
) -> None:
    """Create or update a location with its seats; prints the agent token of a new location."""
    low, high = parse_seats(seats)
    added = provisioning.add_location(
        context(), name, hub_url=hub_url, seats=(low, high), hub_api_url=hub_api_url, rotate=rotate
    )
    if as_json:
        _print_json({**_describe(added.location), "token": added.token})
        return
    console.print(f"location {name}: seats {low}-{high}")
    new_token = added.token
    if new_token is None:
        console.print("agent token unchanged (--rotate-token replaces it)")
        return
    console.print("agent token (shown once; set it as WOD_BACKEND__TOKEN on the hub host):")
    console.print(new_token, highlight=False)


@app.command("token")
@edge
def token(
    name: Annotated[str, typer.Argument(help="Location name.")], as_json: JsonOption = False
) -> None:
    """Replace a location's agent token (the old one stops working) and print the new one."""
    new = provisioning.new_location_token(context(), name)
    if as_json:
        _print_json({"name": name, "token": new})
        return
    console.print(new, highlight=False)


@app.command("verify")
@edge
def verify(name: Annotated[str, typer.Argument(help="Location name.")]) -> None:
    """Exit 0 when the token on standard input is the location's agent token, else 1."""
    given = sys.stdin.readline().strip()
    location = provisioning.location_for_token(context(), given) if given else None
    if location is None or location.name != name:
        console.print(f"not the agent token of {name!r}", highlight=False)
        raise typer.Exit(1)
    console.print(f"agent token of {name!r}", highlight=False)


@app.command("list")
@edge
def list_(as_json: JsonOption = False) -> None:
    """Every location."""
    locations = provisioning.list_locations(context())
    if as_json:
        _print_json({"locations": [_describe(loc) for loc in locations]})
        return
    for loc in locations:
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
