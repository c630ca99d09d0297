-- Multivio 011: defense in depth for the connections the server runs on, and idempotent
-- requests that survive a crash between their effect and their answer.
--
-- At run time the server logs in as one of two login roles, never as the owner of the schema:
--   multivio_api_login     member of multivio_api only: it cannot SET ROLE to the worker or
--                          to the owner, and RESET ROLE leaves it with what multivio_api has.
--   multivio_worker_login  member of multivio_worker only.
-- (Their passwords are set by the deployment or by the server's owner connection at start.)
--
-- The tenant is named by multivio.tenant (the Firebase uid) with a MAC over it
-- (multivio.tenant_mac = '<key id>.<hex HMAC-SHA256>') under a key held in
-- multivio_private.claim_keys, which no runtime role can read. multivio_private.authentic_uid()
-- is that uid when the MAC holds (and request.jwt.claim.sub, if set at all, agrees), else
-- NULL. Policies of the product's own grant a tenant its rows through it; a restrictive policy
-- makes the API role see nothing without it. So a forged claim — request.jwt.claim.sub or
-- multivio.tenant set by hand — sees and changes nothing. The seed's policies (auth.uid(),
-- request.jwt.claim.sub) stay as the contract has them; the server never sets that claim, so
-- on a database whose auth.uid() is another's (Supabase's casts the claim to uuid) they simply
-- match nothing.
--
-- Billing, plan, quota and verification columns are not writable by the API role: the quota
-- moves only through two SECURITY DEFINER functions that act for the authentic claim's user.

-- Idempotency: which attempt holds a key, and which post its committed effect changed.
ALTER TABLE idempotency_keys ADD COLUMN attempt UUID, ADD COLUMN post_id UUID;

DO $$
BEGIN
  CREATE ROLE multivio_api_login LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
    NOREPLICATION IN ROLE multivio_api;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
DO $$
BEGIN
  CREATE ROLE multivio_worker_login LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
    NOREPLICATION IN ROLE multivio_worker;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- Readiness (every migration applied?) is asked by the runtime logins. (The table is the
-- migration runner's; migrations applied by other means have none.)
DO $$
BEGIN
  IF to_regclass('__diesel_schema_migrations') IS NOT NULL THEN
    GRANT SELECT ON __diesel_schema_migrations TO multivio_api, multivio_worker;
  END IF;
END
$$;

-- Its functions are callable (policies of every role call authentic_uid(), which answers NULL
-- without the key); its table is nobody's but the owner's.
CREATE SCHEMA multivio_private;
GRANT USAGE ON SCHEMA multivio_private TO PUBLIC;

CREATE TABLE multivio_private.claim_keys (
  kid VARCHAR(64) PRIMARY KEY,
  secret BYTEA NOT NULL CHECK (length(secret) >= 32),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
REVOKE ALL ON multivio_private.claim_keys FROM PUBLIC;

-- The transaction's tenant uid when its MAC holds, else NULL.
CREATE FUNCTION multivio_private.authentic_uid() RETURNS text
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
GRANT EXECUTE ON FUNCTION multivio_private.authentic_uid() TO PUBLIC;

-- The authentic tenant's rows (for every role: without the key nobody gets a MAC).
CREATE POLICY "Authentic tenant owns its profile" ON users
  FOR ALL USING (firebase_uid = multivio_private.authentic_uid())
  WITH CHECK (firebase_uid = multivio_private.authentic_uid());
CREATE POLICY "Authentic tenant owns its connections" ON social_connections
  FOR ALL USING (user_id IN (SELECT id FROM users WHERE firebase_uid = multivio_private.authentic_uid()));
CREATE POLICY "Authentic tenant owns its posts" ON posts
  FOR ALL USING (user_id IN (SELECT id FROM users WHERE firebase_uid = multivio_private.authentic_uid()));
CREATE POLICY "Authentic tenant owns its media" ON media_files
  FOR ALL USING (user_id IN (SELECT id FROM users WHERE firebase_uid = multivio_private.authentic_uid()));
CREATE POLICY "Authentic tenant owns its plan and quota" ON user_info
  FOR ALL USING (user_id IN (SELECT id FROM users WHERE firebase_uid = multivio_private.authentic_uid()));
CREATE POLICY "Authentic tenant reads its subscription history" ON subscription_history
  FOR SELECT USING (user_id IN (SELECT id FROM users WHERE firebase_uid = multivio_private.authentic_uid()));
CREATE POLICY "Authentic tenant owns its quota usage" ON post_quota_usage
  FOR ALL USING (user_id IN (SELECT id FROM users WHERE firebase_uid = multivio_private.authentic_uid()));
CREATE POLICY "Authentic tenant owns its publish jobs" ON publish_jobs
  FOR ALL USING (user_id IN (SELECT id FROM users WHERE firebase_uid = multivio_private.authentic_uid()));
CREATE POLICY "Authentic tenant owns its oauth states" ON oauth_states
  FOR ALL USING (user_id IN (SELECT id FROM users WHERE firebase_uid = multivio_private.authentic_uid()));
CREATE POLICY "Authentic tenant owns its idempotency keys" ON idempotency_keys
  FOR ALL USING (user_id IN (SELECT id FROM users WHERE firebase_uid = multivio_private.authentic_uid()));

-- Registration names only the claimed user: the seed's claim or the authentic one.
DROP POLICY IF EXISTS "Users can only register themselves" ON users;
CREATE POLICY "Users can only register themselves" ON users AS RESTRICTIVE
  FOR INSERT WITH CHECK (
    firebase_uid = coalesce(multivio_private.authentic_uid(), auth.uid()::text)
  );

-- The API role sees nothing without an authentic tenant, whatever else a session sets.
CREATE POLICY "API tenants must be authentic" ON users AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
CREATE POLICY "API tenants must be authentic" ON social_connections AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
CREATE POLICY "API tenants must be authentic" ON posts AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
CREATE POLICY "API tenants must be authentic" ON media_files AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
CREATE POLICY "API tenants must be authentic" ON user_info AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
CREATE POLICY "API tenants must be authentic" ON subscription_history AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
CREATE POLICY "API tenants must be authentic" ON post_quota_usage AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
CREATE POLICY "API tenants must be authentic" ON publish_jobs AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
CREATE POLICY "API tenants must be authentic" ON oauth_states AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);
CREATE POLICY "API tenants must be authentic" ON idempotency_keys AS RESTRICTIVE TO multivio_api
  USING (multivio_private.authentic_uid() IS NOT NULL)
  WITH CHECK (multivio_private.authentic_uid() IS NOT NULL);

-- Column privileges: the API role edits the profile, nothing that decides money or trust.
-- Sign-in (which records the identity provider's email_verified) and verification tokens go
-- through the worker role; quota through the functions below.
REVOKE INSERT, UPDATE ON users FROM multivio_api;
GRANT UPDATE (username, full_name, display_name, work_description, bio, avatar_url)
  ON users TO multivio_api;
REVOKE INSERT, UPDATE, DELETE ON user_info FROM multivio_api;
REVOKE INSERT, UPDATE, DELETE ON post_quota_usage FROM multivio_api;

-- A post takes one unit of its owner's monthly quota, at most once. Returns false (and
-- changes nothing) when none is left. Acts for the authentic claim's user only.
CREATE FUNCTION multivio_private.consume_post_unit(p_post uuid, p_user integer) RETURNS boolean
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

-- Gives a post's unit back — only when it was taken in the current period (a reset already
-- replaced older ones).
CREATE FUNCTION multivio_private.refund_post_unit(p_post uuid, p_user integer) RETURNS void
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
REVOKE ALL ON FUNCTION multivio_private.consume_post_unit(uuid, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION multivio_private.refund_post_unit(uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION multivio_private.consume_post_unit(uuid, integer),
  multivio_private.refund_post_unit(uuid, integer) TO multivio_api, multivio_worker;
