-- Versions are looked up by definition hash when a sync records them (issue #4: a commit of
-- a 10,000-pipeline repository records 10,000 versions). The UNIQUE (pipeline, hash) index
-- cannot serve `WHERE hash IN (...)`, which scanned the whole, ever-growing table. Keep in
-- step with ../postgres/0005_versions_by_hash.sql.

CREATE INDEX pipeline_versions_by_hash ON pipeline_versions (hash);
