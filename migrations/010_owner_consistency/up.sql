-- Multivio 010: rows that refer to a post belong to the post's owner. RLS checks each row's
-- user_id on its own; these keys also tie it to the post, so no write can attach a job or a
-- quota unit to another user's post.
ALTER TABLE posts ADD CONSTRAINT posts_id_user_id_key UNIQUE (id, user_id);
ALTER TABLE publish_jobs
  ADD CONSTRAINT publish_jobs_post_owner_fkey FOREIGN KEY (post_id, user_id)
  REFERENCES posts (id, user_id) ON DELETE CASCADE;
ALTER TABLE post_quota_usage
  ADD CONSTRAINT post_quota_usage_post_owner_fkey FOREIGN KEY (post_id, user_id)
  REFERENCES posts (id, user_id) ON DELETE CASCADE;
