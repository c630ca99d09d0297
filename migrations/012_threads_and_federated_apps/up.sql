-- Multivio 012: threads (a post's parts after the first), OAuth flows that carry an instance
-- or add OAuth 1.0a tokens to a connection, and the apps registered with federated instances.

-- The parts of a universal post after the first, in order: [{"text": …, "media_files": [ids]}].
-- (A platform's own thread lives in its platform_content entry.)
ALTER TABLE posts ADD COLUMN thread JSONB NOT NULL DEFAULT '[]';

-- A Mastodon authorisation names its instance; an OAuth 1.0a flow the connection it completes.
ALTER TABLE oauth_states
  ADD COLUMN server_url TEXT,
  ADD COLUMN connection_id UUID;

-- One app per (platform, instance, redirect URI), shared by every tenant of the deployment.
CREATE TABLE platform_apps (
  provider VARCHAR(50) NOT NULL,
  server_url TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  client_id TEXT NOT NULL,
  client_secret TEXT NOT NULL, -- Encrypted
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  PRIMARY KEY (provider, server_url, redirect_uri)
);
ALTER TABLE platform_apps ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_apps FORCE ROW LEVEL SECURITY;
CREATE POLICY "Worker manages platform apps" ON platform_apps FOR ALL TO multivio_worker USING (true);
GRANT SELECT, INSERT ON platform_apps TO multivio_worker;
