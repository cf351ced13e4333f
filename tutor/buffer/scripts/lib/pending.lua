-- A pending event is the member "<event_id>:<subcategory>" of its learner's sorted set, scored by its
-- time in µs. tutor/buffer/entries.py `pending_member` builds the same member from the row it reads
-- back, so the acknowledgement removes every member the push added, whatever the row holds.
local function member(event_id, subcategory)
  return event_id .. ':' .. string.format('%d', subcategory)
end

local function pending_key(prefix, user_id)
  return prefix .. user_id
end
