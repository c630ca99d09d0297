-- Multivio 018: a payment customer belongs to one account, found by an index (every Stripe
-- webhook looks its account up by customer); webhook events are remembered for 30 days (Stripe
-- retries an event for three), then forgotten as new ones arrive, oldest first, by an index.
CREATE UNIQUE INDEX idx_users_stripe_customer_id ON users (stripe_customer_id)
  WHERE stripe_customer_id IS NOT NULL;
CREATE INDEX idx_processed_webhook_events_processed_at ON processed_webhook_events (processed_at);
