ALTER TABLE post_quota_usage DROP CONSTRAINT IF EXISTS post_quota_usage_post_owner_fkey;
ALTER TABLE publish_jobs DROP CONSTRAINT IF EXISTS publish_jobs_post_owner_fkey;
ALTER TABLE posts DROP CONSTRAINT IF EXISTS posts_id_user_id_key;
