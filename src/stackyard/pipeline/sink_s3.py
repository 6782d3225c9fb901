"""The S3 (data lake) sink: ``python -m stackyard.pipeline.sink_s3``.

Each partition buffers its events as gzip JSON Lines objects, one per
``<YYYY-MM-DD>/<HH>/<ip>/`` prefix, named ``<topic>-<partition>-<first offset>.jsonl.gz``.
A partition is flushed when its buffer reaches ``SINK_FLUSH_BYTES`` or its oldest uncommitted
record is ``SINK_FLUSH_AGE_S`` old: all of its open objects are uploaded, then (only then) its
offset is committed, and nothing more is consumed from it until that commit. So at most one
uncommitted flush exists per partition, it starts at the committed offset, and a replay after
a crash starts there too: every prefix's first record is the same, so the replay writes the
same names and overwrites (docs/pipeline.md has the whole argument).
"""

from __future__ import annotations

import asyncio
import gzip
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka.structs import ConsumerRecord, TopicPartition
from botocore.exceptions import BotoCoreError, ClientError

from stackyard.pipeline.config import ConfigError, Settings, load_settings
from stackyard.pipeline.consumer import Sink, log
from stackyard.pipeline.event import Decoded, json_line
from stackyard.pipeline.lake_ids import SeenIds, ids_of, offset_of
from stackyard.pipeline.runtime import main

FLUSH_LEAD = 0.2  # share of the flush age left for the upload
TRANSIENT = (BotoCoreError, ClientError)  # an operator can fix a 403/404: keep waiting


def s3_hint(err: ClientError, bucket: str) -> str:
    """What to fix, for the refusals a configuration causes (they are retried: fixable live)."""
    code = str(err.response.get("Error", {}).get("Code", ""))
    if code in ("NoSuchBucket", "404"):
        return f"bucket {bucket!r} does not exist: create it, or fix SINK_S3_BUCKET"
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return "S3 refused the credentials: check SINK_S3_ACCESS_KEY and SINK_S3_SECRET_KEY"
    if code in ("AccessDenied", "403"):
        return f"S3 denied access to {bucket!r}: the key needs Put/Get/ListBucket on it"
    return f"S3 error {code or 'unknown'}"


def object_key(prefix: str, topic: str, partition: int, first_offset: int) -> str:
    return f"{prefix}/{topic}-{partition}-{first_offset:020d}.jsonl.gz"


def s3_client(settings: Settings) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=settings.s3_region,
        signature_version="s3v4",
        s3={"addressing_style": settings.s3_addressing},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=max(10, settings.s3_upload_concurrency),
    )
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint or None,
        aws_access_key_id=settings.s3_access_key or None,
        aws_secret_access_key=settings.s3_secret_key or None,
        verify=settings.s3_ca_bundle or None,
        config=config,
    )


@dataclass
class Open:
    """An object being filled: its prefix's records in this flush, first occurrence of an id."""

    first: int  # offset of the prefix's first record in this flush (duplicates included)
    lines: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # id -> (offset, line)


@dataclass
class Part:
    """The open objects of one partition, by prefix."""

    objects: dict[str, Open] = field(default_factory=dict)
    size: int = 0


class S3Sink(Sink):
    name = "s3"
    dependency = "s3"

    def __init__(self, settings: Settings, client: Any = None) -> None:
        super().__init__(settings)
        self.s3 = client
        self.parts: dict[TopicPartition, Part] = {}
        self.since: dict[TopicPartition, float] = {}
        self.seen = SeenIds(settings.dedup_cache_ids)

    def set_down(self, dependency: str, err: BaseException | str | None) -> None:
        """As the base class, with what to fix for the S3 errors an operator causes."""
        if isinstance(err, ClientError):
            err = f"{s3_hint(err, self.settings.s3_bucket)} ({type(err).__name__}: {err})"[:400]
        super().set_down(dependency, err)

    async def open(self) -> None:
        if self.s3 is None:
            self.s3 = s3_client(self.settings)

        def probe() -> None:
            try:
                self.s3.head_bucket(Bucket=self.settings.s3_bucket)
            except ClientError as err:  # allowed to write but not to list: fine
                if err.response.get("Error", {}).get("Code") not in ("403", "AccessDenied"):
                    raise

        await self.retry(self.dependency, lambda: asyncio.to_thread(probe), TRANSIENT)

    def take(self, tp: TopicPartition, record: ConsumerRecord, event: Decoded) -> None:
        # a partition's age counts from its oldest buffered record's Kafka timestamp (when the
        # app published it), not from when it was polled; never from the future (clock skew)
        if tp not in self.since:
            now = time.time()
            sent = record.timestamp / 1000 if record.timestamp and record.timestamp > 0 else now
            self.since[tp] = min(sent, now)
        part = self.parts.setdefault(tp, Part())
        found = part.objects.setdefault(event.prefix, Open(record.offset))
        event_id = str(event.event_id)
        if event_id in found.lines:
            self.counters["duplicates_skipped"] += 1
            return
        line = json_line(record.value, event)
        found.lines[event_id] = (record.offset, line)
        part.size += len(line)

    def revoked(self, tp: TopicPartition) -> None:
        self.parts.pop(tp, None)
        self.since.pop(tp, None)
        self.seen.forget(tp)

    def poll_ms(self) -> int:
        if not self.since:
            return 500
        left = min(self.since.values()) + self.flush_after - time.time()
        return max(0, min(500, int(left * 1000)))

    async def _upload(self, uploads: list[tuple[str, bytes]]) -> None:
        limit = asyncio.Semaphore(self.settings.s3_upload_concurrency)

        async def one(key: str, body: bytes) -> None:
            async with limit:
                await asyncio.to_thread(
                    self.s3.put_object, Bucket=self.settings.s3_bucket, Key=key, Body=body,
                    ContentType="application/gzip",
                )  # fmt: skip

        await asyncio.gather(*(one(key, body) for key, body in uploads))

    def _committed_ids(self, tp: TopicPartition, prefix: str, below: int) -> set[str]:
        """Ids in ``prefix``'s objects of ``tp`` named below offset ``below`` (committed ones)."""
        known = self.seen.get(tp, prefix)
        if known is not None:
            return known
        known, bucket = set(), self.settings.s3_bucket
        start = f"{prefix}/{tp.topic}-{tp.partition}-"
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=start):
            for item in page.get("Contents", []):
                if offset_of(item["Key"], start) < below:
                    body = self.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                    known.update(ids_of(gzip.decompress(body)))
        self.counters["prefixes_loaded"] += 1
        self.seen.put(tp, prefix, known)
        return known

    async def _objects(self, tp: TopicPartition, part: Part) -> list[tuple[str, str, list[str]]]:
        """(prefix, key, ids) of the objects to write, duplicates of committed objects left out."""
        out = []
        for prefix, found in part.objects.items():
            known = await self.retry(
                self.dependency,
                lambda p=prefix, f=found: asyncio.to_thread(self._committed_ids, tp, p, f.first),
                TRANSIENT,
            )
            kept = [(o, i) for i, (o, _) in found.lines.items() if i not in known]
            self.counters["duplicates_skipped"] += len(found.lines) - len(kept)
            if kept:
                key = object_key(prefix, tp.topic, tp.partition, min(kept)[0])
                out.append((prefix, key, [i for _, i in sorted(kept)]))
        return out

    async def flush(self, tp: TopicPartition) -> None:
        """Upload every open object of ``tp``, then commit its offset."""
        offset = self.pending.get(tp)
        part = self.parts.pop(tp, Part())
        self.since.pop(tp, None)
        if offset is None:
            return
        objects = await self._objects(tp, part)
        uploads = [  # mtime=0: the same records give the same bytes
            (key, gzip.compress(b"".join(part.objects[p].lines[i][1] for i in ids), mtime=0))
            for p, key, ids in objects
        ]
        if uploads:
            await self.retry(self.dependency, lambda: self._upload(uploads), TRANSIENT)
        self.counters["objects_uploaded"] += len(uploads)
        self.counters["stored"] += sum(len(ids) for _, _, ids in objects)
        self.counters["bytes_uploaded"] += sum(len(body) for _, body in uploads)
        await self.before_commit(tp, offset)
        if self.pending.get(tp) == offset:
            del self.pending[tp]
            assigned = self.consumer is not None and tp in self.consumer.assignment()
            if assigned and await self.commit({tp: offset}):
                for prefix, _, ids in objects:
                    self.seen.add(tp, prefix, ids)
                return
        self.seen.forget(tp)  # not committed: what the replay writes decides again

    async def before_commit(self, tp: TopicPartition, offset: int) -> None:
        """Between the uploads and the commit: the crash window the tests aim at."""

    @property
    def flush_after(self) -> float:
        """Seconds after its oldest record's publication that a partition is flushed: ahead of
        SINK_FLUSH_AGE_S by FLUSH_LEAD of it, so that the upload ends within the age."""
        return self.settings.flush_age_s * (1 - FLUSH_LEAD)

    async def after_poll(self) -> None:
        now = time.time()
        due = []
        for tp in list(self.pending):
            since = self.since.setdefault(tp, now)  # only duplicates or poison polled
            part = self.parts.get(tp)
            if (part and part.size >= self.settings.flush_bytes) or (
                now - since >= self.flush_after
            ):
                due.append(tp)
        if due:
            await asyncio.gather(*(self.flush(tp) for tp in due))

    async def drain(self) -> None:
        await asyncio.gather(*(self.flush(tp) for tp in list(self.pending)))


def run() -> int:
    try:
        settings = load_settings()
    except ConfigError as err:
        print(f"bad configuration: {err}", file=sys.stderr)
        return 2
    log.debug("starting the S3 sink")
    return main(S3Sink(settings))


if __name__ == "__main__":
    sys.exit(run())
