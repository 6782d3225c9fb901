"""JSON-lines logging to stderr: one object per record, extras included."""

from __future__ import annotations

import json
import logging
import sys
import time

# attributes every LogRecord has; anything else was passed through ``extra=``
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
HANDLER_NAME = "stackyard-rates-json"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str) -> None:
    """Send the ``stackyard`` loggers to stderr as JSON lines, once per process."""
    logger = logging.getLogger("stackyard")
    logger.setLevel(level)
    if not any(h.get_name() == HANDLER_NAME for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(HANDLER_NAME)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
