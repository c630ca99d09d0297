-- Multivio 008: what publishing, quota, OAuth and billing need to be correct under
-- concurrency and retries.

-- Optimistic concurrency for posts: every write checks and bumps the revision.
ALTER TABLE posts ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;

-- A connection whose credentials the platform rejected needs the user to reconnect; a refresh
-- lock makes one process at a time refresh a connection's tokens.
ALTER TABLE social_connections
  ADD COLUMN status VARCHAR(20) NOT NULL DEFAULT 'active'
    CONSTRAINT social_connections_status_check CHECK (status IN ('active', 'needs_reauth')),
  ADD COLUMN refresh_locked_until TIMESTAMPTZ;

-- Billing events arrive out of order; only a newer one may change the subscription.
ALTER TABLE user_info ADD COLUMN last_billing_event_at TIMESTAMPTZ;

-- What the platforms' media rules need to know about a file.
ALTER TABLE media_files
  ADD COLUMN width INTEGER,
  ADD COLUMN height INTEGER,
  ADD COLUMN duration_secs DOUBLE PRECISION;
CREATE INDEX idx_media_files_user_id_upload_date ON media_files (user_id, upload_date DESC, id DESC);

-- A post consumes at most one unit of quota: the row is the proof it did.
CREATE TABLE post_quota_usage (
  post_id UUID PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  consumed_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_post_quota_usage_user_id ON post_quota_usage (user_id);

-- One durable job per post target. Workers claim due jobs with FOR UPDATE SKIP LOCKED, hold a
-- lease, and present their fencing token (from the sequence, so every claim's is larger) when
-- they record the outcome.
CREATE SEQUENCE publish_job_fencing_seq;
CREATE TABLE publish_jobs (
  id UUID PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  post_id UUID NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  provider VARCHAR(50) NOT NULL,
  connection_id UUID, -- NULL: the provider's primary connection at publish time
  status VARCHAR(20) NOT NULL DEFAULT 'pending'
    CONSTRAINT publish_jobs_status_check
    CHECK (status IN ('pending', 'running', 'completed', 'discarded', 'cancelled')),
  run_at TIMESTAMPTZ NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  fencing_token BIGINT NOT NULL DEFAULT 0,
  leased_by VARCHAR(255),
  leased_until TIMESTAMPTZ,
  last_error TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_publish_jobs_due ON publish_jobs (run_at) WHERE status = 'pending';
CREATE INDEX idx_publish_jobs_lease ON publish_jobs (leased_until) WHERE status = 'running';
CREATE INDEX idx_publish_jobs_post_id ON publish_jobs (post_id);
CREATE INDEX idx_publish_jobs_user_id ON publish_jobs (user_id);
CREATE TRIGGER update_publish_jobs_updated_at
    BEFORE UPDATE ON publish_jobs
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- OAuth authorisations in flight. Only a SHA-256 of `state` is stored; a row is taken (deleted)
-- by its callback, so a replayed state finds nothing.
CREATE TABLE oauth_states (
  state_hash VARCHAR(64) PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider VARCHAR(50) NOT NULL,
  pkce_verifier TEXT NOT NULL, -- Encrypted
  redirect_uri TEXT NOT NULL,
  return_to TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_oauth_states_user_id ON oauth_states (user_id);
CREATE INDEX idx_oauth_states_expires_at ON oauth_states (expires_at);

-- Webhook events already applied (written in the same transaction as their effect).
CREATE TABLE processed_webhook_events (
  event_id VARCHAR(255) PRIMARY KEY,
  source VARCHAR(50) NOT NULL DEFAULT 'stripe',
  processed_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- Idempotency-Key of API requests: a repeat answers the first response and does nothing new.
CREATE TABLE idempotency_keys (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  idempotency_key VARCHAR(255) NOT NULL,
  request_hash VARCHAR(64) NOT NULL,
  response_status INTEGER,
  response_body JSONB,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  PRIMARY KEY (user_id, idempotency_key)
);
CREATE INDEX idx_idempotency_keys_created_at ON idempotency_keys (created_at);

-- Tenancy for the new tables, as for the seed's.
ALTER TABLE post_quota_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE publish_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE processed_webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE post_quota_usage FORCE ROW LEVEL SECURITY;
ALTER TABLE publish_jobs FORCE ROW LEVEL SECURITY;
ALTER TABLE oauth_states FORCE ROW LEVEL SECURITY;
ALTER TABLE processed_webhook_events FORCE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;

CREATE POLICY "Users can manage own quota usage" ON post_quota_usage
  FOR ALL USING (user_id IN (SELECT id FROM users WHERE firebase_uid = auth.uid()::text));
CREATE POLICY "Users can manage own publish jobs" ON publish_jobs
  FOR ALL USING (user_id IN (SELECT id FROM users WHERE firebase_uid = auth.uid()::text));
CREATE POLICY "Users can manage own oauth states" ON oauth_states
  FOR ALL USING (user_id IN (SELECT id FROM users WHERE firebase_uid = auth.uid()::text));
CREATE POLICY "Users can manage own idempotency keys" ON idempotency_keys
  FOR ALL USING (user_id IN (SELECT id FROM users WHERE firebase_uid = auth.uid()::text));

CREATE POLICY "Worker manages quota usage" ON post_quota_usage FOR ALL TO multivio_worker USING (true);
CREATE POLICY "Worker manages publish jobs" ON publish_jobs FOR ALL TO multivio_worker USING (true);
CREATE POLICY "Worker manages oauth states" ON oauth_states FOR ALL TO multivio_worker USING (true);
CREATE POLICY "Worker manages webhook events" ON processed_webhook_events FOR ALL TO multivio_worker USING (true);
CREATE POLICY "Worker manages idempotency keys" ON idempotency_keys FOR ALL TO multivio_worker USING (true);

GRANT SELECT, INSERT, UPDATE, DELETE
  ON post_quota_usage, publish_jobs, oauth_states, idempotency_keys
  TO multivio_api, multivio_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON processed_webhook_events TO multivio_worker;
GRANT USAGE, SELECT ON SEQUENCE publish_job_fencing_seq TO multivio_worker;
