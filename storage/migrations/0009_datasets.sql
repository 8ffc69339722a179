-- Datasets have owners (issue 19): the first project to publish a dataset owns it; another
-- project publishes into it, or triggers on it, only with the owner's grant.
CREATE TABLE IF NOT EXISTS dataset_owners (
    dataset text PRIMARY KEY,
    project text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS dataset_grants (
    dataset text NOT NULL REFERENCES dataset_owners (dataset) ON DELETE CASCADE,
    project text NOT NULL,
    publish boolean NOT NULL DEFAULT false,
    trigger boolean NOT NULL DEFAULT false,
    granted_by text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset, project)
);
