-- Multivio 002: Stripe subscription history and per-user plan/quota, as in the seed schema.
CREATE TABLE subscription_history (
  id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
  user_email VARCHAR(255) NOT NULL,
  stripe_subscription_id VARCHAR(255),
  plan_name VARCHAR(50),
  status VARCHAR(50),
  amount_paid INTEGER, -- Amount in cents
  currency VARCHAR(3) DEFAULT 'usd',
  period_start TIMESTAMPTZ,
  period_end TIMESTAMPTZ,
  stripe_customer_id VARCHAR(255),
  created_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE user_info (
  id SERIAL PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE UNIQUE,
  plan_type VARCHAR(50) DEFAULT 'free',
  monthly_post_quota INTEGER DEFAULT 10,
  remaining_posts INTEGER DEFAULT 10,
  subscription_id VARCHAR(255),
  subscription_status VARCHAR(50),
  subscription_end_date TIMESTAMPTZ,
  last_quota_reset TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP,
  preferences JSONB DEFAULT '{}',
  created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_subscription_history_user_email ON subscription_history(user_email);
CREATE INDEX idx_subscription_history_stripe_subscription_id ON subscription_history(stripe_subscription_id);
CREATE INDEX idx_subscription_history_status ON subscription_history(status);
CREATE INDEX idx_user_info_user_id ON user_info(user_id);
CREATE INDEX idx_user_info_plan_type ON user_info(plan_type);
