-- plugin/stores/token-settle.lua
-- Settles an LLM-token reservation once the usage is known: the mirror of MemoryStore.settle.
--
-- KEYS[1]  the token bucket: a hash {t = tokens, s = seconds, u = microseconds of its last update}
-- ARGV[1]  capacity
-- ARGV[2]  refill rate (tokens per second)
-- ARGV[3]  amount: the reservation less the usage; negative when the usage passed the reservation
--
-- The bucket is refilled up to Redis TIME first, then the amount is added, capped at capacity;
-- below zero is a debt later requests wait out. Time is kept as in token-bucket.lua.

local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])

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
  if elapsedUs > 0 then
    tokens = math.min(capacity, tokens + elapsedUs * rate / 1000000)
    timeS = nowS
    timeU = nowU
  end
end

tokens = math.min(capacity, tokens + amount)
local fullUs = math.ceil((capacity - tokens) * 1000000 / rate)
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 's', string.format('%d', timeS), 'u', string.format('%d', timeU))
redis.call('PEXPIRE', KEYS[1], math.ceil(fullUs / 1000) + 1)
return string.format('%.17g', tokens)
