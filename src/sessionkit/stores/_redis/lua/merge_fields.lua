-- A merge's work, shared by merge and apply_if_newer (prepended to each, after the
-- envelope helpers): merged(current, stamp, limit, first) patches the stored string
-- 'current' (nil: absent) with the (plain name, '"name":value') pairs of ARGV from index
-- 'first', the name as plain UTF-8 text. A merge stores the byte length of each top-level
-- field before the JSON, so that the next merge slices the fields out instead of scanning
-- every nested bracket and quote (a 1 KiB scan costs tens of microseconds of server time in Lua;
-- slicing costs a few). The stored JSON is never decoded with cjson (which rounds numbers
-- to 14 digits, turns [] into {} and escapes /): fields are spliced as raw JSON text.
-- Index of the closing quote of the string that opens at i.
local function string_end(s, i)
  while true do
    i = string.find(s, '["\\]', i + 1)
    if not i then error('unterminated string', 0) end
    if string.byte(s, i) == 34 then return i end
    i = i + 1
  end
end
-- A JSON number, true, false or null, exactly (no '0x10', 'tru', '01', 'NaN').
local function scalar_ok(t)
  if t == 'true' or t == 'false' or t == 'null' or t == '0'
    or string.find(t, '^%-?[1-9]%d*$') then
    return true
  end
  if string.find(t, '^%-?0%d') then return false end
  return string.find(t, '^%-?%d+%.%d+$') or string.find(t, '^%-?%d+[eE][%+%-]?%d+$')
    or string.find(t, '^%-?%d+%.%d+[eE][%+%-]?%d+$') or t == '-0'
end
-- Index of the last character of the JSON value that starts at i. Inside an array or
-- object every scalar is checked too, and brackets must match by kind.
local function value_end(s, i)
  local c = string.byte(s, i)
  if c == 34 then return string_end(s, i) end
  if c == 123 or c == 91 then
    local closers, depth = {c + 2}, 1  -- '{' + 2 is '}', '[' + 2 is ']'
    while true do
      i = string.find(s, '[^%s,:]', i + 1)  -- the next string, bracket or scalar
      if not i then error('unbalanced brackets', 0) end
      c = string.byte(s, i)
      if c == 34 then
        i = string_end(s, i)
      elseif c == 123 or c == 91 then
        depth = depth + 1
        closers[depth] = c + 2
      elseif c == 125 or c == 93 then
        if c ~= closers[depth] then error('unbalanced brackets', 0) end
        depth = depth - 1
        if depth == 0 then return i end
      else
        local stop = string.find(s, '[%s,:{}%[%]"]', i)
        if not stop then error('truncated value', 0) end
        if not scalar_ok(string.sub(s, i, stop - 1)) then error('not a JSON value', 0) end
        i = stop - 1
      end
    end
  end
  local stop = string.find(s, '[,}%]%s]', i)
  if not stop then error('truncated value', 0) end
  if not scalar_ok(string.sub(s, i, stop - 1)) then error('not a JSON value', 0) end
  return stop - 1
end
local function next_token(s, i)
  local found = string.find(s, '[^%s]', i)
  if not found then error('truncated object', 0) end
  return found
end
-- The top-level fields of the object that starts at i, as raw JSON text.
local function fields(s, i)
  local names, values = {}, {}
  i = next_token(s, i)
  if string.byte(s, i) ~= 123 then error('not a JSON object', 0) end
  i = next_token(s, i + 1)
  if string.byte(s, i) == 125 then
    if string.find(s, '[^%s]', i + 1) then error('bytes after the object', 0) end
    return names, values
  end
  while true do
    if string.byte(s, i) ~= 34 then error('expected a field name', 0) end
    local name_end = string_end(s, i)
    names[#names + 1] = string.sub(s, i, name_end)
    i = next_token(s, name_end + 1)
    if string.byte(s, i) ~= 58 then error('expected a colon', 0) end
    i = next_token(s, i + 1)
    local last = value_end(s, i)
    values[#values + 1] = string.sub(s, i, last)
    i = next_token(s, last + 1)
    local c = string.byte(s, i)
    if c == 125 then
      -- the object must end the string (whitespace aside): no trailing bytes
      if string.find(s, '[^%s]', i + 1) then error('bytes after the object', 0) end
      return names, values
    end
    if c ~= 44 then error('expected a comma', 0) end
    i = next_token(s, i + 1)
  end
end
-- Field names compared as decoded text, so that escapes cannot make one name look like two.
local function plain(name)
  if string.find(name, '\\', 1, true) then return cjson.decode(name) end
  return string.sub(name, 2, -2)
end

-- The stored object's fields as raw '"name":value' texts, and their plain names: sliced by
-- the lengths a previous merge wrote, or found by a scan when set or update left none.
local function stored_fields(s, body)
  local parts, names = {}, {}
  if string.byte(s, body) == 123 then
    local raw_names, values = fields(s, body)
    for n = 1, #raw_names do
      parts[n] = raw_names[n] .. ':' .. values[n]
      names[n] = plain(raw_names[n])
    end
    return parts, names
  end
  local colon = string.find(s, ':', body, true)
  if not colon or string.byte(s, colon + 1) ~= 123 then error('truncated field lengths', 0) end
  local lengths = string.sub(s, body, colon - 1)
  if not string.find(lengths, '^%d+$') and not string.find(lengths, '^%d+[%d,]*%d$')
    or string.find(lengths, ',,', 1, true) then
    error('field lengths are not numbers', 0)
  end
  local position = colon + 2  -- past ':{'
  local count = 0
  for length in string.gmatch(lengths, '%d+') do
    local last = position + tonumber(length) - 1
    if string.byte(s, position) ~= 34 then error('field lengths do not match the JSON', 0) end
    -- A name without escapes (the usual case) is sliced out as it is, with no decoding.
    local name_end = string.find(s, '["\\]', position + 1)
    local name
    if name_end and string.byte(s, name_end) == 34 then
      name = string.sub(s, position + 1, name_end - 1)
    else
      name_end = string_end(s, position)
      name = cjson.decode(string.sub(s, position, name_end))
    end
    if name_end + 2 > last or string.byte(s, name_end + 1) ~= 58 then
      error('field lengths do not match the JSON', 0)
    end
    -- The value's first and last bytes must agree ('"'...'"', '{'...'}', '['...']', or a
    -- scalar), and a ',' (or the final '}') must follow it. Its inside is not rescanned:
    -- that is what the lengths save.
    local first, final = string.byte(s, name_end + 2), string.byte(s, last)
    if first == 34 or first == 123 or first == 91 then
      if final ~= (first == 34 and 34 or first + 2) or last == name_end + 2 then
        error('field lengths do not match the JSON', 0)
      end
    elseif not scalar_ok(string.sub(s, name_end + 2, last)) then
      error('not a JSON value', 0)
    end
    local after = string.byte(s, last + 1)
    if after ~= 44 and not (after == 125 and last + 1 == #s) then
      error('field lengths do not match the JSON', 0)
    end
    count = count + 1
    parts[count] = string.sub(s, position, last)
    names[count] = name
    position = last + 2  -- past ','
  end
  if position - 1 ~= #s or string.byte(s, #s) ~= 125 then
    error('field lengths do not match the JSON', 0)
  end
  return parts, names
end


-- The stored string and the JSON of 'current' patched with ARGV's pairs from 'first'; or
-- nil and an error reply. 'limit': the largest JSON allowed in bytes ('0': no limit).
local function merged(current, stamp, limit, first)
  local parts, names, version = {}, {}, 1
  if current then
    local stored_version, separator = version_of(current)
    if not stored_version then
      return nil, redis.error_reply(
        "SKCORRUPT not written by sessionkit (no 'sk1:<version>:' envelope)")
    end
    version = stored_version + 1
    local ok, stored_parts, stored_names = pcall(stored_fields, current, separator + 1)
    if not ok then
      return nil, redis.error_reply('SKCORRUPT stored JSON is malformed: ' .. stored_parts)
    end
    parts, names = stored_parts, stored_names
  end
  -- The patch comes split by the client: (plain name, '"name":value') pairs.
  if #ARGV >= first then
    local index = {}
    for n = 1, #names do index[names[n]] = n end
    for p = first, #ARGV, 2 do
      local n = index[ARGV[p]]
      if n then
        parts[n] = ARGV[p + 1]
      else
        parts[#parts + 1] = ARGV[p + 1]
        index[ARGV[p]] = #parts
      end
    end
  end
  local json = '{' .. table.concat(parts, ',') .. '}'
  if limit ~= '0' and #json > tonumber(limit) then
    return nil, redis.error_reply('SKTOOLARGE ' .. #json)
  end
  if #parts > 0 then
    local lengths = {}
    for n = 1, #parts do lengths[n] = #parts[n] end
    return head(version, stamp) .. table.concat(lengths, ',') .. ':' .. json, json
  end
  return head(version, stamp) .. json, json
end
