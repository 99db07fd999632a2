package redislock

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// tokenTTL is how long a token key outlives the last grant or renewal of
// its name. An expired one is seeded again above every earlier token (see
// the package doc), so this only bounds the keys of names no longer used,
// such as those of deleted domains' incarnations.
const tokenTTL = 7 * 24 * time.Hour

// acquireScript grants KEYS[1] (the lease key) to ARGV[1] (the owner) for
// ARGV[2] ms and returns {1, token}, or returns {0, last token, holder,
// holder's PTTL} when the lease is held. KEYS[2] is the token key, ARGV[3]
// the caller's floor (decimal) and ARGV[4] the token key's ttl in ms.
// Tokens travel as decimal strings; Lua's numbers are doubles, exact for
// the values used (see the package doc).
var acquireScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return {0, redis.call('GET', KEYS[2]) or '0', redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
end
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local seed = last
if last == 0 then
	local now = redis.call('TIME')
	seed = tonumber(now[1]) * 1000000 + tonumber(now[2])
end
seed = math.max(seed, tonumber(ARGV[3]))
if seed ~= last then
	redis.call('SET', KEYS[2], string.format('%.0f', seed))
end
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {1, string.format('%.0f', token)}
`)

// renewScript sets the ttl of KEYS[1] to ARGV[2] ms if ARGV[1] holds it,
// and refreshes the token key KEYS[2]'s ttl to ARGV[3] ms; 1 if renewed,
// else 0.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`)

// releaseScript deletes KEYS[1] if ARGV[1] holds it; 1 if deleted, else 0.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
return redis.call('DEL', KEYS[1])
`)

func leaseKey(name string) string { return "sop:lease:{" + name + "}" }
func tokenKey(name string) string { return "sop:token:{" + name + "}" }
