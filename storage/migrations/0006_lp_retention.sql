-- What the leader's retention job deletes once older than launchplan.retention: firings
-- that are done (skipped, or launched and published), trigger events a firing consumed,
-- and outbox rows that were sent. Partial indexes, so each pass reads only candidates.
CREATE INDEX lp_firings_done ON lp_firings (created_at)
    WHERE state = 'SKIPPED' OR (state = 'LAUNCHED' AND published);
CREATE INDEX trigger_events_consumed ON trigger_events (received_at) WHERE firing_id IS NOT NULL;
CREATE INDEX data_outbox_sent ON data_outbox (created_at) WHERE sent;
