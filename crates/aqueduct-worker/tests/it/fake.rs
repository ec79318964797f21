//! A fake server of the worker protocol (axum): scripted assignments, trees and blobs, and
//! the lease routes with the faults the tests ask for (refused or truncated log posts, lost
//! answers, `lease_lost`, `cancel`, failing heartbeats, a server that forgets a log's tail).
//! As a real server, it knows only the leases it handed out: a call about another answers
//! `lease_lost` and is recorded in `foreign`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aqueduct_api::dto::{
    Assignment, ClaimRequest, ClaimResponse, Completion, EnvVar, HeartbeatResponse, LogAck,
    TreeFile, TreeManifest,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};

/// The token the fake accepts as a worker's.
pub(crate) const WORKER_TOKEN: &str = "aq_worker_secret";
/// A valid token of another role: answered 403.
pub(crate) const VIEWER_TOKEN: &str = "aq_viewer_secret";

/// Everything the fake holds and records.
#[derive(Default)]
pub(crate) struct FakeState {
    pub(crate) queued: VecDeque<Assignment>,
    pub(crate) claims: Vec<ClaimRequest>,
    /// The leases handed out.
    pub(crate) issued: HashSet<String>,
    /// Calls about a lease this fake did not hand out: `"<route> <lease>"`.
    pub(crate) foreign: Vec<String>,
    /// When a lease was handed out (+1) and completed or released (-1).
    pub(crate) timeline: Vec<(Instant, i32)>,
    /// The trees and blobs asked for, by id.
    pub(crate) tree_requests: Vec<String>,
    pub(crate) blob_requests: Vec<String>,
    pub(crate) trees: HashMap<String, TreeManifest>,
    pub(crate) blobs: HashMap<String, Vec<u8>>,
    pub(crate) logs: HashMap<String, Vec<u8>>,
    pub(crate) log_posts: u32,
    pub(crate) completions: HashMap<String, Completion>,
    pub(crate) complete_calls: u32,
    pub(crate) releases: Vec<String>,
    pub(crate) heartbeats: HashMap<String, u32>,
    /// Leases whose heartbeat answers `cancel: true`.
    pub(crate) cancel: HashSet<String>,
    /// Leases the server no longer knows: every call answers 409 `lease_lost`.
    pub(crate) lost: HashSet<String>,
    /// Heartbeats answer 503.
    pub(crate) heartbeats_fail: bool,
    /// Log posts: refuse every Nth with 503.
    pub(crate) refuse_every: Option<u32>,
    /// Log posts: keep only half of every Nth body.
    pub(crate) truncate_every: Option<u32>,
    /// Log posts: store every Nth body but answer 500, as if the answer were lost.
    pub(crate) lose_answer_every: Option<u32>,
    /// The first completion finds this many bytes of the log's tail missing.
    pub(crate) forget_tail_once: Option<usize>,
}

pub(crate) type Shared = Arc<Mutex<FakeState>>;

/// Starts the fake; returns its base URL and its state.
pub(crate) async fn start() -> (String, Shared) {
    let state: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/api/v1/worker/claim", post(claim))
        .route("/api/v1/worker/leases/{lease}/heartbeat", post(heartbeat))
        .route("/api/v1/worker/leases/{lease}/log", post(append_log))
        .route("/api/v1/worker/leases/{lease}/complete", post(complete))
        .route("/api/v1/worker/leases/{lease}/release", post(release))
        .route("/api/v1/worker/trees/{tree}", get(tree))
        .route("/api/v1/worker/blobs/{sha}", get(blob))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message });
    (status, Json(body)).into_response()
}

/// The refusal of a request without the worker's token, if it is one.
fn refusal(headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match token {
        Some(WORKER_TOKEN) => None,
        Some(VIEWER_TOKEN) => Some(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this route needs a token of role worker, not viewer",
        )),
        _ => Some(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown token",
        )),
    }
}

/// `lease_lost` for a lease the fake did not hand out (recorded) or was told to forget.
fn unknown(state: &mut FakeState, route: &str, lease: &str) -> Option<Response> {
    if !state.issued.contains(lease) {
        state.foreign.push(format!("{route} {lease}"));
        return Some(error(StatusCode::CONFLICT, "lease_lost", "not my lease"));
    }
    state
        .lost
        .contains(lease)
        .then(|| error(StatusCode::CONFLICT, "lease_lost", "no such lease"))
}

async fn claim(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(request): Json<ClaimRequest>,
) -> Response {
    if let Some(refused) = refusal(&headers) {
        return refused;
    }
    let wait = Duration::from_millis(request.wait_ms.min(30_000));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        {
            let mut state = state.lock().unwrap();
            state.claims.push(request.clone());
            let take = (request.free as usize).min(state.queued.len());
            if take > 0 {
                let assignments: Vec<Assignment> = state.queued.drain(..take).collect();
                for assignment in &assignments {
                    state.issued.insert(assignment.lease.clone());
                    state.timeline.push((Instant::now(), 1));
                }
                return Json(ClaimResponse { assignments }).into_response();
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Json(ClaimResponse {
                assignments: Vec::new(),
            })
            .into_response();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn heartbeat(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(lease): Path<String>,
) -> Response {
    if let Some(refused) = refusal(&headers) {
        return refused;
    }
    let mut state = state.lock().unwrap();
    if let Some(lost) = unknown(&mut state, "heartbeat", &lease) {
        return lost;
    }
    if state.heartbeats_fail {
        return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try later");
    }
    *state.heartbeats.entry(lease.clone()).or_default() += 1;
    let cancel = state.cancel.contains(&lease);
    Json(HeartbeatResponse { cancel }).into_response()
}

fn every(n: Option<u32>, count: u32) -> bool {
    n.is_some_and(|n| count.is_multiple_of(n))
}

async fn append_log(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(lease): Path<String>,
    Query(query): Query<BTreeMap<String, u64>>,
    body: Bytes,
) -> Response {
    if let Some(refused) = refusal(&headers) {
        return refused;
    }
    assert!(
        body.len() <= 512 * 1024,
        "a log post of {} bytes",
        body.len()
    );
    let offset = query["offset"] as usize;
    let mut state = state.lock().unwrap();
    if let Some(lost) = unknown(&mut state, "log", &lease) {
        return lost;
    }
    state.log_posts += 1;
    let count = state.log_posts;
    if !body.is_empty() && every(state.refuse_every, count) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "refused");
    }
    let mut body: &[u8] = &body;
    if body.len() > 1 && every(state.truncate_every, count) {
        body = &body[..body.len() / 2];
    }
    let lose_answer = !body.is_empty() && every(state.lose_answer_every, count);
    let log = state.logs.entry(lease).or_default();
    if offset <= log.len() {
        let skip = log.len() - offset;
        if skip < body.len() {
            log.extend_from_slice(&body[skip..]);
        }
    }
    let received = log.len() as u64;
    if lose_answer {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "lost answer");
    }
    Json(LogAck { received }).into_response()
}

async fn complete(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(lease): Path<String>,
    Json(completion): Json<Completion>,
) -> Response {
    if let Some(refused) = refusal(&headers) {
        return refused;
    }
    let mut state = state.lock().unwrap();
    if let Some(lost) = unknown(&mut state, "complete", &lease) {
        return lost;
    }
    state.complete_calls += 1;
    if let Some(forget) = state.forget_tail_once.take() {
        let log = state.logs.entry(lease.clone()).or_default();
        let keep = log.len().saturating_sub(forget);
        log.truncate(keep);
    }
    let held = state.logs.get(&lease).map_or(0, Vec::len) as u64;
    if held < completion.log_bytes {
        return error(
            StatusCode::CONFLICT,
            "log_incomplete",
            "ship the rest of the log",
        );
    }
    if state.completions.insert(lease, completion).is_none() {
        state.timeline.push((Instant::now(), -1));
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn release(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(lease): Path<String>,
) -> Response {
    if let Some(refused) = refusal(&headers) {
        return refused;
    }
    let mut state = state.lock().unwrap();
    if let Some(lost) = unknown(&mut state, "release", &lease) {
        return lost;
    }
    state.releases.push(lease);
    state.timeline.push((Instant::now(), -1));
    StatusCode::NO_CONTENT.into_response()
}

async fn tree(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(tree): Path<String>,
) -> Response {
    if let Some(refused) = refusal(&headers) {
        return refused;
    }
    let mut state = state.lock().unwrap();
    state.tree_requests.push(tree.clone());
    match state.trees.get(&tree) {
        Some(manifest) => Json(manifest.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", "no such tree"),
    }
}

async fn blob(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(sha): Path<String>,
) -> Response {
    if let Some(refused) = refusal(&headers) {
        return refused;
    }
    let mut state = state.lock().unwrap();
    state.blob_requests.push(sha.clone());
    match state.blobs.get(&sha) {
        Some(bytes) => bytes.clone().into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", "no such blob"),
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Adds a tree of `(path, content, executable)` files; returns its id.
pub(crate) fn add_tree(state: &Shared, files: &[(&str, &[u8], bool)]) -> String {
    let mut state = state.lock().unwrap();
    let mut entries = Vec::new();
    for (path, content, executable) in files {
        let sha256 = sha256_hex(content);
        state.blobs.insert(sha256.clone(), content.to_vec());
        entries.push(TreeFile {
            path: (*path).to_owned(),
            sha256,
            size: content.len() as u64,
            executable: *executable,
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = TreeManifest { files: entries };
    let id = sha256_hex(&serde_json::to_vec(&manifest).unwrap());
    state.trees.insert(id.clone(), manifest);
    id
}

/// An assignment of `command` in `tree`, with short heartbeats.
pub(crate) fn assignment(lease: &str, tree: &str, command: &str) -> Assignment {
    Assignment {
        lease: lease.to_owned(),
        pipeline: "etl".to_owned(),
        run_id: "manual__1".to_owned(),
        task: "extract".to_owned(),
        attempt: 1,
        queue: "default".to_owned(),
        command: command.to_owned(),
        env: vec![EnvVar {
            name: "AQUEDUCT_TASK".to_owned(),
            value: "extract".to_owned(),
        }],
        mask: Vec::new(),
        tree: tree.to_owned(),
        workdir: String::new(),
        timeout_ms: None,
        kill_grace_ms: 1_000,
        memory_limit_bytes: None,
        heartbeat_ms: 200,
        lease_ms: 5_000,
    }
}
