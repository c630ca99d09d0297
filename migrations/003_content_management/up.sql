-- Multivio 003: uploaded media metadata, as in the seed schema.
CREATE TABLE media_files (
  id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  filename VARCHAR(255) NOT NULL,
  original_filename VARCHAR(255),
  file_type VARCHAR(100), -- MIME type
  file_size INTEGER, -- Size in bytes
  cdn_url TEXT, -- Public URL of the stored bytes
  thumbnail_url TEXT, -- Thumbnail URL
  platform_compatibility JSONB DEFAULT '[]', -- Compatible platforms
  alt_text TEXT, -- Alternative text for accessibility
  upload_date TIMESTAMPTZ DEFAULT NOW(),
  created_at TIMESTAMPTZ DEFAULT NOW(),
  updated_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_media_files_user_id ON media_files(user_id);
CREATE INDEX idx_media_files_file_type ON media_files(file_type);
CREATE INDEX idx_media_files_upload_date ON media_files(upload_date);
CREATE INDEX idx_media_files_platform_compatibility ON media_files USING gin(platform_compatibility);
