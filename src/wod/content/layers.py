"""Content layers: an ordered list of folders, public first, private overlays after.

For the same workshop folder name the later layer wins (the whole folder and its wod.yml);
workshops found only in a later layer are private workshops (ARCHITECTURE §7.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wod.errors import ContentError, ContentProblem

#: Folders of a layer that are never workshops.
RESERVED = frozenset({"scripts", "skel", "templates", "ansible", "variables", "docs", "badges"})


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

    def variables(self, *folders: str) -> dict[str, Any]:
        """The variables of a workshop: ``variables/all.yml`` then ``variables/<folder>.yml``
        for each of ``folders`` (a challenge: its workshop's, then its own), layer by layer
        in layer order, later ones winning."""
        merged: dict[str, Any] = {}
        for layer in self.layers:
            for name in ("all", *folders):
                merged.update(_read_variables(layer.path / "variables" / f"{name}.yml"))
        return merged

    def scripts(self, name: str) -> list[Path]:
        """The hook scripts called ``name`` (``.sh`` or ``.sh.j2``) of every layer, in order."""
        found = []
        for layer in self.layers:
            for candidate in (
                layer.path / "scripts" / f"{name}.sh",
                layer.path / "scripts" / f"{name}.sh.j2",
            ):
                if candidate.is_file():
                    found.append(candidate)
        return found

    def skel_folders(self) -> list[Path]:
        """The ``skel/`` folders of every layer, in layer order (later ones win on copy)."""
        return [layer.path / "skel" for layer in self.layers if (layer.path / "skel").is_dir()]

    def missing_layers(self) -> list[Path]:
        return [layer.path for layer in self.layers if not layer.path.is_dir()]


def _read_variables(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ContentError(
            [
                ContentProblem(
                    str(path), "yaml", f"not valid YAML: {exc}", mark.line + 1 if mark else None
                )
            ]
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ContentError([ContentProblem(str(path), "yaml", "must be a mapping of variables")])
    return {str(k): v for k, v in data.items()}


def _subfolders(path: Path) -> Iterable[Path]:
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.is_dir())
