ALTER TABLE quota_carryovers DROP COLUMN quota_anchor;
DROP INDEX IF EXISTS idx_user_info_quota_resets_at;
ALTER TABLE user_info DROP COLUMN quota_resets_at, DROP COLUMN quota_anchor;
