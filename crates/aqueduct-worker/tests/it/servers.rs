//! One worker, several servers sharing the work: it claims from each, talks to the server that
//! issued a lease about it (each fake knows only its own leases, trees and blobs), skips
//! servers that are down, and never runs more attempts than its slots.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aqueduct_api::dto::WorkerOutcome;
use aqueduct_worker::{Drain, Error, WorkerConfig};
use tokio::sync::watch;

use super::{
    PATIENCE, Worker, completion_of, config, long_task, pid_in, process_alive, start_worker, texts,
};
use crate::fake::{self, Shared, add_tree, assignment};

fn start_on(servers: &[&str], adjust: impl FnOnce(&mut WorkerConfig)) -> Worker {
    let servers: Vec<String> = servers.iter().map(|url| (*url).to_owned()).collect();
    let first = servers[0].clone();
    start_worker(&first, |config| {
        config.servers = servers;
        adjust(config);
    })
}

/// A URL whose port refuses connections.
fn closed_url() -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    url
}

fn keys<V>(map: &std::collections::HashMap<String, V>) -> HashSet<String> {
    map.keys().cloned().collect()
}

fn set(items: &[&str]) -> HashSet<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

/// Every call about `lease` (and its tree and blob) reached this server, none about another.
fn only_own_calls(state: &Shared, lease: &str, tree: &str, blob: &str) {
    let state = state.lock().unwrap();
    assert!(
        state.foreign.is_empty(),
        "calls about another server's lease: {:?}",
        state.foreign
    );
    assert!(state.heartbeats.get(lease).is_some_and(|count| *count >= 1));
    assert_eq!(keys(&state.heartbeats), set(&[lease]));
    assert_eq!(keys(&state.logs), set(&[lease]));
    assert_eq!(keys(&state.completions), set(&[lease]));
    assert_eq!(state.tree_requests, [tree]);
    assert_eq!(state.blob_requests, [blob]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_from_every_server_and_talks_to_the_one_that_issued_each_lease() {
    let (url_a, a) = fake::start().await;
    let (url_b, b) = fake::start().await;
    // each server has its own tree: a fetch from the other one would not find it
    let tree_a = add_tree(&a, &[("name", b"server a\n", false)]);
    let tree_b = add_tree(&b, &[("name", b"server b\n", false)]);
    let scratch = tempfile::tempdir().unwrap();
    // each attempt waits for the other to start: both slots are used at once, one per server
    let command = |me: &str, other: &str| {
        let dir = scratch.path().display();
        format!(
            "cat name; touch {dir}/{me}; i=0; \
             while [ ! -e {dir}/{other} ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done; \
             [ -e {dir}/{other} ] && sleep 0.6 && echo both ran"
        )
    };
    a.lock()
        .unwrap()
        .queued
        .push_back(assignment("lease-a", &tree_a, &command("a", "b")));
    b.lock()
        .unwrap()
        .queued
        .push_back(assignment("lease-b", &tree_b, &command("b", "a")));
    let worker = start_on(&[&url_a, &url_b], |config| config.slots = 2);

    for (state, lease, name) in [(&a, "lease-a", "server a"), (&b, "lease-b", "server b")] {
        let completion = completion_of(state, lease).await;
        assert_eq!(
            completion.outcome,
            WorkerOutcome::Exited { code: 0 },
            "{lease}"
        );
        let log = super::log_of(state, lease);
        assert_eq!(log.len() as u64, completion.log_bytes);
        assert_eq!(texts(&log), [name, "both ran"]);
    }
    only_own_calls(&a, "lease-a", &tree_a, &fake::sha256_hex(b"server a\n"));
    only_own_calls(&b, "lease-b", &tree_b, &fake::sha256_hex(b"server b\n"));
    for state in [&a, &b] {
        let state = state.lock().unwrap();
        // each server is offered its share of the two slots, and held for a short wait
        assert!(!state.claims.is_empty());
        for claim in &state.claims {
            assert!(claim.free <= 1, "a claim of {} slots", claim.free);
            assert_eq!(claim.slots, 2);
            assert!(claim.wait_ms <= 300);
        }
    }
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_that_refuse_connections_or_hang_do_not_delay_the_others() {
    let (url, state) = fake::start().await;
    let tree = add_tree(&state, &[("README", b"x", false)]);
    for lease in ["lease-1", "lease-2"] {
        state
            .lock()
            .unwrap()
            .queued
            .push_back(assignment(lease, &tree, "echo ran"));
    }
    let refusing = closed_url();
    // accepts connections (the kernel does) but never answers: every request times out
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging_url = format!("http://{}", hanging.local_addr().unwrap());
    // one slot: were it reserved for a claim to the hanging server, nothing would run until
    // that claim timed out (after 15 s)
    let worker = start_on(&[&refusing, &hanging_url, &url], |config| config.slots = 1);

    let started = Instant::now();
    for lease in ["lease-1", "lease-2"] {
        let completion =
            tokio::time::timeout(Duration::from_secs(10), completion_of(&state, lease))
                .await
                .expect("the live server's attempts run while the others are down");
        assert_eq!(completion.outcome, WorkerOutcome::Exited { code: 0 });
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(state.lock().unwrap().foreign.is_empty());
    worker.stop().await;
    drop(hanging);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slot_runs_one_attempt_at_a_time_across_servers() {
    let (url_a, a) = fake::start().await;
    let (url_b, b) = fake::start().await;
    let mut leases = Vec::new();
    for (name, state) in [("a", &a), ("b", &b)] {
        let tree = add_tree(state, &[("README", name.as_bytes(), false)]);
        for n in 1..=3 {
            let lease = format!("lease-{name}{n}");
            state.lock().unwrap().queued.push_back(assignment(
                &lease,
                &tree,
                "sleep 0.2; echo done",
            ));
            leases.push((state.clone(), lease));
        }
    }
    // the default long poll: a server with nothing queued must not keep the slot that long
    let worker = start_on(&[&url_a, &url_b], |config| {
        config.slots = 1;
        config.claim_wait = aqueduct_worker::DEFAULT_CLAIM_WAIT;
    });

    for (state, lease) in &leases {
        let completion = completion_of(state, lease).await;
        assert_eq!(completion.outcome, WorkerOutcome::Exited { code: 0 });
    }
    worker.stop().await;
    // each lease counts from its hand-out to its completion, on either server: with one slot
    // they never overlap
    let mut timeline: Vec<(Instant, i32)> = Vec::new();
    for state in [&a, &b] {
        let state = state.lock().unwrap();
        assert!(state.foreign.is_empty(), "{:?}", state.foreign);
        for claim in &state.claims {
            assert!(claim.free <= 1, "a claim of {} slots", claim.free);
            assert!(
                claim.wait_ms <= 2_000,
                "a claim held up to {} ms",
                claim.wait_ms
            );
        }
        timeline.extend(state.timeline.iter().copied());
    }
    timeline.sort();
    assert_eq!(timeline.len(), 12);
    let mut leased = 0;
    let mut most = 0;
    for (_, step) in timeline {
        leased += step;
        most = most.max(leased);
    }
    assert_eq!((most, leased), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_hands_each_attempt_back_to_its_own_server() {
    let (url_a, a) = fake::start().await;
    let (url_b, b) = fake::start().await;
    let scratch = tempfile::tempdir().unwrap();
    for (name, state) in [("a", &a), ("b", &b)] {
        let tree = add_tree(state, &[("README", name.as_bytes(), false)]);
        let pid_file = scratch.path().join(name);
        state.lock().unwrap().queued.push_back(assignment(
            &format!("lease-{name}"),
            &tree,
            &long_task(&pid_file),
        ));
    }
    let worker = start_on(&[&url_a, &url_b], |config| config.slots = 2);
    let pids = [
        pid_in(&scratch.path().join("a")).await,
        pid_in(&scratch.path().join("b")).await,
    ];
    worker.drain.send(Drain::Now).unwrap();

    let result = tokio::time::timeout(PATIENCE, worker.task).await;
    result.expect("the worker stops").unwrap().unwrap();
    assert!(pids.iter().all(|pid| !process_alive(*pid)));
    for (state, lease) in [(&a, "lease-a"), (&b, "lease-b")] {
        let state = state.lock().unwrap();
        assert!(state.foreign.is_empty(), "{:?}", state.foreign);
        assert_eq!(state.releases, [lease]);
        assert!(state.completions.is_empty());
        let log = String::from_utf8(state.logs[lease].clone()).unwrap();
        assert_eq!(texts(&log), ["started"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_refused_by_any_server_stops_the_worker() {
    let (url, _state) = fake::start().await;
    let home = tempfile::tempdir().unwrap();
    let config = config(vec![closed_url(), url], "aq_wrong", home.path());
    let (_drain, drain_rx) = watch::channel(Drain::Run);
    let result = tokio::time::timeout(PATIENCE, aqueduct_worker::run(config, drain_rx)).await;
    let error = result.expect("the worker gives up").unwrap_err();
    assert!(
        matches!(error, Error::Auth { status: 401, .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("aq_wrong"));
}
