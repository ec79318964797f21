-- The servers sharing this database (issue #6), and the pools' slots they share. Where each answers, keyed by the backend pid of
-- the connection that holds its locks. A row outlives its server; a server is live while its
-- pid holds its membership lock (pg_locks). Keep in step with ../sqlite/0011_servers.sql.
CREATE TABLE servers (
    pid BIGINT PRIMARY KEY,
    url TEXT NOT NULL,
    joined_at TEXT NOT NULL,
    -- the units it holds, one name per line, rewritten when they change
    units TEXT NOT NULL DEFAULT ''
);

-- The slots of each pool, shared by the servers: a slot is held by the server whose pid is in
-- `holder` while that server is live; a server claims free slots with FOR UPDATE SKIP LOCKED.
CREATE TABLE pool_slots (
    pool TEXT NOT NULL,
    slot BIGINT NOT NULL,
    holder BIGINT,
    PRIMARY KEY (pool, slot)
);

-- How many slots of a pool each server's ready tasks wait for: a server holding more than its
-- share gives idle slots back when another waits.
CREATE TABLE pool_waits (
    pool TEXT NOT NULL,
    pid BIGINT NOT NULL,
    waiting BIGINT NOT NULL,
    PRIMARY KEY (pool, pid)
);

-- Values every server of the database must agree on (the trace key): the first server's
-- proposal wins.
CREATE TABLE shared_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
