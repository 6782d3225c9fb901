"""Each worker's capture events leave through its own publisher process.

The request thread sends an event's parts (:class:`~stackyard.density.capture.event.Parts`,
one ``marshal`` message) into a Unix ``SOCK_SEQPACKET`` socket pair without blocking; at
the other end a companion process (``python -m stackyard.density.capture.relay``, started
after the fork, one per worker) builds the JSON and runs the publisher
(:mod:`stackyard.density.capture.publisher`: aiokafka, spool, replay). Building
and producing thus cost the worker neither its GIL nor its core: measured in
docs/benchmarks.md (Capture). The socket's buffer is the bounded queue between the two,
and it belongs to the kernel, so events a worker handed on survive the worker being
killed: the companion reads until the worker's end is closed, then flushes to Kafka or the
spool and exits.

When the companion cannot take an event (buffer full, process gone, event too large for
one message), the request thread builds it and writes it to the spool itself (counted as
``spooled_by_worker``; the companion replays the spool), and a companion that died is
started again (at most once per ``retry_interval``). The companion's counters live in a
shared memory page (a ``memfd``) that the worker reads for ``/health``.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import logging
import marshal
import mmap
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from stackyard.density.capture import event as ev
from stackyard.density.capture import spool
from stackyard.density.capture.publisher import STATE, Publisher
from stackyard.density.capture.spool import Spool
from stackyard.density.config import Settings
from stackyard.rates import logs

log = logging.getLogger("stackyard.density.capture")
SEND_BUFFER = 4 * 1024 * 1024  # asked for; the kernel caps it (net.core.wmem_max)
RECEIVE_BUFFER = 8 * 1024 * 1024  # larger than any message the send buffer allows
GATHER = 0.02  # seconds the publisher process sleeps between reads
BURST = 64  # events in one read above which it reads again at once
LOG_EVERY = 10.0  # seconds between two "spooled by the worker" lines (the counters count each)
EXTENSION = "stackyard.density.relay"  # where the app keeps its relay
WORKER_COUNTERS = (
    "spooled_by_worker",
    "dropped_by_worker",
    "companion_restarts",
    "lost_with_companion",
)
# where each event a companion took ends up (the rest was in its memory when it died)
SETTLED = ("published", "spooled", "dropped_spool", "dropped_build_error", "dropped_queue_full")


class Counters:
    """Named 64-bit counters in a shared memory page: the companion writes, the worker reads."""

    def __init__(self, fd: int) -> None:
        size = 8 * len(STATE)
        if os.fstat(fd).st_size < size:
            os.ftruncate(fd, size)
        self._map = mmap.mmap(fd, size)
        self._cells = memoryview(self._map).cast("q")
        self._index = {name: i for i, name in enumerate(STATE)}

    def __getitem__(self, name: str) -> int:
        return self._cells[self._index[name]]

    def __setitem__(self, name: str, value: int) -> None:
        self._cells[self._index[name]] = value

    def as_dict(self) -> dict[str, int]:
        return {name: self._cells[i] for name, i in self._index.items()}


def capture_stats(app: Any) -> dict[str, Any] | None:
    """This worker's capture counters (queued, published, spooled, dropped...), if on."""
    relay = app.extensions.get(EXTENSION)
    return relay.snapshot() if relay is not None else None


def builder(settings: Settings) -> ev.Builder:
    return ev.Builder(settings.app_name, settings.capture_body_bytes)


class Relay:
    """The worker's side: ``send`` never blocks or raises; ``close`` lets the companion
    flush and waits for it (gunicorn's ``worker_exit``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stats = dict.fromkeys(WORKER_COUNTERS, 0)
        self._pid = 0
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen | None = None
        self._counters: Counters | None = None
        self._next_start = 0.0
        self._sent = 0  # events handed to the current companion
        self._quiet_until = 0.0  # no "spooled by the worker" line again before
        self._lock = threading.Lock()
        self._build = builder(settings)
        self._spool = Spool(settings.spool_dir, settings.spool_max_bytes, settings.spool_drop)

    def start(self) -> None:
        """Start this process's companion if it has none (after a fork; gunicorn's
        post_worker_init calls it, so a spool an earlier process left is replayed at once)."""
        if self._pid != os.getpid() or (
            self._sock is None and time.monotonic() >= self._next_start
        ):
            self._start()

    def send(self, parts: tuple) -> None:
        """Hand on an event's parts (:class:`~stackyard.density.capture.event.Parts`' fields)."""
        self.start()
        sock = self._sock
        reason = "publisher process not running (restarted at most once per retry interval)"
        if sock is not None:
            try:
                sock.send(marshal.dumps(parts), socket.MSG_DONTWAIT)
                self._sent += 1
                return
            except BlockingIOError:
                reason = "publisher process busy (socket buffer full)"
            except OSError as err:
                reason = f"publisher process unreachable: {err}"
                if err.errno != errno.EMSGSIZE:  # too large is the event's fault, not the process's
                    self._lost(sock)
        self._spool_here(ev.Parts._make(parts), reason)

    def snapshot(self) -> dict[str, Any]:
        counters = self._counters.as_dict() if self._counters is not None else {}
        snap: dict[str, Any] = {**dict.fromkeys(STATE, 0), **counters, **self.stats}
        snap["kafka_up"] = bool(snap["kafka_up"])
        snap["publisher_pid"] = self._proc.pid if self._proc is not None else None
        snap["handed_on"] = self._sent  # to the current publisher process
        snap["unsettled"] = max(self._sent - sum(snap[k] for k in SETTLED), 0) if counters else 0
        return snap

    def close(self, timeout: float | None = None) -> None:
        """Tell the companion no more events come, and wait while it flushes."""
        proc, sock = self._proc, self._sock
        if self._pid != os.getpid() or proc is None:
            return
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        try:
            proc.wait(timeout if timeout is not None else self.settings.flush_timeout + 5)
        except subprocess.TimeoutExpired:
            log.warning("capture publisher process %d still flushing at exit", proc.pid)

    # -- starting and losing the companion ---------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's companion is not ours
                self._pid, self._sock, self._proc, self._counters = os.getpid(), None, None, None
                self.stats = dict.fromkeys(WORKER_COUNTERS, 0)
                atexit.register(self.close)
            if self._sock is not None:
                return
            self._next_start = time.monotonic() + self.settings.retry_interval
            try:
                self._sock, self._proc, self._counters = self._spawn()
                self._sent = 0
            except OSError as err:
                log.error("capture publisher process did not start: %s", err)

    def _spawn(self) -> tuple[socket.socket, subprocess.Popen, Counters]:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        stats_fd = os.memfd_create("stackyard-capture-stats")
        try:
            mine.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            counters = Counters(stats_fd)
            proc = subprocess.Popen(  # noqa: S603  (this interpreter, this module)
                [sys.executable, "-m", __name__, str(theirs.fileno()), str(stats_fd)],
                pass_fds=(theirs.fileno(), stats_fd),
                stdin=subprocess.DEVNULL,
            )
            # the settings travel on the socket (they may hold a Kafka password: not argv)
            mine.send(pickle.dumps(self.settings))
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
            os.close(stats_fd)
        return mine, proc, counters

    def _lost(self, sock: socket.socket) -> None:
        with self._lock:
            if self._sock is not sock:
                return
            self._sock = None
            self.stats["companion_restarts"] += 1
        sock.close()
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(0)  # reap it
        # its counters outlive it: what it took and never settled was in its memory (an
        # upper bound: the last batch may have reached Kafka unacknowledged)
        lost = self.snapshot()["unsettled"]
        self.stats["lost_with_companion"] += lost
        log.error(
            "capture publisher process lost with up to %d events; spooling until it is back",
            lost,
        )

    def _spool_here(self, parts: ev.Parts, reason: str) -> None:
        """The fallback: build the event in this thread and spool it (the companion replays it)."""
        try:
            line = spool.line(parts.ip.encode(), self._build(parts))
            with self._lock:
                dropped = self._spool.write([line])
        except Exception as err:  # a bug or a full disk must not fail the request
            dropped = 1
            log.error("capture event could not be spooled: %s", err)
        with self._lock:
            # as the publisher counts: the events the spool's policy dropped (old or this one)
            self.stats["spooled_by_worker"] += max(1 - dropped, 0)
            self.stats["dropped_by_worker"] += dropped
            # an overloaded publisher would otherwise get a log line per request
            say = time.monotonic() >= self._quiet_until
            if say:
                self._quiet_until = time.monotonic() + LOG_EVERY
        if dropped:  # every loss is logged
            log.warning("capture spool full: %d events dropped", dropped, extra=self.stats)
        elif say:
            log.warning("capture events spooled by the worker: %s", reason, extra=self.stats)


# -- the companion process ---------------------------------------------------------------------
def _serve(sock: socket.socket, counters: Counters) -> None:
    first = sock.recv(1 << 20)
    if not first:
        return  # the worker died before it sent the settings: nothing to publish
    # the pair is private to the worker and this process: its messages are trusted
    settings: Settings = pickle.loads(first)  # noqa: S301
    logs.configure(settings.log_level)
    publisher = Publisher(settings, stats=counters)
    build = builder(settings)
    publisher.start()
    buffer = bytearray(RECEIVE_BUFFER)
    while True:
        events, open_ = _receive(sock, buffer, counters)
        publisher.publish_many([(p.ip.encode(), functools.partial(build, p)) for p in events])
        if not open_:
            break  # the worker closed its end (exit, SIGKILL): flush and go
        if len(events) < BURST:
            # let the next events gather: a wake-up per GATHER, not one per event (each
            # one is a context switch, which cost more CPU than building the event)
            time.sleep(GATHER)
    publisher.close()


def _receive(
    sock: socket.socket, buffer: bytearray, counters: Counters
) -> tuple[list[ev.Parts], bool]:
    """Wait for a message, then take every one waiting; False once the worker's end closed."""
    view, events, flags = memoryview(buffer), [], 0
    while True:
        try:
            size = sock.recv_into(buffer, 0, flags | socket.MSG_TRUNC)
        except BlockingIOError:
            return events, True
        if not size:
            return events, False
        flags = socket.MSG_DONTWAIT
        if size > len(buffer):
            counters["dropped_build_error"] += 1
            log.error("a capture message of %d bytes was cut: event dropped", size)
            continue
        events.append(ev.Parts(*marshal.loads(view[:size])))  # noqa: S302


def main(argv: list[str]) -> None:
    # the worker's stop (SIGTERM to the service's processes, Ctrl-C to the group) is this
    # process's cue only once the worker has closed its end: events still come until then
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    sock = socket.socket(fileno=int(argv[0]))
    counters = Counters(int(argv[1]))
    _serve(sock, counters)


if __name__ == "__main__":
    main(sys.argv[1:])
