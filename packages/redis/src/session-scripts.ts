/**
 * Lua for the session-state half of the Engine (engine-sessions.ts in @lifeline/server). Every
 * script touches the keys of one session only, all under its hash tag `{sid}`:
 *
 *   KEYS[1] r   hash: th, pth, ih, cd (codec name, '' = none), exp ('' = null), holder ('' = detached), acc (accepted
 *               mark), ev (highest evicted seq), ps/pa (push seq appended/acknowledged), on/oc (outcomes held and
 *               their characters), pch (characters of pushes held), ttl, rn, rc, pn, pc (SessionLimits);
 *               c<seq>: a claim, 'r' (taken over once: '1' or '0') then the node;
 *               o<seq>: an outcome, '0' or '1' (error) then the encoded data
 *   KEYS[2] oo  list: 'seq:size' of the stored outcomes, oldest completed first (eviction order)
 *   KEYS[3] p   list: 'size:data' of the unacknowledged pushes, oldest first: seqs pa+1 .. ps
 *
 * Claims and outcomes live in the record's hash so that a claim or a complete reads everything
 * it needs with one HMGET and writes with one HSET (and one HDEL): issue 12 measured ~36 Redis
 * commands per message with one HGET per field and five PEXPIREs per write, now 7 to 10.
 *
 * TTLs (engine-sessions.ts): `create`, `rotate`, `detach` and `touch` set every key's TTL to
 * `ttl`; the per-message writes (claim, complete, release, append, ack) do so only once a quarter of it
 * has passed (PTTL of r below ¾ ttl), so every key lives at least ¾ ttl after any write. A
 * list created by a write gets the full TTL at once, so it never expires before r.
 * Sizes are characters of the JavaScript strings, passed in (Lua counts bytes).
 */
const prelude = `
local R = KEYS[1]
local read, wrote, order = {}, {}, {}
-- One HMGET for the fields a script needs; more are read one by one only when asked for.
local function load(fields)
  local values = redis.call('HMGET', R, unpack(fields))
  for i, f in ipairs(fields) do read[f] = values[i] end
end
local function get(f)
  local v = wrote[f]
  if v ~= nil then return v end
  v = read[f]
  if v == nil then
    v = redis.call('HGET', R, f)
    read[f] = v
  end
  return v
end
local nums = {}
-- A counter is parsed once per script; a batch reads and writes it once per message.
local function num(f)
  local v = nums[f]
  if v == nil then
    v = tonumber(get(f))
    nums[f] = v
  end
  return v
end
local function set(f, v)
  if wrote[f] == nil then order[#order + 1] = f end
  wrote[f] = v
  if type(v) == 'number' then nums[f] = v else nums[f] = nil end
end
local function del(f) set(f, false) end
-- The buffered writes: one HDEL and one HSET (in chunks: unpack has a stack limit).
local function chunked(cmd, list)
  for i = 1, #list, 4000 do redis.call(cmd, R, unpack(list, i, math.min(i + 3999, #list))) end
end
-- RPUSH every entry (in chunks: unpack has a stack limit); a list this created gets the TTL at once.
local function rpushAll(key, entries)
  local length = 0
  for i = 1, #entries, 4000 do length = redis.call('RPUSH', key, unpack(entries, i, math.min(i + 3999, #entries))) end
  if length == #entries then redis.call('PEXPIRE', key, num('ttl')) end
end
-- Evict the oldest outcomes while over a bound: one LPOP of the excess count (the common case:
-- one in, one out), one at a time while only the characters are over. each(seq) per one evicted;
-- returns the count and characters left.
local function evictOldest(n, chars, each)
  local rn, rc = num('rn'), num('rc')
  while n > rn or chars > rc do
    local popped = redis.call('LPOP', KEYS[2], math.max(1, n - rn))
    if not popped then break end
    for _, e in ipairs(popped) do
      local colon = string.find(e, ':', 1, true)
      each(string.sub(e, 1, colon - 1))
      n, chars = n - 1, chars - tonumber(string.sub(e, colon + 1))
    end
  end
  return n, chars
end
-- The outcomes stored by this script, 'seq:size' each, for the oldest-first list in one RPUSH.
local listed = {}
local function evicted(s) if tonumber(s) > num('ev') then set('ev', s) end end
local function forget(s)
  del('o' .. s)
  evicted(s)
end
-- Push what this script stored, then evict down to the bounds.
local function settle()
  if #listed == 0 then return end
  rpushAll(KEYS[2], listed)
  listed = {}
  local n, chars = evictOldest(num('on'), num('oc'), forget)
  set('on', n)
  set('oc', chars)
end
local function flush()
  settle()
  local dels, sets = {}, {}
  for _, f in ipairs(order) do
    local v = wrote[f]
    if v == false then dels[#dels + 1] = f else sets[#sets + 1] = f; sets[#sets + 1] = v end
  end
  if #dels > 0 then chunked('HDEL', dels) end
  if #sets > 0 then chunked('HSET', sets) end
end
-- Every key expires ttl after a full refresh; a lazy one (per message) is a PTTL most of the time.
local function refresh(full)
  local t = num('ttl')
  if not full and redis.call('PTTL', R) > t * 3 / 4 then return end
  for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], t) end
end

-- Seqs come as ARGV strings and name fields as such (Lua prints numbers past 1e14 with an exponent).

-- claim(seq, node) on the buffered view: { 'u' }, { 'd', outcome|false }, { 'r', node, taken-over }, { 'c' }.
-- A seq above the accepted mark was never claimed (a claim raises the mark in the same step, an
-- outcome only follows a claim, and ev <= acc), so it has no claim or outcome to look up: the
-- batch script reads those fields only for seqs at or below the mark (issue 12: most messages).
local function claim(key, node)
  local seq = tonumber(key)
  if not get('th') then return { 'u' } end
  local fresh = seq > num('acc')
  if not fresh then
    local outcome = get('o' .. key)
    if outcome then return { 'd', outcome } end
    local held = get('c' .. key)
    if held then return { 'r', string.sub(held, 2), tonumber(string.sub(held, 1, 1)) } end
    if seq <= num('ev') then return { 'd', false } end
  end
  set('c' .. key, '0' .. node)
  if fresh then set('acc', key) end
  return { 'c' }
end

-- complete(seq, node, stored, size) on the buffered view: 1 stored (or answered once), 0 not the claim's holder.
-- stored: '0' or '1' (error) then the encoded data, joined by the caller (issue 12: one argument
-- less and no copy here saved Redis ~0.25 µs and the node ~0.9 µs a message).
-- size comes as its ARGV text: Lua formats a number into a string with sprintf, which cost a
-- batch script ~0.3 µs a message (issue 12).
local function complete(key, node, stored, sizeText)
  local size = tonumber(sizeText)
  local held = get('c' .. key)
  if not held or string.sub(held, 2) ~= node then return 0 end
  del('c' .. key)
  if size > num('rc') then
    evicted(key)
    return 1
  end
  set('o' .. key, stored)
  -- Counted now, listed and evicted down to the bounds by flush() (settle), once per script.
  listed[#listed + 1] = key .. ':' .. sizeText
  local n, chars = num('on') + 1, num('oc') + size
  set('on', n)
  set('oc', chars)
  return 1
end
`;

/** ARGV: th, ih, exp ('' = null), ttl, rn, rc, pn, pc, holder ('' = none), codec ('' = none). → 1 created, 0 exists. */
export const createScript = `${prelude}
if redis.call('EXISTS', R) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', R, 'th', ARGV[1], 'pth', '', 'ih', ARGV[2], 'exp', ARGV[3], 'holder', ARGV[9], 'cd', ARGV[10] or '',
  'acc', 0, 'ev', 0, 'ps', 0, 'pa', 0, 'on', 0, 'oc', 0, 'pch', 0,
  'ttl', ARGV[4], 'rn', ARGV[5], 'rc', ARGV[6], 'pn', ARGV[7], 'pc', ARGV[8])
redis.call('PEXPIRE', R, ARGV[4])
return 1
`;

/** The record's fields that `get` reads (claims and outcomes share the hash). */
export const recordFields = ['th', 'pth', 'ih', 'cd', 'exp', 'holder', 'acc', 'ps', 'pa', 'ttl', 'rn', 'rc', 'pn', 'pc'] as const;

/** ARGV: expected th, next th, next pth ('' = null), node. → { 1, previous holder } or { 0 }. */
export const rotateScript = `${prelude}
load({ 'th', 'holder', 'ttl' })
if get('th') ~= ARGV[1] then return { 0 } end
local previous = get('holder')
redis.call('HSET', R, 'th', ARGV[2], 'pth', ARGV[3], 'exp', '', 'holder', ARGV[4])
refresh(true)
return { 1, previous }
`;

/** ARGV: node, expiresAt. → 1 detached, 0 not the holder (or no session). */
export const detachScript = `${prelude}
load({ 'holder', 'ttl' })
local holder = get('holder')
if not holder or holder ~= ARGV[1] then return 0 end
redis.call('HSET', R, 'holder', '', 'exp', ARGV[2])
refresh(true)
return 1
`;

/** → 1 refreshed, 0 no session. */
export const touchScript = `${prelude}
if not get('ttl') then return 0 end
refresh(true)
return 1
`;

/** ARGV: node. → false: unknown; else the holder ('' = detached), the TTLs restarted when it is the node. */
export const refreshScript = `${prelude}
load({ 'ttl', 'holder' })
if not get('ttl') then return false end
local holder = get('holder') or ''
if holder == ARGV[1] then refresh(true) end
return holder
`;

/** ARGV: seq, id, node. → as claim() in the prelude. */
export const claimScript = `${prelude}
load({ 'th', 'o' .. ARGV[1], 'c' .. ARGV[1], 'ev', 'acc', 'ttl' })
local reply = claim(ARGV[1], ARGV[3])
if reply[1] == 'c' then
  flush()
  refresh(false)
end
return reply
`;

/**
 * Take a claim over from a node found dead (checked by the caller: heartbeats live outside the
 * session's slot). ARGV: seq, dead node, node. → 'c' taken over, 'l' lost (taken over before),
 * 'x' the claim changed meanwhile (completed, or taken by another node): claim again.
 */
export const takeoverScript = `${prelude}
load({ 'c' .. ARGV[1], 'ttl' })
local held = get('c' .. ARGV[1])
if not held or string.sub(held, 2) ~= ARGV[2] then return 'x' end
local lost = string.sub(held, 1, 1) == '1'
set('c' .. ARGV[1], '1' .. ARGV[3])
flush()
refresh(false)
if lost then return 'l' end
return 'c'
`;

/** ARGV: seq, node, '0'|'1' (error) then the data, its size. → 1 stored (or answered once), 0 not the claim's holder. */
export const completeScript = `${prelude}
load({ 'c' .. ARGV[1], 'ev', 'rc', 'rn', 'on', 'oc', 'ttl' })
local stored = complete(ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if stored == 1 then
  flush()
  refresh(false)
end
return stored
`;

/**
 * complete, then claim the session's next message, in one step (one round trip per message
 * while messages are queued). ARGV: seq, node, '0'|'1' then the data, its size, next seq, next id.
 * → { 1|0 (as complete), the claim's reply... }.
 */
export const completeClaimScript = `${prelude}
load({ 'th', 'c' .. ARGV[1], 'o' .. ARGV[5], 'c' .. ARGV[5], 'ev', 'acc', 'rc', 'rn', 'on', 'oc', 'ttl' })
local stored = complete(ARGV[1], ARGV[2], ARGV[3], ARGV[4])
-- Evicted before the claim, as if the two were called one after the other.
settle()
local reply = claim(ARGV[5], ARGV[2])
if #order > 0 then
  flush()
  refresh(false)
end
table.insert(reply, 1, stored)
return reply
`;

/**
 * The batch script's common case, written out without the buffered view (issue 12: its function
 * calls and tables cost ~40 % of the script, 6.2–8.9 → 3.4–4.9 µs of Redis CPU a message in the
 * same runs): the session exists, `node` holds
 * every done's claim, no outcome is over the characters' bound on its own, and every next seq is
 * above the accepted mark (so fresh). It stores and claims exactly what the general code below
 * would, in the same order, and replies with the count; anything else falls through to that code.
 * Written fields go in one HSET before one HDEL, so an outcome this call stores and evicts at once
 * ends deleted, as in the general code.
 */
const fastBatch = `
do
  load({ 'th', 'ev', 'acc', 'rc', 'rn', 'on', 'oc', 'ttl' })
  local acc = num('acc')
  local fast = get('th') and acc
  if fast then
    for i = first, #ARGV do
      if tonumber(ARGV[i]) <= acc then fast = false; break end
    end
  end
  local rc = fast and num('rc')
  local held
  if fast and nd > 0 then
    local cs = {}
    for i = 0, nd - 1 do
      local a = 3 + 3 * i
      cs[i + 1] = 'c' .. ARGV[a]
      if tonumber(ARGV[a + 2]) > rc then fast = false; break end
    end
    if fast then held = redis.call('HMGET', R, unpack(cs)) end
    if held then
      for i = 1, nd do
        local c = held[i]
        if not c or string.sub(c, 2) ~= node then fast = false; break end
      end
    end
  end
  if fast then
    local ev, n, chars = num('ev'), num('on'), num('oc')
    local sets, dels, entries = {}, {}, {}
    for i = 0, nd - 1 do
      local a = 3 + 3 * i
      local key = ARGV[a]
      sets[#sets + 1] = 'o' .. key
      sets[#sets + 1] = ARGV[a + 1]
      dels[#dels + 1] = 'c' .. key
      entries[#entries + 1] = key .. ':' .. ARGV[a + 2]
      n, chars = n + 1, chars + tonumber(ARGV[a + 2])
    end
    if nd > 0 then
      rpushAll(KEYS[2], entries)
      n, chars = evictOldest(n, chars, function(s)
        dels[#dels + 1] = 'o' .. s
        if tonumber(s) > ev then ev = tonumber(s) end
      end)
    end
    local claimed, top = '0' .. node, nil
    for i = first, #ARGV do
      sets[#sets + 1] = 'c' .. ARGV[i]
      sets[#sets + 1] = claimed
      if not top or tonumber(ARGV[i]) > tonumber(top) then top = ARGV[i] end
    end
    if top then sets[#sets + 1] = 'acc'; sets[#sets + 1] = top end
    if nd > 0 then
      sets[#sets + 1] = 'on'; sets[#sets + 1] = n
      sets[#sets + 1] = 'oc'; sets[#sets + 1] = chars
      sets[#sets + 1] = 'ev'; sets[#sets + 1] = ev
    end
    chunked('HSET', sets)
    if #dels > 0 then chunked('HDEL', dels) end
    refresh(false)
    return #ARGV - first + 1
  end
end
`;

/**
 * complete each done message, then claim each next one, in one step (one round trip per batch).
 * ARGV: node, done count, then per done seq, '0'|'1' then the data, its size; then each next
 * seq (a claim does not need the message's id).
 * → { { 1|0 per done }, { the claim's reply per next } }, or, when every done was stored and
 * every next claimed (nearly always), the count of next alone: a reply of 128 small arrays cost
 * Redis ~0.5 µs and the node ~1.2 µs per message to write and read (issue 12).
 */
export const completeClaimManyScript = `${prelude}
local node, nd = ARGV[1], tonumber(ARGV[2])
local first = 3 + 3 * nd
${fastBatch}
local fields = { 'th', 'ev', 'acc', 'rc', 'rn', 'on', 'oc', 'ttl' }
for i = 0, nd - 1 do fields[#fields + 1] = 'c' .. ARGV[3 + 3 * i] end
load(fields)
-- Only a next seq at or below the accepted mark can have a claim or an outcome (see claim()).
local acc, seen = num('acc') or 0, {}
for i = first, #ARGV do
  if tonumber(ARGV[i]) <= acc then
    seen[#seen + 1] = 'o' .. ARGV[i]
    seen[#seen + 1] = 'c' .. ARGV[i]
  end
end
if #seen > 0 then load(seen) end
local kept, claims = {}, {}
for i = 0, nd - 1 do
  local a = 3 + 3 * i
  kept[#kept + 1] = complete(ARGV[a], node, ARGV[a + 1], ARGV[a + 2])
end
-- Evicted before the claims, as if the calls were made one after the other.
settle()
for i = first, #ARGV do claims[#claims + 1] = claim(ARGV[i], node) end
if #order > 0 then
  flush()
  refresh(false)
end
for i = 1, #kept do if kept[i] ~= 1 then return { kept, claims } end end
for i = 1, #claims do if claims[i][1] ~= 'c' then return { kept, claims } end end
return #claims
`;

/** ARGV: data, size. → seq, 0 full, -1 no session. */
export const appendScript = `${prelude}
load({ 'th', 'ps', 'pa', 'pn', 'pch', 'pc', 'ttl' })
if not get('th') then return -1 end
local size = tonumber(ARGV[2])
local ps, pch = num('ps'), num('pch')
if ps - num('pa') >= num('pn') or pch + size > num('pc') then return 0 end
rpushAll(KEYS[3], { ARGV[2] .. ':' .. ARGV[1] })
set('ps', ps + 1)
set('pch', pch + size)
flush()
refresh(false)
return ps + 1
`;

/**
 * Append many pushes in one step, as `append` one after the other (issue 12: a round trip and a
 * script per push held pushes at a fifth of the memory engine's rate). ARGV: per push, its data
 * then its size. → { the seq, 0 full, or -1 no session, per push }.
 */
export const appendManyScript = `${prelude}
load({ 'th', 'ps', 'pa', 'pn', 'pch', 'pc', 'ttl' })
local out = {}
if not get('th') then
  for i = 1, #ARGV, 2 do out[#out + 1] = -1 end
  return out
end
local ps, pa, pn, pch, pc = num('ps'), num('pa'), num('pn'), num('pch'), num('pc')
local entries = {}
for i = 1, #ARGV, 2 do
  local size = tonumber(ARGV[i + 1])
  if ps - pa >= pn or pch + size > pc then
    out[#out + 1] = 0
  else
    ps, pch = ps + 1, pch + size
    entries[#entries + 1] = ARGV[i + 1] .. ':' .. ARGV[i]
    out[#out + 1] = ps
  end
end
if #entries == 0 then return out end
rpushAll(KEYS[3], entries)
set('ps', ps)
set('pch', pch)
flush()
refresh(false)
return out
`;

/** ARGV: seq (cumulative). → how many pushes were dropped. */
export const ackScript = `${prelude}
load({ 'th', 'ps', 'pa', 'pch', 'ttl' })
if not get('th') then return 0 end
local upTo = math.min(tonumber(ARGV[1]), num('ps'))
local pa = num('pa')
if upTo <= pa then return 0 end
local pch = num('pch')
-- The list holds seqs pa+1 .. ps, so the first upTo - pa are the acknowledged ones.
local dropped = redis.call('LPOP', KEYS[3], upTo - pa) or {}
for _, e in ipairs(dropped) do
  pch = pch - tonumber(string.sub(e, 1, string.find(e, ':', 1, true) - 1))
end
set('pa', upTo)
set('pch', pch)
flush()
refresh(false)
return #dropped
`;

/** ARGV: after, limit (-1: all). → { first seq, 'size:data'... } (read only: no refresh). */
export const listScript = `${prelude}
load({ 'th', 'pa' })
if not get('th') then return { 0 } end
local first = num('pa') + 1
local start = math.max(0, tonumber(ARGV[1]) + 1 - first)
local limit = tonumber(ARGV[2])
local stop = -1
if limit >= 0 then stop = start + limit - 1 end
local out = { first + start }
for _, e in ipairs(redis.call('LRANGE', KEYS[3], start, stop)) do out[#out + 1] = e end
return out
`;

/**
 * Let go of a claim `node` holds whose handler never ran there (its `claim` call failed on the
 * node but ran here). ARGV: seq, node, the never-alive holder for a claim taken over before.
 * → 1 released, 0 not held by `node` (or an outcome is stored, or no session).
 */
export const releaseScript = `${prelude}
load({ 'th', 'o' .. ARGV[1], 'c' .. ARGV[1], 'ttl' })
if not get('th') or get('o' .. ARGV[1]) then return 0 end
local held = get('c' .. ARGV[1])
if not held or string.sub(held, 2) ~= ARGV[2] then return 0 end
if string.sub(held, 1, 1) == '1' then
  -- Taken over before (its handler ran on a node that died, or two): the next claimant finds it lost.
  set('c' .. ARGV[1], '1' .. ARGV[3])
else
  del('c' .. ARGV[1])
end
flush()
refresh(false)
return 1
`;
