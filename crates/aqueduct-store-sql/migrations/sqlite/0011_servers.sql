-- The servers sharing a PostgreSQL database (issue #6). A SQLite file serves one server, so
-- this table stays empty; it exists to keep both migration folders numbered alike. Keep in
-- step with ../postgres/0011_servers.sql.
CREATE TABLE servers (
    pid INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    joined_at TEXT NOT NULL,
    -- the units it holds, one name per line, rewritten when they change
    units TEXT NOT NULL DEFAULT ''
);

CREATE TABLE pool_slots (
    pool TEXT NOT NULL,
    slot INTEGER NOT NULL,
    holder INTEGER,
    PRIMARY KEY (pool, slot)
);

CREATE TABLE pool_waits (
    pool TEXT NOT NULL,
    pid INTEGER NOT NULL,
    waiting INTEGER NOT NULL,
    PRIMARY KEY (pool, pid)
);

-- Values every server of the database must agree on (the trace key): the first server's
-- proposal wins.
CREATE TABLE shared_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
