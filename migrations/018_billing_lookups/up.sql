-- Multivio 018: a payment customer belongs to one account, found by an index (every Stripe
-- webhook looks its account up by customer); webhook events are remembered for 30 days (Stripe
-- retries an event for three), then forgotten as new ones arrive, oldest first, by an index.

-- Accounts sharing a customer stop the migration with their customers named (the unique index
-- would fail less clearly). Row Level Security is forced on `users`, on its owner too: lifted
-- for this check only, inside the migration's transaction (as in 017).
ALTER TABLE users NO FORCE ROW LEVEL SECURITY;
DO $$
DECLARE
  shared TEXT;
BEGIN
  SELECT string_agg(stripe_customer_id, ', ') INTO shared
    FROM (SELECT stripe_customer_id FROM users
           WHERE stripe_customer_id IS NOT NULL
           GROUP BY stripe_customer_id HAVING count(*) > 1) AS d;
  IF shared IS NOT NULL THEN
    RAISE EXCEPTION 'several accounts share the Stripe customers %: give each account its own (users.stripe_customer_id) before migrating', shared;
  END IF;
END
$$;
ALTER TABLE users FORCE ROW LEVEL SECURITY;

CREATE UNIQUE INDEX idx_users_stripe_customer_id ON users (stripe_customer_id)
  WHERE stripe_customer_id IS NOT NULL;
CREATE INDEX idx_processed_webhook_events_processed_at ON processed_webhook_events (processed_at);
