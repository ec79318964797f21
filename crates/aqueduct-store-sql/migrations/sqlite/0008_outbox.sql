-- The notification outbox (issue #7). Keep in step with ../postgres/0008_outbox.sql. A
-- notification is inserted in the transaction of the state change that caused it and stays
-- `pending` until its sink accepts it (`delivered`) or the sender gives up (`dead`). A sink's
-- notifications are delivered in `id` order; `id` is also the delivery id receivers
-- deduplicate by.

CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at      INTEGER NOT NULL,
    sink            TEXT    NOT NULL,
    target_json     TEXT    NOT NULL,
    body_json       TEXT    NOT NULL,
    -- at most one notification per key (a run's deadline miss, per sink); NULL: no limit
    dedup_key       TEXT UNIQUE,
    -- notifications of one group (repeated failures of a task) due together go out as one
    group_key       TEXT,
    -- when it may first be sent (NULL: at once); next_attempt_at starts there
    hold_until      INTEGER,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    delivered_at    INTEGER
) STRICT;

-- the sender's two reads: which sinks have work, and a sink's oldest pending ones
CREATE INDEX notifications_pending ON notifications (sink, id) WHERE state = 'pending';
