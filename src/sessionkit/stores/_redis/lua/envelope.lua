-- Shared by set, cas, merge and apply_if_newer (prepended to each): the envelope,
-- 'sk1:<version>:s<stamp>:' before the JSON (a stamp: whole microseconds since the epoch of
-- the write, see sessionkit.stamped; envelopes written before stamps have none).
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
-- '0x10' or '1e3'); nil for anything else. Returns the version, the index of the ':' just
-- before the body (the JSON, or a merge's field lengths) and the stamp as text (nil if the
-- envelope has none). A stamp is kept as text: Lua would print a 16-digit number as 1.7e+15.
local function version_of(current)
  local digits = string.match(current, '^sk1:(%d+):')
  if not digits or #digits > 14 then return nil end
  local separator = 5 + #digits
  local stamp = string.match(current, '^s(%-?%d+):', separator + 1)
  if stamp then return tonumber(digits), separator + 2 + #stamp, stamp end
  return tonumber(digits), separator, nil
end
-- The head of a stored string: 'sk1:<version>:s<stamp>:'.
local function head(version, stamp)
  return MAGIC .. version .. ':s' .. stamp .. ':'
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
