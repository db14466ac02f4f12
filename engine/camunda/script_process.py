"""Python scripts run in child processes under a memory ceiling, killed when they overrun their time.

The checks in `bounds` refuse the operations that obviously grow too large, with a clear
message; this is the limit no single operation can bypass. Each child sets RLIMIT_AS on
itself, so an allocation past the ceiling fails inside the child (a MemoryError, reported
as the script's error) and never touches the server's memory; the parent waits for an
answer only until the script's time is up plus a grace second, then kills the child. A
killed or crashed child is replaced; idle children are kept for the next script, so a run
costs a round trip over two pipes, not a process start.

Requests are pickled by the parent for its own child; answers are unpickled with a loader
that accepts plain data only, so even a child whose sandbox were broken could not make the
parent run code. The child's answer is also limited in size.
"""

from __future__ import annotations

import atexit
import io
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from datetime import time as time_of_day
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.camunda import limits
from engine.camunda.bounds import LimitExceeded, OutOfMemory
from engine.errors import ExpressionError

GRACE_SECONDS = 1.0
"""How long after its own deadline a script's process gets before it is killed."""
MAX_ANSWER_BYTES = 64 * 1024 * 1024
"""Largest pickled result a child may send back."""
MAX_IDLE = 2
"""Children kept waiting for the next script; more are started while scripts run in parallel."""

_HEADER = struct.Struct("!Q")
_DATA_TYPES = (type(None), bool, int, float, str, bytes, list, tuple, dict, set, frozenset, datetime, date,
               time_of_day, timedelta, timezone, Decimal)
_ALLOWED_GLOBALS = {
    ("builtins", "set"), ("builtins", "frozenset"), ("datetime", "datetime"), ("datetime", "date"),
    ("datetime", "time"), ("datetime", "timedelta"), ("datetime", "timezone"), ("decimal", "Decimal"),
}


class _DataUnpickler(pickle.Unpickler):
    """Loads plain data only: a child's answer can name no function or class beyond these."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


class _Child:
    """One child process and its two pipes."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        root = str(Path(__file__).resolve().parents[2])
        # none of the server's environment (database URL, secret key): the child needs only to find the engine;
        # -P keeps the working directory off the import path
        env = {"PYTHONPATH": root, "LANG": "C.UTF-8"}
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", "engine.camunda.script_process", str(memory_mb)], cwd=root,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, close_fds=True)

    def ask(self, request: bytes, seconds: float) -> bytes:
        """Send one request and wait for the answer until `seconds` have passed; LimitExceeded on time-out."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(_HEADER.pack(len(request)) + request)
        self.process.stdin.flush()
        deadline = time.monotonic() + seconds
        fd = self.process.stdout.fileno()
        size = _HEADER.unpack(self._read(fd, _HEADER.size, deadline))[0]
        if size > MAX_ANSWER_BYTES:
            raise LimitExceeded(f"the script's variables are larger than {MAX_ANSWER_BYTES // 2**20} MB")
        return self._read(fd, size, deadline)

    def _read(self, fd: int, size: int, deadline: float) -> bytes:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        chunks = io.BytesIO()
        while chunks.tell() < size:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(left * 1000):
                raise _TimedOut
            chunk = os.read(fd, min(size - chunks.tell(), 1 << 20))
            if not chunk:
                raise _Ended
            chunks.write(chunk)
        return chunks.getvalue()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Kill the child and collect it (it may be deep in a runaway computation)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


class _TimedOut(Exception):
    pass


class _Ended(Exception):
    pass


class ScriptPool:
    """Idle children to run scripts in; safe across threads, and across a fork (the fork starts its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Child] = []
        self._pid = os.getpid()

    def _take(self, memory_mb: int) -> tuple[_Child, bool]:
        """An idle child with this memory ceiling, or a new one (then True)."""
        stale = []
        with self._lock:
            if self._pid != os.getpid():  # forked: the children belong to the parent process
                self._idle, self._pid = [], os.getpid()
            while self._idle:
                child = self._idle.pop()
                if child.memory_mb == memory_mb and child.alive():
                    return child, False
                stale.append(child)
        for child in stale:
            child.stop()
        try:
            return _Child(memory_mb), True
        except OSError as exc:
            raise ExpressionError(f"no process to run the script in can be started: {exc}") from None

    def _give_back(self, child: _Child) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE and self._pid == os.getpid():
                self._idle.append(child)
                return
        child.stop()

    def run(self, script: str, variables: Mapping[str, Any], steps: int, seconds: float) -> dict[str, Any]:
        """The script's resulting variables, or ExpressionError/LimitExceeded with the reason."""
        memory_mb = limits.current().script_memory_mb
        try:
            request = pickle.dumps((script, dict(variables), steps, seconds), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - a variable no script could be given
            raise ExpressionError(f"the case's variables cannot be given to a script: {exc}") from None
        for attempt in (1, 2):
            child, fresh = self._take(memory_mb)
            try:
                answer = child.ask(request, seconds + GRACE_SECONDS)
            except _TimedOut:
                child.stop()
                raise LimitExceeded(f"script ran longer than {seconds:g} seconds and was stopped") from None
            except (_Ended, BrokenPipeError, ConnectionResetError):
                child.stop()
                if attempt == 1 and not fresh:
                    continue  # an idle child that died meanwhile: once more with a fresh one
                raise LimitExceeded(f"script stopped its process (out of memory? the limit is {memory_mb} MB)"
                                    ) from None
            except BaseException:
                child.stop()
                raise
            return self._result(child, answer)
        raise AssertionError("unreachable")  # pragma: no cover

    def _result(self, child: _Child, answer: bytes) -> dict[str, Any]:
        try:
            kind, payload, reusable = _DataUnpickler(io.BytesIO(answer)).load()
        except Exception as exc:  # noqa: BLE001 - whatever the child sent that is not plain data
            child.stop()
            raise ExpressionError(f"the script's variables cannot be read back: {exc}") from None
        if reusable:
            self._give_back(child)
        else:
            child.stop()
        if kind == "ok":
            return dict(payload)
        error = LimitExceeded if kind == "limit" else ExpressionError
        raise error(str(payload))

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for child in idle:
            child.stop()


_pool = ScriptPool()
atexit.register(_pool.close)


def run(script: str, variables: Mapping[str, Any], steps: int, seconds: float) -> dict[str, Any]:
    """Run a sandboxed script in a child process (see the module docstring)."""
    return _pool.run(script, variables, steps, seconds)


# --------------------------------------------------------------------------- the child

def _storable_problem(variables: Mapping[str, Any]) -> str | None:
    """A variable a case could not keep (an iterator, a range...): named now, not when the case is saved."""
    seen: set[int] = set()
    for name, value in variables.items():
        stack = [value]
        while stack:
            item = stack.pop()
            if not isinstance(item, _DATA_TYPES):
                return f"variable '{name}' holds a {type(item).__name__} object, which a case cannot keep"
            if isinstance(item, (list, tuple, set, frozenset, dict)):
                if id(item) in seen:
                    continue
                seen.add(id(item))
                stack.extend(item.items() if isinstance(item, dict) else item)
    return None


def _serve(memory_mb: int) -> None:
    import resource

    from engine.camunda import sandbox

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is for the parent, which stops us
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    sys.stdout = sys.stderr  # nothing else may write into the answer pipe
    ceiling = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    while True:
        header = requests.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return  # the parent is gone
        script, variables, steps, seconds = pickle.loads(requests.read(_HEADER.unpack(header)[0]))
        try:
            result = sandbox.run_script(script, variables, steps, seconds)
            problem = _storable_problem(result)
            answer: tuple[str, Any, bool] = ("error", problem, True) if problem else ("ok", result, True)
        except OutOfMemory as exc:
            answer = ("limit", f"{exc} (limit {memory_mb} MB)", False)
        except LimitExceeded as exc:
            answer = ("limit", str(exc), True)
        except ExpressionError as exc:
            answer = ("error", str(exc), True)
        except MemoryError:
            answer = ("limit", f"script ran out of memory (limit {memory_mb} MB)", False)
        del variables
        try:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            answer = ("limit", f"script ran out of memory (limit {memory_mb} MB)", False)
            data = pickle.dumps(answer)
        except Exception as exc:  # noqa: BLE001 - a value pickle cannot write
            answer = ("error", f"the script's variables cannot be kept: {exc}", answer[2])
            data = pickle.dumps(answer)
        answers.write(_HEADER.pack(len(data)) + data)
        answers.flush()
        if not answer[2]:
            return


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
