DROP TRIGGER IF EXISTS update_media_files_updated_at ON media_files;
DROP TRIGGER IF EXISTS update_user_info_updated_at ON user_info;
DROP INDEX IF EXISTS uniq_social_connections_primary;
DROP INDEX IF EXISTS idx_posts_user_id_created_at;
