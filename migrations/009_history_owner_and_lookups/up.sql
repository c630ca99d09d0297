-- Multivio 009: billing history belongs to a user by id, not by an email address a later
-- account could take; and email confirmation finds its token through an index.

ALTER TABLE subscription_history
  ADD COLUMN user_id INTEGER REFERENCES users(id) ON DELETE CASCADE;
CREATE INDEX idx_subscription_history_user_id ON subscription_history (user_id);
UPDATE subscription_history h SET user_id = u.id FROM users u WHERE u.email = h.user_email;

DROP POLICY IF EXISTS "Users can view own subscription history" ON subscription_history;
CREATE POLICY "Users can view own subscription history" ON subscription_history
  FOR SELECT USING (user_id IN (
    SELECT id FROM users WHERE firebase_uid = auth.uid()::text
  ));

CREATE INDEX idx_users_email_verification_token ON users (email_verification_token)
  WHERE email_verification_token IS NOT NULL;
