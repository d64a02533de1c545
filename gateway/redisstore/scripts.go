package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts. Every key a script touches starts with the tenant's hash
// tag, so each script runs in one slot of a Redis Cluster; tag record keys
// are built inside the scripts from ARGV's prefix (same hash tag, same slot).
//
// Generations: KEYS g holds the tenant's counter (no TTL; raised with the
// clock, see counterLua), f its floor, each tag record its invalidation
// generation (with a TTL of MaxTTL+margin). An entry is a hash {g: FetchGen, t: tags joined by "\n", b: encoded entry}.
// An entry is live iff its g <= the counter (a larger one means the counter
// was lost, as after a restart that kept entries), and the floor and every
// tag record are <= its g. If g equals the counter, no invalidation happened
// since its fetch began and nothing else needs reading.

// Records (the floor and each tag record) hold "hard" or "hard soft at": the
// generation of the latest hard invalidation, and of the latest soft one
// with the time (ms) the gateway gave it. A record of the first form, as
// earlier versions wrote, reads as having no soft invalidation.
//
// stateLua is shared: state(fg, ...) returns whether the entry of generation
// fg is dead against the floor and the tag records of the tags in string
// tags and, when it is live, the earliest soft mark (ms) covering it, 0 for
// none.
const stateLua = `
local function rec(v)
  if not v then return 0, 0, 0 end
  local h, s, a = string.match(v, '^(%d+) (%d+) (%d+)$')
  if h then return tonumber(h), tonumber(s), tonumber(a) end
  return tonumber(v) or 0, 0, 0
end
local function state(fg, g, floorkey, tagprefix, tags)
  if fg > g then return true, 0 end
  if fg == g then return false, 0 end
  local soft = 0
  local function dead(v)
    local h, s, a = rec(v)
    if h > fg then return true end
    if s > fg and (soft == 0 or a < soft) then soft = a end
    return false
  end
  if dead(redis.call('GET', floorkey)) then return true, 0 end
  if tags == '' then return false, soft end
  local keys = {}
  for tag in string.gmatch(tags, '[^\n]+') do
    keys[#keys + 1] = tagprefix .. tag
    if #keys == 256 then
      for _, v in ipairs(redis.call('MGET', unpack(keys))) do
        if dead(v) then return true, 0 end
      end
      keys = {}
    end
  end
  if #keys > 0 then
    local vals = redis.call('MGET', unpack(keys))
    for i = 1, #keys do
      if dead(vals[i]) then return true, 0 end
    end
  end
  return false, soft
end
`

// counterLua is shared: the clock, and the tenant's counter, recreated
// when missing. A missing counter was lost (Redis restarted empty, or a
// failover promoted a replica it had not reached) along with, perhaps,
// invalidations: it is recreated at the server's clock in microseconds
// with the floor there, so every entry and every fill in flight from
// before the loss is dead, whatever tag records survived. Generations then
// follow time (raise): a counter that lost its last raises goes on above
// every generation it handed out before, unless the new primary's clock is
// behind the old one's by more than the failover took, so no fill that
// read a lost generation can match a new invalidation's. A counter made
// by a read or a fill (a tenant never invalidated, perhaps a junk Host)
// expires with the record TTL, renewed by each fill (not each read: a
// write per read would load the replicas), so such tenants cost no memory
// for good, and it outlives every entry filled under it; the first
// invalidation makes it permanent. Lua numbers are
// doubles, exact up to 2^53 (microseconds until the year 2255); numbers go
// to redis.call as '%d' strings, never in exponent form.
const counterLua = `
local function fmt(n) return string.format('%d', n) end
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function counter(gkey, floorkey, ttl, renew)
  local gs = redis.call('GET', gkey)
  if gs then
    if renew and redis.call('PTTL', gkey) > 0 then redis.call('PEXPIRE', gkey, ttl) end
    return tonumber(gs)
  end
  local g = now()
  redis.call('SET', gkey, fmt(g), 'PX', ttl)
  redis.call('SET', floorkey, fmt(g), 'PX', ttl)
  return g
end
local function raise(gkey, floorkey, ttl)
  local d = now() - counter(gkey, floorkey, ttl, false)
  if d < 1 then d = 1 end
  local g = redis.call('INCRBY', gkey, fmt(d))
  redis.call('PERSIST', gkey)
  return g
end
`

// getSource: KEYS entry, counter, floor; ARGV tag prefix, record ttl ms.
// Returns {blob or nil, counter, entry generation, soft mark ms or 0}.
// Store.Get runs it as getScript does, with arguments it builds without
// allocating per tenant.
const getSource = stateLua + counterLua + `
local g = counter(KEYS[2], KEYS[3], ARGV[2], false)
local e = redis.call('HMGET', KEYS[1], 'g', 't', 'b')
if not e[3] then return {false, g, 0, 0} end
local fg = tonumber(e[1])
if not fg or not e[2] then
  redis.call('DEL', KEYS[1])
  return {false, g, 0, 0}
end
local dead, soft = state(fg, g, KEYS[3], ARGV[1], e[2])
if dead then
  redis.call('DEL', KEYS[1])
  return {false, g, 0, 0}
end
return {e[3], g, fg, soft}
`

var getScript = redis.NewScript(getSource)

// setScript: KEYS entry, counter, floor; ARGV tag prefix, FetchGen, tags,
// blob, ttl ms, record ttl ms. A fill that is already dead is not stored
// (so tag records need to outlive entries only), nor one whose FetchGen
// is ahead of the counter or below its floor: the counter was lost since
// its fetch began, and with it any invalidation issued meanwhile. Returns
// 1 if stored.
var setScript = redis.NewScript(stateLua + counterLua + `
local g = counter(KEYS[2], KEYS[3], ARGV[6], true)
local fgs = ARGV[2]
local fg = tonumber(fgs)
if state(fg, g, KEYS[3], ARGV[1], ARGV[3]) then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('HSET', KEYS[1], 'g', fgs, 't', ARGV[3], 'b', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`)

// invalidateTagsScript: KEYS counter, floor; ARGV tag prefix, record ttl
// ms, tags... One atomic step: the new generation and every tag record (a
// hard record replaces a soft one: what the soft mark left stale is older
// than the new generation, so dead too).
var invalidateTagsScript = redis.NewScript(counterLua + `
local g = fmt(raise(KEYS[1], KEYS[2], ARGV[2]))
for i = 3, #ARGV do
  redis.call('SET', ARGV[1] .. ARGV[i], g, 'PX', ARGV[2])
end
return g
`)

// invalidateTenantScript: KEYS counter, floor; ARGV record ttl ms.
var invalidateTenantScript = redis.NewScript(counterLua + `
local g = fmt(raise(KEYS[1], KEYS[2], ARGV[1]))
redis.call('SET', KEYS[2], g, 'PX', ARGV[1])
return g
`)

// softInvalidateTagsScript: KEYS counter, floor; ARGV tag prefix, record
// ttl ms, at ms, tags... Each tag record keeps its hard generation, raised
// to its previous soft one (what that one left stale is dead from now),
// and gets the new soft generation and time.
var softInvalidateTagsScript = redis.NewScript(stateLua + counterLua + `
local g = raise(KEYS[1], KEYS[2], ARGV[2])
for i = 4, #ARGV do
  local k = ARGV[1] .. ARGV[i]
  local h, s = rec(redis.call('GET', k))
  redis.call('SET', k, fmt(math.max(h, s)) .. ' ' .. fmt(g) .. ' ' .. ARGV[3], 'PX', ARGV[2])
end
return fmt(g)
`)

// softInvalidateTenantScript: KEYS counter, floor; ARGV record ttl ms, at
// ms. The floor record as softInvalidateTagsScript does a tag record.
var softInvalidateTenantScript = redis.NewScript(stateLua + counterLua + `
local g = raise(KEYS[1], KEYS[2], ARGV[1])
local h, s = rec(redis.call('GET', KEYS[2]))
redis.call('SET', KEYS[2], fmt(math.max(h, s)) .. ' ' .. fmt(g) .. ' ' .. ARGV[2], 'PX', ARGV[1])
return fmt(g)
`)

// lockScript: KEYS lock; ARGV token, ttl ms. Returns {1} when the lock
// was taken, else {0, the holder's value}: its token, or a failure marker.
var lockScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1}
end
return {0, redis.call('GET', KEYS[1]) or ''}
`)

// unlockScript: KEYS lock; ARGV token, failure marker, hold ms. Only while
// we still hold the lock (it may have expired and been taken by another
// instance): deletes it, or with a hold replaces it by the marker.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[3] == '0' then
  return redis.call('DEL', KEYS[1])
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// refreshScript: KEYS lock; ARGV token, ttl ms. Re-arms the lock only while
// we still hold it; 0 when lost.
var refreshScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)
