"""Validation of workshop content: every problem, as ``file: field: message``.

Checks each folder (mandatory files, ``wod.yml``, notebooks), renders each workshop for a
sample seat so that template errors surface before a participant meets them, and checks
the workshops against each other (seat ranges that overlap on a location) — or, for folders
checked as part of the content layers, against the layers' other workshops.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wod.content.layers import Content, WorkshopSource, is_workshop_folder
from wod.content.outline import notebook_outline
from wod.content.render import render_workshop
from wod.content.variables import content_folder_name, seat_context, seat_variables
from wod.content.wodyml import WodYml, parse_wod_yml
from wod.errors import ContentError, ContentProblem
from wod.settings import Settings

MANDATORY_FILES = ("wod.yml", "0-ReadMeFirst.ipynb")
EXPECTED_FILES = ("README.md", "LICENSE.md")
SAMPLE_PASSWORD = "SamplePassw0rd"  # noqa: S105 - rendered into the check's throwaway copy only


@dataclass
class CheckedWorkshop:
    source: WorkshopSource
    spec: WodYml | None
    problems: list[ContentProblem] = field(default_factory=list)
    #: the lab notebooks' titles (:func:`wod.content.outline.notebook_outline`)
    outline: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.spec is not None and not any(not p.warning for p in self.problems)


@dataclass
class CheckReport:
    workshops: dict[str, CheckedWorkshop]
    problems: list[ContentProblem]
    #: how many other workshops of the content layers the ranges were compared with, when
    #: the workshops were checked as part of the layers (:func:`check_in_content`)
    compared: int | None = None

    @property
    def errors(self) -> list[ContentProblem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[ContentProblem]:
        return [p for p in self.problems if p.warning]


def check_workshop(
    source: WorkshopSource,
    settings: Settings,
    *,
    render: bool = True,
    content: Content | None = None,
) -> CheckedWorkshop:
    """Every problem of one workshop folder. A challenge folder ``CHLG-X`` may hold only its
    ``wod.yml``: it is played from ``WKSHP-X``."""
    layers = content or Content([source.layer.path])
    folder = source.folder
    twin = None
    if source.slug.startswith("CHLG"):
        twin = layers.workshop(content_folder_name(source.slug))
    files_folder = twin.folder if twin is not None else folder
    problems: list[ContentProblem] = []
    if source.slug.startswith("CHLG") and twin is None:
        problems.append(
            ContentProblem(
                str(folder),
                "folder",
                f"a challenge is played from {content_folder_name(source.slug)}, which is missing",
            )
        )
    for name in MANDATORY_FILES:
        where = folder if name == "wod.yml" else files_folder
        if not (where / name).is_file():
            problems.append(ContentProblem(str(where / name), "file", "mandatory file is missing"))
    for name in EXPECTED_FILES:
        if not (files_folder / name).is_file():
            problems.append(
                ContentProblem(
                    str(files_folder / name), "file", "expected file is missing", warning=True
                )
            )
    spec = None
    if (folder / "wod.yml").is_file():
        spec, found = parse_wod_yml(folder / "wod.yml")
        problems.extend(found)
    problems.extend(_check_notebooks(files_folder, settings.hub.kernels))
    if render and spec is not None and spec.seat_range is not None:
        problems.extend(_check_rendering(source, files_folder, spec, settings, layers))
    return CheckedWorkshop(source, spec, problems, notebook_outline(files_folder))


def _check_notebooks(folder: Path, kernels: Sequence[str]) -> list[ContentProblem]:
    problems = []
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        try:
            notebook = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue  # may be valid only once rendered; the rendering check decides
        metadata = notebook.get("metadata", {}) if isinstance(notebook, dict) else {}
        spec = metadata.get("kernelspec") if isinstance(metadata, dict) else None
        if not isinstance(spec, dict):
            message = "no kernel named: JupyterLab will stop on a 'Select Kernel' dialog"
        elif spec.get("name") not in kernels:
            message = (
                f"asks for the kernel {spec.get('name')!r}, which the seats lack "
                f"(hub.kernels: {', '.join(kernels)})"
            )
        else:
            continue
        problems.append(ContentProblem(str(path), "kernelspec", message, warning=True))
    return problems


def _check_rendering(
    source: WorkshopSource, files: Path, spec: WodYml, settings: Settings, content: Content
) -> list[ContentProblem]:
    assert spec.seat_range is not None
    try:
        ctx = seat_context(
            content,
            source.slug,
            spec.seat_range[0],
            SAMPLE_PASSWORD,
            seat_min=spec.seat_range[0],
            monoappliance=spec.monoappliance,
            multiappliance=spec.multiappliance,
        )
        variables = seat_variables(settings, ctx, expose_password=spec.varpass or spec.ldap)
        render_workshop(files, variables, settings.content.template_patterns, str(files))
    except ContentError as exc:  # template errors included
        return exc.problems
    return []


def check_overlaps(workshops: Iterable[CheckedWorkshop]) -> list[ContentProblem]:
    """Seat ranges of workshops that may share a location must not overlap: an error between
    two active workshops, a warning when one of them is inactive (it gets no seat until it is
    activated, and then the overlap is an error). Each problem names the later workshop's
    ``wod.yml`` (the one an import refuses) and the other workshop."""
    problems: list[ContentProblem] = []
    placed: list[CheckedWorkshop] = []
    for item in workshops:
        problems.extend(p for other in placed if (p := overlap(item, other)) is not None)
        if item.spec is not None and item.spec.seat_range is not None:
            placed.append(item)
    return problems


def overlap(item: CheckedWorkshop, other: CheckedWorkshop) -> ContentProblem | None:
    """The problem of ``item``'s range overlapping ``other``'s on a location they may share,
    reported on ``item``'s ``wod.yml``; None when they cannot collide."""
    one, two = item.spec, other.spec
    if one is None or two is None or one.seat_range is None or two.seat_range is None:
        return None
    (a, b), (c, d) = one.seat_range, two.seat_range
    if not (a <= d and c <= b) or not _may_share(one, two):
        return None
    message = f"[{a}, {b}] overlaps [{c}, {d}] of {other.source.slug}"
    inactive = [w.source.slug for w in (item, other) if w.spec is not None and not w.spec.active]
    if inactive:
        # Seats are only ever given for active workshops: the two cannot be live together.
        message += f"; allowed while {' or '.join(sorted(inactive))} stays inactive"
    path = item.source.folder / "wod.yml"
    return ContentProblem(str(path), "range", message, _key_line(path, "range"), bool(inactive))


def _key_line(path: Path, key: str) -> int | None:
    """The line of ``key:`` in a YAML file, for problems found after parsing."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    pattern = re.compile(rf"{re.escape(key)}\s*:")
    return next((n for n, line in enumerate(lines, start=1) if pattern.match(line)), None)


def _may_share(one: WodYml, other: WodYml) -> bool:
    first = {one.location, *one.alternate_locations}
    second = {other.location, *other.alternate_locations}
    return bool(first & second) or one.location is None or other.location is None


def sources_for_paths(paths: Sequence[Path]) -> list[WorkshopSource]:
    """Workshops named by ``paths``: workshop folders themselves, or content folders (layers)."""
    direct = [p for p in paths if is_workshop_folder(p) or (p / "wod.yml").exists()]
    layers = [p for p in paths if p not in direct]
    sources = list(Content(layers).workshops().values())
    for p in direct:
        layer = Content([p.parent]).layers[0]
        sources.append(WorkshopSource(p.name, p, layer))
    return sources


def check_sources(
    sources: Sequence[WorkshopSource],
    settings: Settings,
    *,
    render: bool = True,
    content: Content | None = None,
) -> CheckReport:
    """Check each workshop, then the workshops against each other."""
    checked = {s.slug: check_workshop(s, settings, render=render, content=content) for s in sources}
    problems = [p for item in checked.values() for p in item.problems]
    overlaps = check_overlaps(checked.values())
    for problem in overlaps:
        slug = Path(problem.file).parent.name
        checked[slug].problems.append(problem)
    problems.extend(overlaps)
    return CheckReport(checked, problems)


def check_content(content: Content, settings: Settings, *, render: bool = True) -> CheckReport:
    report = check_sources(
        list(content.workshops().values()), settings, render=render, content=content
    )
    for missing in content.missing_layers():
        report.problems.append(ContentProblem(str(missing), "layer", "content folder not found"))
    return report


def in_content(paths: Sequence[Path], content: Content) -> bool:
    """Whether one of ``paths`` is a content layer of ``content`` or a folder right inside
    one: such a folder is checked as part of the layers."""
    layers = {layer.path.resolve() for layer in content.layers}
    return any(p.resolve() in layers or p.resolve().parent in layers for p in paths)


def check_in_content(
    sources: Sequence[WorkshopSource], settings: Settings, content: Content
) -> CheckReport:
    """Check ``sources`` as part of ``content``: rendered with the variables files of its
    layers, and their ranges compared with those of its other workshops as well as with each
    other. A given folder stands in for the content's workshop of the same name (it is the
    new version of it); the other workshops' own problems are not reported."""
    extra = [s.layer.path for s in sources]
    known = {layer.path.resolve() for layer in content.layers}
    paths = [layer.path for layer in content.layers]
    paths += [p for p in dict.fromkeys(extra) if p.resolve() not in known]
    report = check_sources(sources, settings, content=Content(paths))
    given = {s.slug for s in sources}
    others = [
        CheckedWorkshop(source, parse_wod_yml(source.folder / "wod.yml")[0])
        for slug, source in content.workshops().items()
        if slug not in given and (source.folder / "wod.yml").is_file()
    ]
    for item in report.workshops.values():
        for other in others:
            problem = overlap(item, other)
            if problem is not None:
                item.problems.append(problem)
                report.problems.append(problem)
    for missing in content.missing_layers():
        report.problems.append(ContentProblem(str(missing), "layer", "content folder not found"))
    report.compared = len(others)
    return report
