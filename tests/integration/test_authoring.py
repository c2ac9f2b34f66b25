"""The tools of workshop authors: ``wod workshops new``, ``check --format github`` and
``--against-layers``, ``catalogue --markdown``, and the overlap rule of inactive workshops
through the check and the import."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import SAMPLE_CONTENT
from tests.factories import make_workshop
from wod.cli.main import app
from wod.context import AppContext
from wod.db.models import Workshop


def run(ctx: AppContext, layers: list[Path], *args: str, **env: str) -> tuple[int, str]:
    environment = {
        "WOD_DATABASE_URL": ctx.settings.resolved_database_url,
        "WOD_CONTENT__PATHS": json.dumps([str(p) for p in layers]),
        "COLUMNS": "300",
        **env,
    }
    result = CliRunner().invoke(app, list(args), env=environment)
    return result.exit_code, result.output


@pytest.fixture
def layers(tmp_path: Path) -> list[Path]:
    """The sample content as the public layer, and an empty private one."""
    public = tmp_path / "public"
    shutil.copytree(SAMPLE_CONTENT, public)
    private = tmp_path / "private"
    private.mkdir()
    return [public, private]


def test_new_scaffolds_into_the_last_layer_a_folder_the_strict_check_passes(
    ctx: AppContext, layers: list[Path]
) -> None:
    code, out = run(ctx, layers, "workshops", "new", "WKSHP-MyTopic", "--presenter", "Ada")
    assert code == 0, out
    folder = layers[-1] / "WKSHP-MyTopic"
    assert f"created {folder}: seats 21-40, kernel python3, inactive" in out
    assert f"wod workshops check {folder}" in out and "wod workshops preview WKSHP-MyTopic" in out
    code, out = run(ctx, layers, "workshops", "check", "--strict")
    assert code == 0, out
    assert "4 workshop(s), 4 without errors; 0 error(s), 0 warning(s)" in out
    code, out = run(ctx, layers, "workshops", "check", "--strict", str(folder))
    assert code == 0, out
    assert "compared with the 3 other workshop(s)" in out

    # the next one takes the next free seats (past WKSHP-SQL101's 41-50), and --seats sizes it
    code, out = run(ctx, layers, "workshops", "new", "WKSHP-Other", "--seats", "5", "--active")
    assert code == 0 and "seats 51-55" in out and ", active" in out, out
    assert run(ctx, layers, "workshops", "check", "--strict")[0] == 0


def test_new_into_a_folder_outside_the_layers_avoids_their_seats(
    ctx: AppContext, layers: list[Path], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    code, out = run(
        ctx, layers, "workshops", "new", "WKSHP-Bash", "--into", str(repo), "--kernel", "bash"
    )
    assert code == 0, out
    assert "seats 21-40, kernel bash" in out and f"add {repo} to content.paths" in out
    notebook = json.loads((repo / "WKSHP-Bash" / "0-ReadMeFirst.ipynb").read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == "bash"
    code, out = run(ctx, layers, "workshops", "check", "--strict", str(repo))
    assert code == 0, out


def test_new_refuses_bad_names_existing_folders_and_unknown_kernels(
    ctx: AppContext, layers: list[Path]
) -> None:
    code, out = run(ctx, layers, "workshops", "new", "My-Topic")
    assert code == 1 and "'My-Topic' is not a workshop folder name: WKSHP- followed by" in out
    code, out = run(ctx, layers, "workshops", "new", "WKSHP-Python101", "--into", str(layers[0]))
    assert code == 1 and "WKSHP-Python101 already exists: pick another name" in out
    code, out = run(ctx, layers, "workshops", "new", "WKSHP-R", "--kernel", "ir")
    assert code == 1 and "'ir' is not a kernel of the seats (hub.kernels: python3, bash)" in out
    assert not (layers[-1] / "WKSHP-R").exists()
    missing = [layers[0], layers[0].parent / "nowhere"]
    code, out = run(ctx, missing, "workshops", "new", "WKSHP-X")
    assert code == 1 and "nowhere: layer: content folder not found (use --into PATH)" in out


def test_check_prints_github_annotations_relative_to_the_current_folder(
    ctx: AppContext, layers: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_workshop(layers[-1], "WKSHP-Broken", (5, 12))
    yml = (folder / "wod.yml").read_text().replace("duration: 2", "duration: \t0")
    (folder / "wod.yml").write_text(yml)
    (folder / "README.md").unlink()
    monkeypatch.chdir(layers[-1].parent)
    code, out = run(ctx, layers, "workshops", "check", "--format", "github", str(folder))
    assert code == 1
    lines = out.splitlines()
    assert "::warning file=private/WKSHP-Broken/README.md,title=file::expected file is missing" in (
        lines
    )
    assert (
        "::warning file=private/WKSHP-Broken/wod.yml,line=6,title=yaml::tab among the spaces "
        "after ':' or ',' or at the end of the line (YAML allows only spaces there); "
        "read as a space"
    ) in lines
    assert (
        "::error file=private/WKSHP-Broken/wod.yml,line=6,title=duration::must be at least 1 "
        "hour, got 0"
    ) in lines
    assert "1 workshop(s), 0 without errors; 1 error(s), 2 warning(s)" in out
    # the overlap with the sample workshops is not found: the broken wod.yml gave no model
    code, text = run(ctx, layers, "workshops", "check", str(folder))
    assert "private/WKSHP-Broken/wod.yml:6: duration: must be at least 1 hour, got 0" in text


def test_overlaps_with_the_layers_are_annotated_on_the_range_line(
    ctx: AppContext, layers: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_workshop(layers[-1], "WKSHP-Late", (15, 25))
    monkeypatch.chdir(layers[-1])
    code, out = run(ctx, layers, "workshops", "check", "--format", "github", "WKSHP-Late")
    assert code == 1
    assert (
        "::error file=WKSHP-Late/wod.yml,line=17,title=range::[15, 25] overlaps [11, 20] "
        "of WKSHP-Shell101"
    ) in out.splitlines()
    code, out = run(ctx, layers, "workshops", "check", "--alone", str(folder))
    assert code == 0, out


def slugs(ctx: AppContext) -> dict[str, bool]:
    with ctx.db.read() as s:
        return {w.slug: w.active for w in s.scalars(select(Workshop))}


def test_an_overlap_with_an_inactive_workshop_is_imported_until_it_is_activated(
    ctx: AppContext, tmp_path: Path
) -> None:
    layer = tmp_path / "content"
    make_workshop(layer, "WKSHP-A", (1, 10))
    b_yml = make_workshop(layer, "WKSHP-B", (5, 12), active=False) / "wod.yml"
    warning = (
        f"{b_yml}:17: range: warning: [5, 12] overlaps [1, 10] of WKSHP-A; "
        "allowed while WKSHP-B stays inactive"
    )
    code, out = run(ctx, [layer], "workshops", "check")
    assert code == 0, out
    assert warning in out.splitlines()
    code, out = run(ctx, [layer], "workshops", "import", "--apply")
    assert code == 0, out
    assert "+ WKSHP-A: add" in out and "+ WKSHP-B: add" in out and warning in out
    assert slugs(ctx) == {"WKSHP-A": True, "WKSHP-B": False}

    b_yml.write_text(b_yml.read_text().replace("active: false", "active: true"))
    error = f"{b_yml}:17: range: [5, 12] overlaps [1, 10] of WKSHP-A"
    code, out = run(ctx, [layer], "workshops", "check")
    assert code == 1
    assert error in out.splitlines()
    code, out = run(ctx, [layer], "workshops", "import", "--apply")
    assert code == 1
    assert "! WKSHP-B: skipped (has errors: left as it is)" in out and error in out
    assert slugs(ctx) == {"WKSHP-A": True, "WKSHP-B": False}  # B keeps its inactive row


def test_catalogue_writes_checks_and_keeps_the_readme_table(
    ctx: AppContext, layers: list[Path]
) -> None:
    readme = layers[0] / "README.md"
    readme.write_text("# Our workshops\n\nSome words of our own.\n")
    public = ["--layers", str(layers[0])]
    code, out = run(ctx, layers, "workshops", "catalogue", "--markdown", *public)
    assert code == 0, out
    assert out.splitlines()[0].startswith("<!-- wod workshops catalogue: start")
    row = "| Linux shell 101: first steps in the command line | [`WKSHP-Shell101`]"
    assert any(line.startswith(row) for line in out.splitlines())

    check = ["workshops", "catalogue", "--markdown", "--output", str(readme), "--check", *public]
    code, out = run(ctx, layers, *check)
    assert code == 1 and "the workshops table is not current: run `wod workshops" in out
    code, out = run(
        ctx, layers, "workshops", "catalogue", "--markdown", "--output", str(readme), *public
    )
    assert code == 0 and "table of 3 workshop(s) written" in out, out
    text = readme.read_text()
    assert text.startswith("# Our workshops\n\nSome words of our own.\n\n<!-- wod")
    assert "[`WKSHP-Python101`](WKSHP-Python101/) | 2 h | Maya Lindqvist |" in text
    assert run(ctx, layers, *check)[0] == 0

    # a new workshop makes the table stale again
    make_workshop(layers[0], "WKSHP-Zed", (30, 31), presenter="Zoe", active=False)
    code, out = run(ctx, layers, *check)
    assert code == 1
    run(ctx, layers, "workshops", "catalogue", "--markdown", "--output", str(readme), *public)
    assert "| Zed | [`WKSHP-Zed`](WKSHP-Zed/) | 2 h | Zoe | Test | no |" in readme.read_text()
    assert readme.read_text().count("<!-- wod workshops catalogue: start") == 1

    code, out = run(ctx, layers, "workshops", "catalogue")
    assert code == 0
    assert any(
        line.split() == ["WKSHP-Zed", "2", "h", "inactive", "Zed"] for line in out.splitlines()
    )
    code, out = run(ctx, layers, "workshops", "catalogue", "--check")
    assert code == 1 and "--check needs --markdown and --output FILE" in out


def test_the_content_repository_template_passes_its_own_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """What examples/content-repository/.github/workflows/check.yml runs, in that folder."""
    import yaml

    from tests.conftest import ROOT

    template = ROOT / "examples" / "content-repository"
    workflow = yaml.safe_load((template / ".github" / "workflows" / "check.yml").read_text())
    env = {k: str(v) for k, v in workflow["env"].items() if k.startswith("WOD_")}
    commands = [step["run"] for step in workflow["jobs"]["check"]["steps"] if "run" in step]
    wod_commands = [c.split() for c in commands if c.startswith("wod ")]
    assert [c[:3] for c in wod_commands] == [
        ["wod", "workshops", "check"],
        ["wod", "workshops", "catalogue"],
    ]
    assert "--format" in wod_commands[0] and "--check" in wod_commands[1]
    monkeypatch.chdir(template)
    strict = {"check": ["--strict"], "catalogue": []}  # the template has no warning either
    for command in wod_commands:
        args = [*command[1:], *strict[command[2]]]
        result = CliRunner().invoke(app, args, env={**env, "COLUMNS": "300"})
        assert result.exit_code == 0, result.output
    assert (template / "WKSHP-MyFirstWorkshop" / "wod.yml").is_file()
