-- Multivio 020: the monthly quota a quota period was paid for as it began (its plan's, or its
-- invoice's). A downgrade keeps no more than this until the period ends, so an upgrade made
-- during the period (prorated by Stripe, and given back by it when the plan goes down again)
-- is taken back at once. NULL: not known (a period begun before this column), taken as the
-- current monthly quota, as before.
ALTER TABLE user_info
  ADD COLUMN paid_monthly_post_quota INTEGER
    CONSTRAINT user_info_paid_monthly_post_quota_check CHECK (paid_monthly_post_quota >= 0);
