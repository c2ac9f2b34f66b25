"""A new workshop folder (``wod workshops new``) that ``wod workshops check`` passes with no
error and no warning: a commented ``wod.yml`` with a free seat range, the welcome notebook, one
lab, a conclusion, ``README.md`` and ``LICENSE.md``.

The notebooks show the personalisation (``{{ STDID }}``, ``{{ WORKSHOP }}``, …) in their cells,
and ask for a kernel the seats have (``hub.kernels``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wod.content.layers import Content
from wod.content.wodyml import declared_range, parse_wod_yml
from wod.errors import FieldProblem, InvalidInput

SLUG = re.compile(r"WKSHP-[A-Za-z0-9_-]+")
DEFAULT_SEATS = 20
README_NOTEBOOK = "0-ReadMeFirst.ipynb"
LAB_NOTEBOOK = "1-WKSHP-First-Lab.ipynb"
CONCLUSION_NOTEBOOK = "2-WKSHP-Conclusion.ipynb"

#: The kernelspec and language of the kernels wod knows; another kernel of ``hub.kernels`` is
#: named as it is, and its notebooks get no code cell (their language is unknown here).
KERNELS: dict[str, dict[str, str]] = {
    "python3": {"display_name": "Python 3 (ipykernel)", "language": "python"},
    "bash": {"display_name": "Bash", "language": "bash"},
}

#: What the code cells of each known kernel run: (welcome cell, lab cells).
_CODE: dict[str, tuple[str, list[str]]] = {
    "python3": (
        "# wod wrote your seat number here: the notebook's source says "
        "seat = {% raw %}{{ STDID }}{% endraw %}\n"
        "seat = {{ STDID }}\n"
        "print(f'Hello student{seat}, welcome to {{ WORKSHOP }}!')",
        [
            "numbers = [3, 1, 2]\nsorted(numbers)",
            "# Your turn: change the list above, run both cells again\nsum(numbers)",
        ],
    ),
    "bash": (
        "# wod wrote your seat number here: the notebook's source says "
        "student{% raw %}{{ STDID }}{% endraw %}\n"
        'echo "Hello student{{ STDID }}, welcome to {{ WORKSHOP }}!"',
        [
            "# A notebook's commands run in its folder, {{ WORKSHOP }}\nls",
            "# Your turn: count the notebooks of the workshop\nls *.ipynb | wc -l",
        ],
    ),
}


@dataclass(frozen=True)
class NewWorkshop:
    """What the author chose (or the defaults) for a new workshop."""

    slug: str
    name: str
    presenter: str
    role: str
    duration: int
    seat_range: tuple[int, int]
    kernel: str
    priority: int
    active: bool = False

    @property
    def seats(self) -> int:
        return self.seat_range[1] - self.seat_range[0] + 1


def check_slug(slug: str) -> None:
    """Refuse a folder name that is not ``WKSHP-`` followed by letters, digits, ``-`` or ``_``."""
    if not SLUG.fullmatch(slug):
        raise InvalidInput(
            [
                FieldProblem(
                    "name",
                    f"{slug!r} is not a workshop folder name: WKSHP- followed by letters, "
                    "digits, '-' or '_' (e.g. WKSHP-MyTopic)",
                )
            ]
        )


def choose_kernel(kernel: str | None, kernels: Sequence[str]) -> str:
    """``kernel``, or the first of the seats' ``kernels``; refused when the seats lack it."""
    chosen = kernel or (kernels[0] if kernels else "python3")
    if chosen not in kernels:
        raise InvalidInput(
            [
                FieldProblem(
                    "kernel",
                    f"{chosen!r} is not a kernel of the seats (hub.kernels: {', '.join(kernels)})",
                )
            ]
        )
    return chosen


def display_name(slug: str) -> str:
    """A first display name from the folder name: ``WKSHP-MyTopic`` → ``My Topic``."""
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", slug.removeprefix("WKSHP-"))
    return " ".join(re.split(r"[-_\s]+", words)).strip()


def taken_ranges(content: Content) -> list[tuple[int, int]]:
    """The seat ranges the workshops of the layers declare (hidden ones too: a folder of a
    public layer may come back when the private one drops it), sorted."""
    ranges = []
    for source in content.workshops().values():
        for folder in (*source.hidden, source.folder):
            declared = declared_range(folder / "wod.yml")
            if declared is not None:
                ranges.append(declared)
    return sorted(ranges)


def free_range(taken: Iterable[tuple[int, int]], size: int) -> tuple[int, int]:
    """The lowest ``size`` seats that overlap none of ``taken``."""
    if size < 1:
        raise InvalidInput([FieldProblem("seats", f"must be at least 1, got {size}")])
    first = 1
    for low, high in sorted(taken):
        if first + size - 1 < low:
            break
        first = max(first, high + 1)
    return first, first + size - 1


def next_priority(content: Content) -> int:
    """One more than the highest ``priority`` of the layers: the new workshop comes last in
    the catalogue."""
    priorities = [
        spec.priority
        for source in content.workshops().values()
        if (spec := parse_wod_yml(source.folder / "wod.yml")[0]) is not None
    ]
    return max(priorities, default=0) + 1


def create_workshop(layer: Path, workshop: NewWorkshop) -> list[Path]:
    """Write the new folder into ``layer``; refused when the folder already exists. Returns
    the files written."""
    check_slug(workshop.slug)
    folder = layer / workshop.slug
    if folder.exists():
        raise InvalidInput(
            [FieldProblem("name", f"{folder} already exists: pick another name or remove it")]
        )
    files = workshop_files(workshop)
    folder.mkdir(parents=True)
    written = []
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written


def workshop_files(workshop: NewWorkshop) -> dict[str, str]:
    """Every file of the new folder, by name."""
    return {
        "wod.yml": wod_yml(workshop),
        README_NOTEBOOK: _notebook(_welcome_cells(workshop), workshop.kernel),
        LAB_NOTEBOOK: _notebook(_lab_cells(workshop), workshop.kernel),
        CONCLUSION_NOTEBOOK: _notebook(_conclusion_cells(workshop), workshop.kernel),
        "README.md": _readme(workshop),
        "LICENSE.md": LICENSE,
    }


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def wod_yml(workshop: NewWorkshop) -> str:
    """The commented descriptor: every field with what it means (docs/reference/wod-yml.md)."""
    low, high = workshop.seat_range
    slug = workshop.slug
    fields: list[tuple[str, str]] = [
        (
            "Display name in the portal, the api and the emails (required).",
            f"name: {_quoted(workshop.name)}",
        ),
        (
            "Description shown in the catalogue and the api.",
            f"description: {_quoted(f'What participants learn and do in {workshop.name}.')}",
        ),
        ("Categories of the catalogue (a list of text).", 'category: ["Open Source"]'),
        (
            "Length of a session in hours (whole number, at least 1), counted from the moment\n"
            "# the seat is ready.",
            f"duration: {workshop.duration}",
        ),
        (
            "Cover picture of the catalogue: a URL, a path starting with /, or a file name of a\n"
            "# layer's covers/ folder; empty: a cover drawn from the workshop's name.",
            'workshopImg: ""',
        ),
        (
            "Badge picture: a URL, a path starting with /, or a file name of a layer's badges/\n"
            "# folder; empty: a badge drawn from the workshop's name.",
            'badgeImg: ""',
        ),
        ("Presenter's name.", f"presenter: {_quoted(workshop.presenter)}"),
        ("Presenter's role.", f"role: {_quoted(workshop.role)}"),
        ("Presenter's picture (a URL).", 'avatar: ""'),
        (
            "Recording of the workshop (a URL), linked from its page and the emails.",
            'replayLink: ""',
        ),
        ("Replay number of the original platform (stored only); empty: none.", "replayId:"),
        (
            "Only active workshops are listed and can be booked: set true to publish it.",
            f"active: {'true' if workshop.active else 'false'}",
        ),
        (
            "Most registrations holding a seat at once, over all locations (at most the seats\n"
            "# of range).",
            f"capacity: {workshop.seats}",
        ),
        ("Catalogue order: lower first, then by name.", f"priority: {workshop.priority}"),
        (
            "Seat numbers of the workshop (studentFIRST … studentLAST) on every location it uses;\n"
            "# chosen free by `wod workshops new`: it must overlap no other workshop's range.",
            f"range: [{low}, {high}]",
        ),
        (
            "true: CLEANUP keeps the seat's home and a RESET job erases it afterwards.",
            "reset: false",
        ),
        (
            "true: the seat password is PASSSTU for the templates and is set in the hub host's\n"
            "# LDAP directory.",
            "ldap: false",
        ),
        ("true: the seat password is PASSSTU for the templates.", "varpass: false"),
        (
            "Scripts of the layers' scripts/ folders installed into the seat's workshop folder,\n"
            "# runnable but not readable (a list of names).",
            "compile: []",
        ),
        ("Marks the workshop as beta in the api.", "beta: false"),
        (
            "true: one appliance shared by the seats, WODRTARGET = IP-" + slug + " of the\n"
            "# variables files.",
            "monoappliance: false",
        ),
        (
            "true: one appliance per seat, WODRTARGET = IP-" + slug + " + seat - first seat\n"
            "# (not with monoappliance).",
            "multiappliance: false",
        ),
        (
            "The location (JupyterHub host) to use first; empty: every enabled location.",
            'location: ""',
        ),
        (
            "Locations to use next, in order, when location has no free seat.",
            "alternateLocation: []",
        ),
        (
            "true: a participant may extend a running session once (registration.extend_by).",
            "extendable: true",
        ),
        (
            "Seats kept built, with their server started, ahead of registrations: a participant\n"
            "# gets one at once (0: none; at most the capacity).",
            "warm: 0",
        ),
        (
            "Minutes without activity before the seat is given back (0: never); empty: the\n"
            "# platform's default (idle.timeout, for workshops of idle.min_duration or more).",
            "idle_timeout:",
        ),
        (
            "Each seat's limits in systemd mode, e.g. {memory: 2G, cpu: 1.0, tasks: 256};\n"
            "# empty: the location's (hub.seat_memory, hub.seat_cpu, hub.seat_tasks).",
            "limits: {}",
        ),
        (
            "What a participant will learn, one line each (the workshop page lists them).",
            "learn: []",
        ),
        (
            "What a participant should know or have before starting, one line each.",
            "prerequisites: []",
        ),
    ]
    lines = [
        "%YAML 1.1",
        "---",
        f"# The descriptor of {slug}: `wod workshops check` reads it, `wod workshops import`",
        "# stores it. Every field is explained in docs/reference/wod-yml.md of wod.",
        "",
    ]
    for comment, line in fields:
        lines += [f"# {comment}", line]
    return "\n".join(lines) + "\n"


def _source(text: str) -> list[str]:
    """A cell's source as nbformat stores it: lines keeping their newline."""
    return text.splitlines(keepends=True)


def _markdown(cell_id: str, text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": _source(text)}


def _code(cell_id: str, text: str) -> dict[str, Any]:
    # Stored without outputs nor execution count: a cell shipped executed never counts as done.
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": {},
        "outputs": [],
        "source": _source(text),
    }


def _notebook(cells: Sequence[dict[str, Any]], kernel: str) -> str:
    known = KERNELS.get(kernel, {"display_name": kernel, "language": kernel})
    metadata = {
        "kernelspec": {"name": kernel, **known},
        "language_info": {"name": known["language"]},
    }
    notebook = {"cells": list(cells), "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _welcome_cells(workshop: NewWorkshop) -> list[dict[str, Any]]:
    cells = [
        _markdown(
            "welcome",
            "![logo]({{ BRANDINGLOGO }})\n\n"
            "# Welcome to {{ BRANDINGWOD }}!\n\n"
            f"## {workshop.name}\n\n"
            "This hands-on workshop is offered by [{{ BRANDING }}]({{ BRANDINGURL }}).",
        ),
        _markdown(
            "who-you-are",
            "## Who you are\n\n"
            "For the whole session you own **seat {{ STDID }}**: you are logged in as "
            "**`student{{ STDID }}`**, and the notebooks of this workshop are in the folder "
            "`{{ WORKSHOP }}`.\n\n"
            "When your seat was prepared, every `{% raw %}{{ … }}{% endraw %}` of these "
            "notebooks was replaced by your own values.",
        ),
    ]
    code = _CODE.get(workshop.kernel)
    if code is not None:
        cells.append(_markdown("try-it", "Run the cell below with **Shift+Enter**:"))
        cells.append(_code("hello", code[0]))
    cells.append(
        _markdown(
            "plan",
            "## Lab plan\n\n"
            "| Step | Notebook |\n"
            "|---|---|\n"
            f"| 1 | [First lab]({LAB_NOTEBOOK}) |\n"
            f"| 2 | [Conclusion]({CONCLUSION_NOTEBOOK}) |\n\n"
            "When the time is up the seat is reset for the next participant and everything "
            "you did is erased: download what you want to keep (**File ▸ Download**).",
        )
    )
    return cells


def _lab_cells(workshop: NewWorkshop) -> list[dict[str, Any]]:
    cells = [
        _markdown(
            "intro",
            "# First lab\n\n"
            "Explain here what this lab is about, then alternate explanations and code cells "
            "that participants run in order.",
        )
    ]
    code = _CODE.get(workshop.kernel)
    for number, text in enumerate(code[1] if code else [], start=1):
        cells.append(_code(f"step-{number}", text))
    cells.append(
        _markdown("next", f"Well done! Go on with the [conclusion]({CONCLUSION_NOTEBOOK}).")
    )
    return cells


def _conclusion_cells(workshop: NewWorkshop) -> list[dict[str, Any]]:
    return [
        _markdown(
            "summary",
            "# Conclusion\n\n"
            f"You completed **{workshop.name}**, student{{{{ STDID }}}}. Summarise here what "
            "participants learnt and where to go next.",
        ),
        _markdown(
            "survey",
            "## Tell us what you think\n\n"
            "Please take a minute to answer [our survey]({{ SURVEYURL }}): it helps us make "
            "the workshops better.\n\n"
            "When you are done, log out with **File ▸ Log Out**.",
        ),
    ]


def _readme(workshop: NewWorkshop) -> str:
    return f"""# {workshop.name}

What participants learn and do in this workshop, for whom, and what they need (nothing but a
web browser, usually).

- **Duration:** {workshop.duration} hours
- **Kernel:** `{workshop.kernel}`

## Contents

| Notebook | Topic |
|---|---|
| `{README_NOTEBOOK}` | welcome, who the participant is, the lab plan |
| `{LAB_NOTEBOOK}` | the first lab |
| `{CONCLUSION_NOTEBOOK}` | summary, survey link, logging out |

## Notes for authors

- The notebooks are templates: when a seat is prepared, `{{{{ STDID }}}}` becomes the seat
  number, `{{{{ WORKSHOP }}}}` the folder name, and so on (the variables are listed in wod's
  docs/howto/add-a-workshop.md). Text that must stay as written goes in
  `{{% raw %}}…{{% endraw %}}`.
- Store code cells without outputs and execution counts: a cell shipped executed does not
  count towards completion.
- Check, then look at the seat's copy in JupyterLab:

  ```sh
  wod workshops check path/to/{workshop.slug}
  wod workshops preview {workshop.slug}      # with `wod up` running
  ```

## License

See [LICENSE.md](LICENSE.md).
"""


LICENSE = """# License

The notebooks, texts and pictures of this workshop are licensed under the **Creative Commons
Attribution-ShareAlike 4.0 International** license (CC BY-SA 4.0):
https://creativecommons.org/licenses/by-sa/4.0/

Replace this file if your workshop is published under another licence.
"""
