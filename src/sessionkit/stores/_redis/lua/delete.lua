-- delete: the key goes, and its tombstone (KEYS[2], the stamp ARGV[1]) stays ARGV[2] ms
-- ('0': no tombstone), so a late journal replay cannot bring the key back. Returns 1 if the
-- key was there.
local deleted = redis.call('DEL', KEYS[1])
if ARGV[2] ~= '0' then redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2]) end
return deleted
