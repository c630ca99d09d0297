-- Multivio 013: tighter tenant claims.
--
-- * A claim's MAC now carries its expiry: multivio.tenant_mac = '<key id>.<unix expiry>.<hex
--   HMAC-SHA256("<unix expiry>.<uid>")>', valid until that second. A MAC that reached a log
--   (a statement log keeps bind parameters) cannot be replayed later.
-- * A session that sets request.jwt.claims (what a hosted auth.uid() may read) has no
--   authentic tenant, so a hand-set claim cannot widen what another policy grants.
-- * The API role's restrictive policy names the rows: only the authentic tenant's, whatever
--   other permissive policy a platform adds.
-- * The SECURITY DEFINER functions search pg_temp last and name their tables, so a temporary
--   table cannot stand in for one; they act only for the authentic tenant's own user id, and a
--   unit is refunded only for a post that did not publish.
-- * Temporary tables are not for everyone: the runtime logins cannot create any (a pooled
--   connection's temporary table would shadow a real one for every later request). The
--   server's start repeats this for databases created without this migration's effect.

CREATE OR REPLACE FUNCTION multivio_private.authentic_uid() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, extensions, pg_temp
AS $$
DECLARE
  uid text := nullif(current_setting('multivio.tenant', true), '');
  mac text := nullif(current_setting('multivio.tenant_mac', true), '');
  jwt_sub text := nullif(current_setting('request.jwt.claim.sub', true), '');
  jwt_claims text := nullif(current_setting('request.jwt.claims', true), '');
  expires text;
  key bytea;
BEGIN
  IF uid IS NULL OR mac IS NULL OR jwt_claims IS NOT NULL
     OR (jwt_sub IS NOT NULL AND jwt_sub <> uid) THEN
    RETURN NULL;
  END IF;
  expires := split_part(mac, '.', 2);
  IF expires !~ '^[0-9]{1,12}$' OR expires::bigint < extract(epoch FROM now())::bigint THEN
    RETURN NULL;
  END IF;
  SELECT k.secret INTO key FROM multivio_private.claim_keys k WHERE k.kid = split_part(mac, '.', 1);
  IF key IS NULL
     OR encode(hmac(convert_to(expires || '.' || uid, 'UTF8'), key, 'sha256'), 'hex')
        <> split_part(mac, '.', 3) THEN
    RETURN NULL;
  END IF;
  RETURN uid;
END
$$;

-- The API role sees only the authentic tenant's rows. (The subquery runs once per statement.)
DROP POLICY "API tenants must be authentic" ON users;
CREATE POLICY "API tenants must be authentic" ON users AS RESTRICTIVE TO multivio_api
  USING (firebase_uid = (SELECT multivio_private.authentic_uid()))
  WITH CHECK (firebase_uid = (SELECT multivio_private.authentic_uid()));
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['social_connections', 'posts', 'media_files', 'user_info',
    'subscription_history', 'post_quota_usage', 'publish_jobs', 'oauth_states', 'idempotency_keys']
  LOOP
    EXECUTE format('DROP POLICY "API tenants must be authentic" ON %I', t);
    EXECUTE format(
      'CREATE POLICY "API tenants must be authentic" ON %I AS RESTRICTIVE TO multivio_api '
      'USING (user_id IN (SELECT id FROM users WHERE firebase_uid = (SELECT multivio_private.authentic_uid()))) '
      'WITH CHECK (user_id IN (SELECT id FROM users WHERE firebase_uid = (SELECT multivio_private.authentic_uid())))',
      t);
  END LOOP;
END
$$;

-- The authentic tenant's user id, or an error.
CREATE FUNCTION multivio_private.authentic_user_id() RETURNS integer
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  uid text := multivio_private.authentic_uid();
  found_id integer;
BEGIN
  IF uid IS NOT NULL THEN
    SELECT u.id INTO found_id FROM public.users u WHERE u.firebase_uid = uid;
  END IF;
  IF found_id IS NULL THEN
    RAISE EXCEPTION 'tenant claim is not authentic' USING ERRCODE = '42501';
  END IF;
  RETURN found_id;
END
$$;
REVOKE ALL ON FUNCTION multivio_private.authentic_user_id() FROM PUBLIC;

CREATE OR REPLACE FUNCTION multivio_private.consume_post_unit(p_post uuid, p_user integer)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF multivio_private.authentic_user_id() <> p_user THEN
    RAISE EXCEPTION 'the quota of another user' USING ERRCODE = '42501';
  END IF;
  INSERT INTO public.post_quota_usage (post_id, user_id) VALUES (p_post, p_user)
  ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    RETURN true; -- the post already holds its unit
  END IF;
  UPDATE public.user_info SET remaining_posts = remaining_posts - 1
   WHERE user_id = p_user AND remaining_posts > 0;
  IF NOT FOUND THEN
    DELETE FROM public.post_quota_usage WHERE post_id = p_post AND user_id = p_user;
    RETURN false;
  END IF;
  RETURN true;
END
$$;

-- Gives a post's unit back: only for a post that did not publish (a draft again, still
-- scheduled — it is being deleted — or failed on every platform), and only when the unit was
-- taken in the current period (a reset already replaced older ones).
CREATE OR REPLACE FUNCTION multivio_private.refund_post_unit(p_post uuid, p_user integer)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  taken_at timestamptz;
BEGIN
  IF multivio_private.authentic_user_id() <> p_user THEN
    RAISE EXCEPTION 'the quota of another user' USING ERRCODE = '42501';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM public.posts p
                  WHERE p.id = p_post AND p.user_id = p_user
                    AND p.status IN ('draft', 'scheduled', 'failed')) THEN
    RAISE EXCEPTION 'only a post that did not publish gives its unit back'
      USING ERRCODE = '42501';
  END IF;
  DELETE FROM public.post_quota_usage WHERE post_id = p_post AND user_id = p_user
  RETURNING consumed_at INTO taken_at;
  IF taken_at IS NULL THEN
    RETURN;
  END IF;
  UPDATE public.user_info
     SET remaining_posts = LEAST(COALESCE(remaining_posts, 0) + 1, COALESCE(monthly_post_quota, 0))
   WHERE user_id = p_user AND (last_quota_reset IS NULL OR last_quota_reset <= taken_at);
END
$$;

-- No temporary tables for everyone. (Tolerated where the migrating role does not own the
-- database; the server's start refuses a runtime login that can still create them.)
DO $$
BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'could not revoke TEMPORARY on the database from PUBLIC: %', SQLERRM;
END
$$;
