ALTER TABLE social_connections
  DROP COLUMN IF EXISTS oauth1_access_token,
  DROP COLUMN IF EXISTS oauth1_access_token_secret,
  DROP COLUMN IF EXISTS oauth1_user_id,
  DROP COLUMN IF EXISTS oauth1_screen_name,
  DROP COLUMN IF EXISTS oauth1_created_at;
