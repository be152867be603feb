-- The team's windows as Resend counts them, seen by every process of the connector (issue #25).
-- KEYS[1] the open window (hash: first, used, own), KEYS[2] closed windows (list of "first:others")
-- ARGV[1] requests of the team Resend counted in its window at this answer (limit - remaining)
-- ARGV[2] 1 when the answered request was counted (0 for a 429), ARGV[3] window length (ms),
-- ARGV[4] 1: return the closed windows even if this answer closed none (the caller decides afresh)
-- Answers come in the order Resend counted them, closely enough: the connector's requests are spaced
-- by the shared limiter. Within one window each counted request of ours raises "used" by at least
-- one, so a count that does not rise, or an answer a window after the window's first, opens a new one.
-- Returns {server time (ms)} while the window stays open, then the closed windows, newest first.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local used = tonumber(ARGV[1])
local counted = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local open = redis.call('HMGET', KEYS[1], 'first', 'used', 'own')
local first = tonumber(open[1] or '0')
local last = tonumber(open[2] or '0')
local own = tonumber(open[3] or '0')
local ttl = 2 * window + 60000
if first > 0 and now - first < window and (used > last or (counted == 0 and used >= last)) then
  redis.call('HSET', KEYS[1], 'used', used, 'own', own + counted)
  redis.call('PEXPIRE', KEYS[1], ttl)
  if ARGV[4] ~= '1' then
    return {now}
  end
else
  if first > 0 then
    local others = last - own
    if others < 0 then others = 0 end
    redis.call('LPUSH', KEYS[2], first .. ':' .. others)
    redis.call('LTRIM', KEYS[2], 0, 63)
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
  redis.call('HSET', KEYS[1], 'first', now, 'used', used, 'own', counted)
  redis.call('PEXPIRE', KEYS[1], ttl)
end
local closed = redis.call('LRANGE', KEYS[2], 0, 63)
table.insert(closed, 1, now)
return closed
