ALTER TABLE users DROP COLUMN IF EXISTS email_verification_sends;
ALTER TABLE user_info DROP COLUMN IF EXISTS pending_monthly_post_quota;
DROP TABLE IF EXISTS quota_carryovers;
