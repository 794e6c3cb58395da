-- merge. ARGV[1]/ARGV[2]: PX as for cas; ARGV[3]: the largest JSON allowed in bytes ('0':
-- no limit); ARGV[4]: the stamp; then one (name, '"name":value') pair per patch field.
-- Returns the merged JSON (the work is merged(), in merge_fields.lua).
local current, failure = read(KEYS[1])
if failure then return failure end
local stored, json = merged(current, ARGV[4], ARGV[3], 5)
if not stored then return json end
if current then
  write(KEYS[1], stored, ARGV[1], true)
else
  write(KEYS[1], stored, ARGV[2], false)
end
return json
