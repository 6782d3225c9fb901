"""``stackyard-vowel-client``: the original client's behaviour, bounded, at a chosen concurrency.

Each worker cycles through the letters of a text: ``POST /initial`` with a fresh uuid4 and
the letter; when the answer matches its own idea of a vowel it follows up with probability
0.1 (vowels) or 0.2 (consonants). It stops after ``--duration`` seconds or ``--requests``
initial requests in all, and prints a JSON summary (what the server acknowledged).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass

import requests

TEXT = (
    "the quick brown fox jumps over the lazy dog while a wizard's job is to vex chumps quickly "
    "in fog and pack my box with five dozen liquor jugs"
)


@dataclass
class Tally:
    initials: int = 0
    followups: int = 0
    errors: int = 0


def run_worker(
    base_url: str, text: str, stop: threading.Event, budget: Callable[[], bool], tally: Tally
) -> None:
    session = requests.Session()
    rng = random.Random()  # noqa: S311 - the client's whims, not secrets
    letters = itertools.cycle([c for c in text.lower() if "a" <= c <= "z"])
    while not stop.is_set() and budget():
        letter, ident = next(letters), str(uuid.uuid4())
        try:
            answer = session.post(
                f"{base_url}/initial", params={"uuid": ident, "symbol": letter}, timeout=30
            )
            answer.raise_for_status()
            tally.initials += 1
            mine = letter in "aeiou"
            if (answer.text == "True") == mine and rng.random() < (0.1 if mine else 0.2):
                session.post(
                    f"{base_url}/followup", params={"uuid": ident}, timeout=30
                ).raise_for_status()
                tally.followups += 1
        except requests.RequestException:
            tally.errors += 1
            time.sleep(0.05)


def run(base_url: str, concurrency: int, duration: float, requests_max: int, text: str) -> dict:
    stop = threading.Event()
    lock, issued = threading.Lock(), itertools.count()

    def budget() -> bool:
        with lock:
            return requests_max <= 0 or next(issued) < requests_max

    tallies = [Tally() for _ in range(concurrency)]
    threads = [
        threading.Thread(target=run_worker, args=(base_url.rstrip("/"), text, stop, budget, t))
        for t in tallies
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, duration - (time.monotonic() - started)))
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    total = {k: sum(getattr(t, k) for t in tallies) for k in asdict(Tally())}
    return {
        **total,
        "seconds": round(elapsed, 3),
        "initials_per_s": round(total["initials"] / elapsed, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:5000")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (bounded)")
    parser.add_argument("--requests", type=int, default=0, help="stop after this many initials")
    parser.add_argument("--text", default=TEXT)
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.duration <= 0:
        parser.error("--concurrency must be >= 1 and --duration > 0")
    summary = run(args.base_url, args.concurrency, args.duration, args.requests, args.text)
    print(json.dumps(summary))
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
