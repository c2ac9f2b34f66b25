"""What every ``wod`` command shares: the settings, the context, errors turned into exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, ParamSpec, TypeVar

from rich.console import Console

from wod.context import AppContext, build_context
from wod.errors import ConfigError, ContentError, Failure, Refusal
from wod.settings import Settings, load_settings

# soft_wrap: one problem stays on one line, whatever the width, for scripts that read it.
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
P = ParamSpec("P")
R = TypeVar("R")


class State:
    """Per-invocation state: the config file given to ``wod --config``."""

    config: Path | None = None
    contexts: ClassVar[list[AppContext]] = []


def settings(**overrides: Any) -> Settings:
    return load_settings(State.config, **overrides)


def context(**overrides: Any) -> AppContext:
    """The command's context; closed (database connections returned) when the command ends."""
    ctx = build_context(settings(**overrides))
    State.contexts.append(ctx)
    return ctx


def close_contexts() -> None:
    while State.contexts:
        State.contexts.pop().close()


def edge(func: Callable[P, R]) -> Callable[P, R]:
    """Turn wod errors into a message and an exit code (2 configuration, 1 anything else)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            err.print(f"[red]configuration error:[/red] {exc}")
            sys.exit(2)
        except ContentError as exc:
            for problem in exc.problems:
                err.print(str(problem), markup=False, highlight=False)
            sys.exit(1)
        except (Refusal, Failure) as exc:
            err.print(f"[red]error:[/red] {exc}")
            sys.exit(1)
        finally:
            close_contexts()

    return wrapper
