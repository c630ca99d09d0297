-- Multivio 017: whether a post holds a quota unit, on the post's own row.
--
-- `post_quota_usage` (migration 008) stays the record of a unit taken (when, by whom; the
-- refund compares its time with the period's start). Every read of a post needs the yes/no of
-- it, which was an `EXISTS` over that table per row read: one index probe per listed post, and
-- a locking read of a post had to be followed by a second statement (a subquery of the
-- locking statement reads other tables as of the statement's start, not as of the commit it
-- waited for). `posts.quota_unit_held` mirrors the usage row, kept by a trigger on
-- `post_quota_usage` and written by nothing else: neither runtime role holds a privilege on
-- the column (column privileges below; a later column of `posts` is granted explicitly).
ALTER TABLE posts ADD COLUMN quota_unit_held BOOLEAN NOT NULL DEFAULT false;

-- Row Level Security is forced on both tables, on their owner too: an owner that neither is a
-- superuser nor bypasses RLS (a managed database) would see no rows without a tenant claim,
-- and the backfill would silently do nothing. Lifted for the backfill only, inside this
-- migration's transaction; a disagreement left after it stops the migration.
ALTER TABLE posts NO FORCE ROW LEVEL SECURITY;
ALTER TABLE post_quota_usage NO FORCE ROW LEVEL SECURITY;
UPDATE posts p SET quota_unit_held = true
 WHERE EXISTS (SELECT 1 FROM post_quota_usage q WHERE q.post_id = p.id);
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM posts p
              WHERE p.quota_unit_held
                    <> EXISTS (SELECT 1 FROM post_quota_usage q WHERE q.post_id = p.id)) THEN
    RAISE EXCEPTION 'posts.quota_unit_held disagrees with post_quota_usage after the backfill';
  END IF;
END
$$;
ALTER TABLE posts FORCE ROW LEVEL SECURITY;
ALTER TABLE post_quota_usage FORCE ROW LEVEL SECURITY;

-- Runs as the owner: the runtime roles may not write the column. Row Level Security still
-- applies (forced on the owner too), so the usage row's writer must act for the post's tenant:
-- the quota functions (migration 013) do, with the authentic claim, and are the only writers
-- left to the runtime roles (below); a cascade from a deleted post or user needs no mirror.
-- A post the mirror cannot see when its unit is taken is an error, never a stale flag. The
-- row's `revision` stays: the flag changes only in transactions that write the post itself
-- (a unit taken or given back with it) or delete it.
CREATE FUNCTION multivio_private.mirror_post_quota_unit() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    UPDATE public.posts SET quota_unit_held = false
     WHERE id = OLD.post_id AND quota_unit_held;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    UPDATE public.posts SET quota_unit_held = true WHERE id = NEW.post_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'the quota unit''s post % is not visible to its writer', NEW.post_id
        USING ERRCODE = '42501';
    END IF;
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION multivio_private.mirror_post_quota_unit() FROM PUBLIC;

CREATE TRIGGER mirror_post_quota_unit
  AFTER INSERT OR DELETE OR UPDATE OF post_id ON post_quota_usage
  FOR EACH ROW EXECUTE FUNCTION multivio_private.mirror_post_quota_unit();

-- Quota units move only through the quota functions (the API role lost these in 011).
REVOKE INSERT, UPDATE, DELETE ON post_quota_usage FROM multivio_worker;

-- The runtime roles insert every column of `posts` but the mirror, and update those a post's
-- life changes (not its id, owner or creation time).
REVOKE INSERT, UPDATE ON posts FROM multivio_api, multivio_worker;
GRANT INSERT (id, user_id, name, content_mode, universal_content, universal_metadata,
              platform_content, platforms, media_files, schedule_date, status, publish_job_id,
              published_at, publish_results, created_at, updated_at, revision, thread),
      UPDATE (name, content_mode, universal_content, universal_metadata,
              platform_content, platforms, media_files, schedule_date, status, publish_job_id,
              published_at, publish_results, updated_at, revision, thread)
  ON posts TO multivio_api, multivio_worker;
