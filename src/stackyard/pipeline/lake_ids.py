"""What the S3 sink remembers of the lake to drop duplicate events.

An event sent twice by the apps (at-least-once) shares its prefix (same time, same client
address) and its partition (same key). Before a flush writes a prefix's object, the ids in
that prefix's *committed* objects of the partition (named below the flush's first offset of
that prefix) are left out; they are cached per (partition, prefix), least recently used
dropped, and read back from the bucket on a miss. Objects named at or above that offset are
leftovers of an uncommitted flush that this flush overwrites, so they never count.
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict

from aiokafka.structs import TopicPartition


def offset_of(key: str, start: str) -> int:
    """The first offset in an object key below ``start`` (huge for a foreign name)."""
    digits = key[len(start) :].split(".", 1)[0]
    return int(digits) if digits.isdigit() else 2**63


def ids_of(lines: bytes) -> set[str]:
    out = set()
    for line in lines.splitlines():
        try:
            out.add(str(uuid.UUID(json.loads(line)["id"])))
        except (ValueError, KeyError, TypeError):
            continue
    return out


class SeenIds:
    """Event ids of committed objects per (partition, prefix), least recently used dropped."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size = limit, 0
        self.ids: OrderedDict[tuple[TopicPartition, str], set[str]] = OrderedDict()

    def get(self, tp: TopicPartition, prefix: str) -> set[str] | None:
        found = self.ids.get((tp, prefix))
        if found is not None:
            self.ids.move_to_end((tp, prefix))
        return found

    def put(self, tp: TopicPartition, prefix: str, ids: set[str]) -> None:
        self.size += len(ids) - len(self.ids.get((tp, prefix), ()))
        self.ids[(tp, prefix)] = ids
        while self.size > self.limit and len(self.ids) > 1:
            _, dropped = self.ids.popitem(last=False)
            self.size -= len(dropped)

    def add(self, tp: TopicPartition, prefix: str, ids: list[str]) -> None:
        known = self.get(tp, prefix)
        if known is not None:
            self.put(tp, prefix, known | set(ids))

    def forget(self, tp: TopicPartition) -> None:
        for key in [k for k in self.ids if k[0] == tp]:
            self.size -= len(self.ids.pop(key))
