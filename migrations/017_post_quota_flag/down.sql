GRANT INSERT, UPDATE, DELETE ON post_quota_usage TO multivio_worker;
REVOKE INSERT, UPDATE ON posts FROM multivio_api, multivio_worker;
GRANT INSERT, UPDATE ON posts TO multivio_api, multivio_worker;
DROP TRIGGER mirror_post_quota_unit ON post_quota_usage;
DROP FUNCTION multivio_private.mirror_post_quota_unit();
ALTER TABLE posts DROP COLUMN quota_unit_held;
