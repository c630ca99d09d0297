-- Multivio 004: the unified posts table (one post, universal or per-platform content), as in
-- the seed schema.
CREATE TABLE posts (
  id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name VARCHAR(255) NOT NULL, -- Post title/name
  content_mode VARCHAR(50) DEFAULT 'universal', -- universal or specific
  universal_content TEXT, -- Content for universal mode
  universal_metadata JSONB DEFAULT '{}', -- Universal content metadata
  platform_content JSONB DEFAULT '{}', -- Platform-specific content
  platforms JSONB DEFAULT '[]', -- Selected platforms for publishing
  media_files JSONB DEFAULT '[]', -- Attached media files
  schedule_date TIMESTAMPTZ, -- Future publishing date
  status VARCHAR(50) DEFAULT 'draft', -- draft, scheduled, publishing, published, partially_published, failed
  publish_job_id VARCHAR(255), -- Background job tracking
  published_at TIMESTAMPTZ, -- Actual publishing timestamp
  publish_results JSONB DEFAULT '{}', -- Publishing status per platform
  created_at TIMESTAMPTZ DEFAULT NOW(),
  updated_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_posts_user_id ON posts(user_id);
CREATE INDEX idx_posts_status ON posts(status);
CREATE INDEX idx_posts_content_mode ON posts(content_mode);
CREATE INDEX idx_posts_schedule_date ON posts(schedule_date);
CREATE INDEX idx_posts_created_at ON posts(created_at);
CREATE INDEX idx_posts_platforms ON posts USING gin(platforms);
CREATE INDEX idx_posts_platform_content ON posts USING gin(platform_content);

CREATE TRIGGER update_posts_updated_at
    BEFORE UPDATE ON posts
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE POLICY "Users can view own posts" ON posts
  FOR SELECT USING (user_id IN (
    SELECT id FROM users WHERE firebase_uid = auth.uid()::text
  ));

CREATE POLICY "Users can manage own posts" ON posts
  FOR ALL USING (user_id IN (
    SELECT id FROM users WHERE firebase_uid = auth.uid()::text
  ));

ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
