"""Per-workshop hook scripts (ARCHITECTURE §7.4): ``create-``, ``post-copy-``, ``cleanup-``,
``reset-`` and ``setup-<WKSHP>`` from the ``scripts/`` folder of every content layer, run in
layer order (public first). A ``.sh.j2`` script is rendered with the seat's variables first.

Contract: the environment (see :func:`hook_environment` and docs/reference/hooks.md), the
script's own folder as working directory, no standard input, a timeout (then the whole process
group is killed), output into the job log with every secret the agent knows masked
(:class:`Redactor`, :func:`hook_secrets`). A failing ``create``/``post-copy`` hook fails the job
(:class:`HookScriptError`); a failing ``cleanup``/``reset`` hook is logged and the verb goes on.
``create`` hooks may hand variables back (:func:`read_handed_back`): ``KEY: value`` lines in the
file that ``WOD_VARIABLES_FILE`` names, or in the original platform's
``pass/variables_<WKSHP>_<N>.yml`` of a layer.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr

from wod.backend.appliances import KEY_NAME, SSH_CONFIG_ENV
from wod.content.layers import Content
from wod.content.render import make_environment, render_text
from wod.content.variables import environment_names
from wod.errors import HookScriptError, TemplateError

#: Hooks whose failure fails the job; the others are logged and the verb goes on.
STRICT = frozenset({"create", "post-copy", "setup-pre", "setup", "setup-post"})
OUTPUT_LIMIT = 20_000
PROTECTED = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LD_PRELOAD", "LD_LIBRARY_PATH")
#: The environment variable naming the file a ``create`` hook appends ``KEY: value`` lines to.
VARIABLES_FILE_ENV = "WOD_VARIABLES_FILE"
#: What a secret in a hook's output becomes in the job log.
MASK = "********"
#: Shorter values are not masked: masking every "abc" would garble the log for no secret.
SECRET_MIN = 4
#: Names of variables whose values are secrets (``PWD`` and ``OLDPWD`` are folders).
_SECRET_NAME = re.compile(
    r"PASSW|^PASS|_PASS|PASS$|TOKEN|SECRET|PRIVATE|CREDENTIAL|API_?KEY|^RANDOMPW$", re.IGNORECASE
)
_CHUNK = 65536


class Redactor:
    """Masks every occurrence of the secrets it was given (with :data:`MASK`) in text fed in
    pieces: a secret split across two pieces is still masked, because the end of a piece that
    could be the start of one is held back until the next piece (or :meth:`flush`)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        found = sorted({s for s in secrets if len(s.strip()) >= SECRET_MIN}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, found))) if found else None
        self._hold = max(map(len, found), default=1) - 1
        self._pending = ""

    def feed(self, text: str) -> str:
        """The masked text that is certain so far."""
        if self._pattern is None:
            return text
        buffer = self._pending + text
        # A match that starts before ``safe`` lies wholly in the buffer, whatever comes next.
        safe = len(buffer) - self._hold
        out, cut = [], 0
        for match in self._pattern.finditer(buffer):
            if match.start() >= safe:
                break
            out += [buffer[cut : match.start()], MASK]
            cut = match.end()
        end = max(cut, safe)
        out.append(buffer[cut:end])
        self._pending = buffer[end:]
        return "".join(out)

    def flush(self) -> str:
        """The rest, masked: the text is over."""
        rest, self._pending = self._pending, ""
        return self._pattern.sub(MASK, rest) if self._pattern is not None else rest

    def redact(self, text: str) -> str:
        """``text`` (a whole one) masked."""
        return self.feed(text) + self.flush()


def _secret_values(values: Mapping[str, Any]) -> list[str]:
    return [
        str(value)
        for name, value in values.items()
        if _SECRET_NAME.search(name)
        and isinstance(value, str | int)
        and not isinstance(value, bool)
    ]


def _key_lines(path: Path) -> list[str]:
    """A private key file's text and each line of its body (a hook may print a part of it)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    lines = [line.strip() for line in text.splitlines()]
    return [text.strip(), *(line for line in lines if line and not line.startswith("-----"))]


def _identity_files(env: Mapping[str, str]) -> list[Path]:
    """The private keys the appliance ssh config given to the hook names, and the seat's own."""
    found = [Path(env["WOD_HOME"]) / ".ssh" / KEY_NAME] if env.get("WOD_HOME") else []
    config = env.get(SSH_CONFIG_ENV)
    if config:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(config).read_text().splitlines():
                words = shlex.split(line)
                if len(words) == 2 and words[0].lower() == "identityfile":
                    found.append(Path(words[1]))
    return found


def hook_secrets(
    env: Mapping[str, str], variables: Mapping[str, Any], known: Iterable[str] = ()
) -> list[str]:
    """Every secret a hook's output may show, to mask it: ``known`` (what the agent passes),
    the seat password and every value of a secret-looking name (password, token, secret, key)
    in the hook's environment, the workshop variables and the agent's own ``WOD_`` settings
    in its environment, and the private keys of the appliance and of the seat."""
    agent = {k: v for k, v in os.environ.items() if k.startswith("WOD_")}
    found = [*known, *_secret_values(env), *_secret_values(variables), *_secret_values(agent)]
    for key in _identity_files(env):
        found += _key_lines(key)
    return found


def settings_secrets(settings: BaseModel) -> list[str]:
    """Every secret of the agent's settings (its token, the hub's token, the SMTP and LDAP
    passwords, …), however they were given: a file, the environment or a default."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found += settings_secrets(value)
    return found


def pass_files(content: Content, names: list[str], seat: int) -> list[Path]:
    """Where the original platform's hooks left a seat's variables, in layer order:
    ``pass/variables_<name>_<N>.yml`` of every layer, for each of ``names`` (the workshop's
    folder, then the challenge it is played as)."""
    return [
        layer.path / "pass" / f"variables_{name}_{seat}.yml"
        for layer in content.layers
        for name in dict.fromkeys(names)
    ]


def read_handed_back(path: Path) -> dict[str, Any]:
    """The variables a ``create`` hook wrote into ``path`` (a YAML mapping, ``KEY: value``
    lines); nothing when the file is missing or empty. A file that is not such a mapping fails
    the CREATE (:class:`HookScriptError`), naming the file and the line; its values are never
    shown (a token is a secret of the seat)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise HookScriptError(f"variables handed back in {path}: cannot be read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        if "!vault" in str(getattr(exc, "problem", "")):
            raise HookScriptError(
                f"variables handed back in {where}: an Ansible Vault value (!vault); write the "
                "value as it is (KEY: value): the file lives only during the CREATE"
            ) from exc
        raise HookScriptError(f"variables handed back in {where}: not valid YAML") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HookScriptError(f"variables handed back in {path}: not a mapping of KEY: value lines")
    return {str(k): v for k, v in data.items()}


def hook_environment(
    *,
    verb: str,
    seat: int | None,
    username: str | None,
    home: Path | None,
    folder: str,
    slug: str,
    workshop_id: int | None,
    password: str | None,
    api_url: str,
    seat_range: tuple[int, int] | None,
    variables: Mapping[str, Any],
) -> dict[str, str]:
    """The environment of a hook: the contract variables, the original platform's names for
    them, and every scalar workshop variable (``HTTPPORT``, ``WODRTARGET``, …)."""
    # The agent's own settings (tokens, passwords) never reach a hook, and workshop variables
    # cannot replace the process basics.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOD_")}
    protected = {k: env[k] for k in PROTECTED if k in env}
    env.update({k: v for k, v in environment_names(variables).items() if k not in PROTECTED})
    env.update(protected)
    contract = {
        "WOD_VERB": verb,
        "WOD_SEAT": seat,
        "WOD_USERNAME": username,
        "WOD_HOME": home,
        "WOD_WORKSHOP": folder,
        "WOD_WORKSHOP_SLUG": slug,
        "WOD_WORKSHOP_ID": workshop_id,
        "WOD_PASSWORD": password,
        "WOD_API_URL": api_url,
        "WOD_SEAT_MIN": seat_range[0] if seat_range else None,
        "WOD_SEAT_MAX": seat_range[1] if seat_range else None,
        # the names the original platform's scripts use
        "stdid": seat,
        "stddir": home,
        "w": slug,
        "ws": folder,
        "wid": workshop_id,
        "randompw": password,
        "WODAPIDBEXTURL": api_url,
    }
    env.update({k: str(v) for k, v in contract.items() if v is not None})
    return env


class Hooks:
    """Finds and runs the hook scripts of the content layers."""

    def __init__(self, content: Content, timeout: float, secrets: Iterable[str] = ()) -> None:
        self.content = content
        self.timeout = timeout
        #: Secrets of the agent (its token, the hub's) to mask in the output besides those
        #: :func:`hook_secrets` finds.
        self.secrets = tuple(secrets)

    def run(
        self,
        kind: str,
        folder: str,
        env: Mapping[str, str],
        variables: Mapping[str, Any],
        log: Callable[[str], None],
    ) -> int:
        """Run every ``<kind>-<folder>`` script; how many ran."""
        scripts = self.content.scripts(f"{kind}-{folder}")
        for script in scripts:
            self._run_one(kind, script, env, variables, log)
        return len(scripts)

    def _run_one(
        self,
        kind: str,
        script: Path,
        env: Mapping[str, str],
        variables: Mapping[str, Any],
        log: Callable[[str], None],
    ) -> None:
        log(f"hook {script}")
        started = time.monotonic()
        redactor = Redactor(hook_secrets(env, variables, self.secrets))
        try:
            with tempfile.TemporaryDirectory(prefix="wod-hook-") as scratch:
                command = self._command(script, variables, Path(scratch))
                returncode, output = self._execute(
                    command, script.parent, env, Path(scratch), redactor
                )
        except (TemplateError, OSError) as exc:  # not rendered, or could not start
            returncode, output = -1, redactor.redact(f"{type(exc).__name__}: {exc}")
        elapsed = time.monotonic() - started
        for line in output.splitlines():
            log(f"  | {line}")
        if returncode == 0:
            log(f"hook {script.name} ok in {elapsed:.2f} s")
            return
        reason = {None: "timed out", -1: "could not run"}.get(
            returncode, f"exited with {returncode}"
        )
        message = f"hook {script.name} {reason} after {elapsed:.1f} s"
        if kind in STRICT:
            raise HookScriptError(message)
        log(f"{message} (not fatal for a {kind} hook: going on)")

    def _command(self, script: Path, variables: Mapping[str, Any], scratch: Path) -> list[str]:
        if script.name.endswith(".j2"):
            text, problems = render_text(
                make_environment(), script.read_text(), variables, str(script)
            )
            if problems:
                raise TemplateError(problems)
            rendered = scratch / script.name.removesuffix(".j2")
            rendered.write_text(text)
            rendered.chmod(0o700)
            script = rendered
        with script.open("rb") as handle:
            shebang = handle.read(2) == b"#!"
        if shebang and os.access(script, os.X_OK):
            return [str(script)]
        return ["/bin/bash", str(script)]  # no interpreter named: bash, as the original ran them

    def _execute(
        self,
        command: list[str],
        cwd: Path,
        env: Mapping[str, str],
        scratch: Path,
        redactor: Redactor,
    ) -> tuple[int | None, str]:
        # Output goes to a file, not a pipe: a background process the hook leaves running
        # (a daemon it started) keeps a pipe open, and waiting for its end would time out.
        output = scratch / "output"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                returncode: int | None = process.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                returncode = None
        return returncode, masked_tail(output, redactor)


def masked_tail(path: Path, redactor: Redactor, limit: int = OUTPUT_LIMIT) -> str:
    """The last ``limit`` characters of the output in ``path``, masked: read in pieces through
    the redactor, so that neither a piece's end nor the cut of the tail shows part of a
    secret."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    tail = ""
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            tail = (tail + redactor.feed(decoder.decode(chunk)))[-limit:]
    return (tail + redactor.feed(decoder.decode(b"", final=True)) + redactor.flush())[-limit:]
