-- Live edits of pipelines through the API (issue #4, self-heal). Keep in step with
-- ../sqlite/0004_live_edits.sql. `live_version` is the version a live edit set, NULL when the
-- pipeline runs what its source (git, or the folder) declares; a sync from git clears it.
-- Kept across restarts so drift stays visible and self-heal can still revert it.

ALTER TABLE pipelines ADD COLUMN live_version BIGINT REFERENCES pipeline_versions (id);
