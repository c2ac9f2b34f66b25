"""Content as bytes: the same files always pack to the same bytes, a folder's digest follows
its files, a bundle holds what the agent needs of each layer, and unpacking refuses entries
that would leave the target."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from tests.factories import make_workshop
from wod.content.git import extract
from wod.content.snapshot import (
    archive_folder,
    bundle_entries,
    digest_of,
    layer_folders,
    pack,
    tree_digest,
)
from wod.errors import ContentSyncError


def layer(root: Path) -> Path:
    make_workshop(root, "WKSHP-A", (1, 2))
    make_workshop(root, "WKSHP-B", (3, 4))
    make_workshop(root, "CHLG-A", (5, 6))
    (root / "scripts").mkdir()
    (root / "scripts" / "create-WKSHP-A.sh").write_text("echo hi\n")
    (root / "scripts" / "create-WKSHP-A.sh").chmod(0o755)
    (root / "variables").mkdir()
    for name in ("all", "WKSHP-A", "WKSHP-B", "CHLG-A"):
        (root / "variables" / f"{name}.yml").write_text(f"{name.replace('-', '_')}: 1\n")
    (root / "skel").mkdir()
    (root / "skel" / ".bashrc").write_text("PS1='$ '\n")
    (root / "pages").mkdir()
    (root / "pages" / "terms.md").write_text("# Terms\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


def test_the_same_files_pack_to_the_same_bytes(tmp_path: Path) -> None:
    first = layer(tmp_path / "one")
    second = layer(tmp_path / "two")
    for path in second.rglob("*"):  # other times: nothing of the bytes depends on them
        os.utime(path, (1_000_000, 1_000_000))
    assert archive_folder(first) == archive_folder(second)
    assert tree_digest(first) == tree_digest(second)
    (second / "WKSHP-B" / "README.md").write_text("# changed\n")
    assert tree_digest(first) != tree_digest(second)
    (second / "WKSHP-B" / "README.md").write_text((first / "WKSHP-B" / "README.md").read_text())
    (second / "scripts" / "create-WKSHP-A.sh").chmod(0o644)  # the executable bit counts
    assert tree_digest(first) != tree_digest(second)


def test_a_snapshot_leaves_out_git_and_checkpoints(tmp_path: Path) -> None:
    root = layer(tmp_path / "layer")
    (root / "WKSHP-A" / ".ipynb_checkpoints").mkdir()
    (root / "WKSHP-A" / ".ipynb_checkpoints" / "x.ipynb").write_text("{}")
    with tarfile.open(fileobj=io.BytesIO(archive_folder(root))) as archive:
        names = archive.getnames()
    assert "pages/terms.md" in names and "WKSHP-A/wod.yml" in names
    assert not any(".git" in n or ".ipynb_checkpoints" in n for n in names)


def test_a_bundle_holds_what_the_verbs_of_one_workshop_need(tmp_path: Path) -> None:
    public = layer(tmp_path / "public")
    private = tmp_path / "private"
    make_workshop(private, "WKSHP-A", (1, 2))
    entries = bundle_entries([("public", public), ("private", private)], "CHLG-A")
    names = sorted(e.name for e in entries)
    assert "00-public/CHLG-A/wod.yml" in names and "00-public/WKSHP-A/wod.yml" in names
    assert "01-private/WKSHP-A/wod.yml" in names  # the overlay's, in its own layer folder
    assert "00-public/scripts/create-WKSHP-A.sh" in names
    assert "00-public/skel/.bashrc" in names
    assert {n for n in names if "/variables/" in n} == {
        "00-public/variables/all.yml",
        "00-public/variables/WKSHP-A.yml",
        "00-public/variables/CHLG-A.yml",
    }
    assert not any("WKSHP-B" in n or "pages/" in n for n in names)
    data = pack(entries)
    assert digest_of(data) == digest_of(pack(reversed(entries)))
    extract(data, tmp_path / "out")
    assert [p.name for p in layer_folders(tmp_path / "out")] == ["00-public", "01-private"]
    script = tmp_path / "out" / "00-public" / "scripts" / "create-WKSHP-A.sh"
    assert script.stat().st_mode & 0o111


def one_file(name: str) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size = 2
        archive.addfile(info, io.BytesIO(b"hi"))
    return raw.getvalue()


@pytest.mark.parametrize("name", ["../escape", "a/../../escape"])
def test_unpacking_refuses_an_entry_outside_the_target(tmp_path: Path, name: str) -> None:
    with pytest.raises(ContentSyncError, match="not a plain file"):
        extract(one_file(name), tmp_path / "out" / "target")
    assert not (tmp_path / "out" / "escape").exists() and not (tmp_path / "escape").exists()


def test_an_absolute_name_lands_inside_the_target(tmp_path: Path) -> None:
    extract(one_file("/etc/passwd"), tmp_path / "out")
    assert (tmp_path / "out" / "etc" / "passwd").read_text() == "hi"


def test_unpacking_refuses_a_link(tmp_path: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        info = tarfile.TarInfo("link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/shadow"
        archive.addfile(info)
    with pytest.raises(ContentSyncError):
        extract(raw.getvalue(), tmp_path / "out")
