//! Attempts of queues the server's own executor does not serve: rendered here, then queued
//! for remote workers ([`crate::dispatch`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use aqueduct_core::AttemptOutcome;

use crate::attempt::{self, AttemptInput, Ended, EndedSink};
use crate::dispatch::{Dispatcher, Ticket, Work, tree};
use crate::gitops::Trees;

/// Which executor runs which queue.
#[derive(Clone)]
pub struct Executors {
    /// The queues the server's own executor runs; empty turns it off (`--no-local-executor`).
    pub local_queues: BTreeSet<String>,
    /// Remote workers' queues and leases; `None`: no remote workers, so an attempt of a queue
    /// the server does not run fails to start.
    pub remote: Option<Dispatcher>,
}

impl Default for Executors {
    /// The server's own executor runs the `default` queue; no remote workers.
    fn default() -> Self {
        Executors {
            local_queues: BTreeSet::from([aqueduct_core::pipeline::DEFAULT_QUEUE.to_owned()]),
            remote: None,
        }
    }
}

/// Where an attempt's files come from: the commit's whole tree for a GitOps pipeline, the
/// pipelines folder for a folder's.
pub(super) struct Sources<'a> {
    pub(super) trees: &'a Trees,
    pub(super) folder: Option<&'a Path>,
}

/// Renders the attempt and queues it; `None` when it ended at once (its condition was false,
/// it could not be rendered, or nothing serves its queue), its end already sent to `ended`.
pub(super) fn submit(
    dispatcher: Option<&Dispatcher>,
    sources: &Sources<'_>,
    input: &AttemptInput<'_>,
    ended: EndedSink,
) -> Option<Ticket> {
    let task = &input.pipeline.tasks[input.task];
    let (log_path, _) = attempt::attempt_paths(input.logs_dir, &task.name, input.attempt);
    let not_started = |outcome: AttemptOutcome| {
        if let AttemptOutcome::NotStarted(why) = &outcome {
            attempt::record_failure(&log_path, why, None);
        }
        ended(Ended {
            task: input.task,
            attempt: input.attempt,
            outcome,
            duration: None,
            outputs: Default::default(),
            ended_at: jiff::Timestamp::now(),
            log_error: None,
        });
        None
    };
    let Some(dispatcher) = dispatcher else {
        let why = format!(
            "no executor serves queue `{}`: the server's own executor is off for it and remote workers are not enabled",
            task.queue
        );
        return not_started(AttemptOutcome::NotStarted(why));
    };
    let rendered = match attempt::render(input) {
        Ok(Some(rendered)) => rendered,
        Ok(None) => return not_started(AttemptOutcome::ConditionFalse),
        Err(why) => return not_started(AttemptOutcome::NotStarted(why)),
    };
    let (root, immutable) = sources.root_of(&input.pipeline.source_dir);
    let Some(workdir) = tree::workdir_in(&root, &rendered.workdir) else {
        let why = format!(
            "the working directory {} lies outside the files a worker receives ({})",
            rendered.workdir.display(),
            root.display()
        );
        return not_started(AttemptOutcome::NotStarted(why));
    };
    let work = Work {
        pipeline: input.run.pipeline.clone(),
        run_id: input.run.run_id.clone(),
        task: task.name.clone(),
        index: input.task,
        attempt: input.attempt,
        queue: task.queue.clone(),
        command: rendered.command,
        env: rendered.env,
        mask: input.mask.to_vec(),
        root,
        immutable,
        workdir,
        timeout: task.timeout,
        kill_grace: input.kill_grace,
        memory_limit: task.memory_limit,
        log_path,
        ended,
    };
    Some(dispatcher.submit(work))
}

impl Sources<'_> {
    /// The root of the files an attempt of a pipeline in `source_dir` receives, and whether
    /// they can never change (a commit's tree).
    fn root_of(&self, source_dir: &Path) -> (PathBuf, bool) {
        if let Some(commit) = self.trees.commit_of(source_dir) {
            return (self.trees.path_of(&commit), true);
        }
        match self.folder {
            Some(folder) if source_dir.starts_with(folder) => (folder.to_path_buf(), false),
            _ => (source_dir.to_path_buf(), false),
        }
    }
}
