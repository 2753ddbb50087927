-- plugin/stores/token-bucket.lua
-- One rate-limit decision, atomically: the mirror of token-bucket.ts.
--
-- KEYS[1]  the bucket: a hash {t = tokens, s = seconds, u = microseconds of its last update}
-- ARGV[1]  capacity (tokens)
-- ARGV[2]  refill rate (tokens per second, may be fractional)
-- ARGV[3]  cost (tokens this request takes)
--
-- The only clock is Redis TIME, so gateways with skewed clocks share one timeline. Seconds and
-- microseconds are stored apart and written with %d: a 16-digit microsecond timestamp passed
-- through tostring() keeps 14 digits and would let a bucket admit one request too many.
-- A refused request writes nothing (no debt). The key expires once the bucket would be full
-- again, since a missing bucket reads as a full one.
-- Returns {allowed (0/1), tokens left (string), retry after (µs), full in (µs)}.

local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])

local now = redis.call('TIME')
local nowS = tonumber(now[1])
local nowU = tonumber(now[2])

local tokens = capacity
local timeS = nowS
local timeU = nowU
local stored = redis.call('HMGET', KEYS[1], 't', 's', 'u')
if stored[1] then
  tokens = math.min(tonumber(stored[1]), capacity)
  timeS = tonumber(stored[2])
  timeU = tonumber(stored[3])
  local elapsedUs = (nowS - timeS) * 1000000 + (nowU - timeU)
  -- A primary promoted with a clock behind the old one must not move buckets back in time.
  if elapsedUs > 0 then
    tokens = math.min(capacity, tokens + elapsedUs * rate / 1000000)
    timeS = nowS
    timeU = nowU
  end
end

local allowed = 0
local retryUs = 0
if cost <= tokens then
  allowed = 1
  tokens = tokens - cost
else
  retryUs = math.ceil((cost - tokens) * 1000000 / rate)
end
local fullUs = math.ceil((capacity - tokens) * 1000000 / rate)

if allowed == 1 then
  redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 's', string.format('%d', timeS), 'u', string.format('%d', timeU))
  redis.call('PEXPIRE', KEYS[1], math.ceil(fullUs / 1000) + 1)
end

return { allowed, string.format('%.17g', tokens), retryUs, fullUs }
