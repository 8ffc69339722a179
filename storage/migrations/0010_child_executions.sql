-- Child executions (docs/engine.md#child-executions): a launch-plan node or a dynamic
-- workflow runs as an execution of its own, linked to the node of its parent that started
-- it. nesting counts the parents above it, bounded by spec.max_depth.
ALTER TABLE executions ADD COLUMN IF NOT EXISTS parent_execution text;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS parent_node text;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS parent_attempt integer NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS nesting integer NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS executions_by_parent ON executions (parent_execution)
    WHERE parent_execution IS NOT NULL;
