-- Multivio 014: workers wake when a job becomes due instead of polling, and find the
-- connections whose tokens to refresh ahead of expiry through an index.
--
-- A job that becomes pending — inserted pending, or updated to pending (a retry), or pending
-- with a new run_at — sends NOTIFY multivio_jobs with the job's run_at as Unix epoch seconds
-- (e.g. '1767225600.000000'): for an INSERT statement one notification with the earliest
-- run_at of its pending rows; for an UPDATE one per row (PostgreSQL folds identical payloads
-- of one transaction into one). Notifications go out when the transaction commits and never
-- when it rolls back. Claims, lease renewals and outcomes other than a retry (running,
-- completed, discarded, cancelled) send nothing: a worker woken by a claim would claim again,
-- and every worker would wake every other one. An expired lease is found by
-- a worker's next look at the queue (its sleep is capped), not by a notification.
--
-- Cost: the INSERT trigger runs once per statement over its transition table, so a bulk
-- insert of thousands of jobs calls it once; the UPDATE trigger's WHEN clause is checked per
-- row in the executor and calls the function only for rows that became pending.
--
-- The functions run as the role that changed the jobs (multivio_api enqueues, multivio_worker
-- claims and retries): they read nothing but the statement's own rows, and pg_notify needs no
-- privilege. (PostgreSQL does not check EXECUTE on a trigger's function when it fires; nobody
-- may call them directly.)

CREATE FUNCTION multivio_private.notify_jobs_inserted() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  first_due timestamptz;
BEGIN
  SELECT min(a.run_at) INTO first_due FROM added_jobs a WHERE a.status = 'pending';
  IF first_due IS NOT NULL THEN
    PERFORM pg_notify('multivio_jobs', extract(epoch FROM first_due)::text);
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION multivio_private.notify_job_pending() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM pg_notify('multivio_jobs', extract(epoch FROM NEW.run_at)::text);
  RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION multivio_private.notify_jobs_inserted() FROM PUBLIC;
REVOKE ALL ON FUNCTION multivio_private.notify_job_pending() FROM PUBLIC;

CREATE TRIGGER notify_jobs_inserted
  AFTER INSERT ON publish_jobs
  REFERENCING NEW TABLE AS added_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION multivio_private.notify_jobs_inserted();

CREATE TRIGGER notify_job_pending
  AFTER UPDATE OF status, run_at ON publish_jobs
  FOR EACH ROW
  WHEN (NEW.status = 'pending'
        AND (OLD.status IS DISTINCT FROM 'pending' OR OLD.run_at IS DISTINCT FROM NEW.run_at))
  EXECUTE FUNCTION multivio_private.notify_job_pending();

-- The worker's refresh sweep: active connections that can be refreshed, by expiry. (The
-- seed's idx_social_connections_expires_at holds every connection, so connections that can
-- never be refreshed — no refresh token, or waiting for the user to reconnect — would sit at
-- its front for ever once expired.)
CREATE INDEX idx_social_connections_refresh_due ON social_connections (expires_at, id)
  WHERE status = 'active' AND refresh_token IS NOT NULL;
