DO $$
BEGIN
  IF to_regclass('__diesel_schema_migrations') IS NOT NULL THEN
    REVOKE SELECT ON __diesel_schema_migrations FROM multivio_api, multivio_worker;
  END IF;
END
$$;
GRANT INSERT, UPDATE, DELETE ON post_quota_usage TO multivio_api;
GRANT INSERT, UPDATE, DELETE ON user_info TO multivio_api;
REVOKE UPDATE (username, full_name, display_name, work_description, bio, avatar_url)
  ON users FROM multivio_api;
GRANT INSERT, UPDATE ON users TO multivio_api;

DROP POLICY IF EXISTS "API tenants must be authentic" ON idempotency_keys;
DROP POLICY IF EXISTS "API tenants must be authentic" ON oauth_states;
DROP POLICY IF EXISTS "API tenants must be authentic" ON publish_jobs;
DROP POLICY IF EXISTS "API tenants must be authentic" ON post_quota_usage;
DROP POLICY IF EXISTS "API tenants must be authentic" ON subscription_history;
DROP POLICY IF EXISTS "API tenants must be authentic" ON user_info;
DROP POLICY IF EXISTS "API tenants must be authentic" ON media_files;
DROP POLICY IF EXISTS "API tenants must be authentic" ON posts;
DROP POLICY IF EXISTS "API tenants must be authentic" ON social_connections;
DROP POLICY IF EXISTS "API tenants must be authentic" ON users;
DROP POLICY IF EXISTS "Authentic tenant owns its idempotency keys" ON idempotency_keys;
DROP POLICY IF EXISTS "Authentic tenant owns its oauth states" ON oauth_states;
DROP POLICY IF EXISTS "Authentic tenant owns its publish jobs" ON publish_jobs;
DROP POLICY IF EXISTS "Authentic tenant owns its quota usage" ON post_quota_usage;
DROP POLICY IF EXISTS "Authentic tenant reads its subscription history" ON subscription_history;
DROP POLICY IF EXISTS "Authentic tenant owns its plan and quota" ON user_info;
DROP POLICY IF EXISTS "Authentic tenant owns its media" ON media_files;
DROP POLICY IF EXISTS "Authentic tenant owns its posts" ON posts;
DROP POLICY IF EXISTS "Authentic tenant owns its connections" ON social_connections;
DROP POLICY IF EXISTS "Authentic tenant owns its profile" ON users;
DROP POLICY IF EXISTS "Users can only register themselves" ON users;
CREATE POLICY "Users can only register themselves" ON users AS RESTRICTIVE
  FOR INSERT WITH CHECK (firebase_uid = auth.uid()::text);
DROP SCHEMA IF EXISTS multivio_private CASCADE;

-- The login roles are cluster-wide and own nothing: other databases of the cluster (other
-- deployments, the test databases) may be using them right now, so they are kept.

ALTER TABLE idempotency_keys DROP COLUMN IF EXISTS post_id, DROP COLUMN IF EXISTS attempt;
