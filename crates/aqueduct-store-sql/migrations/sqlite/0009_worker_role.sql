-- The `worker` role of remote workers' tokens (issue #6). Keep in step with
-- ../postgres/0009_worker_role.sql. SQLite cannot change a CHECK constraint in place, so the
-- table is rebuilt with the same rows and ids.
CREATE TABLE api_tokens_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin', 'worker')),
    hash          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
) STRICT;
INSERT INTO api_tokens_new (id, name, role, hash, created_at, last_used_at)
    SELECT id, name, role, hash, created_at, last_used_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;
