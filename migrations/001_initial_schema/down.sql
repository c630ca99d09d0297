DROP TABLE IF EXISTS social_connections;
DROP TABLE IF EXISTS users;
DROP FUNCTION IF EXISTS update_updated_at_column();
-- auth.uid() and its schema go only if they are ours (not a managed database's own).
DO $do$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'auth' AND p.proname = 'uid' AND pg_has_role(p.proowner, 'USAGE')) THEN
    DROP FUNCTION auth.uid();
  END IF;
  IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'auth' AND pg_has_role(nspowner, 'USAGE'))
     AND NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_namespace n ON d.refobjid = n.oid
                     WHERE n.nspname = 'auth' AND d.deptype = 'n') THEN
    DROP SCHEMA auth;
  END IF;
END
$do$;
DROP EXTENSION IF EXISTS pgcrypto;
DROP EXTENSION IF EXISTS "uuid-ossp";
