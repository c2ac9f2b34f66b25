"""The start tokens a hub has already let in (:mod:`wod.domain.unlock`), kept in a file so that
a token logs in once even when the hub restarts before it expires."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


class UsedTokens:
    """Nonces of used start tokens with their expiry (epoch seconds), forgotten once expired.

    The file is JSON, rewritten whole (mode 0600, atomically) at each use: it holds only the
    tokens of the last ``hub.start_link_validity`` seconds. An unreadable file counts as
    empty but is never silently trusted for a nonce it would have held: a token is refused
    when the file cannot be written."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.memory: dict[str, int] = {}

    def _load(self) -> dict[str, int]:
        if self.path is None:
            return self.memory
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict):
            return {}
        return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, int)}

    def _save(self, used: dict[str, int]) -> None:
        if self.path is None:
            self.memory = used
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(used, handle)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def use(self, nonce: str, expires: int, now: float) -> bool:
        """Record the use of the token with this nonce; False when it was used already (or
        its use cannot be recorded)."""
        used = {k: v for k, v in self._load().items() if v >= now}
        if nonce in used:
            return False
        used[nonce] = expires
        try:
            self._save(used)
        except OSError:
            return False
        return True
