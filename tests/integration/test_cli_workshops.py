"""``wod workshops check`` and ``wod workshops import`` on good and broken content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.factories import code, make_workshop, notebook
from wod.cli.main import app
from wod.context import AppContext
from wod.db.models import Workshop


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    make_workshop(root, "WKSHP-Good", (1, 5))
    make_workshop(root, "WKSHP-Overlap", (3, 8))
    types = make_workshop(root, "WKSHP-Types", (20, 22))
    text = (types / "wod.yml").read_text()
    (types / "wod.yml").write_text(text.replace("duration: 2", 'duration: "two"'))
    (make_workshop(root, "WKSHP-NoReadme", (30, 31)) / "0-ReadMeFirst.ipynb").unlink()
    undefined = make_workshop(root, "WKSHP-Undefined", (40, 41))
    (undefined / "1-lab.ipynb").write_text(notebook(code("print('{{ NOPE }}')", "c1")))
    legacy = make_workshop(root, "WKSHP-Legacy", (50, 52))
    yml = (legacy / "wod.yml").read_text().replace("range: [50, 52]", "range: [50-52]")
    (legacy / "wod.yml").write_text(yml.replace("priority: 1", "priority:\t1"))
    return root


def run(ctx: AppContext, layer: Path, *args: str) -> tuple[int, str]:
    env = {
        "WOD_DATABASE_URL": ctx.settings.resolved_database_url,
        "WOD_CONTENT__PATHS": f'["{layer}"]',
        "COLUMNS": "300",
    }
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_check_lists_every_problem_as_file_field_message(ctx: AppContext, layer: Path) -> None:
    code_, out = run(ctx, layer, "workshops", "check", str(layer))
    assert code_ == 1
    lines = out.splitlines()

    def has(prefix: str, fragment: str) -> bool:
        return any(line.startswith(prefix) and fragment in line for line in lines)

    assert has(f"{layer}/WKSHP-Overlap/wod.yml:17: range:", "overlaps [1, 5] of WKSHP-Good")
    assert has(f"{layer}/WKSHP-Types/wod.yml:6: duration:", "expected a whole number")
    assert has(f"{layer}/WKSHP-NoReadme/0-ReadMeFirst.ipynb: file:", "mandatory file is missing")
    assert has(f"{layer}/WKSHP-Undefined/1-lab.ipynb:", "NOPE: 'NOPE' is undefined")
    assert has(f"{layer}/WKSHP-Legacy/wod.yml:17: range: warning:", "[50, 52] is the canonical")
    assert has(f"{layer}/WKSHP-Legacy/wod.yml:16: yaml: warning:", "tab")
    assert not any("WKSHP-Good" in line and "WKSHP-Good/" in line.split(":")[0] for line in lines)
    assert "6 workshop(s), 2 without errors; 4 error(s)" in out


def test_check_a_single_good_workshop_passes(ctx: AppContext, layer: Path) -> None:
    code_, out = run(ctx, layer, "workshops", "check", "--alone", str(layer / "WKSHP-Good"))
    assert code_ == 0, out
    assert "1 workshop(s), 1 without errors; 0 error(s), 0 warning(s)" in out
    assert "compared with" not in out


def test_a_folder_of_a_layer_is_checked_against_the_layer(ctx: AppContext, layer: Path) -> None:
    """By default a folder right inside a content layer is compared with the layer's other
    workshops: the overlap is reported on the folder checked, naming the other one."""
    code_, out = run(ctx, layer, "workshops", "check", str(layer / "WKSHP-Good"))
    assert code_ == 1, out
    assert f"{layer}/WKSHP-Good/wod.yml:17: range: [1, 5] overlaps [3, 8] of WKSHP-Overlap" in out
    assert "seat ranges compared with the 5 other workshop(s) of the content layers" in out
    assert "1 workshop(s), 0 without errors; 1 error(s)" in out
    # the other workshops' own problems are not reported
    assert "WKSHP-Types" not in out and "NOPE" not in out


def test_a_folder_outside_the_layers_is_checked_against_them_on_demand(
    ctx: AppContext, layer: Path, tmp_path: Path
) -> None:
    outside = make_workshop(tmp_path / "drafts", "WKSHP-Draft", (4, 6))
    code_, out = run(ctx, layer, "workshops", "check", str(outside))
    assert code_ == 0, out  # not in a layer: alone by default
    code_, out = run(ctx, layer, "workshops", "check", "--against-layers", str(outside))
    assert code_ == 1
    assert "[4, 6] overlaps [1, 5] of WKSHP-Good" in out
    assert "[4, 6] overlaps [3, 8] of WKSHP-Overlap" in out
    # a folder given stands in for the layer's folder of the same name
    new_good = make_workshop(tmp_path / "drafts", "WKSHP-Good", (60, 61))
    code_, out = run(ctx, layer, "workshops", "check", "--against-layers", str(new_good))
    assert code_ == 0, out


def test_check_sample_content_is_clean(ctx: AppContext) -> None:
    from tests.conftest import SAMPLE_CONTENT

    code_, out = run(ctx, SAMPLE_CONTENT, "workshops", "check", "--strict")
    assert code_ == 0, out


def slugs(ctx: AppContext) -> dict[str, bool]:
    with ctx.db.read() as s:
        return {w.slug: w.active for w in s.scalars(select(Workshop))}


def test_import_is_a_dry_run_then_applies_only_valid_workshops(
    ctx: AppContext, layer: Path
) -> None:
    code_, out = run(ctx, layer, "workshops", "import")
    assert code_ == 1  # the content has errors
    assert "+ WKSHP-Good: add" in out and "! WKSHP-Types: skipped" in out
    assert "dry run: nothing written" in out
    assert slugs(ctx) == {}

    code_, out = run(ctx, layer, "workshops", "import", "--apply")
    assert "applied" in out
    assert slugs(ctx) == {"WKSHP-Good": True, "WKSHP-Legacy": True}

    shutil.rmtree(layer / "WKSHP-Legacy")
    good = layer / "WKSHP-Good" / "wod.yml"
    good.write_text(good.read_text().replace("duration: 2", "duration: 3"))
    code_, out = run(ctx, layer, "workshops", "import", "--apply")
    assert "- WKSHP-Legacy: deactivate" in out
    assert "~ WKSHP-Good: update" in out and "duration_hours: 2 → 3" in out
    assert slugs(ctx) == {"WKSHP-Good": True, "WKSHP-Legacy": False}


def test_import_of_unchanged_content_changes_nothing(ctx: AppContext) -> None:
    from tests.conftest import SAMPLE_CONTENT

    assert run(ctx, SAMPLE_CONTENT, "workshops", "import", "--apply")[0] == 0
    code_, out = run(ctx, SAMPLE_CONTENT, "workshops", "import")
    assert code_ == 0
    assert "= WKSHP-Python101: unchanged" in out and "nothing to change" in out


def test_import_refuses_when_a_content_folder_is_missing(ctx: AppContext, layer: Path) -> None:
    env_layers = f'["{layer}", "{layer}-private"]'
    result = CliRunner().invoke(
        app,
        ["workshops", "import", "--apply"],
        env={
            "WOD_DATABASE_URL": ctx.settings.resolved_database_url,
            "WOD_CONTENT__PATHS": env_layers,
        },
    )
    assert result.exit_code == 1
    assert "content folder not found" in result.output
    assert slugs(ctx) == {}


def test_a_workshop_without_range_is_imported_inactive(ctx: AppContext, tmp_path: Path) -> None:
    root = tmp_path / "old"
    folder = make_workshop(root, "WKSHP-Old", (1, 2), active=False)
    text = (folder / "wod.yml").read_text().replace("range: [1, 2]\n", "")
    (folder / "wod.yml").write_text(text)
    code_, out = run(ctx, root, "workshops", "import", "--apply")
    assert code_ == 0, out
    assert "no seat range" in out
    assert slugs(ctx) == {"WKSHP-Old": False}


def test_check_warns_about_a_kernel_the_seats_lack(ctx: AppContext, tmp_path: Path) -> None:
    root = tmp_path / "k"
    folder = make_workshop(root, "WKSHP-Rust", (1, 2))
    (folder / "1-lab.ipynb").write_text(notebook(code("fn main() {}", "c1"), kernel="rust"))
    code_, out = run(ctx, root, "workshops", "check", str(root))
    assert code_ == 0
    assert "1-lab.ipynb: kernelspec: warning: asks for the kernel 'rust'" in out
    assert run(ctx, root, "workshops", "check", "--strict", str(root))[0] == 1


def test_render_writes_what_a_seat_receives(ctx: AppContext, tmp_path: Path) -> None:
    from tests.conftest import SAMPLE_CONTENT

    out = tmp_path / "out"
    code_, text = run(
        ctx,
        SAMPLE_CONTENT,
        "workshops",
        "render",
        "WKSHP-Shell101",
        "--seat",
        "12",
        "--out",
        str(out),
    )
    assert code_ == 0, text
    readme = (out / "WKSHP-Shell101" / "0-ReadMeFirst.ipynb").read_text()
    assert "student12" in readme and (out / "WKSHP-Shell101" / "Pictures").is_dir()
    broken = make_workshop(tmp_path / "b", "WKSHP-Broken", (1, 2))
    (broken / "x.sh").write_text("echo {{ ONE }}\necho {{ TWO }}\n")
    code_, text = run(
        ctx,
        tmp_path / "b",
        "workshops",
        "render",
        "WKSHP-Broken",
        "--seat",
        "1",
        "--out",
        str(out),
        "--content",
        str(tmp_path / "b"),
    )
    assert code_ == 1 and "x.sh:1: ONE" in text and "x.sh:2: TWO" in text
