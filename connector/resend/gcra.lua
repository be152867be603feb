-- Generic cell rate algorithm for a rate shared by every process of one Resend team.
-- KEYS[1] theoretical arrival time (ms), KEYS[2] cool-down end (ms), KEYS[3] rate in force (requests
-- per second, written by the processes from what Resend announced: connector/resend/quota.py)
-- ARGV[1] rate while none is in force, ARGV[2] burst (requests allowed back to back),
-- ARGV[3] this process's cap (0: none)
-- KEYS[4] set while a caller first in line (an opt-out or erasure on the express path) waits for a slot
-- ARGV[4] 1 for a caller first in line, else 0
-- Returns {0, server time (ms)} when the caller may send now (the slot is taken), else {milliseconds
-- to wait, server time}. A caller first in line that must wait marks KEYS[4] until just after its
-- slot; the others, told to wait, come back one interval after it, so it takes that slot (one caller
-- among many polling the same slot would otherwise win it by chance: seconds of wait at a few
-- requests per second). The mark lapses by itself if that caller never comes back. Callers first in
-- line at once (the express paths of several replicas) share it: the first to come takes the slot
-- and clears it, the next marks it again when it asks (it may lose that one slot to chance). This is
-- strict priority: while callers first in line keep asking (a burst of opt-outs), they take every
-- slot and the others wait until they are done.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(redis.call('GET', KEYS[3]) or '0')
if rate <= 0 then
  rate = tonumber(ARGV[1])
end
local cap = tonumber(ARGV[3])
if cap > 0 and cap < rate then
  rate = cap
end
local interval = 1000.0 / rate
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
-- A slot taken a few milliseconds late (the waiter's sleep, a round trip) keeps its place: without
-- this slack every late slot pushes all later ones, and 4 per second taken 3 ms late each is 3.95.
-- Later than that, the rate starts afresh from now: idle time is not banked.
if tat < now - interval / 10 then
  tat = now
end
local wait = tat - tolerance - now
local cool = tonumber(redis.call('GET', KEYS[2]) or '0')
if cool - now > wait then
  wait = cool - now  -- a 429's cool-down: nobody sends before it ends
end
local first = ARGV[4] == '1'
if first then
  if wait > 0 then
    redis.call('SET', KEYS[4], '1', 'PX', math.ceil(wait + interval))
    return {math.ceil(wait), now}
  end
  redis.call('DEL', KEYS[4])
elseif redis.call('EXISTS', KEYS[4]) == 1 then
  return {math.ceil(math.max(wait, 0) + interval), now}
elseif wait > 0 then
  return {math.ceil(wait), now}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {0, now}
