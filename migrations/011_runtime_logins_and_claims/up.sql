-- Multivio 011: defense in depth for the connections the server runs on, and idempotent
-- requests that survive a crash between their effect and their answer.
--
-- At run time the server logs in as one of two login roles, never as the owner of the schema:
--   multivio_api_login     member of multivio_api only: it cannot SET ROLE to the worker or
--                          to the owner, and RESET ROLE leaves it with what multivio_api has.
--   multivio_worker_login  member of multivio_worker only.
-- (Their passwords are set by the deployment or by the server's owner connection at start.)
--
-- The tenant claim (request.jwt.claim.sub) is something any session can set. For the API role
-- it counts only with a MAC over it (multivio.claim_mac = '<key id>.<hex HMAC-SHA256>') under a
-- key held in multivio_private.claim_keys, which no runtime role can read: a restrictive policy
-- on every tenant table requires it, so a forged claim sees and changes nothing.
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

-- Readiness (every migration applied?) is asked by the runtime logins.
GRANT SELECT ON __diesel_schema_migrations TO multivio_api, multivio_worker;

CREATE SCHEMA multivio_private;
REVOKE ALL ON SCHEMA multivio_private FROM PUBLIC;
GRANT USAGE ON SCHEMA multivio_private TO multivio_api, multivio_worker;

CREATE TABLE multivio_private.claim_keys (
  kid VARCHAR(64) PRIMARY KEY,
  secret BYTEA NOT NULL CHECK (length(secret) >= 32),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
REVOKE ALL ON multivio_private.claim_keys FROM PUBLIC;

-- Whether this transaction's tenant claim carries a valid MAC.
CREATE FUNCTION multivio_private.claim_is_authentic() RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, extensions
AS $$
DECLARE
  sub text := nullif(current_setting('request.jwt.claim.sub', true), '');
  mac text := nullif(current_setting('multivio.claim_mac', true), '');
  key bytea;
BEGIN
  IF sub IS NULL OR mac IS NULL OR position('.' IN mac) = 0 THEN
    RETURN false;
  END IF;
  SELECT k.secret INTO key FROM multivio_private.claim_keys k WHERE k.kid = split_part(mac, '.', 1);
  IF key IS NULL THEN
    RETURN false;
  END IF;
  RETURN encode(hmac(convert_to(sub, 'UTF8'), key, 'sha256'), 'hex') = split_part(mac, '.', 2);
END
$$;
REVOKE ALL ON FUNCTION multivio_private.claim_is_authentic() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION multivio_private.claim_is_authentic() TO multivio_api, multivio_worker;

CREATE POLICY "API claims must be authentic" ON users AS RESTRICTIVE TO multivio_api
  USING (multivio_private.claim_is_authentic()) WITH CHECK (multivio_private.claim_is_authentic());
CREATE POLICY "API claims must be authentic" ON social_connections AS RESTRICTIVE TO multivio_api
  USING (multivio_private.claim_is_authentic()) WITH CHECK (multivio_private.claim_is_authentic());
CREATE POLICY "API claims must be authentic" ON posts AS RESTRICTIVE TO multivio_api
  USING (multivio_private.claim_is_authentic()) WITH CHECK (multivio_private.claim_is_authentic());
CREATE POLICY "API claims must be authentic" ON media_files AS RESTRICTIVE TO multivio_api
  USING (multivio_private.claim_is_authentic()) WITH CHECK (multivio_private.claim_is_authentic());
CREATE POLICY "API claims must be authentic" ON user_info AS RESTRICTIVE TO multivio_api
  USING (multivio_private.claim_is_authentic()) WITH CHECK (multivio_private.claim_is_authentic());
CREATE POLICY "API claims must be authentic" ON subscription_history AS RESTRICTIVE TO multivio_api
  USING (multivio_private.claim_is_authentic()) WITH CHECK (multivio_private.claim_is_authentic());
CREATE POLICY "API claims must be authentic" ON post_quota_usage AS RESTRICTIVE TO multivio_api
  USING (multivio_private.claim_is_authentic()) WITH CHECK (multivio_private.claim_is_authentic());
CREATE POLICY "API claims must be authentic" ON publish_jobs AS RESTRICTIVE TO multivio_api
  USING (multivio_private.claim_is_authentic()) WITH CHECK (multivio_private.claim_is_authentic());
CREATE POLICY "API claims must be authentic" ON oauth_states AS RESTRICTIVE TO multivio_api
  USING (multivio_private.claim_is_authentic()) WITH CHECK (multivio_private.claim_is_authentic());
CREATE POLICY "API claims must be authentic" ON idempotency_keys AS RESTRICTIVE TO multivio_api
  USING (multivio_private.claim_is_authentic()) WITH CHECK (multivio_private.claim_is_authentic());

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
  IF NOT multivio_private.claim_is_authentic() THEN
    RAISE EXCEPTION 'tenant claim is not authentic' USING ERRCODE = '42501';
  END IF;
  -- RLS (forced, on the owner too) limits both statements to the claim's user.
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
  IF NOT multivio_private.claim_is_authentic() THEN
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
