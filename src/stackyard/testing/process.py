"""What the throwaway servers of the tests share: stopping, crashing and restarting them.

A server class (a dataclass with ``root`` and ``proc`` fields) inherits ``ServerProcess``
and writes only ``start()``; ``stop()`` keeps the data (a clean restart follows),
``kill()`` is a crash (SIGKILL: no shutdown work), ``remove()`` deletes everything.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import TypeVar

Server = TypeVar("Server", bound="ServerProcess")


class ServerProcess:
    root: Path
    proc: subprocess.Popen | None
    stop_timeout: float = 30  # seconds a clean shutdown may take
    remove_signal: int = signal.SIGTERM  # how remove() ends the server

    def start(self) -> None:
        raise NotImplementedError

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=self.stop_timeout)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: a crash."""
        self.stop(signal.SIGKILL)

    def restart(self, crash: bool = False) -> None:
        self.kill() if crash else self.stop()
        self.start()

    def remove(self) -> None:
        self.stop(self.remove_signal)
        shutil.rmtree(self.root, ignore_errors=True)


def started(server: Server) -> Server:
    """``server`` started; removed again if it does not start."""
    try:
        server.start()
    except BaseException:
        server.remove()
        raise
    return server


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of the processes and all their descendants (a gunicorn
    master and its workers, a JVM and its threads), read from /proc; for benchmarks."""
    total, todo = 0.0, list(pids)
    while todo:
        pid = todo.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
            for task in os.listdir(f"/proc/{pid}/task"):
                todo += map(int, Path(f"/proc/{pid}/task/{task}/children").read_text().split())
        except (OSError, ValueError):
            continue  # exited meanwhile
    return total
