-- Extend the shared cool-down to now + ARGV[1] milliseconds (never shorten it).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then
  redis.call('SET', KEYS[1], tostring(until_ms), 'PX', tonumber(ARGV[1]) + 1000)
end
return until_ms - now
