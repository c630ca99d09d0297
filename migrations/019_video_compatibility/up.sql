-- Multivio 019: videos are not published to LinkedIn or Bluesky (the publishers send text and
-- images there), and the core's media rules now say so; the compatibility stored with each
-- video uploaded before says otherwise, so those two platforms are taken out of it.
--
-- Row Level Security is forced on `media_files`, on its owner too: lifted for this update
-- only, inside the migration's transaction (as in 017 and 018).
ALTER TABLE media_files NO FORCE ROW LEVEL SECURITY;
UPDATE media_files
   SET platform_compatibility = platform_compatibility - 'linkedin' - 'bluesky'
 WHERE file_type LIKE 'video/%'
   AND jsonb_typeof(platform_compatibility) = 'array'
   AND (platform_compatibility ? 'linkedin' OR platform_compatibility ? 'bluesky');
ALTER TABLE media_files FORCE ROW LEVEL SECURITY;
