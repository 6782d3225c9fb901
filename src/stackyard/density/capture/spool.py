"""A bounded on-disk spool of events, shared by a service's worker processes.

Each batch is one JSON-lines segment, written to a temporary name and renamed into place.
A reader claims a segment by renaming it (only one process wins), sends it, then deletes
it. When a new batch would push the spool past ``max_bytes``, the policy drops either the
oldest segments or the new batch; either way the caller is told how many events were lost.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

SUFFIX = ".jsonl"
_seq = itertools.count()


def line(key: bytes, value: bytes) -> bytes:
    """An event as a spool line: its Kafka key in hex, a space, the event's JSON."""
    return key.hex().encode() + b" " + value


def parse(raw: bytes) -> tuple[bytes, bytes]:
    """The key and the event of a spool line (:func:`line`)."""
    key, _, value = raw.partition(b" ")
    return bytes.fromhex(key.decode()), value


class Spool:
    def __init__(self, directory: str, max_bytes: int, drop: str = "oldest") -> None:
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        self.drop = drop
        self._size, self._sized_at = 0, -1e9

    def _approx_size(self, adding: int) -> int:
        """The spool's size: counted on disk at most every 5 s or near the bound, else tracked."""
        now = time.monotonic()
        if now - self._sized_at > 5 or self._size + adding > self.max_bytes * 0.9:
            self._size, self._sized_at = self.size(), now
        return self._size

    def ensure(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._reclaim()

    def _reclaim(self) -> None:
        """Segments claimed by processes that no longer exist go back into the spool."""
        for path in self.dir.glob(f"*{SUFFIX}.claimed-*"):
            pid = int(path.name.rsplit("-", 1)[1])
            if not _alive(pid):
                path.rename(path.with_name(path.name.split(".claimed-")[0]))

    def segments(self) -> list[Path]:
        return sorted(self.dir.glob(f"*{SUFFIX}"))

    def size(self) -> int:
        total = 0
        for path in self.dir.iterdir():
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                continue
        return total

    def write(self, lines: list[bytes]) -> int:
        """Append a batch; returns the number of events dropped to stay within the bound."""
        data = b"".join(line + b"\n" for line in lines)
        self.dir.mkdir(parents=True, exist_ok=True)
        dropped = 0
        if self._approx_size(len(data)) + len(data) > self.max_bytes:
            if self.drop == "newest" or len(data) > self.max_bytes:
                return len(lines)
            for old in self.segments():
                dropped += _count(old)
                old.unlink(missing_ok=True)
                self._size = self.size()
                if self._size + len(data) <= self.max_bytes:
                    break
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(_seq):08d}{SUFFIX}"
        tmp = self.dir / f".{name}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.rename(self.dir / name)
        self._size += len(data)
        return dropped

    def claim(self) -> Path | None:
        """The oldest unclaimed segment, renamed so no other process takes it."""
        for path in self.segments():
            claimed = path.with_name(f"{path.name}.claimed-{os.getpid()}")
            try:
                path.rename(claimed)
            except FileNotFoundError:
                continue
            return claimed
        return None

    @staticmethod
    def read(path: Path) -> list[bytes]:
        return [line for line in path.read_bytes().split(b"\n") if line]

    @staticmethod
    def release(path: Path, sent: bool) -> None:
        if sent:
            path.unlink(missing_ok=True)
        else:
            path.rename(path.with_name(path.name.split(".claimed-")[0]))


def _count(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
