"""Running a sink as a service: JSON logs on stdout, SIGTERM/SIGINT stop it gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from stackyard.pipeline.consumer import Sink
from stackyard.rates.logs import JsonFormatter


def configure_logging(level: str) -> None:
    """JSON lines on stdout for the ``stackyard`` loggers (and aiokafka's warnings)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    for name, lvl in (("stackyard", level), ("aiokafka", "WARNING")):
        logger = logging.getLogger(name)
        logger.setLevel(lvl)
        logger.handlers[:] = [handler]
        logger.propagate = False


def main(sink: Sink) -> int:
    """Run ``sink`` until SIGTERM/SIGINT."""
    configure_logging(sink.settings.log_level)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, sink.request_stop)
        await sink.run()

    asyncio.run(run())
    return 0
