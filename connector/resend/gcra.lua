-- Generic cell rate algorithm for a rate shared by every process of one Resend team.
-- KEYS[1] theoretical arrival time (ms), KEYS[2] cool-down end (ms), KEYS[3] limit Resend announced
-- ARGV[1] ceiling (requests per second), ARGV[2] burst (requests allowed back to back)
-- Returns 0 when the caller may send now (the slot is taken), else milliseconds to wait.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cool = tonumber(redis.call('GET', KEYS[2]) or '0')
if cool > now then
  return cool - now
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
  return math.ceil(wait)
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return 0
