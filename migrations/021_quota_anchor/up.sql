-- Multivio 021: the monthly quota keeps its billing day.
--
-- `quota_anchor`: the instant whose monthly anniversaries start the quota periods (a paying
-- user's billing cycle anchor, as Stripe keeps it; the first period's start otherwise). A
-- period that began on a day a month lacks (the 29th to the 31st) starts on that month's last
-- day and the next one goes back to the anchor's day (Jan 31, Feb 28, Mar 31), as Stripe bills;
-- counted from the last start instead, the day moved back for good (Mar 28).
-- NULL: the period's start is the anchor (periods begun before this column).
--
-- `quota_resets_at`: when the current period ends, as the core computed it with the period; the
-- worker's sweep finds the periods that have ended with it (an index probe, in UTC whatever
-- the server's time zone). NULL (a row written without it): a calendar month after the start.
ALTER TABLE user_info
  ADD COLUMN quota_anchor TIMESTAMPTZ,
  ADD COLUMN quota_resets_at TIMESTAMPTZ;

-- Periods running now end a calendar month after their start, counted in UTC as the core does
-- (Multivio's own connections are in UTC; one opened by hand may not be).
SET LOCAL TimeZone = 'UTC';
UPDATE user_info
   SET quota_resets_at = COALESCE(last_quota_reset, created_at) + interval '1 month'
 WHERE COALESCE(last_quota_reset, created_at) IS NOT NULL;

CREATE INDEX idx_user_info_quota_resets_at ON user_info (quota_resets_at);

-- What a deleted account left of its period keeps the period's anchor too.
ALTER TABLE quota_carryovers ADD COLUMN quota_anchor TIMESTAMPTZ;
