"""One data folder, one ``wod up``: the second lock on a folder is refused with the first's pid,
and the folder is free again once the first lets go."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wod.errors import ConfigError
from wod.folderlock import FolderLock


def test_a_second_lock_on_a_folder_is_refused_naming_the_first(tmp_path: Path) -> None:
    with FolderLock(tmp_path / "data"):
        with pytest.raises(ConfigError, match=rf"used by another wod up \(pid {os.getpid()}\)"):
            FolderLock(tmp_path / "data").acquire()
        with FolderLock(tmp_path / "other"):  # another folder is another platform
            pass
    again = FolderLock(tmp_path / "data")
    again.acquire()  # released: free again
    again.release()
