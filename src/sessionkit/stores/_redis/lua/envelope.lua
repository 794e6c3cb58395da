-- Shared by set, cas and merge (prepended to each): the 'sk1:<version>:' envelope.
-- A wrong-type key is read with pcall and reported as SKCORRUPT so the client can tell
-- "not ours" from a server fault.
local MAGIC = 'sk1:'
local function read(key)
  local current = redis.pcall('GET', key)
  if type(current) == 'table' then
    return nil, redis.error_reply('SKCORRUPT holds a Redis value of another type')
  end
  return current
end
-- 'sk1:<1 to 14 ASCII digits>:', exactly what open_envelope accepts (not tonumber's
-- '0x10' or '1e3'); nil for anything else.
local function version_of(current)
  local digits = string.match(current, '^sk1:(%d+):')
  if not digits or #digits > 14 then return nil end
  return tonumber(digits), 5 + #digits
end
local function write(key, value, px, keep)
  if px ~= '0' then
    redis.call('SET', key, value, 'PX', px)
  elseif keep then
    redis.call('SET', key, value, 'KEEPTTL')
  else
    redis.call('SET', key, value)
  end
end
