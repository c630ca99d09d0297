DROP INDEX IF EXISTS idx_processed_webhook_events_processed_at;
DROP INDEX IF EXISTS idx_users_stripe_customer_id;
