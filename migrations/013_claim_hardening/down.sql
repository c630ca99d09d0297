-- Back to 011's claims (a MAC without expiry) and policies. TEMPORARY stays revoked: granting
-- it to everyone again is not a safe thing for a rollback to do.
CREATE OR REPLACE FUNCTION multivio_private.authentic_uid() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, extensions
AS $$
DECLARE
  uid text := nullif(current_setting('multivio.tenant', true), '');
  mac text := nullif(current_setting('multivio.tenant_mac', true), '');
  jwt_sub text := nullif(current_setting('request.jwt.claim.sub', true), '');
  key bytea;
BEGIN
  IF uid IS NULL OR mac IS NULL OR position('.' IN mac) = 0
     OR (jwt_sub IS NOT NULL AND jwt_sub <> uid) THEN
    RETURN NULL;
  END IF;
  SELECT k.secret INTO key FROM multivio_private.claim_keys k WHERE k.kid = split_part(mac, '.', 1);
  IF key IS NULL
     OR encode(hmac(convert_to(uid, 'UTF8'), key, 'sha256'), 'hex') <> split_part(mac, '.', 2) THEN
    RETURN NULL;
  END IF;
  RETURN uid;
END
$$;

DROP POLICY "API tenants must be authentic" ON users;
CREATE POLICY "API tenants must be authentic" ON users AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
DROP POLICY "API tenants must be authentic" ON social_connections;
CREATE POLICY "API tenants must be authentic" ON social_connections AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
DROP POLICY "API tenants must be authentic" ON posts;
CREATE POLICY "API tenants must be authentic" ON posts AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
DROP POLICY "API tenants must be authentic" ON media_files;
CREATE POLICY "API tenants must be authentic" ON media_files AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
DROP POLICY "API tenants must be authentic" ON user_info;
CREATE POLICY "API tenants must be authentic" ON user_info AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
DROP POLICY "API tenants must be authentic" ON subscription_history;
CREATE POLICY "API tenants must be authentic" ON subscription_history AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
DROP POLICY "API tenants must be authentic" ON post_quota_usage;
CREATE POLICY "API tenants must be authentic" ON post_quota_usage AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
DROP POLICY "API tenants must be authentic" ON publish_jobs;
CREATE POLICY "API tenants must be authentic" ON publish_jobs AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
DROP POLICY "API tenants must be authentic" ON oauth_states;
CREATE POLICY "API tenants must be authentic" ON oauth_states AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
DROP POLICY "API tenants must be authentic" ON idempotency_keys;
CREATE POLICY "API tenants must be authentic" ON idempotency_keys AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);

CREATE OR REPLACE FUNCTION multivio_private.consume_post_unit(p_post uuid, p_user integer) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
  IF multivio_private.authentic_uid() IS NULL THEN
    RAISE EXCEPTION 'tenant claim is not authentic' USING ERRCODE = '42501';
  END IF;
  -- RLS (forced, on the owner too) limits both statements to the authentic tenant.
  INSERT INTO post_quota_usage (post_id, user_id) VALUES (p_post, p_user) ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    RETURN true; -- the post already holds its unit
  END IF;
  UPDATE user_info SET remaining_posts = remaining_posts - 1
   WHERE user_id = p_user AND remaining_posts > 0;
  IF NOT FOUND THEN
    DELETE FROM post_quota_usage WHERE post_id = p_post AND user_id = p_user;
    RETURN false;
  END IF;
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION multivio_private.refund_post_unit(p_post uuid, p_user integer) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
  taken_at timestamptz;
BEGIN
  IF multivio_private.authentic_uid() IS NULL THEN
    RAISE EXCEPTION 'tenant claim is not authentic' USING ERRCODE = '42501';
  END IF;
  DELETE FROM post_quota_usage WHERE post_id = p_post AND user_id = p_user
  RETURNING consumed_at INTO taken_at;
  IF taken_at IS NULL THEN
    RETURN;
  END IF;
  UPDATE user_info
     SET remaining_posts = LEAST(COALESCE(remaining_posts, 0) + 1, COALESCE(monthly_post_quota, 0))
   WHERE user_id = p_user AND (last_quota_reset IS NULL OR last_quota_reset <= taken_at);
END
$$;

DROP FUNCTION IF EXISTS multivio_private.authentic_user_id();
