"""Validation of workshop content: every problem, as ``file: field: message``.

Checks each folder (mandatory files, ``wod.yml``, notebooks), renders each workshop for a
sample seat so that template errors surface before a participant meets them, and checks
the workshops against each other (seat ranges that overlap on a location).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wod.content.layers import Content, WorkshopSource, is_workshop_folder
from wod.content.render import render_workshop
from wod.content.variables import SeatContext, seat_variables
from wod.content.wodyml import WodYml, parse_wod_yml
from wod.errors import ContentProblem, TemplateError
from wod.settings import Settings

MANDATORY_FILES = ("wod.yml", "0-ReadMeFirst.ipynb")
EXPECTED_FILES = ("README.md", "LICENSE.md")
SAMPLE_PASSWORD = "SamplePassw0rd"  # noqa: S105 - rendered into the check's throwaway copy only


@dataclass
class CheckedWorkshop:
    source: WorkshopSource
    spec: WodYml | None
    problems: list[ContentProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.spec is not None and not any(not p.warning for p in self.problems)


@dataclass
class CheckReport:
    workshops: dict[str, CheckedWorkshop]
    problems: list[ContentProblem]

    @property
    def errors(self) -> list[ContentProblem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[ContentProblem]:
        return [p for p in self.problems if p.warning]


def check_workshop(
    source: WorkshopSource, settings: Settings, *, render: bool = True
) -> CheckedWorkshop:
    """Every problem of one workshop folder."""
    folder = source.folder
    problems: list[ContentProblem] = []
    for name in MANDATORY_FILES:
        if not (folder / name).is_file():
            problems.append(ContentProblem(str(folder / name), "file", "mandatory file is missing"))
    for name in EXPECTED_FILES:
        if not (folder / name).is_file():
            problems.append(
                ContentProblem(str(folder / name), "file", "expected file is missing", warning=True)
            )
    spec = None
    if (folder / "wod.yml").is_file():
        spec, found = parse_wod_yml(folder / "wod.yml")
        problems.extend(found)
    problems.extend(_check_notebooks(folder))
    if render and spec is not None and spec.seat_range is not None:
        problems.extend(_check_rendering(source, spec, settings))
    return CheckedWorkshop(source, spec, problems)


def _check_notebooks(folder: Path) -> list[ContentProblem]:
    problems = []
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        try:
            notebook = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue  # may be valid only once rendered; the rendering check decides
        metadata = notebook.get("metadata", {}) if isinstance(notebook, dict) else {}
        if not isinstance(metadata, dict) or "kernelspec" not in metadata:
            problems.append(
                ContentProblem(
                    str(path),
                    "kernelspec",
                    "no kernel named: JupyterLab will stop on a 'Select Kernel' dialog",
                    warning=True,
                )
            )
    return problems


def _check_rendering(
    source: WorkshopSource, spec: WodYml, settings: Settings
) -> list[ContentProblem]:
    assert spec.seat_range is not None
    ctx = SeatContext(source.slug, spec.seat_range[0], SAMPLE_PASSWORD)
    variables = seat_variables(settings, ctx, expose_password=spec.varpass or spec.ldap)
    try:
        render_workshop(
            source.folder, variables, settings.content.template_patterns, str(source.folder)
        )
    except TemplateError as exc:
        return exc.problems
    return []


def check_overlaps(workshops: Iterable[CheckedWorkshop]) -> list[ContentProblem]:
    """Seat ranges of workshops that may share a location must not overlap."""
    problems = []
    placed: list[CheckedWorkshop] = []
    for item in workshops:
        spec = item.spec
        if spec is None or spec.seat_range is None:
            continue
        for other in placed:
            assert other.spec is not None and other.spec.seat_range is not None
            if not _may_share(spec, other.spec):
                continue
            (a, b), (c, d) = spec.seat_range, other.spec.seat_range
            if a <= d and c <= b:
                problems.append(
                    ContentProblem(
                        str(item.source.folder / "wod.yml"),
                        "range",
                        f"[{a}, {b}] overlaps [{c}, {d}] of {other.source.slug}",
                    )
                )
        placed.append(item)
    return problems


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
    sources: Sequence[WorkshopSource], settings: Settings, *, render: bool = True
) -> CheckReport:
    """Check each workshop, then the workshops against each other."""
    checked = {s.slug: check_workshop(s, settings, render=render) for s in sources}
    problems = [p for item in checked.values() for p in item.problems]
    overlaps = check_overlaps(checked.values())
    for problem in overlaps:
        slug = Path(problem.file).parent.name
        checked[slug].problems.append(problem)
    problems.extend(overlaps)
    return CheckReport(checked, problems)


def check_content(content: Content, settings: Settings, *, render: bool = True) -> CheckReport:
    report = check_sources(list(content.workshops().values()), settings, render=render)
    for missing in content.missing_layers():
        report.problems.append(ContentProblem(str(missing), "layer", "content folder not found"))
    return report
