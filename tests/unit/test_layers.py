"""The layers of the house (pyproject.toml, ``[tool.importlinter]``): the check that
``scripts/test`` runs refuses a forbidden import, and the backend agent loads no web framework,
no database library and no Babel."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT = Path(sys.executable).parent / "lint-imports"


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package to break."""
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(
        ROOT / "src" / "wod", root / "wod", ignore=shutil.ignore_patterns("__pycache__", "*.po*")
    )
    return root


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("portal/home.py", "import wod.admin.router", "wod.portal.home -> wod.admin.router"),
        ("services/catalogue/read.py", "import wod.web.state", "wod.services.catalogue.read"),
        ("backend/hooks.py", "import sqlalchemy", "wod.backend.hooks -> sqlalchemy"),
        ("services/mail/queue.py", "import wod.services.admin", "wod.services.mail.queue"),
    ],
)
def test_a_forbidden_import_breaks_the_check(
    tree: Path, module: str, line: str, broken: str
) -> None:
    path = tree / "wod" / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{line}  # noqa\n")
        result = lint(tree)
    finally:
        path.write_text(original)
    assert result.returncode == 1, result.stdout
    assert "BROKEN" in result.stdout and broken in result.stdout


def test_the_tree_as_it_is_keeps_every_contract(tree: Path) -> None:
    result = lint(tree)
    assert result.returncode == 0, result.stdout
    assert "broken" not in result.stdout.split("Contracts:")[-1].replace("0 broken", "")


def test_the_agent_loads_no_web_framework_database_or_babel() -> None:
    probe = (
        "import sys, wod.backend.agent; "
        "print(sorted(m for m in ('starlette', 'fastapi', 'sqlalchemy', 'babel', 'jinja2') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "['jinja2']"  # it renders the seats' notebooks
