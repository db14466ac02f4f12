"""What the worker loops share (the job runner and the mailer): stop, wake, sleep, and a stopped flag."""

from __future__ import annotations

import threading


class Loop:
    """A background loop that stop() ends and wake() hurries; `stopped` is set when run() has returned."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self.stopped = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _sleep(self, seconds: float) -> None:
        """Wait up to `seconds`, less when woken or stopped."""
        self._wake.wait(seconds)
        self._wake.clear()
