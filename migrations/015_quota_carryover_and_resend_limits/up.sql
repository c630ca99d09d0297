-- Multivio 015: a quota that leaving does not reset, plan downgrades at the period's end, and a
-- daily limit on verification mail.
--
-- quota_carryovers: when an account is deleted, what its quota needs for the rest of the
-- current period (its start, the monthly quota, the posts left), stored under
-- key_hash = hex SHA-256 of "multivio-quota-uid:<firebase uid>" and, only when the address was
-- verified, of "multivio-quota-email:<lower-cased address>". Nothing else: no user id, no
-- address, no uid. A new account whose uid (or verified address) matches a row whose period is
-- still current continues that period instead of starting a full month. Rows are useless
-- once expires_at (the period's end) has passed; the server ignores them and deletes them on
-- its next write and in the quota sweep. Only the worker role reaches the table (deletion and
-- sign-in run as the worker for the tenant).
CREATE TABLE quota_carryovers (
  key_hash VARCHAR(64) NOT NULL,
  last_quota_reset TIMESTAMPTZ NOT NULL,
  monthly_post_quota INTEGER NOT NULL CONSTRAINT quota_carryovers_monthly_check CHECK (monthly_post_quota >= 0),
  remaining_posts INTEGER NOT NULL CONSTRAINT quota_carryovers_remaining_check CHECK (remaining_posts >= 0),
  expires_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (key_hash, last_quota_reset)
);
CREATE INDEX idx_quota_carryovers_expires_at ON quota_carryovers (expires_at);

ALTER TABLE quota_carryovers ENABLE ROW LEVEL SECURITY;
ALTER TABLE quota_carryovers FORCE ROW LEVEL SECURITY;
CREATE POLICY "Worker manages quota carry-overs" ON quota_carryovers
  FOR ALL TO multivio_worker USING (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON quota_carryovers TO multivio_worker;

-- A downgrade (a plan with a lower monthly quota, cancellation included) waits for the current
-- period to end: the lower quota is kept here and becomes the monthly quota when the next
-- period starts (a reset, or a paid invoice's new period). NULL: no change waiting.
ALTER TABLE user_info
  ADD COLUMN pending_monthly_post_quota INTEGER
    CONSTRAINT user_info_pending_monthly_post_quota_check CHECK (pending_monthly_post_quota >= 0);

-- Verification mails sent within the last 24 hours (at most the last five are kept), for the
-- daily resend limit; email_verification_sent_at stays the last one. Like the other
-- verification columns, written by the worker role only (the API role's column grants of 011
-- do not include it).
ALTER TABLE users
  ADD COLUMN email_verification_sends TIMESTAMPTZ[] NOT NULL DEFAULT '{}';
