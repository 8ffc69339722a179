-- The engine: the leader lease, and what a finished execution leaves behind.

-- One row per lease name. Acquired and renewed by one conditional UPDATE; epoch rises
-- with every change of holder (store_lease.c).
CREATE TABLE floe_leader (
    name        text PRIMARY KEY,
    holder      text NOT NULL DEFAULT '',
    epoch       bigint NOT NULL DEFAULT 0,
    expires_at  timestamptz NOT NULL DEFAULT 'epoch',
    acquired_at timestamptz
);
INSERT INTO floe_leader (name) VALUES ('scheduler');

-- Final state of every node of a finished execution.
CREATE TABLE node_executions (
    execution_id text NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    node_id      text NOT NULL,
    phase        text NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    outputs      bytea,          -- floe.ValueMap
    error_kind   text,
    error_code   text,
    error        text,
    PRIMARY KEY (execution_id, node_id)
);

-- Every attempt that ended (succeeded, failed, retried).
CREATE TABLE node_attempts (
    execution_id text NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    node_id      text NOT NULL,
    attempt      integer NOT NULL,
    phase        text NOT NULL,
    error_kind   text,
    error_code   text,
    message      text,
    worker       text,
    started_at   timestamptz,
    finished_at  timestamptz,
    PRIMARY KEY (execution_id, node_id, attempt)
);
