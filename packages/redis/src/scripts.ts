/**
 * The Lua scripts of the Redis engine: each engine call is ONE script, so each is atomic on its
 * own (Redis runs a script alone), on one Redis or one Cluster slot (every key of a channel
 * shares the hash tag `{channel}`).
 *
 * Every script takes the same keys and leading arguments:
 *   KEYS[1] meta  hash { o: latest offset, e: epoch, b: history bytes, t: history TTL ms }
 *   KEYS[2] log   stream, entry id `<offset>-0`, fields { a: publishedAt ms, d: data, i?: id }
 *   KEYS[3] ids   hash idempotency id -> offset (only ids still in `log`)
 *   KEYS[4] pm    sorted set clientId scored by expiry ms
 *   KEYS[5] pd    hash clientId -> member JSON (as given at join)
 *   ARGV[1] the pub/sub channel of notifications, ARGV[2] an epoch for a position created now,
 *   ARGV[3] how long a position outlives its last use, ms.
 * Time is Redis's own clock (TIME), one clock for every node.
 */
const prelude = `
local meta, log, ids, pm, pd = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local ev, newEpoch, positionTtl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- Lengthen a key's time to live to at least ms; never shortens it.
local function extend(key, ms)
  local left = redis.call('PTTL', key)
  if left == -1 or (left >= 0 and left < ms) then redis.call('PEXPIRE', key, ms) end
end

-- The channel's position; a lost one (expired, evicted, Redis restarted) opens a new epoch, and
-- what is left of the old epoch's history goes with it, so offsets never mix epochs.
local function ensure()
  if redis.call('EXISTS', meta) == 0 then
    redis.call('DEL', log, ids)
    redis.call('HSET', meta, 'o', 0, 'e', newEpoch, 'b', 0, 't', 0)
  end
  extend(meta, positionTtl)
  return redis.call('HGET', meta, 'e')
end

local function fields(entry)
  local f = {}
  local kv = entry[2]
  for i = 1, #kv, 2 do f[kv[i]] = kv[i + 1] end
  return f
end

-- Drop the head of the log while it breaks a bound: count, bytes, age.
local function trim(maxLen, maxBytes)
  local ttl = tonumber(redis.call('HGET', meta, 't')) or 0
  while true do
    local head = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
    if head == nil then
      redis.call('HSET', meta, 'b', 0)
      return
    end
    local f = fields(head)
    local bytes = tonumber(redis.call('HGET', meta, 'b')) or 0
    if redis.call('XLEN', log) <= maxLen and bytes <= maxBytes and tonumber(f.a) + ttl > now then return end
    redis.call('XDEL', log, head[1])
    local size = #f.d + 64
    if f.i then
      size = size + #f.i
      if redis.call('HGET', ids, f.i) == string.match(head[1], '^(%d+)') then redis.call('HDEL', ids, f.i) end
    end
    redis.call('HINCRBY', meta, 'b', -size)
  end
end

-- Members past their time to live leave, announced as such.
local function expireMembers()
  local gone = redis.call('ZRANGEBYSCORE', pm, '-inf', now)
  for _, clientId in ipairs(gone) do
    local member = redis.call('HGET', pd, clientId)
    redis.call('ZREM', pm, clientId)
    redis.call('HDEL', pd, clientId)
    if member then redis.call('PUBLISH', ev, cjson.encode({ t = 'l', m = member })) end
  end
end
`;

/** ARGV[4] data, [5] id ('' for none), [6] historySize, [7] historyTtlMs, [8] maxHistoryBytes, [9] entry size. */
export const publishScript = `${prelude}
local data, id = ARGV[4], ARGV[5]
local historySize, ttl, maxBytes, size = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local epoch = ensure()
if id ~= '' then
  local first = redis.call('HGET', ids, id)
  if first then
    if #redis.call('XRANGE', log, first .. '-0', first .. '-0') > 0 then return { tonumber(first), epoch, 1, 0 } end
    redis.call('HDEL', ids, id)
  end
end
redis.call('HSET', meta, 't', ttl)
local offset = redis.call('HINCRBY', meta, 'o', 1)
local at = now
if historySize > 0 then
  -- A Redis clock stepped back must not sort a publication before those stored.
  local last = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)[1]
  if last ~= nil then at = math.max(now, tonumber(fields(last).a)) end
  if id ~= '' then
    redis.call('XADD', log, string.format('%d-0', offset), 'a', string.format('%d', at), 'd', data, 'i', id)
    redis.call('HSET', ids, id, offset)
  else
    redis.call('XADD', log, string.format('%d-0', offset), 'a', string.format('%d', at), 'd', data)
  end
  redis.call('HINCRBY', meta, 'b', size)
end
trim(historySize, maxBytes)
-- The newest entry is the last to expire: the log and its ids live exactly as long.
if redis.call('EXISTS', log) == 1 then redis.call('PEXPIRE', log, ttl) end
if redis.call('EXISTS', ids) == 1 then redis.call('PEXPIRE', ids, ttl) end
extend(meta, ttl + positionTtl)
local note = { t = 'p', e = epoch, o = offset, a = string.format('%d', at), d = data }
if id ~= '' then note.i = id end
redis.call('PUBLISH', ev, cjson.encode(note))
return { offset, epoch, 0, string.format('%d', at) }
`;

/** ARGV[4] first stream id to read (`<since + 1>-0`), [5] limit (0: the position only). */
export const readScript = `${prelude}
local epoch = ensure()
trim(math.huge, math.huge)
local limit = tonumber(ARGV[5])
local entries = {}
if limit > 0 then entries = redis.call('XRANGE', log, ARGV[4], '+', 'COUNT', limit) end
return { tonumber(redis.call('HGET', meta, 'o')), epoch, entries }
`;

/** ARGV[4] clientId, [5] member JSON, [6] ttlMs, [7] maxMembers. Returns 1 on a join. */
export const presenceAddScript = `${prelude}
local clientId, member, ttl, maxMembers = ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
ensure()
expireMembers()
local present = redis.call('ZSCORE', pm, clientId) ~= false
if not present and redis.call('ZCARD', pm) >= maxMembers then
  return redis.error_reply('LIFELINE_LIMIT members')
end
redis.call('ZADD', pm, now + ttl, clientId)
if not present then redis.call('HSET', pd, clientId, member) end
extend(pm, ttl)
extend(pd, ttl)
extend(meta, ttl + positionTtl)
if present then return 0 end
redis.call('PUBLISH', ev, cjson.encode({ t = 'j', m = member }))
return 1
`;

/** ARGV[4] clientId. */
export const presenceRemoveScript = `${prelude}
expireMembers()
local member = redis.call('HGET', pd, ARGV[4])
if not member then return 0 end
redis.call('ZREM', pm, ARGV[4])
redis.call('HDEL', pd, ARGV[4])
redis.call('PUBLISH', ev, cjson.encode({ t = 'l', m = member }))
return 1
`;

/** Members present now, in join order while the hash is small (Redis keeps a small hash's order). */
export const presenceScript = `${prelude}
expireMembers()
return redis.call('HVALS', pd)
`;

/** What a listening node runs for each channel it hears: the position is kept, members expire. */
export const keepScript = `${prelude}
ensure()
expireMembers()
return 1
`;
