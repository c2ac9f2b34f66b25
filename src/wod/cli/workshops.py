"""``wod workshops``: write, check, preview, list and import content."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from wod.cli.common import console, context, edge, err, settings
from wod.cli.preview import preview
from wod.content.annotations import github_annotation
from wod.content.check import (
    CheckReport,
    check_content,
    check_in_content,
    check_sources,
    in_content,
    sources_for_paths,
)
from wod.content.layers import Content, WorkshopSource
from wod.content.scaffold import (
    DEFAULT_SEATS,
    NewWorkshop,
    check_slug,
    choose_kernel,
    create_workshop,
    display_name,
    free_range,
    next_priority,
    taken_ranges,
)
from wod.errors import ContentError, ContentProblem, FieldProblem, InvalidInput
from wod.services.catalogue.importer import Action, ImportPlan, import_content

app = typer.Typer(help="Workshop content.", no_args_is_help=True)


def print_problems(problems: list[ContentProblem]) -> None:
    for problem in problems:
        style = "yellow" if problem.warning else "red"
        err.print(f"[{style}]{problem}[/{style}]", highlight=False)


class OutputFormat(StrEnum):
    """How ``wod workshops check`` prints the problems."""

    text = "text"  # file[:line]: field: message, on stderr
    github = "github"  # GitHub Actions workflow commands, on stdout: the CI marks the lines


@app.command("check")
@edge
def check(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Workshop folders or content folders; default: the content layers."),
    ] = None,
    strict: Annotated[bool, typer.Option(help="Fail on warnings too.")] = False,
    against_layers: Annotated[
        bool | None,
        typer.Option(
            "--against-layers/--alone",
            help="Compare the given folders' seat ranges with the other workshops of the "
            "content layers, or only with each other. Default: against the layers when a path "
            "is a content layer or a folder right inside one.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", help="text: file:line: field: message; github: workflow annotations."
        ),
    ] = OutputFormat.text,
) -> None:
    """List every problem as `file: field: message`; exit 1 when there is an error."""
    current = settings()
    layers = Content(current.content.paths)
    if paths:
        existing = [p for p in paths if p.exists()]
        sources = sources_for_paths(existing)
        against = in_content(existing, layers) if against_layers is None else against_layers
        if against:
            report = check_in_content(sources, current, layers)
        else:
            report = check_sources(sources, current)
        missing = [p for p in paths if not p.exists()]
        report.problems.extend(ContentProblem(str(p), "path", "does not exist") for p in missing)
    else:
        report = check_content(layers, current)
    if output_format is OutputFormat.github:
        for problem in report.problems:
            print(github_annotation(problem, Path.cwd()))  # plain: nothing may wrap or colour it
    else:
        print_problems(report.problems)
    if report.compared is not None:
        console.print(
            f"seat ranges compared with the {report.compared} other workshop(s) "
            "of the content layers"
        )
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


@app.command("new")
@edge
def new(
    slug: Annotated[
        str,
        typer.Argument(
            metavar="WKSHP-NAME", help="Folder name: WKSHP- then letters, digits, - or _."
        ),
    ],
    into: Annotated[
        Path | None,
        typer.Option(help="Content folder to create it in; default: the last content layer."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Display name; default: made from the folder name.")
    ] = None,
    presenter: Annotated[str, typer.Option(help="Presenter's name.")] = "",
    role: Annotated[str, typer.Option(help="Presenter's role.")] = "",
    duration: Annotated[int, typer.Option(min=1, help="Length of a session in hours.")] = 2,
    seats: Annotated[
        int, typer.Option(min=1, help="How many seats; the range is chosen free.")
    ] = DEFAULT_SEATS,
    kernel: Annotated[
        str | None,
        typer.Option(help="Kernel of the notebooks, one of hub.kernels; default: the first."),
    ] = None,
    active: Annotated[
        bool, typer.Option(help="Publish it on the next import (active: true).")
    ] = False,
) -> None:
    """Scaffold a workshop folder that `wod workshops check` passes with no error nor warning."""
    check_slug(slug)
    current = settings()
    configured = list(current.content.paths)
    target = into if into is not None else configured[-1]
    if into is None and not target.is_dir():
        raise ContentError(
            [ContentProblem(str(target), "layer", "content folder not found (use --into PATH)")]
        )
    chosen_kernel = choose_kernel(kernel, current.hub.kernels)
    in_layers = target.resolve() in {p.resolve() for p in configured}
    # Every layer's ranges count, and those of the target folder when it is not a layer yet.
    content = Content(configured if in_layers else [*configured, target])
    shadowed = content.workshop(slug)
    workshop = NewWorkshop(
        slug=slug,
        name=name or display_name(slug),
        presenter=presenter,
        role=role,
        duration=duration,
        seat_range=free_range(taken_ranges(content), seats),
        kernel=chosen_kernel,
        priority=next_priority(content),
        active=active,
    )
    written = create_workshop(target, workshop)
    _print_created(workshop, written, shadowed, target if not in_layers else None)


def _print_created(
    workshop: NewWorkshop,
    written: list[Path],
    shadowed: WorkshopSource | None,
    outside: Path | None,
) -> None:
    """What ``wod workshops new`` made, and what to do next (``outside``: the folder it went
    into when that is not a content layer)."""
    folder = written[0].parent
    low, high = workshop.seat_range
    state = "active" if workshop.active else "inactive (set active: true to publish it)"
    console.print(
        f"created {folder}: seats {low}-{high}, kernel {workshop.kernel}, {state}",
        highlight=False,
    )
    for path in written:
        console.print(f"  {path.name}", highlight=False)
    if shadowed is not None and shadowed.folder.resolve() != folder.resolve():
        console.print(
            f"[yellow]note:[/yellow] {shadowed.folder} has the same name: the later layer wins",
            highlight=False,
        )
    console.print(
        f"next: edit the notebooks, then\n  wod workshops check {folder}", highlight=False
    )
    if outside is None:
        console.print(
            f"  wod workshops preview {workshop.slug}    (with wod up running)", highlight=False
        )
    else:
        console.print(
            f"  (add {outside} to content.paths to preview and import it)", highlight=False
        )


@app.command("catalogue")
@edge
def catalogue_(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The README table of the workshops, in Markdown.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            help="File to write the table into, between its markers (appended when it has "
            "none); default: standard output."
        ),
    ] = None,
    layers: Annotated[
        list[Path] | None,
        typer.Option(
            "--layers", help="Content folder to list (repeat, public first); default content.paths."
        ),
    ] = None,
    check_only: Annotated[
        bool,
        typer.Option(
            "--check", help="With --output: write nothing, exit 1 when the table is not current."
        ),
    ] = False,
) -> None:
    """The workshops of the content layers: name, folder, duration, presenter, categories,
    active; with --markdown, the README table of a content repository."""
    from wod.content.readme import markdown_block, read_rows, with_block

    content = Content(layers or settings().content.paths)
    missing = content.missing_layers()
    if missing:
        raise ContentError(
            [ContentProblem(str(path), "layer", "content folder not found") for path in missing]
        )
    if check_only and (output is None or not markdown):
        raise InvalidInput([FieldProblem("check", "--check needs --markdown and --output FILE")])
    rows, problems = read_rows(content)
    print_problems(problems)
    if problems:
        err.print(f"{len(problems)} problem(s): those workshops are left out", highlight=False)
    if not markdown:
        for row in rows:
            spec = row.spec
            state = "active" if spec.active else "inactive"
            console.print(
                f"{row.folder.name:30} {spec.duration:>2} h  {state:8}  {spec.name}",
                highlight=False,
            )
        return
    base = output.parent if output is not None else Path.cwd()
    block = markdown_block(rows, base)
    if output is None:
        print(block, end="")  # plain: the Markdown as it is
        return
    before = output.read_text(encoding="utf-8") if output.exists() else None
    after = with_block(before, block)
    if check_only:
        if after != before:
            err.print(
                f"{output}: the workshops table is not current: run "
                f"`wod workshops catalogue --markdown --output {output}`",
                highlight=False,
            )
            sys.exit(1)
        console.print(f"{output}: the workshops table is current ({len(rows)} workshop(s))")
        return
    if after == before:
        console.print(f"{output}: already current ({len(rows)} workshop(s))", highlight=False)
        return
    output.write_text(after, encoding="utf-8")
    console.print(f"{output}: table of {len(rows)} workshop(s) written", highlight=False)


app.command("preview")(preview)
