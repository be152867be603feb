-- Generic cell rate algorithm for a rate shared by every process of one Resend team.
-- KEYS[1] theoretical arrival time (ms), KEYS[2] cool-down end (ms), KEYS[3] limit Resend announced
-- ARGV[1] ceiling (requests per second), ARGV[2] burst (requests allowed back to back),
-- ARGV[3] lease (ms, optional): when the rate is high, take every slot of the next ARGV[3] ms at once
-- (at most 64), for the caller to spend one interval apart; one Redis call then serves many requests.
-- Returns {0, slots taken, interval in microseconds} when the caller may send now, else {ms to wait, 0, 0}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cool = tonumber(redis.call('GET', KEYS[2]) or '0')
if cool > now then
  return {cool - now, 0, 0}
end
local rate = tonumber(ARGV[1])
local announced = tonumber(redis.call('GET', KEYS[3]) or '0')
if announced > 0 and announced < rate then
  rate = announced
end
local interval = 1000.0 / rate
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local wait = tat - tolerance - now
if wait > 0 then
  return {math.ceil(wait), 0, 0}
end
local slots = 1
local lease = tonumber(ARGV[3] or '0')
if lease >= 2 * interval then
  slots = math.min(64, math.floor(lease / interval))
end
local new_tat = tat + interval * slots
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {0, slots, math.floor(interval * 1000)}
