-- set / set_many. KEYS: the keys. ARGV[1]: PX in ms ('0': no expiry); ARGV[1+n]: the JSON
-- for KEYS[n]. Whatever was there is replaced (a foreign value restarts at version 1).
for n = 1, #KEYS do
  local head = redis.pcall('GETRANGE', KEYS[n], 0, 23)
  local version = 1
  if type(head) == 'string' then version = (version_of(head) or 0) + 1 end
  write(KEYS[n], MAGIC .. version .. ':' .. ARGV[n + 1], ARGV[1], false)
end
return #KEYS
