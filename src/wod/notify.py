"""What changed, told after the commit: the one way the services wake whoever waits on them.

A service never calls the catalogue cache or the background loops. The helpers that change
state note a :class:`Topic` on their session (:func:`note`); :class:`wod.db.session.Database`
publishes the session's topics once its transaction has committed, and not at all when it
rolled back. Whoever cares subscribes: the api's catalogue cache to :attr:`Topic.seats`, the
outbox loop to :attr:`Topic.mail`, the scheduler and content loops to :attr:`Topic.work`. So
nobody can forget to tell them, and nobody is woken for what is not theirs (a registration
queues an email and a job: it wakes the outbox, not a whole pass of the scheduler's timers).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any, Protocol

log = logging.getLogger(__name__)
Listener = Callable[[], None]
_SESSION_KEY = "wod.topics"


class Topic(StrEnum):
    seats = "seats"  # seats or registrations changed: the seats left may differ
    mail = "mail"  # an email is due: the outbox should look now
    work = "work"  # a timer or a content sync is due: the scheduler should look now


class _HasInfo(Protocol):
    @property
    def info(self) -> dict[Any, Any]: ...


def note(session: _HasInfo, *topics: Topic) -> None:
    """Record on ``session`` what its transaction changes, for after its commit."""
    session.info.setdefault(_SESSION_KEY, set()).update(topics)


def noted(session: _HasInfo) -> set[Topic]:
    """The topics recorded on ``session``, forgotten by the call."""
    found: set[Topic] = session.info.pop(_SESSION_KEY, set())
    return found


class Notifier:
    """Listeners by topic. Contract: :meth:`publish` calls each listener of the topics once,
    in the publishing thread; a failing listener is logged and never stops the others."""

    def __init__(self) -> None:
        self._listeners: dict[Topic, list[Listener]] = {topic: [] for topic in Topic}
        self._lock = threading.Lock()

    def subscribe(self, topic: Topic, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every commit that changed ``topic``; returns the function
        that ends the subscription."""
        with self._lock:
            self._listeners[topic].append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners[topic]:
                    self._listeners[topic].remove(listener)

        return unsubscribe

    def publish(self, topics: Iterable[Topic]) -> None:
        with self._lock:
            listeners = list(dict.fromkeys(f for t in topics for f in self._listeners[t]))
        for listener in listeners:
            try:
                listener()
            except Exception:  # a listener's failure must not undo or hide the commit
                log.exception("listener %r failed", listener)
