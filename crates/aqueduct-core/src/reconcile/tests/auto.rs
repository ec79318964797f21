//! `should_auto_sync`, and a story of commits driven through plan, apply and status.

use super::*;

fn decide(want: &DesiredState, now: &LiveState, policy: SyncPolicy) -> AutoSyncKind {
    should_auto_sync(want, now, &policy).kind
}

fn self_heal() -> SyncPolicy {
    SyncPolicy {
        self_heal: true,
        ..automated()
    }
}

#[test]
fn a_manual_app_never_syncs_on_its_own() {
    let want = desired("b", &[("etl", "h2")]);
    let found = should_auto_sync(&want, &live(Some("a"), &[]), &SyncPolicy::default());
    assert_eq!(found.kind, AutoSyncKind::Disabled);
    assert!(!found.should_sync());
}

#[test]
fn a_new_commit_syncs_and_a_synced_app_does_not() {
    let want = desired("b", &[("etl", "h2")]);
    let found = should_auto_sync(&want, &live(Some("a"), &[("etl", "h1")]), &automated());
    assert_eq!(found.kind, AutoSyncKind::NewCommit);
    assert_eq!(found.reason, "commit b is not applied (live: a)");
    assert!(found.should_sync());
    let first = decide(&want, &LiveState::default(), automated());
    assert_eq!(first, AutoSyncKind::NewCommit);
    let synced = decide(&want, &live(Some("b"), &[("etl", "h2")]), automated());
    assert_eq!(synced, AutoSyncKind::Synced);
}

#[test]
fn drift_is_reverted_only_with_self_heal() {
    let want = desired("a", &[("etl", "h1")]);
    let mut now = live(Some("a"), &[("etl", "h1-api")]);
    now.pipelines.get_mut("etl").unwrap().changed_live = true;
    let healed = should_auto_sync(&want, &now, &self_heal());
    assert_eq!(healed.kind, AutoSyncKind::SelfHeal);
    assert_eq!(healed.reason, "self-heal: reverting live changes to etl");
    let kept = should_auto_sync(&want, &now, &automated());
    assert_eq!(kept.kind, AutoSyncKind::LiveChangesKept);
    assert_eq!(kept.reason, "live changes to etl are kept: selfHeal is off");
}

#[test]
fn a_pipeline_deleted_live_is_drift_too() {
    let want = desired("a", &[("etl", "h1"), ("hello", "h2")]);
    let now = live(Some("a"), &[("etl", "h1")]);
    assert_eq!(decide(&want, &now, self_heal()), AutoSyncKind::SelfHeal);
}

#[test]
fn a_sync_that_could_only_prune_waits_when_prune_is_off() {
    let want = desired("a", &[("etl", "h1")]);
    let now = live(Some("a"), &[("etl", "h1"), ("old", "h9")]);
    let found = should_auto_sync(&want, &now, &self_heal());
    assert_eq!(found.kind, AutoSyncKind::PruneDisabled);
    assert_eq!(found.reason, "only pruning is needed and prune is off: old");
    let pruning = SyncPolicy {
        prune: true,
        ..self_heal()
    };
    assert_eq!(decide(&want, &now, pruning), AutoSyncKind::SelfHeal);
}

#[test]
fn pausing_does_not_trigger_self_heal() {
    let want = desired("a", &[("etl", "h1")]);
    let mut now = live(Some("a"), &[("etl", "h1")]);
    now.pipelines.get_mut("etl").unwrap().paused = true;
    assert_eq!(decide(&want, &now, self_heal()), AutoSyncKind::Synced);
}

#[test]
fn a_failed_commit_is_not_retried_in_a_loop() {
    let want = desired("b", &[("etl", "h2")]);
    let mut now = live(Some("a"), &[("etl", "h1")]);
    now.last_attempt = Some(SyncAttempt {
        commit: commit("b"),
        failure: Some(SyncFailure::Apply {
            message: "database is locked".to_owned(),
        }),
    });
    let found = should_auto_sync(&want, &now, &self_heal());
    assert_eq!(found.kind, AutoSyncKind::FailedCommit);
    let reason = "commit b failed to apply: database is locked; waiting for a new commit";
    assert_eq!(found.reason, reason);
    let next = desired("c", &[("etl", "h2")]);
    assert_eq!(decide(&next, &now, automated()), AutoSyncKind::NewCommit);
}

#[test]
fn a_refused_prune_everything_is_retried_once_the_policy_allows_it() {
    let want = desired("b", &[]);
    let pruning = SyncPolicy {
        prune: true,
        ..automated()
    };
    let mut now = live(Some("a"), &[("etl", "h1")]);
    apply(&plan(&want, &now, &pruning), &mut now);
    assert_eq!(decide(&want, &now, pruning), AutoSyncKind::FailedCommit);
    let allowing = SyncPolicy {
        allow_empty: true,
        ..pruning
    };
    assert_eq!(decide(&want, &now, allowing), AutoSyncKind::PolicyChanged);
    apply(&plan(&want, &now, &allowing), &mut now);
    assert!(now.pipelines.is_empty());
    assert_eq!(decide(&want, &now, allowing), AutoSyncKind::Synced);
}

/// Good commit, broken commit, fixed commit: the app never leaves the last good commit, shows
/// why, does not retry the broken one, and the fix supersedes it with nothing to clear.
#[test]
fn a_broken_commit_is_held_back_until_the_next_good_one() {
    let policy = SyncPolicy {
        prune: true,
        ..self_heal()
    };
    let mut now = LiveState::default();
    let mut story = String::new();
    let commits = [
        desired("good1", &[("etl", "h1"), ("hello", "h2")]),
        invalid("broken", &[("hello", "h2-new")]),
        desired("fixed", &[("etl", "h1-new"), ("hello", "h2-new")]),
    ];
    for want in &commits {
        let decision = should_auto_sync(want, &now, &policy);
        story += &format!("== {}: {:?}\n", want.commit, decision.kind);
        if decision.should_sync() {
            let planned = plan(want, &now, &policy);
            story += &format!("{planned}\n");
            apply(&planned, &mut now);
        }
        let retry = should_auto_sync(want, &now, &policy);
        story += &format!("then: {:?}\n", retry.kind);
        story += &render(&app_status(&fetched(want), &now));
    }
    insta::assert_snapshot!(story, @r"
    == good1: NewCommit
    commit good1: 2 to add
    then: Synced
    app: Synced (synced to commit good1)
         Healthy (2 pipelines healthy)
    etl: Synced (matches commit good1) | Healthy (no runs yet)
    hello: Synced (matches commit good1) | Healthy (no runs yet)
    == broken: NewCommit
    commit broken: 1 to update, 1 unresolved; blocked: the commit failed validation with 2 diagnostics
    then: FailedCommit
    app: OutOfSync (commit broken failed validation with 2 diagnostics; the app stays on commit good1)
         Degraded (sync failed: commit broken failed validation with 2 diagnostics; the app stays on commit good1)
    condition SyncFailed: commit broken failed validation with 2 diagnostics; the app stays on commit good1
      pipelines/etl.yaml:7:5: unknown_field: unknown field `comand`
      pipelines/etl.yaml:12:3: unknown_field: unknown field `neds`
    etl: Unknown (not declared by commit broken, which failed validation) | Healthy (no runs yet)
    hello: OutOfSync (changed in commit broken) | Healthy (no runs yet)
    == fixed: NewCommit
    commit fixed: 2 to update
    then: Synced
    app: Synced (synced to commit fixed)
         Healthy (2 pipelines healthy)
    etl: Synced (matches commit fixed) | Healthy (no runs yet)
    hello: Synced (matches commit fixed) | Healthy (no runs yet)
    ");
}

#[test]
fn a_new_commit_is_decided_with_the_app_s_sync_reason() {
    let policy = SyncPolicy {
        automated: true,
        ..SyncPolicy::default()
    };
    let mut now = live(Some("c1"), &[("etl", "h1"), ("report", "h2")]);
    let want = desired("c2", &[("etl", "h1"), ("report", "h3")]);
    let decision = should_auto_sync(&want, &now, &policy);
    let status = super::super::sync::fetched_sync(&want, &now);
    assert_eq!(decision.kind, AutoSyncKind::NewCommit);
    assert_eq!(decision.reason, status.app.reason);
    now.commit = None;
    let decision = should_auto_sync(&want, &now, &policy);
    assert_eq!(decision.reason, "commit c2 has never been synced");
}
