-- Multivio 007: what the product's queries and rules need beyond the seed.

-- "List my posts, newest first" is keyset-paginated on (created_at, id) within one user.
CREATE INDEX idx_posts_user_id_created_at ON posts (user_id, created_at DESC, id DESC);

-- One primary connection per (user, provider): the domain rule, made durable.
CREATE UNIQUE INDEX uniq_social_connections_primary
  ON social_connections (user_id, provider) WHERE is_primary;

-- The seed gives these tables an updated_at column but no trigger to maintain it.
CREATE TRIGGER update_user_info_updated_at
    BEFORE UPDATE ON user_info
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_media_files_updated_at
    BEFORE UPDATE ON media_files
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
