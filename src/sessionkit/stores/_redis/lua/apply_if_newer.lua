-- apply_if_newer: a journaled write, only if newer than the stamp the key holds (the live
-- entry's, else its tombstone's); the condition and the write in one atomic call.
-- KEYS[1]: the key; KEYS[2]: its tombstone. ARGV[1]: the op (set, create, merge, delete,
-- touch); ARGV[2]: the write's stamp; ARGV[3]: PX ('0': no expiry); ARGV[4]: '1' keeps a
-- live entry's expiry (merge); ARGV[5]: the tombstone's PX ('0': none); ARGV[6]: the
-- largest JSON in bytes ('0': no limit); ARGV[7]: the JSON (set, create), or from ARGV[7]
-- the patch's pairs (merge). Returns 'applied' or 'superseded'; a create over a live entry
-- returns {'live', stored string} (the client compares the values: nothing is written).
local current, failure = read(KEYS[1])
if failure then return failure end
local op, stamp = ARGV[1], ARGV[2]
if op == 'create' and current then return {'live', current} end
local version, held = 0, nil
if current then
  local stored_version, _, stored_stamp = version_of(current)
  version, held = stored_version or 0, stored_stamp  -- a foreign value holds no stamp
else
  held = redis.call('GET', KEYS[2])
end
if held and tonumber(held) >= tonumber(stamp) then return 'superseded' end
if op == 'set' or op == 'create' then
  write(KEYS[1], head(version + 1, stamp) .. ARGV[7], ARGV[3], false)
elseif op == 'merge' then
  local stored, json = merged(current, stamp, ARGV[6], 7)
  if not stored then return json end
  if current and ARGV[4] == '1' then
    write(KEYS[1], stored, '0', true)
  else
    write(KEYS[1], stored, ARGV[3], false)
  end
elseif op == 'delete' then
  redis.call('DEL', KEYS[1])
  if ARGV[5] ~= '0' then redis.call('SET', KEYS[2], stamp, 'PX', ARGV[5]) end
elseif op == 'touch' then
  if current then
    if ARGV[3] ~= '0' then
      redis.call('PEXPIRE', KEYS[1], ARGV[3])
    else
      redis.call('PERSIST', KEYS[1])
    end
  end
else
  return redis.error_reply('ERR unknown journaled op ' .. op)
end
return 'applied'
