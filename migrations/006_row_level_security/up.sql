-- Multivio 006: Row Level Security on every tenant table, enabled and FORCED (so even the
-- owner is subject to it), and two least-privilege roles the server switches to per
-- transaction with SET LOCAL ROLE:
--   multivio_api     requests on behalf of one tenant; sees what the tenant claim allows.
--   multivio_worker  background work across tenants (job claims, webhooks, quota resets),
--                    through policies scoped to that role alone.
-- Neither role can log in, owns anything, or bypasses RLS.

-- Roles are cluster-wide: another database of the same cluster may be creating them at this
-- very moment, so "already exists" in any form is success.
DO $$
BEGIN
  CREATE ROLE multivio_api NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
DO $$
BEGIN
  CREATE ROLE multivio_worker NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- The role that runs the server must be able to SET ROLE to both.
DO $$
BEGIN
  EXECUTE format('GRANT multivio_api, multivio_worker TO %I', current_user);
END
$$;

GRANT USAGE ON SCHEMA public TO multivio_api, multivio_worker;
-- The seed's policies call auth.uid(). On a managed database whose auth schema belongs to the
-- platform, these grants may be its administrator's to give (see docs/deploy.md).
DO $$
BEGIN
  GRANT USAGE ON SCHEMA auth TO multivio_api, multivio_worker;
  GRANT EXECUTE ON FUNCTION auth.uid() TO multivio_api, multivio_worker;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE WARNING 'could not grant auth.uid() to the multivio roles: grant USAGE ON SCHEMA auth and EXECUTE ON FUNCTION auth.uid() to multivio_api and multivio_worker as the schema''s owner';
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE
  ON users, social_connections, posts, media_files, user_info
  TO multivio_api, multivio_worker;
GRANT SELECT ON subscription_history TO multivio_api;
GRANT SELECT, INSERT, UPDATE ON subscription_history TO multivio_worker;
GRANT USAGE, SELECT ON SEQUENCE users_id_seq, user_info_id_seq TO multivio_api, multivio_worker;

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE social_connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE media_files ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_info ENABLE ROW LEVEL SECURITY;
ALTER TABLE subscription_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
ALTER TABLE social_connections FORCE ROW LEVEL SECURITY;
ALTER TABLE posts FORCE ROW LEVEL SECURITY;
ALTER TABLE media_files FORCE ROW LEVEL SECURITY;
ALTER TABLE user_info FORCE ROW LEVEL SECURITY;
ALTER TABLE subscription_history FORCE ROW LEVEL SECURITY;

-- The seed lets anyone insert any user row; registration may only create the caller's own.
CREATE POLICY "Users can only register themselves" ON users AS RESTRICTIVE
  FOR INSERT WITH CHECK (firebase_uid = auth.uid()::text);

-- Account deletion (DELETE /v1/me); owned rows go with it by ON DELETE CASCADE.
CREATE POLICY "Users can delete own profile" ON users
  FOR DELETE USING (auth.uid()::text = firebase_uid);

CREATE POLICY "Users can manage own media" ON media_files
  FOR ALL USING (user_id IN (
    SELECT id FROM users WHERE firebase_uid = auth.uid()::text
  ));

CREATE POLICY "Users can manage own plan and quota" ON user_info
  FOR ALL USING (user_id IN (
    SELECT id FROM users WHERE firebase_uid = auth.uid()::text
  ));

CREATE POLICY "Users can view own subscription history" ON subscription_history
  FOR SELECT USING (user_email IN (
    SELECT email FROM users WHERE firebase_uid = auth.uid()::text
  ));

-- Background work: every row, but only for the worker role.
CREATE POLICY "Worker manages users" ON users FOR ALL TO multivio_worker USING (true);
CREATE POLICY "Worker manages connections" ON social_connections FOR ALL TO multivio_worker USING (true);
CREATE POLICY "Worker manages posts" ON posts FOR ALL TO multivio_worker USING (true);
CREATE POLICY "Worker manages media" ON media_files FOR ALL TO multivio_worker USING (true);
CREATE POLICY "Worker manages plans" ON user_info FOR ALL TO multivio_worker USING (true);
CREATE POLICY "Worker manages subscription history" ON subscription_history FOR ALL TO multivio_worker USING (true);
