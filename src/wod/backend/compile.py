"""The ``compile`` option of a workshop: named scripts the participant may run but not read.

In a host mode that can hide a file from its seat (system mode: seats are Linux users) a script
is turned into a binary with ``shc`` and installed owned by root with mode 0711 in the seat's
workshop folder: the participant can execute it, not open it. What this
protects: the file on disk (e.g. a credential inside the script) from ``cat``, copies and
downloads. What it does not: while the binary runs, the script's text reaches the shell that
interprets it, so a participant who watches their own processes can still recover it; and shc
itself is obfuscation, not encryption. Keep real secrets out of the seat. In hub mode every seat
runs as the hub's user: nothing can be hidden from a participant, so the script is only copied.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from wod.content.layers import Content
from wod.content.render import make_environment, render_text
from wod.errors import TemplateError, VerbError


class Compiler:
    """Installs the ``compile`` scripts of a workshop into a seat."""

    def __init__(self, *, hides_files: bool, shc: str = "shc") -> None:
        self.hides_files = hides_files  # the host mode can keep a file from its seat
        self.shc = shc

    def _find(self, content: Content, name: str) -> Path:
        for layer in reversed(content.layers):
            for candidate in (layer.path / "scripts" / name, layer.path / "scripts" / f"{name}.j2"):
                if candidate.is_file():
                    return candidate
        raise VerbError(f"compile: no script {name!r} in the scripts/ folder of any layer")

    def _text(self, script: Path, variables: Mapping[str, Any]) -> str:
        raw = script.read_text(encoding="utf-8")
        if not script.name.endswith(".j2"):
            return raw
        text, problems = render_text(make_environment(), raw, variables, str(script))
        if problems:
            raise TemplateError(problems)
        return text

    def install(
        self,
        content: Content,
        name: str,
        variables: Mapping[str, Any],
        dest: Path,
        owner: tuple[int, int] | None,
        log: Callable[[str], None],
    ) -> Path:
        """Install one script into ``dest``; the path of what the seat runs."""
        text = self._text(self._find(content, name), variables)
        stem = name.removesuffix(".sh")
        dest.mkdir(parents=True, exist_ok=True)
        script = text if text.startswith("#!") else "#!/bin/bash\n" + text
        if not self.hides_files:
            target = dest / stem  # the same name as the compiled binary of system mode
            target.write_text(script)
            target.chmod(0o700)
            log(
                f"compile {name}: installed as {stem}, readable (hub accounts cannot hide a file "
                "from a seat)"
            )
            return target
        if shutil.which(self.shc) is None:
            raise VerbError("the compile option needs shc on this host (apt-get install shc)")
        target = dest / stem
        with tempfile.TemporaryDirectory(prefix="wod-shc-") as scratch:
            source = Path(scratch) / name
            source.write_text(script)
            result = subprocess.run(
                [self.shc, "-f", str(source), "-o", str(target)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise VerbError(f"compile {name}: shc failed: {result.stderr.strip()[:300]}")
        os.chown(target, 0, 0)
        target.chmod(0o711)
        log(f"compile {name}: {target.name} installed, runnable but not readable by the seat")
        return target
