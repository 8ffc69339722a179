-- Launch plans that launch themselves (docs/launchplans.md): how far each schedule has
-- been evaluated, every firing (keyed so an instant or a set of events fires once),
-- the trigger events received, and the datasets executions publish (a transactional
-- outbox: written with the finished execution, sent to Kafka by the leader).

CREATE TABLE lp_cursors (
    project     text NOT NULL,
    domain      text NOT NULL,
    name        text NOT NULL,
    cursor_at   timestamptz NOT NULL,     -- scheduled instants up to here were evaluated
    missed      bigint NOT NULL DEFAULT 0, -- instants dropped by the catch_up policy
    PRIMARY KEY (project, domain, name)
);

CREATE TABLE lp_firings (
    id            bigserial PRIMARY KEY,
    project       text NOT NULL,
    domain        text NOT NULL,
    name          text NOT NULL,           -- launch plan (any version: the active one fires)
    version       text,                    -- the version launched
    kind          text NOT NULL CHECK (kind IN ('schedule', 'trigger')),
    fire_key      text NOT NULL,           -- t:<unix seconds> or p:<digest of partition and events>
    scheduled_at  timestamptz,
    partition_key text,
    event_ids     text[],
    inputs        bytea,                   -- trigger: floe.ValueMap of the mapped inputs
    state         text NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'LAUNCHED', 'SKIPPED')),
    reason        text,
    execution_id  text,
    published     boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    launched_at   timestamptz,
    UNIQUE (project, domain, name, fire_key)
);
CREATE INDEX lp_firings_by_plan ON lp_firings (project, domain, name, id DESC);
CREATE INDEX lp_firings_pending ON lp_firings (project, domain, name, id) WHERE state = 'PENDING';
CREATE INDEX lp_firings_unpublished ON lp_firings (id) WHERE state = 'LAUNCHED' AND NOT published;
CREATE INDEX lp_firings_recent ON lp_firings (project, domain, name, launched_at)
    WHERE kind = 'trigger' AND state = 'LAUNCHED';

CREATE TABLE trigger_events (
    project       text NOT NULL,
    domain        text NOT NULL,
    name          text NOT NULL,           -- launch plan
    dataset       text NOT NULL,
    partition_key text NOT NULL,
    event_id      text NOT NULL,
    uri           text NOT NULL DEFAULT '',
    digest        text NOT NULL DEFAULT '',
    size          bigint NOT NULL DEFAULT 0,
    partition     text NOT NULL DEFAULT '{}', -- JSON object
    producer_execution text,
    producer_node text,
    published_at  timestamptz,
    received_at   timestamptz NOT NULL DEFAULT now(),
    firing_id     bigint,                  -- NULL while the other datasets are awaited
    PRIMARY KEY (project, domain, name, dataset, partition_key, event_id)
);
CREATE INDEX trigger_events_waiting ON trigger_events (project, domain, name, partition_key)
    WHERE firing_id IS NULL;

CREATE TABLE data_outbox (
    event_id     text PRIMARY KEY,
    dataset      text NOT NULL,
    payload      bytea NOT NULL,           -- floe.DataPublished
    execution_id text,
    sent         boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX data_outbox_unsent ON data_outbox (created_at) WHERE NOT sent;
