-- The servers sharing this database (issue #6): where each answers, keyed by the backend pid of
-- the connection that holds its locks. A row outlives its server; a server is live while its
-- pid holds its membership lock (pg_locks). Keep in step with ../sqlite/0011_servers.sql.
CREATE TABLE servers (
    pid BIGINT PRIMARY KEY,
    url TEXT NOT NULL,
    joined_at TEXT NOT NULL
);
