"""A first-come, first-served lane with a fixed number of places, for language-model answers.

On a 2-core machine one local model answer keeps both cores busy for seconds, while a
retrieval-only answer needs ~50 ms. If both share one concurrency limit, a few long
generations hold every slot and quick answers queue behind them. The page therefore runs
model answers through a :class:`Lane` of their own (a small limit) and lets everything
else through. A waiting answer can see its place in line and tell the user, instead of
sitting silent.

Usage from a generator (so a closed browser tab frees the place via ``finally``)::

    ticket = lane.join()
    try:
        while not ticket.admitted(timeout=0.5):
            yield f"busy, place {ticket.place()}"
        ...  # generate
    finally:
        ticket.leave()
"""

from __future__ import annotations

import threading
from collections import deque


class Lane:
    """At most ``limit`` tickets hold a place at once; the others wait in arrival order."""

    def __init__(self, limit: int, poll_seconds: float = 0.5) -> None:
        if limit < 1:
            raise ValueError("a lane needs at least one place")
        self.limit = limit
        #: How often a waiting handler wakes to report its place; the page uses this.
        self.poll_seconds = poll_seconds
        self._condition = threading.Condition()
        self._running = 0
        self._waiting: deque[Ticket] = deque()

    def join(self) -> Ticket:
        """Queue up; call :meth:`Ticket.admitted` until it returns True, and always ``leave``."""
        ticket = Ticket(self)
        with self._condition:
            self._waiting.append(ticket)
        return ticket

    @property
    def running(self) -> int:
        """Tickets holding a place now."""
        with self._condition:
            return self._running

    @property
    def waiting(self) -> int:
        """Tickets queued for a place now."""
        with self._condition:
            return len(self._waiting)


class Ticket:
    """One answer's place in a :class:`Lane`."""

    def __init__(self, lane: Lane) -> None:
        self.lane = lane
        self.holding = False
        self.left = False

    def admitted(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for a place; True once this ticket holds one."""
        lane = self.lane
        with lane._condition:
            if self.holding:
                return True
            ready = lane._condition.wait_for(
                lambda: lane._waiting and lane._waiting[0] is self and lane._running < lane.limit, timeout
            )
            if not ready:
                return False
            lane._waiting.popleft()
            lane._running += 1
            self.holding = True
            lane._condition.notify_all()  # the next in line may fit too
            return True

    def place(self) -> int:
        """1 when this ticket is next to get a place; 0 once it holds one."""
        with self.lane._condition:
            if self.holding or self.left:
                return 0
            return list(self.lane._waiting).index(self) + 1

    def leave(self) -> None:
        """Give the place back (or stop waiting); safe to call more than once."""
        lane = self.lane
        with lane._condition:
            if self.left:
                return
            self.left = True
            if self.holding:
                lane._running -= 1
                self.holding = False
            else:
                try:
                    lane._waiting.remove(self)
                except ValueError:
                    pass
            lane._condition.notify_all()
