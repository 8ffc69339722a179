-- Labels on executions (issue 26): {key: value} given at launch, copied by relaunch and
-- recover, filtered by containment (GIN).
ALTER TABLE executions ADD COLUMN IF NOT EXISTS labels jsonb NOT NULL DEFAULT '{}'::jsonb;
CREATE INDEX IF NOT EXISTS executions_labels ON executions USING gin (labels);
