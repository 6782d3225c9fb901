"""The Lua scripts that update and merge the Redis aggregates (keys: redis_mariadb.py)."""

# bump count, earliest and latest of one symbol in its all-time hash and its day hash
INITIAL_LUA = """
local s, ts = ARGV[1], tonumber(ARGV[2])
local function bump(key, c, e, l)
  redis.call('HINCRBY', key, c, 1)
  local old = redis.call('HGET', key, e)
  if not old or tonumber(old) > ts then redis.call('HSET', key, e, ARGV[2]) end
  old = redis.call('HGET', key, l)
  if not old or tonumber(old) < ts then redis.call('HSET', key, l, ARGV[2]) end
end
bump(KEYS[1], 'count', 'earliest', 'latest')
bump(KEYS[2], s .. ':c', s .. ':e', s .. ':l')
return 1
"""

# merge the day hashes of a range inside Redis: sum counts and follow-ups, min of the
# earliest, max of the latest; answers ONE string "field=value field=value ..." (26 x 4 at
# most; '%.0f' keeps microsecond times exact: they are far below 2^53), which the client
# splits: parsing a hundred RESP replies cost more than the merge itself
RANGE_LUA = """
local acc = {}
for _, key in ipairs(KEYS) do
  local flat = redis.call('HGETALL', key)
  for i = 1, #flat, 2 do
    local f, v = flat[i], tonumber(flat[i + 1])
    local old, kind = acc[f], string.sub(f, -1)
    if old == nil then acc[f] = v
    elseif kind == 'e' then acc[f] = math.min(old, v)
    elseif kind == 'l' then acc[f] = math.max(old, v)
    else acc[f] = old + v end
  end
end
local out = {}
for f, v in pairs(acc) do out[#out + 1] = f .. '=' .. string.format('%.0f', v) end
return table.concat(out, ' ')
"""
