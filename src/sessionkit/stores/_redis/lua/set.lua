-- set / set_many. KEYS: the keys. ARGV[1]: PX in ms ('0': no expiry); ARGV[2]: the stamp;
-- ARGV[2+n]: the JSON for KEYS[n]. Whatever was there is replaced (a foreign value restarts
-- at version 1).
for n = 1, #KEYS do
  local start = redis.pcall('GETRANGE', KEYS[n], 0, 23)
  local version = 1
  if type(start) == 'string' then version = (version_of(start) or 0) + 1 end
  write(KEYS[n], head(version, ARGV[2]) .. ARGV[n + 2], ARGV[1], false)
end
return #KEYS
