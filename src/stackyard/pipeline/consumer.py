"""The shared part of the sinks: a consumer-group member with manual commits.

A :class:`Sink` subclass buffers decoded events (:meth:`Sink.take`), stores what is due in
:meth:`Sink.after_poll` and commits offsets with :meth:`Sink.commit` only once stored.
Poison messages go to the dead-letter topic (reason in the headers), acknowledged before
their offset can be committed. A dependency that fails is retried with backoff
(:meth:`Sink.retry`) while ``/health`` answers 503; SIGTERM stores and commits what is
buffered, or gives up after ``SINK_STOP_TIMEOUT_S`` when a dependency is down (nothing
uncommitted is lost: it is consumed again).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition

from stackyard.pipeline import health
from stackyard.pipeline.config import Settings, kafka_options
from stackyard.pipeline.event import Decoded, Poison, decode

log = logging.getLogger("stackyard.pipeline")
T = TypeVar("T")


class Abandon(Exception):
    """Stopping while a dependency is down: leave uncommitted work to the next run."""


class _Listener(ConsumerRebalanceListener):
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        for tp in revoked:
            self.sink.pending.pop(tp, None)
            self.sink.revoked(tp)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        parts = sorted(tp.partition for tp in assigned)
        log.info("partitions assigned", extra={"partitions": parts})


class Sink:
    name = "sink"
    dependency = "store"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.group = settings.group or f"stackyard-sink-{self.name}"
        self.counters: Counter[str] = Counter()
        self.down: dict[str, str] = {"kafka": "starting", self.dependency: "starting"}
        self.pending: dict[TopicPartition, int] = {}  # next offset to commit, once stored
        self.committed: dict[TopicPartition, int] = {}
        self.lag: dict[int, int] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.stopping = asyncio.Event()
        self.stop_deadline = float("inf")
        self.started = time.monotonic()

    # -- what a sink implements -------------------------------------------------------
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    def take(self, tp: TopicPartition, record: ConsumerRecord, event: Decoded) -> None: ...
    def revoked(self, tp: TopicPartition) -> None: ...
    async def after_poll(self) -> None: ...
    async def drain(self) -> None: ...
    def poll_ms(self) -> int:
        return 500

    # -- shared machinery -------------------------------------------------------------
    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stopping: storing and committing what is buffered")
            self.stop_deadline = time.monotonic() + self.settings.stop_timeout_s
            self.stopping.set()

    def set_down(self, dependency: str, err: BaseException | str | None) -> None:
        before = self.down.get(dependency)
        if err is None:
            if before is not None:
                log.info("%s reachable", dependency)
            self.down.pop(dependency, None)
        else:
            text = err if isinstance(err, str) else f"{type(err).__name__}: {err}"[:300]
            if before is None:
                log.warning("%s unreachable, waiting", dependency, extra={"error": text})
            self.down[dependency] = text

    async def retry(self, dependency: str, op: Callable[[], Awaitable[T]],
                    transient: tuple[type[BaseException], ...]) -> T:  # fmt: skip
        """``op()`` until it succeeds; transient errors mark ``dependency`` down and back off."""
        delay = 0.2
        while True:
            try:
                result = await op()
            except transient as err:
                self.set_down(dependency, err)
                self.counters[f"{dependency}_retries"] += 1
                if time.monotonic() + delay > self.stop_deadline:
                    raise Abandon(dependency) from err
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            else:
                self.set_down(dependency, None)
                return result

    async def commit(self, offsets: dict[TopicPartition, int]) -> bool:
        """Commit ``offsets``; False when the group took the partitions away (replayed)."""
        if not offsets:
            return True
        assert self.consumer is not None
        consumer = self.consumer

        async def once() -> None:
            await asyncio.wait_for(consumer.commit(dict(offsets)), 15)

        try:
            await self.retry("kafka", once, (KafkaError, TimeoutError, OSError))
        except (CommitFailedError, IllegalStateError) as err:
            self.counters["commits_refused"] += 1
            log.warning("commit refused, partitions reassigned", extra={"error": str(err)})
            return False
        self.committed.update(offsets)
        self.counters["commits"] += 1
        return True

    async def dead_letter(self, dead: list[tuple[ConsumerRecord, str]]) -> None:
        assert self.producer is not None
        producer = self.producer

        async def send_all() -> None:
            sent = []
            for record, reason in dead:
                source = f"{record.topic}/{record.partition}/{record.offset}"
                headers = [("reason", reason.encode()), ("sink", self.name.encode()),
                           ("source", source.encode())]  # fmt: skip
                sent.append(await producer.send(self.settings.dlq_topic, value=record.value,
                                                key=record.key, headers=headers))  # fmt: skip
            await asyncio.wait_for(asyncio.gather(*sent), 30)

        await self.retry("kafka", send_all, (KafkaError, TimeoutError, OSError))
        for record, reason in dead:
            self.counters["dead_lettered"] += 1
            log.warning("dead-lettered", extra={"reason": reason, "partition": record.partition,
                                                "offset": record.offset})  # fmt: skip

    async def _start_kafka(self) -> None:
        options = kafka_options(self.settings, f"stackyard-sink-{self.name}")

        async def start() -> None:
            consumer = AIOKafkaConsumer(
                **options, group_id=self.group, enable_auto_commit=False,
                auto_offset_reset="earliest", isolation_level="read_committed",
                max_poll_interval_ms=self.settings.kafka_max_poll_interval_ms,
            )  # fmt: skip
            producer = AIOKafkaProducer(**options, acks="all", enable_idempotence=True)
            try:
                await consumer.start()
                await producer.start()
            except BaseException:
                await consumer.stop()
                await producer.stop()
                raise
            consumer.subscribe([self.settings.topic], listener=_Listener(self))
            self.consumer, self.producer = consumer, producer

        await self.retry("kafka", start, (KafkaError, OSError))

    async def _watch_lag(self) -> None:
        assert self.consumer is not None
        consumer, last, seen = self.consumer, time.monotonic(), Counter(self.counters)
        while True:
            await asyncio.sleep(min(5.0, self.settings.log_interval_s))
            parts = list(consumer.assignment())
            try:
                ends = await asyncio.wait_for(consumer.end_offsets(parts), 5) if parts else {}
                lag = {}
                for tp, end in ends.items():
                    done = self.committed.get(tp)
                    if done is None:
                        done = (await asyncio.wait_for(consumer.committed(tp), 5)) or 0
                    lag[tp.partition] = max(0, end - done)
            except (KafkaError, TimeoutError, OSError) as err:
                self.set_down("kafka", err)
                continue
            self.set_down("kafka", None)
            self.lag = lag
            now = time.monotonic()
            if now - last >= self.settings.log_interval_s:
                rate = {k: round((v - seen[k]) / (now - last), 1) for k, v in self.counters.items()}
                log.info("progress", extra={"per_second": rate, "lag": sum(self.lag.values()),
                                            "counters": dict(self.counters)})  # fmt: skip
                last, seen = now, Counter(self.counters)

    def status(self) -> tuple[bool, dict[str, Any]]:
        healthy = not self.down and self.consumer is not None
        return healthy, {
            "status": "ok" if healthy else "unavailable",
            "sink": self.name, "group": self.group, "topic": self.settings.topic,
            "dependencies": {k: self.down.get(k, "ok") for k in ("kafka", self.dependency)},
            "counters": dict(self.counters),
            "lag": {str(p): n for p, n in sorted(self.lag.items())},
            "uptime_s": round(time.monotonic() - self.started, 1),
        }  # fmt: skip

    async def _poll(self) -> None:
        assert self.consumer is not None
        batches = await self.consumer.getmany(timeout_ms=self.poll_ms(),
                                              max_records=self.settings.batch_max)  # fmt: skip
        dead: list[tuple[ConsumerRecord, str]] = []
        for tp, records in batches.items():
            for record in records:
                self.counters["consumed"] += 1
                try:
                    self.take(tp, record, decode(record.value))
                except Poison as poison:
                    dead.append((record, poison.reason))
        if dead:
            await self.dead_letter(dead)
        for tp, records in batches.items():
            if records and tp in self.consumer.assignment():
                self.pending[tp] = records[-1].offset + 1

    async def run(self) -> None:
        """Consume until :meth:`request_stop`; the caller owns the event loop."""
        host, port = self.settings.health_address
        server = await health.serve(host, port, self.status)
        watcher: asyncio.Task | None = None
        try:
            await self._start_kafka()
            await self.open()
            watcher = asyncio.create_task(self._watch_lag())
            log.info("consuming", extra={"topic": self.settings.topic, "group": self.group})
            while not self.stopping.is_set():
                await self._poll()
                await self.after_poll()
            await self.drain()
        except Abandon as why:
            log.warning("stopped with uncommitted work (it is consumed again)",
                        extra={"dependency": str(why)})  # fmt: skip
        finally:
            if watcher:
                watcher.cancel()
            server.close()
            await self.close()
            for client in (self.consumer, self.producer):
                if client is not None:
                    await client.stop()
            log.info("stopped", extra={"counters": dict(self.counters)})
