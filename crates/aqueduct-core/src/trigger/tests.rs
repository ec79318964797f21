//! Every trigger rule against every combination of two upstream states, plus the rules' key facts.

use super::*;
use std::fmt::Write;

const UPSTREAM_STATES: [TaskState; 5] = [
    TaskState::Running,
    TaskState::Success,
    TaskState::Failed,
    TaskState::UpstreamFailed,
    TaskState::Skipped,
];

fn decide(rule: TriggerRule, states: &[TaskState]) -> Decision {
    evaluate(rule, UpstreamCounts::from_states(states.iter().copied()))
}

fn short(decision: Decision) -> &'static str {
    match decision {
        Decision::Wait => "wait",
        Decision::Run => "RUN",
        Decision::Skip => "skip",
        Decision::UpstreamFailed => "upfail",
    }
}

#[test]
fn every_rule_against_every_pair_of_upstream_states() {
    let mut table = String::new();
    for (rule, name) in TriggerRule::ALL {
        writeln!(table, "{name}").unwrap();
        for (i, a) in UPSTREAM_STATES.iter().enumerate() {
            for b in &UPSTREAM_STATES[i..] {
                let decision = decide(rule, &[*a, *b]);
                writeln!(table, "  {a:>15} {b:>15} -> {}", short(decision)).unwrap();
            }
        }
    }
    insta::assert_snapshot!(table);
}

#[test]
fn no_upstream_always_runs() {
    for (rule, _) in TriggerRule::ALL {
        assert_eq!(decide(rule, &[]), Decision::Run, "{rule:?}");
    }
}

#[test]
fn every_rule_decides_once_all_upstreams_finished() {
    let finished = [
        TaskState::Success,
        TaskState::Failed,
        TaskState::UpstreamFailed,
        TaskState::Skipped,
        TaskState::Cancelled,
    ];
    for (rule, _) in TriggerRule::ALL {
        for a in finished {
            for b in finished {
                for c in finished {
                    assert_ne!(
                        decide(rule, &[a, b, c]),
                        Decision::Wait,
                        "{rule:?} {a} {b} {c}"
                    );
                }
            }
        }
    }
}

#[test]
fn airflow_examples() {
    use TaskState::*;
    assert_eq!(
        decide(TriggerRule::AllSuccess, &[Success, Running]),
        Decision::Wait
    );
    assert_eq!(
        decide(TriggerRule::AllSuccess, &[Failed, Running]),
        Decision::UpstreamFailed
    );
    assert_eq!(
        decide(TriggerRule::AllSuccess, &[Success, Skipped]),
        Decision::Skip
    );
    assert_eq!(
        decide(TriggerRule::OneFailed, &[Failed, Running]),
        Decision::Run
    );
    assert_eq!(
        decide(TriggerRule::OneSuccess, &[Success, Running]),
        Decision::Run
    );
    assert_eq!(
        decide(TriggerRule::OneSuccess, &[Failed, Failed]),
        Decision::UpstreamFailed
    );
    assert_eq!(
        decide(TriggerRule::AllDone, &[Failed, Running]),
        Decision::Wait
    );
    assert_eq!(
        decide(TriggerRule::AllDone, &[Failed, UpstreamFailed]),
        Decision::Run
    );
    assert_eq!(
        decide(TriggerRule::Always, &[Running, Running]),
        Decision::Run
    );
    assert_eq!(
        decide(TriggerRule::NoneFailed, &[Success, Skipped]),
        Decision::Run
    );
    assert_eq!(
        decide(TriggerRule::NoneFailedMinOneSuccess, &[Skipped, Skipped]),
        Decision::Skip
    );
    assert_eq!(
        decide(TriggerRule::NoneSkipped, &[Failed, Success]),
        Decision::Run
    );
    assert_eq!(
        decide(TriggerRule::AllSkipped, &[Skipped, Skipped]),
        Decision::Run
    );
    assert_eq!(
        decide(TriggerRule::AllFailed, &[Failed, UpstreamFailed]),
        Decision::Run
    );
    assert_eq!(
        decide(TriggerRule::AllDoneMinOneSuccess, &[Failed, Success]),
        Decision::Run
    );
    assert_eq!(
        decide(TriggerRule::AllDoneMinOneSuccess, &[Failed, Failed]),
        Decision::UpstreamFailed
    );
}

#[test]
fn names_round_trip() {
    for (rule, name) in TriggerRule::ALL {
        assert_eq!(TriggerRule::from_name(name), Some(rule));
        assert_eq!(rule.name(), name);
    }
    assert_eq!(TriggerRule::from_name("all_sucess"), None);
}
