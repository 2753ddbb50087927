-- plugin/stores/token-bucket.lua
-- A batch of rate-limit operations, atomically and in order, in one script call: the mirror of
-- MemoryStore.take and MemoryStore.settle (token-bucket.ts). One call for every decision and
-- settlement of an event-loop turn costs Redis one command's overhead instead of one per request.
--
-- KEYS     one per operation: the client's buckets, a string of four little-endian doubles
--          (request tokens, µs of their last update, LLM tokens, µs of theirs; a bucket never used
--          holds +inf tokens, i.e. full), then any refunds not yet applied, one double each. One
--          key per client makes a decision one GET and one SET however many buckets it takes;
--          binary doubles are exact (a 16-digit µs timestamp passed through tostring() keeps 14
--          digits and would admit one request too many) and cost Redis less than text or hashes.
-- ARGV     the limits the call's operations use, once each: their number L, then L pairs of
--          capacity and refill rate (per second); then per operation a kind and its arguments,
--          a limit named by its place (1..L) in that list:
--   'r' request bucket only:  limit, cost
--   'b' both buckets:         request limit, cost, token limit, reservation, then a refund (>= 0)
--                             the gateway held for this client, added first (0: none)
--   'a' refund to the token bucket (amount >= 0, the reservation less the usage): amount
--   's' debt on the token bucket (amount < 0, usage beyond the reservation): limit, a refund the
--                             gateway held for this client (>= 0, added and capped first), amount
--
-- A take is admitted only if every bucket holds its cost; then all are taken, else none (a
-- refusal writes nothing). A settle adds its amount after the refill, capped at capacity; below
-- zero is a debt later takes wait out. A refund is only appended: added to the
-- stored tokens at the next read, capped there, it gives exactly what adding it now and capping
-- would (a cap is idempotent and refill only grows), at the cost of one APPEND. A debt cannot
-- wait: capping first, then subtracting, is not the same as subtracting from an overfull bucket,
-- so it is applied at once. The only clock is Redis TIME, read once per call, so gateways with
-- skewed clocks share one timeline. A key expires once its buckets would be full again, since a
-- missing bucket reads as a full one; a bucket whose limits an operation does not carry keeps
-- the key's remaining time to live.
-- Returns one flat array of integers: per take, allowed (0/1) and per bucket its tokens × 10^6
-- (floor): after the take when admitted, before it when refused; per settle, nothing.

local now = redis.call('TIME')
local nowUs = tonumber(now[1]) * 1000000 + tonumber(now[2])
local FULL = math.huge
local min, max, floor, ceil = math.min, math.max, math.floor, math.ceil
local unpack, pack = struct.unpack, struct.pack
local replies = {}
local r = 0

-- The key's four doubles with its pending refunds added to the token bucket.
local function read(key)
  local stored = redis.call('GET', key)
  if not stored or #stored < 32 then return FULL, nowUs, FULL, nowUs, false end
  local rt, ru, tt, tu = unpack('<dddd', stored)
  for at = 33, #stored, 8 do tt = tt + unpack('<d', stored, at) end
  return rt, ru, tt, tu, true
end

-- A primary promoted with a clock behind the old one must not move buckets back in time.
local function refill(tokens, atUs, capacity, rate)
  tokens = min(tokens, capacity)
  if nowUs > atUs then return min(capacity, tokens + (nowUs - atUs) * rate / 1000000), nowUs end
  return tokens, atUs
end

local function msUntilFull(tokens, capacity, rate)
  return ceil((capacity - tokens) * 1000 / rate) + 1
end

local caps, rates = {}, {}
for i = 1, tonumber(ARGV[1]) do
  caps[i] = tonumber(ARGV[i * 2])
  rates[i] = tonumber(ARGV[i * 2 + 1])
end

local function take(key, a, both)
  local rt, ru, tt, tu, existed = read(key)
  local li = tonumber(ARGV[a])
  local cap, rate, cost = caps[li], rates[li], tonumber(ARGV[a + 1])
  rt, ru = refill(rt, ru, cap, rate)
  local allowed = cost <= rt
  local tcap, trate, tcost
  local refunded = false
  if both then
    local ti = tonumber(ARGV[a + 2])
    tcap, trate, tcost = caps[ti], rates[ti], tonumber(ARGV[a + 3])
    local held = tonumber(ARGV[a + 4])
    refunded = held > 0
    tt, tu = refill(tt + held, tu, tcap, trate)
    allowed = allowed and tcost <= tt
  end
  if allowed or refunded then
    -- A refused decision writes only to keep the refund it carried.
    if allowed then rt = rt - cost end
    local ms = msUntilFull(rt, cap, rate)
    if both then
      if allowed then tt = tt - tcost end
      ms = max(ms, msUntilFull(tt, tcap, trate))
    elseif existed and tt < FULL then
      ms = max(ms, redis.call('PTTL', key))
    end
    redis.call('SET', key, pack('<dddd', rt, ru, tt, tu), 'PX', ms)
  end
  replies[r + 1] = allowed and 1 or 0
  replies[r + 2] = floor(rt * 1000000)
  r = r + 2
  if both then
    r = r + 1
    replies[r] = floor(tt * 1000000)
  end
end

-- A refund is only appended; a key that had expired holds a full bucket, with nothing to add to.
local function refund(key, amount)
  if redis.call('APPEND', key, pack('<d', amount)) < 32 then redis.call('DEL', key) end
end

local function debt(key, li, held, amount)
  local rt, ru, tt, tu, existed = read(key)
  local capacity, rate = caps[li], rates[li]
  tt, tu = refill(tt + held, tu, capacity, rate)
  tt = tt + amount
  local ms = msUntilFull(tt, capacity, rate)
  if existed then ms = max(ms, redis.call('PTTL', key)) end
  redis.call('SET', key, pack('<dddd', rt, ru, tt, tu), 'PX', ms)
end

local a = tonumber(ARGV[1]) * 2 + 2
for k = 1, #KEYS do
  local kind = ARGV[a]
  if kind == 'r' then
    take(KEYS[k], a + 1, false)
    a = a + 3
  elseif kind == 'b' then
    take(KEYS[k], a + 1, true)
    a = a + 6
  elseif kind == 'a' then
    refund(KEYS[k], tonumber(ARGV[a + 1]))
    a = a + 2
  else
    debt(KEYS[k], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]))
    a = a + 4
  end
end
return replies
