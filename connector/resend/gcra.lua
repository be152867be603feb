-- Generic cell rate algorithm for a rate shared by every process of one Resend team.
-- KEYS[1] theoretical arrival time (ms), KEYS[2] cool-down end (ms), KEYS[3] rate in force (requests
-- per second, written by the processes from what Resend announced: connector/resend/quota.py)
-- ARGV[1] rate while none is in force, ARGV[2] burst (requests allowed back to back),
-- ARGV[3] this process's cap (0: none)
-- Returns {0, server time (ms)} when the caller may send now (the slot is taken), else {milliseconds
-- to wait, server time}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cool = tonumber(redis.call('GET', KEYS[2]) or '0')
if cool > now then
  return {cool - now, now}
end
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
if wait > 0 then
  return {math.ceil(wait), now}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {0, now}
