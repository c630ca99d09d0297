ALTER TABLE user_info DROP COLUMN paid_monthly_post_quota;
