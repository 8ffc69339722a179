-- Identity and trust (issue 19). A token is 32 random bytes; only its SHA-256 is kept
-- (a fast hash is enough for a secret with 256 bits of entropy). Roles are granted per
-- project to principals ("token:<id>"); project '*' is every project.
CREATE TABLE IF NOT EXISTS auth_tokens (
    id text PRIMARY KEY,
    name text NOT NULL,
    owner text NOT NULL,
    hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE TABLE IF NOT EXISTS auth_grants (
    principal text NOT NULL,
    project text NOT NULL,
    role text NOT NULL CHECK (role IN ('viewer', 'launcher', 'maintainer', 'admin')),
    granted_by text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, project)
);
-- Every mutating call and every denial: who, what, which resource, from where, outcome.
CREATE TABLE IF NOT EXISTS audit_log (
    seq bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    principal text NOT NULL,
    action text NOT NULL,
    project text,
    resource text,
    outcome text NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    status integer NOT NULL,
    remote text,
    detail text
);
CREATE INDEX IF NOT EXISTS audit_log_project ON audit_log (project, seq);
CREATE INDEX IF NOT EXISTS audit_log_principal ON audit_log (principal, seq);
