from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode

from tests.conftest import SAMPLE_CONTENT
from tests.factories import code, make_workshop, markdown, notebook
from wod.content.render import RenderedFile, render_workshop
from wod.content.variables import SeatContext, seat_variables
from wod.errors import TemplateError
from wod.settings import Settings

PATTERNS = Settings().content.template_patterns


def variables(slug: str, seat: int = 7, *, expose_password: bool = False) -> dict[str, object]:
    context = SeatContext(slug, seat, "Secr3tPassw0rd")
    return seat_variables(Settings(), context, expose_password=expose_password)


def read_notebook(text: str) -> NotebookNode:
    """``nbformat.reads`` at version 4, typed."""
    # nbformat.reads is unannotated (nbformat ships py.typed but leaves it untyped)
    node: NotebookNode = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]
    return node


@pytest.mark.parametrize("slug", ["WKSHP-Python101", "WKSHP-Shell101"])
def test_sample_workshops_render_into_valid_notebooks(slug: str) -> None:
    files = render_workshop(SAMPLE_CONTENT / slug, variables(slug), PATTERNS)
    rendered = {str(f.path): f for f in files}
    readme = rendered["0-ReadMeFirst.ipynb"].content
    assert readme is not None
    text = readme.decode()
    assert "student7" in text and "{{" not in text.replace("{{ name }}", "")
    for item in files:
        if item.path.suffix == ".ipynb":
            assert item.content is not None
            nbformat.validate(read_notebook(item.content.decode()))
    pictures = [f for f in files if f.path.suffix == ".png"]
    assert pictures and all(f.content is None for f in pictures)
    assert "wod.yml" not in rendered


def test_raw_blocks_reach_the_seat_unchanged() -> None:
    files = render_workshop(
        SAMPLE_CONTENT / "WKSHP-Python101", variables("WKSHP-Python101"), PATTERNS
    )
    texts = [f.content.decode() for f in files if f.content is not None]
    assert any("Dear {{ name }}" in t for t in texts)
    shell = render_workshop(
        SAMPLE_CONTENT / "WKSHP-Shell101", variables("WKSHP-Shell101"), PATTERNS
    )
    assert any("${#name}" in f.content.decode() for f in shell if f.content is not None)


def test_undefined_variables_are_all_reported_with_file_line_and_name(tmp_path: Path) -> None:
    folder = make_workshop(tmp_path, "WKSHP-Broken", (1, 2))
    (folder / "1-lab.ipynb").write_text(
        notebook(markdown("Hi", "m1"), code("x = 1\\n", "c1"), code("url = '{{ NOPE }}'", "c2"))
    )
    (folder / "setup.sh").write_text("echo ok\necho {{ STDID }}\necho {{ MISSING }}\n")
    with pytest.raises(TemplateError) as caught:
        render_workshop(folder, variables("WKSHP-Broken"), PATTERNS, label="WKSHP-Broken")
    found = {(p.file, p.field, p.line) for p in caught.value.problems}
    assert ("WKSHP-Broken/setup.sh", "MISSING", 3) in found
    nope = [p for p in caught.value.problems if p.field == "NOPE"]
    assert nope and nope[0].file == "WKSHP-Broken/1-lab.ipynb" and nope[0].line is not None
    assert "'NOPE' is undefined" in nope[0].message


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    folder = make_workshop(tmp_path, "WKSHP-Syntax", (1, 2))
    (folder / "run.py").write_text("a = 1\nb = {{ STDID \n")
    with pytest.raises(TemplateError) as caught:
        render_workshop(folder, variables("WKSHP-Syntax"), PATTERNS, label="W")
    (problem,) = caught.value.problems
    assert problem.file == "W/run.py" and problem.line == 2 and "syntax" in problem.message


def test_a_rendered_notebook_must_stay_valid(tmp_path: Path) -> None:
    folder = make_workshop(tmp_path, "WKSHP-Json", (1, 2))
    (folder / "1-lab.ipynb").write_text('{"cells": [{% if true %}]}')
    with pytest.raises(TemplateError) as caught:
        render_workshop(folder, variables("WKSHP-Json"), PATTERNS, label="W")
    (problem,) = caught.value.problems
    assert problem.file == "W/1-lab.ipynb" and problem.field in ("notebook", "template")


def test_password_only_for_varpass_workshops_and_hostvars_alias(tmp_path: Path) -> None:
    folder = make_workshop(tmp_path, "WKSHP-Var", (1, 2))
    (folder / "creds.sh").write_text(
        "echo {{ hostvars[inventory_hostname]['STDID'] }} {{ PASSSTU | default('none') }}\n"
    )
    plain = render_workshop(folder, variables("WKSHP-Var"), PATTERNS)
    exposed = render_workshop(folder, variables("WKSHP-Var", expose_password=True), PATTERNS)

    def creds(files: list[RenderedFile]) -> str:
        item = next(f for f in files if f.path.name == "creds.sh")
        assert item.content is not None
        return item.content.decode()

    assert creds(plain) == "echo 7 none\n"
    assert creds(exposed) == "echo 7 Secr3tPassw0rd\n"


def test_challenge_mode_shows_the_quiz_only_to_challengers() -> None:
    folder = SAMPLE_CONTENT / "WKSHP-Python101"
    challenge = variables("CHLG-Python101")
    assert challenge["MODEWS"] == "CHLG" and challenge["WORKSHOP"] == "WKSHP-Python101"

    def conclusion(v: dict[str, object]) -> str:
        files = render_workshop(folder, v, PATTERNS)
        item = next(f for f in files if "Conclusion" in f.path.name)
        assert item.content is not None
        return item.content.decode()

    assert "https://example.org/quiz" in conclusion(challenge)
    assert "https://example.org/quiz" not in conclusion(variables("WKSHP-Python101"))


def test_values_are_escaped_for_the_json_strings_of_notebooks(tmp_path: Path) -> None:
    from wod.content.variables import SeatContext

    settings = Settings(branding={"name": 'The "Quoted" Org\\ \nNew line'})
    folder = make_workshop(tmp_path, "WKSHP-Esc", (1, 2))
    (folder / "1-lab.ipynb").write_text(notebook(markdown("By {{ BRANDING }}", "m1")))
    (folder / "run.sh").write_text("echo '{{ BRANDING }}'\n")
    v = seat_variables(settings, SeatContext("WKSHP-Esc", 1))
    files = {str(f.path): f.content for f in render_workshop(folder, v, PATTERNS)}
    lab = files["1-lab.ipynb"]
    assert lab is not None
    parsed = read_notebook(lab.decode())
    assert parsed.cells[0].source == 'By The "Quoted" Org\\ \nNew line'
    assert files["run.sh"] == b"echo 'The \"Quoted\" Org\\ \nNew line'\n"  # scripts: as is
