"""Publishing events: a bounded queue, a background producer thread.

One :class:`Publisher` per worker, in the worker's publisher process
(:mod:`stackyard.density.capture.relay`). Its thread runs its own asyncio loop with an
idempotent ``aiokafka`` producer (``acks=all``, linger, compression, keyed by client
address). While Kafka is unreachable, events go to the on-disk
:class:`~stackyard.density.capture.spool.Spool` and are replayed once it answers again.
Every event lost (queue full, spool full) is counted and logged.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from stackyard.density.capture import spool
from stackyard.density.capture.spool import Spool
from stackyard.density.config import Settings
from stackyard.kafkaclient import kafka_options

log = logging.getLogger("stackyard.density.capture")
PARTITIONER = DefaultPartitioner()  # the producer's own default
BATCH = 500
LINGER = 0.05  # seconds the thread waits after waking, so events arrive in batches
COUNTERS = (
    "queued",
    "published",
    "spooled",
    "replayed",
    "dropped_queue_full",
    "dropped_spool",
    "dropped_build_error",
)
STATE = (*COUNTERS, "kafka_up", "pending")  # what snapshot() reports
# an event, or what builds it (in this thread, off the request path)
Value = bytes | Callable[[], bytes]


class Publisher:
    def __init__(self, settings: Settings, stats: Any = None) -> None:
        """``stats``: where the counters go (a dict by default; the relay's shared page)."""
        self.settings = settings
        self.spool = Spool(settings.spool_dir, settings.spool_max_bytes, settings.spool_drop)
        self.stats = stats if stats is not None else dict.fromkeys(STATE, 0)
        self._pending: collections.deque[tuple[bytes, Value]] = collections.deque()
        self._lock = threading.Lock()
        self._pid = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._spool_dirty = True

    # -- request threads -------------------------------------------------------------------
    def start(self) -> None:
        """Start this process's publisher thread if it has none (after a fork). gunicorn's
        post_worker_init calls it, so a spool an earlier process left is replayed without
        waiting for a request."""
        if self._pid != os.getpid():
            self._start()

    def publish(self, key: bytes, value: Value) -> None:
        """Queue one event (bytes, or a function building them); never blocks or raises."""
        self.publish_many([(key, value)])

    def publish_many(self, events: list[tuple[bytes, Value]]) -> None:
        """Queue events (one lock, at most one wake-up of the thread for all of them)."""
        self.start()
        with self._lock:
            room = 0 if self._stopping else self.settings.capture_queue_size - len(self._pending)
            taken = events[: max(room, 0)]
            dropped = len(events) - len(taken)
            self._pending.extend(taken)
            self.stats["queued"] += len(taken)
            self.stats["dropped_queue_full"] += dropped
            self.stats["pending"] = len(self._pending)
            wake = bool(taken) and len(self._pending) == len(taken)  # it was empty
        if dropped:
            log.warning("capture queue full: %d events dropped", dropped, extra=self.snapshot())
        if wake and self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # loop closed at shutdown
                self._loop.call_soon_threadsafe(self._wake.set)

    @property
    def kafka_up(self) -> bool:
        return bool(self.stats["kafka_up"])

    @kafka_up.setter
    def kafka_up(self, up: bool) -> None:
        self.stats["kafka_up"] = int(up)

    def snapshot(self) -> dict[str, Any]:
        return {**{k: self.stats[k] for k in STATE}, "kafka_up": self.kafka_up}

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            # a forked child inherits no thread: start this process's own
            self._pid = os.getpid()
            self._pending.clear()
            for name in STATE:
                self.stats[name] = 0
            self._stopping = False
            self._done.clear()
            ready = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(ready,), name="capture-publisher", daemon=True
            )
            self._thread.start()
        ready.wait(5)
        atexit.register(self.close)

    def close(self, timeout: float | None = None) -> None:
        """Flush what is queued to Kafka, or to the spool, then stop (SIGTERM, exit)."""
        if self._pid != os.getpid() or self._thread is None:
            return
        with self._lock:
            self._stopping = True
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # loop closed at shutdown
                self._loop.call_soon_threadsafe(self._wake.set)
        self._done.wait(timeout if timeout is not None else self.settings.flush_timeout + 5)

    # -- the publisher thread ----------------------------------------------------------------
    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._wake = asyncio.Event()
        ready.set()
        try:
            loop.run_until_complete(self._main())
        except Exception:
            log.exception("capture publisher stopped")
        finally:
            loop.close()
            self._done.set()

    def _producer(self) -> AIOKafkaProducer:
        s = self.settings
        options = kafka_options(s, f"stackyard-{s.app_name}-{os.getpid()}")
        options.update(
            acks="all",
            enable_idempotence=True,
            linger_ms=s.kafka_linger_ms,
            request_timeout_ms=s.kafka_request_timeout_ms,
        )
        if s.kafka_compression and s.kafka_compression != "none":
            options["compression_type"] = s.kafka_compression
        return AIOKafkaProducer(**options)

    def _take(self) -> list[tuple[bytes, bytes]]:
        with self._lock:
            batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
            self.stats["pending"] = len(self._pending)
            if not self._pending and self._wake is not None:
                self._wake.clear()
        return [item for item in map(self._build, batch) if item is not None]

    def _build(self, item: tuple[bytes, Value]) -> tuple[bytes, bytes] | None:
        key, value = item
        if not callable(value):
            return key, value
        try:
            return key, value()
        except Exception:  # a bug in building must not stop the thread: count, log, go on
            self.stats["dropped_build_error"] += 1
            log.exception("building a capture event failed: event dropped")
            return None

    async def _main(self) -> None:
        producer: AIOKafkaProducer | None = None
        next_try = next_scan = 0.0
        try:
            self.spool.ensure()
        except OSError as err:
            log.error("capture spool %s unusable: %s", self.spool.dir, err)
        while True:
            stopping = self._stopping
            if producer is None and time.monotonic() >= next_try:
                producer = await self._connect()
                next_try = time.monotonic() + self.settings.retry_interval
            # spooled segments (this worker's or others') are looked for when this worker
            # spooled, or every retry interval: not once per batch
            if producer is not None and (self._spool_dirty or time.monotonic() >= next_scan):
                next_scan = time.monotonic() + self.settings.retry_interval
                if not await self._replay(producer):
                    producer = await self._drop_producer(producer)
            started = time.monotonic()
            batch = self._take()
            if batch:
                if producer is not None and await self._send(producer, batch):
                    self.stats["published"] += len(batch)
                    await self._gather(started)
                    continue
                if producer is not None:
                    producer = await self._drop_producer(producer)
                    next_try = time.monotonic() + self.settings.retry_interval
                self._to_spool(batch)
                continue
            if stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.retry_interval)
                # let a batch gather: one loop pass (and one spool write) per batch, not per event
                await asyncio.sleep(LINGER)
        if producer is not None:
            await self._drop_producer(producer)

    async def _gather(self, since: float) -> None:
        """Let the next batch gather until LINGER after the last one was taken, unless a
        full batch waits or the publisher stops: a produce request per LINGER, not one per
        acknowledgement round trip (which at low rates sent a request per few events and
        cost the broker more CPU than the apps)."""
        rest = since + LINGER - time.monotonic()
        if rest > 0 and len(self._pending) < BATCH and not self._stopping:
            await asyncio.sleep(rest)

    async def _connect(self) -> AIOKafkaProducer | None:
        producer = self._producer()
        try:
            await asyncio.wait_for(producer.start(), timeout=self.settings.flush_timeout)
        except Exception as err:
            if self.kafka_up or not self.stats["spooled"]:
                log.warning("kafka unreachable, spooling events: %s", err)
            self.kafka_up = False
            await self._drop_producer(producer)
            return None
        if not self.kafka_up:
            log.info("kafka reachable", extra={"bootstrap": list(self.settings.kafka_bootstrap)})
        self.kafka_up = True
        return producer

    async def _drop_producer(self, producer: AIOKafkaProducer) -> None:
        self.kafka_up = False
        try:
            await asyncio.wait_for(producer.stop(), timeout=self.settings.flush_timeout)
        except Exception:  # a producer that cannot stop cleanly is abandoned
            log.debug("producer stop failed", exc_info=True)

    async def _send(self, producer: AIOKafkaProducer, batch: list[tuple[bytes, bytes]]) -> bool:
        topic = self.settings.kafka_topic
        try:
            futures = await _send_batches(producer, topic, batch)
            await asyncio.wait_for(
                asyncio.gather(*futures), timeout=self.settings.flush_timeout + 5
            )
        except Exception as err:
            log.warning("publishing %d events failed: %s", len(batch), err)
            return False
        return True

    def _to_spool(self, batch: list[tuple[bytes, bytes]]) -> None:
        lines = [spool.line(k, v) for k, v in batch]
        try:
            dropped = self.spool.write(lines)
        except OSError as err:
            dropped = len(lines)
            log.error("capture spool write failed: %s", err)
        self._spool_dirty = True
        self.stats["spooled"] += len(lines) - dropped
        if dropped:
            self.stats["dropped_spool"] += dropped
            log.warning(
                "capture spool full: %d events dropped (policy %s)",
                dropped,
                self.settings.spool_drop,
                extra=self.snapshot(),
            )

    async def _replay(self, producer: AIOKafkaProducer) -> bool:
        """Send spooled segments, oldest first; False if Kafka failed on the way."""
        while True:
            try:
                segment = self.spool.claim()
            except OSError:
                return True
            if segment is None:
                self._spool_dirty = False
                return True
            batch = [spool.parse(line) for line in self.spool.read(segment)]
            ok = await self._send(producer, batch)
            self.spool.release(segment, sent=ok)
            if not ok:
                return False
            self.stats["replayed"] += len(batch)
            log.info("replayed %d spooled events", len(batch))


async def _send_batches(
    producer: AIOKafkaProducer, topic: str, batch: list[tuple[bytes, bytes]]
) -> list[asyncio.Future]:
    """Hand the events to the producer as one record batch per partition: half the CPU
    of a ``send()`` per event (measured), which runs in the app's process. Partitions are
    the producer's own choice (murmur2 of the key), so a client's events stay in order."""
    partitions = sorted(await producer.partitions_for(topic))
    by_partition: dict[int, list[tuple[bytes, bytes]]] = collections.defaultdict(list)
    for key, value in batch:
        by_partition[PARTITIONER(key, partitions, partitions)].append((key, value))
    futures = []
    for partition, records in by_partition.items():
        builder = producer.create_batch()
        for key, value in records:
            if builder.append(key=key, value=value, timestamp=None) is None:  # full
                futures.append(await producer.send_batch(builder, topic, partition=partition))
                builder = producer.create_batch()
                if builder.append(key=key, value=value, timestamp=None) is None:
                    raise ValueError(f"a capture event of {len(value)} bytes fits no batch")
        futures.append(await producer.send_batch(builder, topic, partition=partition))
    return futures
