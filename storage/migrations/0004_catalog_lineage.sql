-- The catalog (memoized results of cacheable tasks) and lineage (what each node execution
-- consumed and produced). See docs/catalog.md.

-- One entry per cache key (floe_canon_cache_key: project, domain, task name, interface
-- digest, cache version, canonical inputs). Outputs are blobs by reference.
CREATE TABLE catalog (
    cache_key        text PRIMARY KEY,
    project          text NOT NULL,
    domain           text NOT NULL,
    task_name        text NOT NULL,
    task_version     text NOT NULL,
    cache_version    text NOT NULL,
    outputs          bytea NOT NULL,      -- floe.ValueMap
    execution_id     text NOT NULL,       -- the attempt that produced them
    node_id          text NOT NULL,
    attempt          integer NOT NULL,
    hits             bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz,         -- NULL: never (task cache.ttl)
    last_hit_at      timestamptz
);
CREATE INDEX catalog_by_task ON catalog (project, domain, task_name, created_at DESC);

-- A node execution that produced outputs: ran (SUCCEEDED), or took them over from the
-- catalog (CACHED) or from the execution it recovers (RECOVERED).
CREATE TABLE lineage_nodes (
    id               bigserial PRIMARY KEY,
    execution_id     text NOT NULL,
    node_id          text NOT NULL,
    attempt          integer NOT NULL,
    project          text NOT NULL,
    domain           text NOT NULL,
    task_name        text NOT NULL,
    task_version     text NOT NULL,
    phase            text NOT NULL,
    cache_key        text,
    source_execution text,                -- CACHED / RECOVERED: whose outputs these are
    source_node      text,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (execution_id, node_id)
);

-- Data within one execution: a node's output, an input of the execution (node_id ''),
-- or a constant bound to a node's input. Identified by (execution, node, role, name);
-- derived_* name the same data recorded earlier elsewhere (the original of a cached or
-- recovered output; the produced blob an execution input was given).
CREATE TABLE artifacts (
    id               bigserial PRIMARY KEY,
    execution_id     text NOT NULL,
    node_id          text NOT NULL,
    role             text NOT NULL CHECK (role IN ('output', 'input', 'constant')),
    name             text NOT NULL,
    type             text NOT NULL,
    uri              text,                -- blobs
    digest           text NOT NULL,       -- blob content digest, or sha256 of the value
    size             bigint,
    value            text,                -- JSON of a literal (bounded), NULL for blobs
    derived_from     bigint REFERENCES artifacts (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (execution_id, node_id, role, name)
);
CREATE INDEX artifacts_by_digest ON artifacts (digest, id DESC) WHERE role = 'output';
CREATE INDEX artifacts_derived ON artifacts (derived_from) WHERE derived_from IS NOT NULL;

-- node (execution, node) consumed artifact (same execution) as its input `input`.
CREATE TABLE lineage_uses (
    execution_id     text NOT NULL,
    node_id          text NOT NULL,
    input            text NOT NULL,
    artifact         bigint NOT NULL REFERENCES artifacts (id),
    PRIMARY KEY (execution_id, node_id, input)
);
CREATE INDEX lineage_uses_by_artifact ON lineage_uses (artifact);
