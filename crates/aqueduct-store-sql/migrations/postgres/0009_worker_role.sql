-- The `worker` role of remote workers' tokens (issue #6). Keep in step with
-- ../sqlite/0009_worker_role.sql.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check
    CHECK (role IN ('viewer', 'operator', 'admin', 'worker'));
