-- The folder a run's tasks run in (issue #4, pinning). Keep in step with
-- ../sqlite/0006_run_source_dir.sql. A GitOps pipeline's versions are per definition, not per
-- commit, so a run records its commit's read-only tree here: a sync that changes one file of
-- ten thousand records one version, and every new run still runs from the commit it was
-- created at. NULL: the folder of the version's source file (pipelines of a plain folder).

ALTER TABLE runs ADD COLUMN source_dir TEXT;
