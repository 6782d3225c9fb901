"""Iterate a JSON array item by item, with limits enforced while parsing.

``json.loads`` builds every value before anything can be counted: 63 MB of ``[{},{},…]``
became 21 M dicts and 1.65 GB. ``iter_array`` decodes one item at a time with the
standard library's C decoder (``raw_decode``) and stops at the first item over
``max_items`` (413). That decoder guards its own recursion (``RecursionError``) and
Python's ``int_max_str_digits`` (``ValueError``), both answered 400 here; an item nested
deeper than ``max_depth`` is refused too, so no later ``repr`` or walk recurses.

(ijson was tried first: its C backend crashes the process on an integer of more than
4,300 digits and builds any nesting depth until memory runs out.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from stackyard.web.errors import BadRequest, PayloadTooLarge

MAX_DEPTH = 32
CONTAINERS = frozenset((dict, list))
SPACE = re.compile(r"[ \t\n\r]*")
DECODER = json.JSONDecoder()


def depth(value: Any, limit: int) -> int:
    """Nesting depth of a decoded JSON value (a scalar is 0), counted up to ``limit + 1``."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            level += 1
            if level > deepest:
                deepest = level
                if deepest > limit:
                    break
            stack.extend(
                (child, level) for child in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


def invalid(reason: str) -> BadRequest:
    return BadRequest(f"the body is not valid JSON: {reason}")


def iter_array(body: bytes, max_items: int, max_depth: int = MAX_DEPTH) -> Iterator[Any]:
    """Items of the JSON array ``body``; ``ApiError`` 400 (malformed) or 413 (too many)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise invalid(f"not UTF-8 ({err.reason} at byte {err.start})") from None
    pos = SPACE.match(text).end()
    if pos == len(text):
        raise invalid("the body is empty")
    if text[pos] != "[":
        raise BadRequest("the body must be a JSON array")
    pos = SPACE.match(text, pos + 1).end()
    count, closed = 0, text.startswith("]", pos)
    pos += closed
    while not closed:
        try:
            item, pos = DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise invalid(f"{err.msg} at character {err.pos}") from None
        except RecursionError:
            raise invalid(f"item {count + 1} nests too deep") from None
        except ValueError as err:  # e.g. an integer over int_max_str_digits
            raise invalid(str(err)) from None
        count += 1
        if count > max_items:
            raise PayloadTooLarge(f"the array has more than {max_items} items", max_items=max_items)
        flat = type(item) is dict and CONTAINERS.isdisjoint(map(type, item.values()))
        if not flat and depth(item, max_depth) > max_depth:
            raise BadRequest(f"item {count} nests deeper than {max_depth} levels")
        yield item
        pos = SPACE.match(text, pos).end()
        if text.startswith("]", pos):
            closed = True
        elif text.startswith(",", pos):
            pos = SPACE.match(text, pos + 1).end()
        else:
            raise invalid(f"expected ',' or ']' at character {pos}")
        pos += closed
    if SPACE.match(text, pos).end() != len(text):
        raise invalid(f"extra data after the array at character {pos}")
