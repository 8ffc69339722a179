-- Where an attempt's full stdout and stderr are kept (blob store uris, set by the worker).
ALTER TABLE node_attempts ADD COLUMN stdout_uri text, ADD COLUMN stderr_uri text;
