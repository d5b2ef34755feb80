package redisstore

// The Store's Lua scripts. None of them trusts what it finds: a name
// holding another type than the string the Store writes is deleted, and
// GETs that could meet another type use pcall, so that foreign content
// never fails a script (which would look like Redis being down).

// claimScript takes the claim KEYS[1] for token ARGV[1] and ARGV[2]
// milliseconds unless the claim or the record KEYS[2] exists. It returns 1
// when it took the claim, 2 when a record exists (the caller reads and
// checks it) and 0 while another claim holds the key. A fresh key costs
// two commands (EXISTS, SET). A claim it finds is first given an expiry of
// one lease if it has none or a longer one, and one of another type is
// deleted, whether or not a record exists too.
var claimScript = newScript(`
if redis.call('EXISTS', KEYS[1], KEYS[2]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
local c = redis.call('TYPE', KEYS[1]).ok
if c ~= 'none' and c ~= 'string' then redis.call('DEL', KEYS[1]) c = 'none' end
if c == 'string' then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 or ttl > tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
end
local r = redis.call('TYPE', KEYS[2]).ok
if r == 'string' then return 2 end
if r ~= 'none' then redis.call('DEL', KEYS[2]) end
if c ~= 'none' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

// discardScript deletes KEYS[1] if its value's SHA-1 is ARGV[1]
// (compare-and-delete of a value that failed its checks).
var discardScript = newScript(`
local v = redis.pcall('GET', KEYS[1])
if type(v) == 'string' and redis.sha1hex(v) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// repairScript gives KEYS[1] an expiry of ARGV[2] milliseconds if its
// value's SHA-1 is still ARGV[1] (compare-and-expire of a genuine record
// whose expiry was lost or stretched): a record written for a new
// lifetime meanwhile keeps its own.
var repairScript = newScript(`
local v = redis.pcall('GET', KEYS[1])
if type(v) == 'string' and redis.sha1hex(v) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)

// releaseScript deletes the claim KEYS[1] if it holds token ARGV[1].
var releaseScript = newScript(`
if redis.pcall('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// completeScript stores the record KEYS[1] = ARGV[1] for ARGV[2]
// milliseconds unless one exists, then deletes the claim KEYS[2] if it
// holds token ARGV[3]: Put and Release in one round trip. A name of another
// type at the record's is deleted first.
var completeScript = newScript(`
local r = redis.call('TYPE', KEYS[1]).ok
if r ~= 'none' and r ~= 'string' then redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
if redis.pcall('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1`)
