-- Multivio 005: OAuth 1.0a credentials for X media uploads, as in the seed schema.
ALTER TABLE social_connections
  ADD COLUMN oauth1_access_token TEXT, -- Encrypted OAuth 1.0a token
  ADD COLUMN oauth1_access_token_secret TEXT, -- Encrypted OAuth 1.0a secret
  ADD COLUMN oauth1_user_id VARCHAR(255), -- OAuth 1.0a user ID
  ADD COLUMN oauth1_screen_name VARCHAR(255), -- OAuth 1.0a screen name
  ADD COLUMN oauth1_created_at TIMESTAMPTZ; -- OAuth 1.0a token creation
