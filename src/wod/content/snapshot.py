"""Content as bytes that can be stored and compared: a digest of a folder's files, a
deterministic archive of a folder, and the *bundle* of one workshop that an agent receives.

An archive or a bundle is a gzip'd tar whose entries are sorted, with fixed times, owners and
modes (only the executable bit is kept): the same files always give the same bytes, so a digest
names the content, and an agent can check that what it received is what the api meant.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from wod.content.variables import content_folder_name

#: Files and folders a snapshot never takes.
SKIPPED = frozenset({".git", ".ipynb_checkpoints", "__pycache__", ".DS_Store"})


def _files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root``, sorted, links and skipped names left out."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in SKIPPED for part in relative.parts) or path.is_symlink():
            continue
        if path.is_file():
            yield path


def tree_digest(root: Path) -> str:
    """A digest of the names, executable bits and bytes of every file under ``root``."""
    digest = hashlib.sha256()
    for path in _files(root):
        relative = path.relative_to(root).as_posix()
        executable = "x" if path.stat().st_mode & 0o111 else "-"
        digest.update(f"{relative}\0{executable}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@dataclass(frozen=True)
class Entry:
    """One file of an archive: its name inside the archive and where its bytes are."""

    name: str
    source: Path


def pack(entries: Iterable[Entry]) -> bytes:
    """The deterministic gzip'd tar of ``entries`` (sorted by name)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for entry in sorted(entries, key=lambda e: e.name):
            data = entry.source.read_bytes()
            info = tarfile.TarInfo(entry.name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o755 if entry.source.stat().st_mode & 0o111 else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def archive_folder(root: Path) -> bytes:
    """Every file of a layer's folder, as one archive."""
    return pack(Entry(p.relative_to(root).as_posix(), p) for p in _files(root))


def bundle_entries(layers: Sequence[tuple[str, Path]], folder: str) -> list[Entry]:
    """What an agent needs from each layer to run the verbs of workshop ``folder`` (a challenge
    ``CHLG-X`` also brings ``WKSHP-X``): the workshop folders, ``scripts/``, ``skel/``, and the
    variables files ``all.yml`` and the workshops' own. Each layer's files go under
    ``<index>-<name>/``, so the agent rebuilds the layers in their order."""
    workshops = dict.fromkeys([folder, content_folder_name(folder)])
    wanted = [*workshops, "scripts", "skel"]
    variables = {"all.yml", *(f"{w}.yml" for w in workshops)}
    entries = []
    for index, (name, root) in enumerate(layers):
        prefix = f"{index:02d}-{name}"
        for path in _files(root) if root.is_dir() else ():
            parts = path.relative_to(root).parts
            keep = parts[0] in wanted or (
                parts[0] == "variables" and len(parts) == 2 and parts[1] in variables
            )
            if keep:
                entries.append(Entry(f"{prefix}/{'/'.join(parts)}", path))
    return entries


def layer_folders(root: Path) -> list[Path]:
    """The layers of an unpacked bundle, in their order."""
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name[:2].isdigit())
