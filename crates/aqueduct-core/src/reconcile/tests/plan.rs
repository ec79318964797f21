//! `plan`: one action per pipeline, and the verdict.

use super::*;

fn actions(planned: &Plan) -> Vec<(&str, Action)> {
    let changes = planned.changes.iter();
    changes.map(|c| (c.name.as_str(), c.action)).collect()
}

fn prune() -> SyncPolicy {
    SyncPolicy {
        prune: true,
        ..SyncPolicy::default()
    }
}

#[test]
fn first_sync_adds_every_declared_pipeline() {
    let want = desired("aaaaaaa111", &[("etl", "h1"), ("hello", "h2")]);
    let planned = plan(&want, &LiveState::default(), &SyncPolicy::default());
    assert_eq!(
        actions(&planned),
        [("etl", Action::Add), ("hello", Action::Add)]
    );
    assert!(planned.may_apply());
    assert!(planned.changes_live());
    assert_eq!(planned.changes[0].desired_hash.as_deref(), Some("h1"));
    assert_eq!(planned.changes[0].live_hash, None);
    assert_eq!(planned.to_string(), "commit aaaaaaa: 2 to add");
}

#[test]
fn same_hash_is_kept_and_another_is_updated() {
    let want = desired("b", &[("etl", "h1"), ("hello", "h2-new")]);
    let mut now = live(Some("a"), &[("etl", "h1"), ("hello", "h2")]);
    let planned = plan(&want, &now, &SyncPolicy::default());
    let update = Action::Update {
        reverts_live_change: false,
    };
    assert_eq!(
        actions(&planned),
        [("etl", Action::Keep), ("hello", update)]
    );
    assert_eq!(planned.to_string(), "commit b: 1 to update, 1 unchanged");

    now.pipelines.get_mut("hello").unwrap().changed_live = true;
    let planned = plan(&want, &now, &SyncPolicy::default());
    let revert = Action::Update {
        reverts_live_change: true,
    };
    assert_eq!(planned.changes[1].action, revert);
}

#[test]
fn a_deleted_pipeline_is_pruned_only_when_prune_is_on() {
    let want = desired("b", &[("etl", "h1")]);
    let now = live(Some("a"), &[("etl", "h1"), ("old", "h9")]);

    let kept = plan(&want, &now, &SyncPolicy::default());
    assert_eq!(kept.changes[1].action, Action::RequiresPruning);
    assert!(kept.may_apply());
    assert!(!kept.changes_live());
    assert_eq!(
        kept.to_string(),
        "commit b: 1 to prune (prune is off), 1 unchanged"
    );

    let pruned = plan(&want, &now, &prune());
    assert_eq!(pruned.changes[1].action, Action::Prune);
    assert_eq!(pruned.names(|a| a == Action::Prune), ["old"]);
    assert!(pruned.may_apply());
}

#[test]
fn an_invalid_commit_is_blocked_with_every_diagnostic() {
    let want = invalid("b", &[("hello", "h2")]);
    let now = live(Some("a"), &[("etl", "h1"), ("hello", "h2")]);
    let planned = plan(&want, &now, &prune());
    let Some(SyncFailure::Invalid { diagnostics }) = planned.failure() else {
        panic!("expected an invalid commit, got {:?}", planned.verdict);
    };
    assert_eq!(diagnostics, &want.diagnostics);
    // etl may be in the broken file: it is neither pruned nor kept as deleted.
    assert_eq!(
        actions(&planned),
        [("etl", Action::Unresolved), ("hello", Action::Keep)]
    );
    assert_eq!(
        planned.to_string(),
        "commit b: 1 unresolved, 1 unchanged; blocked: the commit failed validation with 2 diagnostics"
    );
}

#[test]
fn pruning_everything_is_refused_unless_allow_empty() {
    let want = desired("b", &[]);
    let now = live(Some("a"), &[("etl", "h1"), ("hello", "h2")]);
    let refused = plan(&want, &now, &prune());
    let expected = SyncFailure::PruneAllRefused {
        pipelines: vec!["etl".to_owned(), "hello".to_owned()],
    };
    assert_eq!(refused.verdict, Verdict::Blocked(expected));
    assert_eq!(
        refused.to_string(),
        "commit b: 2 to prune; blocked: the commit was refused: it would prune all 2 pipelines \
         of the app and allowEmpty is off"
    );

    let allowed = SyncPolicy {
        allow_empty: true,
        ..prune()
    };
    assert!(plan(&want, &now, &allowed).may_apply());
    // With prune off nothing is removed, so there is nothing to refuse.
    assert!(plan(&want, &now, &SyncPolicy::default()).may_apply());
}

#[test]
fn an_invalid_empty_commit_is_blocked_as_invalid() {
    let want = invalid("b", &[]);
    let now = live(Some("a"), &[("etl", "h1")]);
    let planned = plan(&want, &now, &prune());
    assert!(matches!(
        planned.failure(),
        Some(SyncFailure::Invalid { .. })
    ));
}

#[test]
fn renaming_the_only_pipeline_is_not_pruning_everything() {
    let want = desired("b", &[("etl-v2", "h1")]);
    let now = live(Some("a"), &[("etl", "h1")]);
    let planned = plan(&want, &now, &prune());
    assert_eq!(
        actions(&planned),
        [("etl", Action::Prune), ("etl-v2", Action::Add)]
    );
    assert!(planned.may_apply());
}

#[test]
fn an_empty_app_plans_nothing() {
    let planned = plan(&desired("b", &[]), &LiveState::default(), &prune());
    assert!(planned.changes.is_empty());
    assert!(planned.may_apply());
    assert_eq!(planned.to_string(), "commit b: no pipelines");
}

#[test]
fn pausing_is_not_a_change() {
    let want = desired("a", &[("etl", "h1")]);
    let mut now = live(Some("a"), &[("etl", "h1")]);
    now.pipelines.get_mut("etl").unwrap().paused = true;
    let planned = plan(&want, &now, &SyncPolicy::default());
    assert_eq!(actions(&planned), [("etl", Action::Keep)]);
}
