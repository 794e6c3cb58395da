-- get_entry: the stored string, its PTTL and the server's clock, in one atomic call.
local current = redis.pcall('GET', KEYS[1])
if type(current) == 'table' then
  return redis.error_reply('SKCORRUPT holds a Redis value of another type')
end
if not current then return false end
local now = redis.call('TIME')
return {current, redis.call('PTTL', KEYS[1]), now[1], now[2]}
