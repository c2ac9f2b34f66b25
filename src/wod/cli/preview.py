"""``wod workshops preview``: a workshop rendered into a spare seat of the running ``wod up``,
as CREATE renders it, with the link and credentials that open it in JupyterLab."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from wod.cli.common import console, context, edge, settings
from wod.cli.serve import UP_API_PORT, UP_HUB_PORT, UP_SMTP_PORT, up_environment
from wod.content.layers import Content
from wod.errors import Failure, FieldProblem, InvalidInput
from wod.settings import Settings
from wod.wire import JobOrder, JobReport, SeatOrder

#: ``c.JupyterHub.bind_url = 'http://127.0.0.1:8001'`` of the config ``wod up`` writes.
_BIND_URL = re.compile(r"^c\.JupyterHub\.bind_url = '[a-z]+://[^']*:(\d+)'", re.MULTILINE)


def _up_hub_port(data_dir: Path) -> int:
    """The hub port of the ``wod up`` that last ran with ``data_dir``, read from the hub
    config it wrote there; wod up's default when there is none."""
    config = data_dir / "hub" / "jupyterhub_config.py"
    text = config.read_text(encoding="utf-8") if config.is_file() else ""
    found = _BIND_URL.search(text)
    return int(found[1]) if found else UP_HUB_PORT


def _overrides(env: dict[str, str]) -> dict[str, Any]:
    """``WOD_HUB__PORT=…`` style variables as nested settings overrides (``{"hub": {…}}``),
    which win over the environment without changing it."""
    nested: dict[str, Any] = {}
    for key, value in env.items():
        *groups, leaf = key.removeprefix("WOD_").lower().split("__")
        node = nested
        for group in groups:
            node = node.setdefault(group, {})
        node[leaf] = value
    return nested


def _probe_up(hub_url: str, token: str, data_dir: Path) -> None:
    """Refuse unless the hub of ``wod up`` answers at ``hub_url`` and knows its token."""
    import httpx

    try:
        answer = httpx.get(
            f"{hub_url}/hub/api/user", headers={"Authorization": f"token {token}"}, timeout=10
        )
    except httpx.HTTPError as exc:
        raise Failure(
            f"no wod up is running: JupyterHub does not answer at {hub_url} ({exc}). "
            "Start `scripts/wod up`, or give the --data-dir and --hub-port of the one running."
        ) from exc
    if answer.status_code in (401, 403):
        raise Failure(
            f"the JupyterHub at {hub_url} refuses the hub token of {data_dir}: it is not the "
            "wod up of this data folder (--data-dir, --hub-port)"
        )
    if answer.status_code != 200:
        raise Failure(f"the JupyterHub at {hub_url} answers {answer.status_code}: {answer.text}")


def _preview_seat(seat: int | None, overrides: dict[str, Any]) -> int:
    """The seat to preview on: ``seat`` unless a participant may be on it; by default the
    first seat past those of the location ``local`` (no registration is ever given it)."""
    from wod.domain.states import SeatState
    from wod.services import provisioning
    from wod.services.admin.platform import LOCATION

    ctx = context(**overrides)
    local = next((loc for loc in provisioning.list_locations(ctx) if loc.name == LOCATION), None)
    if seat is None:
        if local is None:
            raise Failure(f"the database has no location {LOCATION!r}: has wod up run with it?")
        return local.seat_max + 1
    held = [
        s
        for _, s in provisioning.list_seats(ctx, LOCATION)
        if s.number == seat and s.state is not SeatState.free
    ]
    if held:
        raise InvalidInput(
            [
                FieldProblem(
                    "seat",
                    f"student{seat} of location {LOCATION!r} is {held[0].state.value}: a "
                    "participant may be on it; pick another --seat",
                )
            ]
        )
    return seat


@edge
def preview(
    workshop: Annotated[str, typer.Argument(help="Workshop folder, e.g. WKSHP-MyTopic.")],
    seat: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Seat to preview on; default: the first past the seats of the location local.",
        ),
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="The data folder of wod up.")] = Path(".wod"),
    hub_port: Annotated[
        int | None,
        typer.Option(help="JupyterHub's port; default: the one wod up last used with data-dir."),
    ] = None,
    api_port: Annotated[int, typer.Option(help="The api port of wod up.")] = UP_API_PORT,
) -> None:
    """Render the workshop into a preview seat of the running `wod up` (as CREATE does), start
    its server and print the link that opens it in JupyterLab, with the seat's credentials.
    Run it again after each change: the seat is prepared anew."""
    from wod.content.variables import content_folder_name

    current, overrides = _up_settings(data_dir, hub_port, api_port)
    hub_url = current.hub.public_url
    _probe_up(hub_url, current.hub.api_token.get_secret_value(), data_dir)
    number = _preview_seat(seat, overrides)
    username = f"student{number}"
    console.print(f"preparing {workshop} on {username} of the wod up at {hub_url} …")
    outcome = _prepare_seat(current, workshop, number)
    if not outcome.ok or outcome.password is None:
        console.print(outcome.log, highlight=False, markup=False)
        raise Failure(f"the preview of {workshop} failed: {outcome.error}")
    folder = content_folder_name(workshop)
    link = f"{hub_url}/hub/login?next=/user/{username}/lab/tree/{folder}/0-ReadMeFirst.ipynb"
    console.print(
        f"open      {link}\nuser      {username}\npassword  {outcome.password}\n"
        "run it again after a change: the seat is prepared anew, with a new password",
        highlight=False,
    )


def _up_settings(
    data_dir: Path, hub_port: int | None, api_port: int
) -> tuple[Settings, dict[str, Any]]:
    """The settings ``wod up`` gives its backend agent, for its data folder and ports (and the
    overrides that make them, for the command's context); refused when no ``wod up`` has run
    with that data folder."""
    if not (data_dir / "hub" / "api_token").is_file():
        raise Failure(
            f"no wod up has run with the data folder {data_dir} (no {data_dir}/hub/api_token): "
            "start `scripts/wod up` first, or give --data-dir"
        )
    port = hub_port or _up_hub_port(data_dir)
    # the seats as wod up has them (system mode as root), with the up.* settings it was given
    overrides = _overrides(up_environment(data_dir, api_port, port, UP_SMTP_PORT, settings().up))
    return settings(**overrides), overrides


def _prepare_seat(current: Settings, workshop: str, number: int) -> JobReport:
    """Run CREATE of ``workshop`` on seat ``number`` with this host's verbs, as the agent of
    ``wod up`` would, and make sure its server starts."""
    from wod.backend.agent import build_verbs
    from wod.backend.orders import workshop_flags

    username = f"student{number}"
    job = JobOrder(
        id=-1,  # a job of this host, unknown to the api (as those of wod test-action)
        verb="CREATE",
        attempt=1,
        seat=SeatOrder(number=number, username=username),
        registration=None,
        workshop=workshop_flags(Content(current.content.paths), workshop),
    )
    verbs = build_verbs(current)
    try:
        outcome = verbs.run(job)
        if outcome.ok and not current.backend.prespawn:
            verbs.hub.start_server(username)
    finally:
        close_hub = getattr(verbs.hub, "close", None)
        if close_hub is not None:
            close_hub()
    return outcome
