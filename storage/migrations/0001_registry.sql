-- The registry: projects, and immutable versions of tasks, workflows and launch plans
-- (their compiled protobuf form and its digest), plus executions.
-- Domains are configured globally (registry.domains), not stored.

CREATE TABLE projects (
    name        text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tasks (
    seq         bigserial UNIQUE,
    project     text NOT NULL REFERENCES projects (name),
    domain      text NOT NULL,
    name        text NOT NULL,
    version     text NOT NULL,
    digest      text NOT NULL,
    spec        bytea NOT NULL,           -- floe.TaskSpec
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project, domain, name, version)
);
CREATE INDEX tasks_by_name ON tasks (project, domain, name, seq DESC);

CREATE TABLE workflows (
    seq         bigserial UNIQUE,
    project     text NOT NULL REFERENCES projects (name),
    domain      text NOT NULL,
    name        text NOT NULL,
    version     text NOT NULL,
    digest      text NOT NULL,
    spec        bytea NOT NULL,           -- floe.WorkflowSpec, tasks embedded
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project, domain, name, version)
);
CREATE INDEX workflows_by_name ON workflows (project, domain, name, seq DESC);

CREATE TABLE launch_plans (
    seq              bigserial UNIQUE,
    project          text NOT NULL REFERENCES projects (name),
    domain           text NOT NULL,
    name             text NOT NULL,
    version          text NOT NULL,
    digest           text NOT NULL,
    spec             bytea NOT NULL,      -- floe.LaunchPlanSpec
    workflow_name    text NOT NULL,
    workflow_version text NOT NULL,
    active           boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project, domain, name, version)
);
CREATE INDEX launch_plans_by_name ON launch_plans (project, domain, name, seq DESC);
-- At most one active version per launch plan.
CREATE UNIQUE INDEX launch_plans_one_active ON launch_plans (project, domain, name) WHERE active;

CREATE TABLE executions (
    id                  text PRIMARY KEY,
    seq                 bigserial UNIQUE,
    project             text NOT NULL REFERENCES projects (name),
    domain              text NOT NULL,
    workflow_name       text NOT NULL,
    workflow_version    text NOT NULL,
    launch_plan_name    text,
    launch_plan_version text,
    inputs              bytea NOT NULL,   -- floe.ValueMap, every input resolved
    phase               text NOT NULL DEFAULT 'QUEUED',
    requested_by        text NOT NULL DEFAULT '',
    source_execution    text,             -- relaunch/recover: where it came from
    recover             boolean NOT NULL DEFAULT false,
    no_cache            boolean NOT NULL DEFAULT false,
    overwrite_cache     boolean NOT NULL DEFAULT false,
    scheduled_at        timestamptz,
    outputs             bytea,            -- floe.ValueMap, once succeeded
    error               text,
    epoch               bigint NOT NULL DEFAULT 0,  -- leader epoch of the last engine write
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz
);
CREATE INDEX executions_by_project ON executions (project, domain, seq DESC);
CREATE INDEX executions_by_phase ON executions (phase, seq) WHERE phase NOT IN
    ('SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT');
