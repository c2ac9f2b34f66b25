"""Content layers: an ordered list of folders, public first, private overlays after.

For the same workshop folder name the later layer wins (the whole folder and its wod.yml);
workshops found only in a later layer are private workshops (ARCHITECTURE §7.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Folders of a layer that are never workshops.
RESERVED = frozenset({"scripts", "skel", "templates", "ansible", "variables", "docs"})


@dataclass(frozen=True)
class Layer:
    index: int
    path: Path

    @property
    def private(self) -> bool:
        return self.index > 0


@dataclass(frozen=True)
class WorkshopSource:
    """Where one workshop's files come from, after the layers were merged."""

    slug: str
    folder: Path
    layer: Layer
    hidden: tuple[Path, ...] = field(default=())  # same-named folders of earlier layers


def is_workshop_folder(path: Path) -> bool:
    if not path.is_dir() or path.name.startswith(".") or path.name in RESERVED:
        return False
    return (
        (path / "wod.yml").exists()
        or (path / "0-ReadMeFirst.ipynb").exists()
        or path.name.startswith(("WKSHP-", "CHLG-"))
    )


class Content:
    """The merged view of the content layers."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.layers = [Layer(i, Path(p)) for i, p in enumerate(paths)]

    def workshops(self) -> dict[str, WorkshopSource]:
        """Every workshop by slug (folder name), the later layer winning, sorted by slug."""
        found: dict[str, WorkshopSource] = {}
        for layer in self.layers:
            for folder in _subfolders(layer.path):
                if not is_workshop_folder(folder):
                    continue
                earlier = found.get(folder.name)
                hidden = (*earlier.hidden, earlier.folder) if earlier else ()
                found[folder.name] = WorkshopSource(folder.name, folder, layer, hidden)
        return dict(sorted(found.items()))

    def workshop(self, slug: str) -> WorkshopSource | None:
        return self.workshops().get(slug)

    def skel_folders(self) -> list[Path]:
        """The ``skel/`` folders of every layer, in layer order (later ones win on copy)."""
        return [layer.path / "skel" for layer in self.layers if (layer.path / "skel").is_dir()]

    def missing_layers(self) -> list[Path]:
        return [layer.path for layer in self.layers if not layer.path.is_dir()]


def _subfolders(path: Path) -> Iterable[Path]:
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.is_dir())
