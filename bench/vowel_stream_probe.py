"""A probe, never deployed: the request path of "acknowledge after one fsynced Redis write".

Option (a) of issue 11: each write is ONE Redis script (AOF ``appendfsync always``) that
updates the aggregates and XADDs the raw event to a stream; a separate writer would batch
the stream into MariaDB. This module measures only the request path (no writer runs, the
stream just grows), so its figures are an upper bound of what option (a) could reach:
the writer's batched INSERTs would take CPU from the same cores on top.

    gunicorn --config python:stackyard.vowel.gunicorn_conf 'vowel_stream_probe:create_app()'
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from stackyard.vowel import app, model
from stackyard.vowel.config import load_settings
from stackyard.vowel.lua import INITIAL_LUA
from stackyard.vowel.redis_mariadb import RedisMariaDBInterface

# the deployed script's aggregate updates (stackyard.vowel.lua), then the raw event on a
# stream and a per-uuid key instead of its "return 1"
_DEPLOYED_TAIL = "return 1\n"
assert INITIAL_LUA.endswith(_DEPLOYED_TAIL), "stackyard.vowel.lua.INITIAL_LUA changed shape"
INITIAL = (
    INITIAL_LUA.removesuffix(_DEPLOYED_TAIL)
    + """\
local id = redis.call('XADD', KEYS[3], '*', 'k', 'i', 'u', ARGV[3], 's', s, 'v', ARGV[4],
                      't', ARGV[2])
redis.call('SET', KEYS[4], s .. ':' .. ARGV[5] .. ':' .. id)
return id
"""
)
# the follow-up finds its request in Redis (a per-uuid key: memory per event)
FOLLOWUP = """
local v = redis.call('GET', KEYS[2])
local id = redis.call('XADD', KEYS[1], '*', 'k', 'f', 'u', ARGV[1], 't', ARGV[2])
if v then
  local s, d = string.match(v, '^(%a):([%d-]+):')
  redis.call('HINCRBY', KEYS[3] .. 'sym:' .. s, 'followups', 1)
  redis.call('HINCRBY', KEYS[3] .. 'day:' .. d, s .. ':f', 1)
end
return id
"""


class StreamProbe(RedisMariaDBInterface):
    def __init__(self, settings) -> None:
        super().__init__(settings)
        self._initial_stream = self.redis_writes.register_script(INITIAL)
        self._followup_stream = self.redis_writes.register_script(FOLLOWUP)

    def log_initial(self, uuid: str, symbol: str, is_vowel: bool, at: datetime | None = None):
        at = at or model.now()
        keys = [self.sym_key(symbol), self.day_key(at.date()), f"{self.prefix}events",
                f"{self.prefix}u:{uuid}"]  # fmt: skip
        args = [symbol, model.micros(at), uuid, int(is_vowel), at.date().isoformat()]
        self._initial_stream(keys, args)

    def log_followup(self, uuid: str, at: datetime | None = None) -> None:
        at = at or model.now()
        keys = [f"{self.prefix}events", f"{self.prefix}u:{uuid}", self.prefix]
        self._followup_stream(keys, [uuid, model.micros(at)])


def create_app() -> Flask:
    settings = load_settings()
    return app.create_app(settings, StreamProbe(settings))
