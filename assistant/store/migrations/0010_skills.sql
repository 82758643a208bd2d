-- A reply a skill gave (a timer set, the time told) records which skill, intent and
-- stage chose it and the typed arguments, as JSON; NULL for replies of the chat model.
ALTER TABLE messages ADD COLUMN skill TEXT;
