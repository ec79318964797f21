//! Following a task attempt's log file: the lines so far, then new ones as they are written,
//! until the attempt has ended and the file is read to its end.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aqueduct_core::TaskState;
use aqueduct_core::scheduler::RunKey;
use aqueduct_store::Store;
use tokio::sync::mpsc;

const POLL: Duration = Duration::from_millis(100);

pub(crate) async fn follow<S: Store>(
    store: Arc<S>,
    run: RunKey,
    task: String,
    attempt: u32,
    path: PathBuf,
    lines: mpsc::Sender<String>,
) {
    let mut offset = 0u64;
    loop {
        let finished = attempt_finished(&*store, &run, &task, attempt).await;
        let (new_lines, new_offset) = read_from(&path, offset);
        offset = new_offset;
        for line in new_lines {
            if lines.send(line).await.is_err() {
                return;
            }
        }
        if finished {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn attempt_finished<S: Store>(store: &S, run: &RunKey, task: &str, attempt: u32) -> bool {
    let Ok(tasks) = store.list_task_instances(&run.pipeline, &run.run_id).await else {
        return true;
    };
    match tasks.iter().find(|t| t.task == task) {
        Some(record) => record.attempts > attempt || !matches!(record.state, TaskState::Running),
        None => true,
    }
}

/// Complete lines after `offset`, and the offset after the last complete line.
fn read_from(path: &PathBuf, offset: u64) -> (Vec<String>, u64) {
    let Ok(mut file) = std::fs::File::open(path) else {
        return (Vec::new(), offset);
    };
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return (Vec::new(), offset);
    }
    let mut reader = BufReader::new(file);
    let mut lines = Vec::new();
    let mut position = offset;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(read) if line.ends_with('\n') => {
                position += read as u64;
                line.pop();
                lines.push(line);
            }
            Ok(_) => break,
        }
    }
    (lines, position)
}
