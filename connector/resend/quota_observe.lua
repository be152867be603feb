-- The team's windows as Resend counts them, seen by every process of the connector (issue #25).
-- KEYS[1] the open window (hash: first, used, own, sent), KEYS[2] closed windows ("first:others")
-- ARGV[1] requests of the team Resend counted in its window at this answer (limit - remaining)
-- ARGV[2] 1 when the answered request was counted (0 for a 429), ARGV[3] window length (ms),
-- ARGV[4] 1: return the closed windows even if this answer closed none (the caller decides afresh),
-- ARGV[5] server time (ms) the limiter granted the request its slot (0: unknown)
-- The connector's requests are spaced by the shared limiter, so Resend counts them in the order of
-- their slots. Within one window each counted request of ours raises "used" by at least one, so a
-- count that does not rise, or an answer a window after the window's first, opens a new window. An
-- answer overtaken by a later slot's (threads, replicas) is counted in the open window: it cannot
-- open one, and if it belonged to the window before, the two windows' errors cancel in a mean.
-- Returns {server time (ms)} while the window stays open, then the closed windows, newest first.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local used = tonumber(ARGV[1])
local counted = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local sent = tonumber(ARGV[5])
local open = redis.call('HMGET', KEYS[1], 'first', 'used', 'own', 'sent')
local first = tonumber(open[1] or '0')
local last = tonumber(open[2] or '0')
local own = tonumber(open[3] or '0')
local newest = tonumber(open[4] or '0')
local ttl = 2 * window + 60000
local overtaken = sent > 0 and sent < newest
if first > 0 and (overtaken or (now - first < window and (used > last or (counted == 0 and used >= last)))) then
  if used < last then used = last end
  if sent < newest then sent = newest end
  redis.call('HSET', KEYS[1], 'used', used, 'own', own + counted, 'sent', sent)
  redis.call('PEXPIRE', KEYS[1], ttl)
  if ARGV[4] ~= '1' then
    return {now}
  end
else
  if first > 0 then
    -- Not clamped: an answer counted in the wrong one of two windows makes one +1 and the other -1,
    -- which cancel in the mean (quota.py clamps the mean).
    local others = last - own
    redis.call('LPUSH', KEYS[2], first .. ':' .. others)
    redis.call('LTRIM', KEYS[2], 0, 63)
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
  redis.call('HSET', KEYS[1], 'first', now, 'used', used, 'own', counted, 'sent', sent)
  redis.call('PEXPIRE', KEYS[1], ttl)
end
local closed = redis.call('LRANGE', KEYS[2], 0, 63)
table.insert(closed, 1, now)
return closed
