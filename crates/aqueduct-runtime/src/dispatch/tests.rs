//! The dispatcher's rules: who gets which attempt, how logs are appended, and when a lease's
//! results count.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aqueduct_core::AttemptOutcome;

use super::*;

struct Fixture {
    dir: tempfile::TempDir,
    ended: Arc<Mutex<Vec<(String, u32, AttemptOutcome)>>>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("files")).expect("mkdir");
        std::fs::write(dir.path().join("files/job.sh"), "echo hi\n").expect("write");
        Fixture {
            dir,
            ended: Arc::default(),
        }
    }

    fn work(&self, task: &str, queue: &str) -> Work {
        let ended = self.ended.clone();
        let name = task.to_owned();
        Work {
            pipeline: "p".into(),
            run_id: "r".into(),
            task: task.into(),
            index: 0,
            attempt: 1,
            queue: queue.into(),
            command: "sh job.sh".into(),
            env: vec![("A".into(), "1".into())],
            mask: Vec::new(),
            root: self.dir.path().join("files"),
            immutable: true,
            workdir: String::new(),
            timeout: None,
            kill_grace: Duration::from_secs(1),
            memory_limit: None,
            log_path: self.log(task),
            ended: Arc::new(move |end: Ended| {
                ended
                    .lock()
                    .expect("lock")
                    .push((name.clone(), end.attempt, end.outcome));
            }),
        }
    }

    fn log(&self, task: &str) -> PathBuf {
        self.dir.path().join("logs").join(format!("{task}.log"))
    }

    fn ended(&self) -> Vec<(String, u32, AttemptOutcome)> {
        self.ended.lock().expect("lock").clone()
    }
}

fn claim(worker: &str, queues: &[&str], free: u32) -> Claim {
    Claim {
        worker: worker.into(),
        queues: queues.iter().map(|q| (*q).to_owned()).collect(),
        free,
        slots: 4,
        labels: BTreeMap::new(),
        wait: Duration::ZERO,
    }
}

fn dispatcher(lease: Duration) -> Dispatcher {
    Dispatcher::start(DispatchConfig { lease }, None)
}

fn finish(outcome: AttemptOutcome, log_bytes: u64) -> Finish {
    Finish {
        outcome,
        duration: Some(Duration::from_millis(5)),
        outputs: BTreeMap::new(),
        log_bytes,
        log_error: None,
    }
}

#[tokio::test]
async fn a_worker_gets_only_its_queues_oldest_first_and_no_more_than_it_has_room_for() {
    let fx = Fixture::new();
    let dispatcher = dispatcher(Duration::from_secs(30));
    let _a = dispatcher.submit(fx.work("a", "gpu"));
    let _b = dispatcher.submit(fx.work("b", "default"));
    let _c = dispatcher.submit(fx.work("c", "gpu"));
    let _d = dispatcher.submit(fx.work("d", "etl"));

    let first = dispatcher.claim(claim("w1", &["default", "gpu"], 2)).await;
    let tasks: Vec<&str> = first.iter().map(|h| h.task.as_str()).collect();
    assert_eq!(tasks, ["a", "b"]);
    assert_ne!(first[0].lease, first[1].lease);
    assert_eq!(first[0].heartbeat, Duration::from_secs(10));
    let manifest = dispatcher
        .manifest(&first[0].tree)
        .expect("the tree is served");
    assert_eq!(manifest.files[0].path, "job.sh");
    let blob = dispatcher
        .blob(&manifest.files[0].sha256)
        .expect("the blob is served");
    assert_eq!(std::fs::read_to_string(blob).expect("read"), "echo hi\n");

    let second = dispatcher.claim(claim("w2", &["default", "gpu"], 5)).await;
    let tasks: Vec<&str> = second.iter().map(|h| h.task.as_str()).collect();
    assert_eq!(tasks, ["c"], "etl is nobody's queue here");

    let queues = dispatcher.queues();
    let etl = queues.iter().find(|q| q.queue == "etl").expect("etl");
    assert_eq!((etl.depth, etl.running, etl.slots), (1, 0, 0));
    let gpu = queues.iter().find(|q| q.queue == "gpu").expect("gpu");
    assert_eq!((gpu.depth, gpu.running, gpu.slots), (0, 2, 8));
    let workers = dispatcher.workers();
    let running: Vec<(&str, u32)> = workers
        .iter()
        .map(|w| (w.name.as_str(), w.running))
        .collect();
    assert_eq!(running, [("w1", 2), ("w2", 1)]);
}

#[tokio::test]
async fn a_waiting_claim_wakes_when_an_attempt_is_queued() {
    let fx = Fixture::new();
    let dispatcher = dispatcher(Duration::from_secs(30));
    let waiting = {
        let dispatcher = dispatcher.clone();
        let mut request = claim("w1", &["default"], 1);
        request.wait = Duration::from_secs(20);
        tokio::spawn(async move { dispatcher.claim(request).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ticket = dispatcher.submit(fx.work("a", "default"));
    let got = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("woken well before its wait ends")
        .expect("join");
    assert_eq!(got.len(), 1);
}

#[tokio::test]
async fn log_bytes_are_appended_once_whatever_is_resent_and_completion_waits_for_all_of_them() {
    let fx = Fixture::new();
    let dispatcher = dispatcher(Duration::from_secs(30));
    let _ticket = dispatcher.submit(fx.work("a", "default"));
    let lease = dispatcher
        .claim(claim("w1", &["default"], 1))
        .await
        .remove(0)
        .lease;

    assert_eq!(dispatcher.append_log(&lease, 0, b"one\ntw"), Ok(6));
    assert_eq!(
        dispatcher.append_log(&lease, 3, b"\ntwo\n"),
        Ok(8),
        "overlap skipped"
    );
    assert_eq!(
        dispatcher.append_log(&lease, 0, b"one\n"),
        Ok(8),
        "old bytes ignored"
    );
    assert_eq!(
        dispatcher.append_log(&lease, 20, b"gap"),
        Ok(8),
        "a gap is refused"
    );
    assert_eq!(
        dispatcher.append_log(&lease, 0, b""),
        Ok(8),
        "an empty body asks"
    );
    assert_eq!(
        dispatcher.complete(&lease, finish(AttemptOutcome::Exited(0), 12)),
        Err(LeaseError::LogIncomplete { received: 8 })
    );
    assert_eq!(dispatcher.append_log(&lease, 8, b"end\n"), Ok(12));
    dispatcher
        .complete(&lease, finish(AttemptOutcome::Exited(0), 12))
        .expect("complete");

    let log = std::fs::read_to_string(fx.log("a")).expect("log");
    assert!(log.contains("aqueduct: worker w1 runs attempt 1"), "{log}");
    assert!(log.ends_with("one\ntwo\nend\n"), "{log}");
    assert_eq!(log.matches("one").count(), 1);
    assert_eq!(fx.ended(), [("a".to_owned(), 1, AttemptOutcome::Exited(0))]);
    assert_eq!(
        dispatcher.heartbeat(&lease),
        Err(LeaseError::Lost(lease.clone()))
    );
    assert!(dispatcher.append_log(&lease, 12, b"late").is_err());
}

#[tokio::test]
async fn a_lease_not_renewed_is_lost_and_the_late_worker_s_result_is_refused() {
    let fx = Fixture::new();
    let dispatcher = dispatcher(Duration::from_millis(300));
    let _ticket = dispatcher.submit(fx.work("a", "default"));
    let lease = dispatcher
        .claim(claim("w1", &["default"], 1))
        .await
        .remove(0)
        .lease;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(dispatcher.heartbeat(&lease), Ok(false), "renewed in time");
    }
    assert!(fx.ended().is_empty());
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(fx.ended(), [("a".to_owned(), 1, AttemptOutcome::Lost)]);
    assert_eq!(
        dispatcher.complete(&lease, finish(AttemptOutcome::Exited(0), 0)),
        Err(LeaseError::Lost(lease.clone()))
    );
    assert_eq!(fx.ended().len(), 1, "the late result does not count");
    let log = std::fs::read_to_string(fx.log("a")).expect("log");
    assert!(
        log.contains("worker w1 stopped renewing its lease"),
        "{log}"
    );
}

#[tokio::test]
async fn a_handed_back_attempt_goes_to_the_next_worker_and_its_log_continues() {
    let fx = Fixture::new();
    let dispatcher = dispatcher(Duration::from_secs(30));
    let _later = dispatcher.submit(fx.work("b", "default"));
    let first = dispatcher
        .claim(claim("w1", &["default"], 1))
        .await
        .remove(0);
    assert_eq!(first.task, "b");
    let _other = dispatcher.submit(fx.work("c", "default"));
    dispatcher
        .append_log(&first.lease, 0, b"part one\n")
        .expect("log");
    dispatcher.release(&first.lease).expect("release");
    assert!(dispatcher.heartbeat(&first.lease).is_err());

    let second = dispatcher
        .claim(claim("w2", &["default"], 1))
        .await
        .remove(0);
    assert_eq!(
        (second.task.as_str(), second.attempt),
        ("b", 1),
        "first in line again"
    );
    assert_ne!(second.lease, first.lease);
    assert_eq!(
        dispatcher.append_log(&second.lease, 0, b"part two\n"),
        Ok(9)
    );
    dispatcher
        .complete(&second.lease, finish(AttemptOutcome::Exited(0), 9))
        .expect("complete");
    let log = std::fs::read_to_string(fx.log("b")).expect("log");
    let order: Vec<usize> = [
        "part one",
        "handed the attempt back",
        "worker w2 runs",
        "part two",
    ]
    .iter()
    .map(|text| log.find(text).unwrap_or_else(|| panic!("{text} in {log}")))
    .collect();
    assert!(order.is_sorted(), "{log}");
}

#[tokio::test]
async fn cancelling_ends_a_queued_attempt_at_once_and_tells_a_running_one_s_worker() {
    let fx = Fixture::new();
    let dispatcher = dispatcher(Duration::from_secs(30));
    let running = dispatcher.submit(fx.work("a", "default"));
    let queued = dispatcher.submit(fx.work("b", "default"));
    let lease = dispatcher
        .claim(claim("w1", &["default"], 1))
        .await
        .remove(0)
        .lease;

    queued.cancel();
    assert_eq!(fx.ended(), [("b".to_owned(), 1, AttemptOutcome::Cancelled)]);
    assert!(
        dispatcher
            .claim(claim("w2", &["default"], 1))
            .await
            .is_empty()
    );

    assert_eq!(dispatcher.heartbeat(&lease), Ok(false));
    running.cancel();
    assert_eq!(dispatcher.heartbeat(&lease), Ok(true));
    dispatcher
        .complete(&lease, finish(AttemptOutcome::Cancelled, 0))
        .expect("complete");
    assert_eq!(fx.ended().len(), 2);
}

#[tokio::test]
async fn an_attempt_whose_files_are_gone_ends_not_started() {
    let fx = Fixture::new();
    let dispatcher = dispatcher(Duration::from_secs(30));
    let mut work = fx.work("a", "default");
    work.root = fx.dir.path().join("missing");
    let _ticket = dispatcher.submit(work);
    assert!(
        dispatcher
            .claim(claim("w1", &["default"], 1))
            .await
            .is_empty()
    );
    let ended = fx.ended();
    assert!(
        matches!(&ended[..], [(_, 1, AttemptOutcome::NotStarted(why))] if why.contains("missing")),
        "{ended:?}"
    );
}

#[tokio::test]
async fn a_log_the_server_cannot_write_does_not_hold_the_attempt_s_end_back() {
    let fx = Fixture::new();
    let dispatcher = dispatcher(Duration::from_secs(30));
    let mut work = fx.work("a", "default");
    // a directory where the log file should be: every write fails
    work.log_path = fx.dir.path().join("files");
    let _ticket = dispatcher.submit(work);
    let lease = dispatcher
        .claim(claim("w1", &["default"], 1))
        .await
        .remove(0)
        .lease;
    assert_eq!(dispatcher.append_log(&lease, 0, b"lost line\n"), Ok(0));
    dispatcher
        .complete(&lease, finish(AttemptOutcome::Exited(0), 10))
        .expect("taken despite the missing bytes");
    assert_eq!(fx.ended(), [("a".to_owned(), 1, AttemptOutcome::Exited(0))]);
}
