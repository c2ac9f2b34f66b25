"""Personalisation: a workshop folder rendered for one seat (ARCHITECTURE §7.3).

Files matching the template patterns are rendered with Jinja2 over their raw text, as the
original platform did, so notebooks written for it work unchanged; other files are copied.
An undefined variable is an error naming the file, the line and the variable, and every such
error of the workshop is reported at once. Rendering is pure: it returns the files to write.
"""

from __future__ import annotations

import contextvars
import fnmatch
import json
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
import nbformat

from wod.errors import ContentProblem, TemplateError

SKIPPED_DIRS = frozenset({".ipynb_checkpoints", ".git", "__pycache__"})
SKIPPED_FILES = frozenset({"wod.yml"})
#: The ``field`` of the problems that are not an undefined variable (whose field is its name).
_OTHER_FIELDS = frozenset({"template", "notebook"})

_problems: contextvars.ContextVar[list[ContentProblem] | None] = contextvars.ContextVar(
    "wod_render_problems", default=None
)
_current_file: contextvars.ContextVar[str] = contextvars.ContextVar("wod_render_file", default="")


@dataclass(frozen=True)
class RenderedFile:
    """One file of a seat's copy: rendered text, or ``None`` to copy ``source`` as it is."""

    path: PurePosixPath
    source: Path
    content: bytes | None


class _ReportingUndefined(jinja2.Undefined):
    """Reports every use of an undefined variable, with its template line, and renders blank."""

    __slots__ = ()

    def _report(self) -> None:
        problems = _problems.get()
        if problems is None:  # used outside render_workshop: behave strictly
            raise jinja2.UndefinedError(self._undefined_message)
        line = _template_line()
        problem = ContentProblem(
            _current_file.get(), _variable_name(self), self._undefined_message, line
        )
        if problem not in problems:
            problems.append(problem)

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        self._report()
        return self

    def __str__(self) -> str:
        self._report()
        return ""

    def __iter__(self) -> Iterator[Any]:
        self._report()
        return iter(())

    def __bool__(self) -> bool:
        self._report()
        return False

    def __len__(self) -> int:
        self._report()
        return 0


def _variable_name(undefined: jinja2.Undefined) -> str:
    name = undefined._undefined_name
    return str(name) if name is not None else "?"


def _template_line() -> int | None:
    frame = sys._getframe(1)
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        if template is not None:
            return int(template.get_corresponding_lineno(frame.f_lineno))
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _json_string(value: Any) -> Any:
    """A value as it must appear inside a JSON string (quotes, backslashes, newlines escaped)."""
    if isinstance(value, jinja2.Undefined):
        return value
    return json.dumps(str(value), ensure_ascii=False)[1:-1]


def make_environment(*, json_strings: bool = False) -> jinja2.Environment:
    """The Jinja2 environment of workshop files: raw text, Ansible-like whitespace rules.

    With ``json_strings`` (notebooks), every ``{{ value }}`` is escaped for the JSON string it
    stands in, so a value holding a quote or a newline cannot break the notebook."""
    return jinja2.Environment(
        undefined=_ReportingUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - notebooks and scripts, not HTML
        finalize=_json_string if json_strings else None,
    )


def is_template(relpath: PurePosixPath, patterns: Sequence[str]) -> bool:
    name = relpath.name
    if name.endswith("-checkpoint.ipynb"):
        return False
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def workshop_files(folder: Path) -> list[PurePosixPath]:
    """Every file of a workshop folder that goes to a seat, as sorted relative paths."""
    files = []
    for path in sorted(folder.rglob("*")):
        rel = PurePosixPath(path.relative_to(folder).as_posix())
        if any(part in SKIPPED_DIRS for part in rel.parts) or rel.name in SKIPPED_FILES:
            continue
        if path.is_file():
            files.append(rel)
    return files


def render_text(
    env: jinja2.Environment, text: str, variables: Mapping[str, Any], label: str
) -> tuple[str, list[ContentProblem]]:
    """Render one template text; the problems found (syntax errors, undefined variables)."""
    problems: list[ContentProblem] = []
    token = _problems.set(problems)
    file_token = _current_file.set(label)
    try:
        template = env.from_string(text)
        rendered = template.render(variables)
    except jinja2.TemplateSyntaxError as exc:
        problems.append(
            ContentProblem(label, "template", f"syntax error: {exc.message}", exc.lineno)
        )
        rendered = ""
    except jinja2.TemplateError as exc:
        problems.append(ContentProblem(label, "template", str(exc), _template_line_of(exc)))
        rendered = ""
    finally:
        _problems.reset(token)
        _current_file.reset(file_token)
    return rendered, problems


def _template_line_of(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            line = int(template.get_corresponding_lineno(tb.tb_lineno))
        tb = tb.tb_next
    return line


def validate_notebook(text: str, label: str) -> list[ContentProblem]:
    """Problems that keep a rendered notebook from being a valid nbformat document."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=nbformat.NO_CONVERT)  # type: ignore[no-untyped-call]
            nbformat.validate(notebook)
    except Exception as exc:  # nbformat raises JSON, validation and reader errors alike
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [ContentProblem(label, "notebook", f"not a valid notebook after rendering: {first}")]
    return []


def undefined_names(problems: Sequence[ContentProblem]) -> list[str] | None:
    """The variables ``problems`` name when each of them is an undefined variable (one that a
    ``create`` hook may still hand back); None when any is another error (syntax, a notebook
    broken by its template)."""
    if any(p.field in _OTHER_FIELDS for p in problems):
        return None
    return sorted({p.field for p in problems})


def render_workshop(
    folder: Path,
    variables: Mapping[str, Any],
    patterns: Sequence[str],
    label: str | None = None,
) -> list[RenderedFile]:
    """Every file a seat receives from ``folder``; raises :class:`TemplateError` with all errors."""
    envs = {False: make_environment(), True: make_environment(json_strings=True)}
    prefix = label or str(folder)
    rendered: list[RenderedFile] = []
    problems: list[ContentProblem] = []
    for rel in workshop_files(folder):
        source = folder / rel
        if not is_template(rel, patterns):
            rendered.append(RenderedFile(rel, source, None))
            continue
        file_label = f"{prefix}/{rel}"
        try:
            raw = source.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(ContentProblem(file_label, "template", "not UTF-8 text"))
            continue
        text, found = render_text(envs[rel.suffix == ".ipynb"], raw, variables, file_label)
        if not found and rel.suffix == ".ipynb":
            found = validate_notebook(text, file_label)
        problems.extend(found)
        rendered.append(RenderedFile(rel, source, text.encode("utf-8")))
    if problems:
        raise TemplateError(problems)
    return rendered
