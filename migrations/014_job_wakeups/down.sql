DROP INDEX IF EXISTS idx_social_connections_refresh_due;
DROP TRIGGER IF EXISTS notify_job_pending ON publish_jobs;
DROP TRIGGER IF EXISTS notify_jobs_inserted ON publish_jobs;
DROP FUNCTION IF EXISTS multivio_private.notify_job_pending();
DROP FUNCTION IF EXISTS multivio_private.notify_jobs_inserted();
