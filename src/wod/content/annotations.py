"""Content problems as GitHub Actions workflow commands, so that a content repository's CI
marks the lines (``::error file=PATH,line=N,title=FIELD::MESSAGE``).

The syntax and its escaping are GitHub's: in the message ``%``, CR and LF are escaped; in the
properties also ``:`` and ``,``, which separate them.
"""

from __future__ import annotations

from pathlib import Path

from wod.errors import ContentProblem


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def relative_path(file: str, base: Path) -> str:
    """``file`` relative to ``base`` (GitHub matches annotations to the repository's paths),
    or as it is when it lies outside ``base``."""
    try:
        return (base / file).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return file


def github_annotation(problem: ContentProblem, base: Path) -> str:
    """One workflow command: ``::error …`` or ``::warning …``, the file relative to ``base``."""
    kind = "warning" if problem.warning else "error"
    properties = [f"file={_escape_property(relative_path(problem.file, base))}"]
    if problem.line:
        properties.append(f"line={problem.line}")
    properties.append(f"title={_escape_property(problem.field)}")
    return f"::{kind} {','.join(properties)}::{_escape_data(problem.message)}"
