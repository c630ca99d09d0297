-- Multivio 001: users and social connections, as in the seed schema.
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- Supabase-compatible auth.uid(): the subject claim of the current request. Text, because
-- Firebase uids are not UUIDs. An unset or empty claim (what a pooled connection reads after
-- a transaction that set it locally) is NULL, so it matches no row. Where the database already
-- has an auth.uid() (Supabase), that one is kept: it is someone else's to change.
CREATE SCHEMA IF NOT EXISTS auth;
DO $do$
BEGIN
  IF to_regprocedure('auth.uid()') IS NULL THEN
    CREATE FUNCTION auth.uid() RETURNS text LANGUAGE sql STABLE AS $fn$
      SELECT nullif(current_setting('request.jwt.claim.sub', true), '')
    $fn$;
  END IF;
END
$do$;

CREATE TABLE users (
  id SERIAL PRIMARY KEY,
  firebase_uid VARCHAR(255) NOT NULL UNIQUE,
  email VARCHAR(255) NOT NULL UNIQUE,
  username VARCHAR(100) UNIQUE,
  full_name VARCHAR(255),
  display_name VARCHAR(100),
  work_description VARCHAR(255),
  bio TEXT,
  avatar_url TEXT,
  email_verified BOOLEAN DEFAULT false,
  auth_provider VARCHAR(50) DEFAULT 'email',
  is_active BOOLEAN DEFAULT true,
  is_verified BOOLEAN DEFAULT false,
  stripe_customer_id VARCHAR(255),
  subscription_status VARCHAR(50) DEFAULT 'free',
  subscription_id VARCHAR(255),
  plan_name VARCHAR(50) DEFAULT 'free',
  subscription_end_date TIMESTAMPTZ,
  email_verification_token VARCHAR(255),
  email_verification_expires_at TIMESTAMPTZ,
  email_verification_sent_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP
);

CREATE UNIQUE INDEX idx_users_firebase_uid ON users(firebase_uid);
CREATE UNIQUE INDEX idx_users_email ON users(email);
CREATE UNIQUE INDEX idx_users_username ON users(username);
CREATE INDEX idx_users_subscription_status ON users(subscription_status);
CREATE INDEX idx_users_created_at ON users(created_at);

CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = NOW();
    RETURN NEW;
END;
$$ language 'plpgsql';

CREATE TRIGGER update_users_updated_at
    BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TABLE social_connections (
  id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider VARCHAR(50) NOT NULL,
  provider_account_id VARCHAR(255) NOT NULL,
  access_token TEXT NOT NULL, -- Encrypted
  refresh_token TEXT, -- Encrypted
  expires_at TIMESTAMPTZ,
  account_label VARCHAR(255), -- User-friendly name
  account_type VARCHAR(50) DEFAULT 'personal', -- personal, business, page
  is_primary BOOLEAN DEFAULT false, -- Only one per provider/user
  metadata JSONB DEFAULT '{}', -- Platform-specific data
  created_at TIMESTAMPTZ DEFAULT NOW(),
  updated_at TIMESTAMPTZ DEFAULT NOW(),
  UNIQUE(user_id, provider, provider_account_id)
);

CREATE INDEX idx_social_connections_user_id ON social_connections(user_id);
CREATE INDEX idx_social_connections_provider ON social_connections(provider);
CREATE INDEX idx_social_connections_provider_account_id ON social_connections(provider_account_id);
CREATE INDEX idx_social_connections_account_type ON social_connections(account_type);
CREATE INDEX idx_social_connections_is_primary ON social_connections(is_primary);
CREATE INDEX idx_social_connections_expires_at ON social_connections(expires_at);
CREATE INDEX idx_social_connections_metadata ON social_connections USING gin(metadata);

CREATE TRIGGER update_social_connections_updated_at
    BEFORE UPDATE ON social_connections
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- Row Level Security, as in the seed.
CREATE POLICY "Users can view own profile" ON users
  FOR SELECT USING (auth.uid()::text = firebase_uid);

CREATE POLICY "Users can update own profile" ON users
  FOR UPDATE USING (auth.uid()::text = firebase_uid);

CREATE POLICY "Allow user registration" ON users
  FOR INSERT WITH CHECK (true);

CREATE POLICY "Users can view own connections" ON social_connections
  FOR SELECT USING (user_id IN (
    SELECT id FROM users WHERE firebase_uid = auth.uid()::text
  ));

CREATE POLICY "Users can manage own connections" ON social_connections
  FOR ALL USING (user_id IN (
    SELECT id FROM users WHERE firebase_uid = auth.uid()::text
  ));

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE social_connections ENABLE ROW LEVEL SECURITY;
