DROP INDEX IF EXISTS idx_users_email_verification_token;
DROP POLICY IF EXISTS "Users can view own subscription history" ON subscription_history;
CREATE POLICY "Users can view own subscription history" ON subscription_history
  FOR SELECT USING (user_email IN (
    SELECT email FROM users WHERE firebase_uid = auth.uid()::text
  ));
DROP INDEX IF EXISTS idx_subscription_history_user_id;
ALTER TABLE subscription_history DROP COLUMN IF EXISTS user_id;
