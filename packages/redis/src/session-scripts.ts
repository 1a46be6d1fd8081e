/**
 * Lua for the session-state half of the Engine (engine-sessions.ts in @lifeline/server). Every
 * script touches the keys of one session only, all under its hash tag `{sid}`:
 *
 *   KEYS[1] r   hash: th, pth, ih, cd (codec name, '' = none), exp ('' = null), holder ('' = detached), acc (accepted
 *               mark), ev (highest evicted seq), ps/pa (push seq appended/acknowledged), oc/pch
 *               (characters of outcomes/pushes held), ttl, rn, rc, pn, pc (SessionLimits)
 *   KEYS[2] c   hash: seq → claim as JSON { n: node, i: id, r: 0|1 (taken over once) }
 *   KEYS[3] o   hash: seq → outcome: '0' or '1' (error) followed by the encoded data
 *   KEYS[4] oo  list: 'seq:size' of the stored outcomes, oldest completed first (eviction order)
 *   KEYS[5] p   list: 'size:data' of the unacknowledged pushes, oldest first; the last is seq ps
 *
 * Every write ends with `refresh()`: each key expires `ttl` ms after the session's last write.
 * Sizes are characters of the JavaScript strings, passed in (Lua counts bytes).
 */
const prelude = `
local function refresh()
  local t = redis.call('HGET', KEYS[1], 'ttl')
  for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], t) end
end
local function num(field) return tonumber(redis.call('HGET', KEYS[1], field)) end
`;

/** ARGV: th, ih, exp ('' = null), ttl, rn, rc, pn, pc, holder ('' = none), codec ('' = none). → 1 created, 0 exists. */
export const createScript = `${prelude}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
redis.call('HSET', KEYS[1], 'th', ARGV[1], 'pth', '', 'ih', ARGV[2], 'exp', ARGV[3], 'holder', ARGV[9], 'cd', ARGV[10] or '',
  'acc', 0, 'ev', 0, 'ps', 0, 'pa', 0, 'oc', 0, 'pch', 0,
  'ttl', ARGV[4], 'rn', ARGV[5], 'rc', ARGV[6], 'pn', ARGV[7], 'pc', ARGV[8])
refresh()
return 1
`;

/** ARGV: expected th, next th, next pth ('' = null), node. → { 1, previous holder } or { 0 }. */
export const rotateScript = `${prelude}
if redis.call('HGET', KEYS[1], 'th') ~= ARGV[1] then return { 0 } end
local previous = redis.call('HGET', KEYS[1], 'holder')
redis.call('HSET', KEYS[1], 'th', ARGV[2], 'pth', ARGV[3], 'exp', '', 'holder', ARGV[4])
refresh()
return { 1, previous }
`;

/** ARGV: node, expiresAt. → 1 detached, 0 not the holder (or no session). */
export const detachScript = `${prelude}
local holder = redis.call('HGET', KEYS[1], 'holder')
if not holder or holder ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'holder', '', 'exp', ARGV[2])
refresh()
return 1
`;

/** → 1 refreshed, 0 no session. */
export const touchScript = `${prelude}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
refresh()
return 1
`;

/**
 * ARGV: seq, id, node. → { 'u' } no session, { 'd', outcome|false } duplicate,
 * { 'r', node, taken-over } running, { 'c' } claimed.
 */
export const claimScript = `${prelude}
if redis.call('EXISTS', KEYS[1]) == 0 then return { 'u' } end
local seq = tonumber(ARGV[1])
local outcome = redis.call('HGET', KEYS[3], ARGV[1])
if outcome then return { 'd', outcome } end
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held then
  local c = cjson.decode(held)
  return { 'r', c.n, c.r }
end
if seq <= num('ev') then return { 'd', false } end
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode({ n = ARGV[3], i = ARGV[2], r = 0 }))
if seq > num('acc') then redis.call('HSET', KEYS[1], 'acc', seq) end
refresh()
return { 'c' }
`;

/**
 * Take a claim over from a node found dead (checked by the caller: heartbeats live outside the
 * session's slot). ARGV: seq, dead node, node. → 'c' taken over, 'l' lost (taken over before),
 * 'x' the claim changed meanwhile (completed, or taken by another node): claim again.
 */
export const takeoverScript = `${prelude}
local held = redis.call('HGET', KEYS[2], ARGV[1])
if not held then return 'x' end
local c = cjson.decode(held)
if c.n ~= ARGV[2] then return 'x' end
local lost = c.r == 1
c.n = ARGV[3]
c.r = 1
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(c))
refresh()
if lost then return 'l' end
return 'c'
`;

/** ARGV: seq, node, '0'|'1' (error), data, size. → 1 stored (or answered once), 0 not the claim's holder. */
export const completeScript = `${prelude}
local held = redis.call('HGET', KEYS[2], ARGV[1])
if not held or cjson.decode(held).n ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
local seq = tonumber(ARGV[1])
local size = tonumber(ARGV[5])
local function evicted(s) if s > num('ev') then redis.call('HSET', KEYS[1], 'ev', s) end end
if size > num('rc') then
  evicted(seq)
else
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3] .. ARGV[4])
  redis.call('RPUSH', KEYS[4], ARGV[1] .. ':' .. ARGV[5])
  local chars = redis.call('HINCRBY', KEYS[1], 'oc', size)
  local rn = num('rn')
  local rc = num('rc')
  while redis.call('HLEN', KEYS[3]) > rn or chars > rc do
    local e = redis.call('LPOP', KEYS[4])
    local colon = string.find(e, ':', 1, true)
    local s = tonumber(string.sub(e, 1, colon - 1))
    redis.call('HDEL', KEYS[3], s)
    chars = redis.call('HINCRBY', KEYS[1], 'oc', -tonumber(string.sub(e, colon + 1)))
    evicted(s)
  end
end
refresh()
return 1
`;

/** ARGV: data, size. → seq, 0 full, -1 no session. */
export const appendScript = `${prelude}
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local size = tonumber(ARGV[2])
if redis.call('LLEN', KEYS[5]) >= num('pn') or num('pch') + size > num('pc') then return 0 end
redis.call('RPUSH', KEYS[5], ARGV[2] .. ':' .. ARGV[1])
redis.call('HINCRBY', KEYS[1], 'pch', size)
local seq = redis.call('HINCRBY', KEYS[1], 'ps', 1)
refresh()
return seq
`;

/** ARGV: seq (cumulative). → how many pushes were dropped. */
export const ackScript = `${prelude}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local seq = tonumber(ARGV[1])
local ps = num('ps')
local len = redis.call('LLEN', KEYS[5])
local n = math.min(len, seq - (ps - len + 1) + 1)
local dropped = 0
while dropped < n do
  local e = redis.call('LPOP', KEYS[5])
  local colon = string.find(e, ':', 1, true)
  redis.call('HINCRBY', KEYS[1], 'pch', -tonumber(string.sub(e, 1, colon - 1)))
  dropped = dropped + 1
end
local upTo = math.min(seq, ps)
if upTo > num('pa') then redis.call('HSET', KEYS[1], 'pa', upTo) end
refresh()
return dropped
`;

/** ARGV: after, limit (-1: all). → { first seq, 'size:data'... } (read only: no refresh). */
export const listScript = `${prelude}
if redis.call('EXISTS', KEYS[1]) == 0 then return { 0 } end
local ps = num('ps')
local len = redis.call('LLEN', KEYS[5])
local first = ps - len + 1
local start = math.max(0, tonumber(ARGV[1]) + 1 - first)
local limit = tonumber(ARGV[2])
local stop = -1
if limit >= 0 then stop = start + limit - 1 end
local out = { first + start }
for _, e in ipairs(redis.call('LRANGE', KEYS[5], start, stop)) do out[#out + 1] = e end
return out
`;

/**
 * Let go of a claim `node` holds whose handler never ran there (its `claim` call failed on the
 * node but ran here). ARGV: seq, node, the never-alive holder for a claim taken over before.
 * → 1 released, 0 not held by `node` (or an outcome is stored, or no session).
 */
export const releaseScript = `${prelude}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local held = redis.call('HGET', KEYS[2], ARGV[1])
if not held or redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 0 end
local c = cjson.decode(held)
if c.n ~= ARGV[2] then return 0 end
if c.r == 1 then
  -- Taken over before (its handler ran on a node that died, or two): the next claimant finds it lost.
  c.n = ARGV[3]
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(c))
else
  redis.call('HDEL', KEYS[2], ARGV[1])
end
refresh()
return 1
`;
