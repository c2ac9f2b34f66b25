"""Commits to deploy: a snapshot of this checkout (commit A) in a git repository of its own,
and, for the upgrade, commit B on top of it with one more migration. A content repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTENT = Path(__file__).resolve().parent / "content"
#: Not in git, but part of the package (scripts/bootstrap copies it from npm).
UNTRACKED_PARTS = ("src/wod/admin/static/vendor",)
#: The deployment's own files, taken as they are on disk over the last commit (see snapshot).
DEPLOY_PATHS = (
    "deploy",
    "src/wod/deploy",
    "src/wod/cli/deploy.py",
    "src/wod/cli/init.py",
    "src/wod/cli/db.py",
    "src/wod/cli/locations.py",
    "src/wod/cli/main.py",
    "tests/deploy",
    "tests/bed",
    "bench/deploy.py",
    "docs/howto/deploy.md",
    # The monitoring host gets its alert rules and dashboard from here.
    "docs/monitoring",
)
#: ``worktree``: commit A is the checkout as it is on disk, every uncommitted change included.
#: ``head`` (the default): the last commit with the deployment's own files as they are on disk,
#: so that unfinished work elsewhere in the tree does not decide whether the deploy tests pass.
SOURCE_ENV = "WOD_DEPLOY_TEST_SOURCE"
IDENTITY = ["-c", "user.name=wod tests", "-c", "user.email=tests@example.org"]


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo``; its output."""
    result = subprocess.run(
        ["git", "-C", str(repo), *IDENTITY, *args], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def snapshot(target: Path, origin: Path = ROOT) -> str:
    """Commit A in a new repository at ``target``, from the checkout (``$WOD_DEPLOY_TEST_SOURCE``
    chooses what, see SOURCE_ENV); the commit."""
    target.mkdir(parents=True, exist_ok=True)
    if os.environ.get(SOURCE_ENV, "head") == "worktree":
        listed = git(origin, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        _copy(origin, target, filter(None, listed.split("\0")))
    else:
        archive = subprocess.run(
            ["git", "-C", str(origin), "archive", "--format=tar", "HEAD"],
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
        for rel in DEPLOY_PATHS:
            if (origin / rel).is_dir():
                shutil.rmtree(target / rel, ignore_errors=True)
                listed = git(
                    origin, "ls-files", "-z", "--cached", "--others", "--exclude-standard", rel
                )
                _copy(origin, target, filter(None, listed.split("\0")))
            elif (origin / rel).is_file():
                _copy(origin, target, [rel])
    for rel in UNTRACKED_PARTS:
        if (origin / rel).is_dir():
            shutil.copytree(origin / rel, target / rel, dirs_exist_ok=True)
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "commit A: this checkout")
    return git(target, "rev-parse", "HEAD")


def _copy(origin: Path, target: Path, files: Iterable[str]) -> None:
    for rel in files:
        if (origin / rel).is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin / rel, target / rel)


def head_revision(source: Path) -> str:
    """The latest Alembic revision of the checkout at ``source``."""
    versions = source / "src" / "wod" / "db" / "migrations" / "versions"
    revisions = sorted(p.name.split("_", 1)[0] for p in versions.glob("[0-9]*_*.py"))
    return revisions[-1]


MIGRATION = '''"""deploy test: a trivial revision after {down}

Revision ID: {rev}
Revises: {down}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("deploy_test_marker", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("deploy_test_marker")
'''


def commit_migration(source: Path) -> str:
    """Commit B: a new Alembic revision after the head of ``source``; the new revision."""
    down = head_revision(source)
    rev = f"{int(down) + 1:04d}"
    versions = source / "src" / "wod" / "db" / "migrations" / "versions"
    (versions / f"{rev}_deploy_test.py").write_text(MIGRATION.format(rev=rev, down=down))
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", f"commit B: migration {rev}")
    return rev


def content_repo(target: Path) -> str:
    """The test content layer (tests/deploy/content) as a git repository; its commit."""
    shutil.copytree(CONTENT, target)
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "content")
    return git(target, "rev-parse", "HEAD")
