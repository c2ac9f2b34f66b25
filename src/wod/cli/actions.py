"""``wod test-action``: run a verb on this hub host by hand, as ``wod-test-action.sh`` did."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from wod.backend.agent import build_verbs
from wod.backend.orders import VERBS, local_orders, parse_seats
from wod.cli.common import console, edge, settings
from wod.content.layers import Content
from wod.errors import FieldProblem, InvalidInput


@edge
def test_action(
    verb: Annotated[str, typer.Argument(help="CREATE, CLEANUP, RESET or PURGE.")],
    workshop: Annotated[str, typer.Argument(help="Workshop folder, e.g. WKSHP-Python101.")],
    seats: Annotated[str, typer.Argument(help="Seat N, or MIN,MAX (not for PURGE).")],
) -> None:
    """Run a verb on seats of this host and print its log and the new credentials.

    It acts on the hub host only: the api's records (registrations, seats) are not changed."""
    current = settings()
    current.require_secrets("hub.api_token")
    named = verb.upper()
    if named not in VERBS:
        raise InvalidInput([FieldProblem("verb", f"{verb!r} is not one of {', '.join(VERBS)}")])
    orders = local_orders(Content(current.content.paths), named, workshop, parse_seats(seats))
    verbs = build_verbs(current)
    failed = False
    for order in orders:
        outcome = verbs.run(order.job, order.seats)
        console.print(outcome.log, highlight=False, markup=False)
        if outcome.password is not None and order.job.seat is not None:
            seat = order.job.seat.username
            console.print(
                f"credentials: {seat} / {outcome.password}  {current.hub.public_url}/hub/login",
                highlight=False,
            )
        if outcome.completion is not None:
            console.print(f"completion: {outcome.completion} %")
        failed |= not outcome.ok
    if failed:
        sys.exit(1)
