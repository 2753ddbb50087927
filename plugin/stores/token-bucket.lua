-- plugin/stores/token-bucket.lua
-- One rate-limit decision, atomically: the mirror of MemoryStore.take (token-bucket.ts).
--
-- KEYS[1]  the client's request bucket: a hash {t = tokens, s = seconds, u = microseconds of its last update}
-- KEYS[2]  (optional) the same client's LLM-token bucket, in the same hash slot (same hash tag)
-- ARGV[1]  request bucket: capacity      ARGV[4]  token bucket: capacity
-- ARGV[2]  request bucket: refill rate   ARGV[5]  token bucket: refill rate (tokens per second)
-- ARGV[3]  request bucket: cost          ARGV[6]  token bucket: this request's reservation
--
-- The request is admitted only if every bucket holds its cost; then all are taken, else none
-- (a refusal writes nothing: no debt). The only clock is Redis TIME, so gateways with skewed
-- clocks share one timeline. Seconds and microseconds are stored apart and written with %d: a
-- 16-digit microsecond timestamp passed through tostring() keeps 14 digits and would let a bucket
-- admit one request too many. A token bucket may be below zero (a debt left by usage beyond its
-- reservation). A key expires once its bucket would be full again, since a missing bucket reads
-- as a full one.
-- Returns {allowed (0/1), retry after (µs), then per bucket: tokens left (string), wait (µs), full in (µs)}.

local now = redis.call('TIME')
local nowS = tonumber(now[1])
local nowU = tonumber(now[2])

local function refilled(key, capacity, rate)
  local stored = redis.call('HMGET', key, 't', 's', 'u')
  if not stored[1] then return capacity, nowS, nowU end
  local tokens = math.min(tonumber(stored[1]), capacity)
  local timeS = tonumber(stored[2])
  local timeU = tonumber(stored[3])
  local elapsedUs = (nowS - timeS) * 1000000 + (nowU - timeU)
  -- A primary promoted with a clock behind the old one must not move buckets back in time.
  if elapsedUs > 0 then return math.min(capacity, tokens + elapsedUs * rate / 1000000), nowS, nowU end
  return tokens, timeS, timeU
end

local buckets = {}
local allowed = 1
local retryUs = 0
for i = 1, #KEYS do
  local capacity = tonumber(ARGV[i * 3 - 2])
  local rate = tonumber(ARGV[i * 3 - 1])
  local cost = tonumber(ARGV[i * 3])
  local tokens, timeS, timeU = refilled(KEYS[i], capacity, rate)
  local waitUs = 0
  if cost > tokens then
    waitUs = math.ceil((cost - tokens) * 1000000 / rate)
    allowed = 0
    retryUs = math.max(retryUs, waitUs)
  end
  buckets[i] = { capacity = capacity, rate = rate, cost = cost, tokens = tokens, s = timeS, u = timeU, waitUs = waitUs }
end

local reply = { allowed, retryUs }
for i = 1, #KEYS do
  local b = buckets[i]
  if allowed == 1 then b.tokens = b.tokens - b.cost end
  local fullUs = math.ceil((b.capacity - b.tokens) * 1000000 / b.rate)
  if allowed == 1 then
    redis.call('HSET', KEYS[i], 't', string.format('%.17g', b.tokens), 's', string.format('%d', b.s), 'u', string.format('%d', b.u))
    redis.call('PEXPIRE', KEYS[i], math.ceil(fullUs / 1000) + 1)
  end
  reply[#reply + 1] = string.format('%.17g', b.tokens)
  reply[#reply + 1] = b.waitUs
  reply[#reply + 1] = fullUs
end
return reply
