-- update's compare-and-set. ARGV[1]: the stored string the update read ('' for absent);
-- ARGV[2]: new JSON; ARGV[3]: PX for an existing entry ('0' keeps its expiry); ARGV[4]: PX
-- for a new one ('0': none); ARGV[5]: the stamp. Returns 1 if written, 0 if someone wrote
-- in between.
local current, failure = read(KEYS[1])
if failure then return failure end
if (current or '') ~= ARGV[1] then return 0 end
local version = 1
if current then
  local stored_version = version_of(current)
  if not stored_version then
    return redis.error_reply("SKCORRUPT not written by sessionkit (no 'sk1:<version>:' envelope)")
  end
  version = stored_version + 1
end
if current then
  write(KEYS[1], head(version, ARGV[5]) .. ARGV[2], ARGV[3], true)
else
  write(KEYS[1], head(version, ARGV[5]) .. ARGV[2], ARGV[4], false)
end
return 1
