-- touch with no TTL: remove the expiry of an existing key (PERSIST alone answers 0 both
-- for a missing key and for one that had no expiry).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('PERSIST', KEYS[1])
return 1
