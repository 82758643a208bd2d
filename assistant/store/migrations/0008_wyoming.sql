-- Home Assistant's conversation ids (any string it chooses) mapped to this assistant's
-- conversations, per account, so one conversation_id keeps one memory across requests
-- and restarts. Deleting the conversation deletes the mapping.
CREATE TABLE wyoming_conversations (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, external_id)
);
CREATE INDEX wyoming_conversations_conversation ON wyoming_conversations (conversation_id);
