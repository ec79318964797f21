-- Every attempt of every task (issue #5, the run page's Gantt of all attempts). Keep in step
-- with ../postgres/0010_task_attempts.sql. A task instance row holds only its latest attempt;
-- the store writes this row from each task instance it writes that describes an attempt
-- (started, in state running, success, failed, up_for_retry, skipped or cancelled), in the
-- same transaction, and never changes an attempt once it has ended. Deleted with its run.

CREATE TABLE task_attempts (
    pipeline    TEXT    NOT NULL,
    run_id      TEXT    NOT NULL,
    task        TEXT    NOT NULL,
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),
    state       TEXT    NOT NULL CHECK (state IN ('running', 'success', 'failed', 'skipped',
        'up_for_retry', 'cancelled')),
    exit_code   INTEGER,
    outcome     TEXT,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    PRIMARY KEY (pipeline, run_id, task, attempt),
    FOREIGN KEY (pipeline, run_id) REFERENCES runs (pipeline, id) ON DELETE CASCADE
) STRICT;

-- the latest attempt of every task that started before this table existed
INSERT INTO task_attempts
    (pipeline, run_id, task, attempt, state, exit_code, outcome, started_at, ended_at)
SELECT pipeline, run_id, task, attempts, state, exit_code, outcome, started_at, ended_at
FROM task_instances
WHERE attempts >= 1 AND started_at IS NOT NULL
    AND state IN ('running', 'success', 'failed', 'skipped', 'up_for_retry', 'cancelled');

-- A pipeline's runs by logical date: its latest run is one index seek. The pipelines list's
-- state filter asks it of every pipeline (5,000 pipelines of 200 runs each: 0.9 s without this
-- index, 33 ms with it, on SQLite), and the list asks each row's newest runs.
CREATE INDEX runs_by_pipeline_date ON runs (pipeline, logical_date, id);
