"""``wod workshops``: check and import content."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from wod.cli.common import console, context, edge, err, settings
from wod.content.check import CheckReport, check_content, check_sources, sources_for_paths
from wod.content.layers import Content
from wod.errors import ContentError, ContentProblem
from wod.services.catalogue.importer import Action, ImportPlan, import_content

app = typer.Typer(help="Workshop content.", no_args_is_help=True)


def print_problems(problems: list[ContentProblem]) -> None:
    for problem in problems:
        style = "yellow" if problem.warning else "red"
        err.print(f"[{style}]{problem}[/{style}]", highlight=False)


@app.command("check")
@edge
def check(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Workshop folders or content folders; default: the content layers."),
    ] = None,
    strict: Annotated[bool, typer.Option(help="Fail on warnings too.")] = False,
) -> None:
    """List every problem as `file: field: message`; exit 1 when there is an error."""
    current = settings()
    if paths:
        missing = [p for p in paths if not p.exists()]
        report = check_sources(sources_for_paths([p for p in paths if p.exists()]), current)
        report.problems.extend(ContentProblem(str(p), "path", "does not exist") for p in missing)
    else:
        report = check_content(Content(current.content.paths), current)
    print_problems(report.problems)
    _summary(report)
    if report.errors or (strict and report.warnings):
        sys.exit(1)


def _summary(report: CheckReport) -> None:
    ok = sum(1 for w in report.workshops.values() if w.ok)
    console.print(
        f"{len(report.workshops)} workshop(s), {ok} without errors; "
        f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
    )


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "…"


def print_plan(plan: ImportPlan) -> None:
    marks = {
        Action.add: "+",
        Action.update: "~",
        Action.deactivate: "-",
        Action.unchanged: "=",
        Action.skipped: "!",
    }
    for item in plan.workshops:
        note = " (has errors: left as it is)" if item.action is Action.skipped else ""
        console.print(
            f"{marks[item.action]} {item.slug}: {item.action.value}{note}", highlight=False
        )
        for change in item.changes:
            console.print(
                f"    {change.field}: {_show(change.old)} → {_show(change.new)}", highlight=False
            )


@app.command("import")
@edge
def import_(
    apply: Annotated[bool, typer.Option("--apply", help="Write the changes.")] = False,
) -> None:
    """Show what importing the content layers would change; --apply writes it."""
    outcome = import_content(context(), apply=apply)
    print_problems(outcome.plan.problems)
    print_plan(outcome.plan)
    if outcome.applied:
        console.print("applied")
    elif outcome.plan.has_changes:
        console.print("dry run: nothing written (use --apply)")
    else:
        console.print("nothing to change")
    if outcome.report.errors:
        sys.exit(1)


@app.command("list")
@edge
def list_() -> None:
    """Workshops in the database with their seats left."""
    from wod.services.catalogue import catalogue

    for view in catalogue(context()):
        w = view.workshop
        console.print(
            f"{w.slug:30} {w.seat_min}-{w.seat_max:<6} {view.seats_left:>3} left  {w.name}",
            highlight=False,
        )


@app.command("render")
@edge
def render(
    workshop: Annotated[str, typer.Argument(help="Workshop folder, e.g. WKSHP-Python101.")],
    seat: Annotated[int, typer.Option(help="The seat number to render for.")],
    out: Annotated[Path, typer.Option(help="Folder to write the seat's copy into.")],
    content: Annotated[
        list[Path] | None,
        typer.Option(help="Content layer (repeat: public first); default content.paths."),
    ] = None,
) -> None:
    """Write what a seat would receive, listing every template error."""
    from wod.backend.orders import workshop_flags
    from wod.content.check import SAMPLE_PASSWORD
    from wod.content.render import render_workshop
    from wod.content.variables import content_folder_name, seat_context, seat_variables

    current = settings()
    layers = Content(content or current.content.paths)
    flags = workshop_flags(layers, workshop)
    folder = content_folder_name(workshop)
    source = layers.workshop(folder)
    if source is None:
        raise ContentError(
            [ContentProblem(workshop, "folder", f"{folder} is not in the content layers")]
        )
    ctx = seat_context(
        layers,
        workshop,
        seat,
        SAMPLE_PASSWORD,
        seat_min=flags.seat_min,
        monoappliance=flags.monoappliance,
        multiappliance=flags.multiappliance,
    )
    variables = seat_variables(current, ctx, expose_password=flags.varpass or flags.ldap)
    files = render_workshop(source.folder, variables, current.content.template_patterns, folder)
    target = out / folder
    for item in files:
        dest = target / item.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(item.content if item.content is not None else item.source.read_bytes())
    console.print(f"{len(files)} files written to {target} for seat {seat}")
