//! `spec.notifications`: event names, exactly one sink each, URLs, variable names, e-mail
//! addresses and message templates.

use aqueduct_core::notify::{DeadlineFrom, DeadlineSpec, NotificationSpec, NotifyOn, Sink};

use std::path::Path;

use aqueduct_core::template::Templates;

use super::Lowering;
use super::names::is_env_name;
use crate::diagnostic::{Code, Diagnostic};
use crate::located::Located;
use crate::raw::{DeadlineDoc, EmailSinkDoc, NotificationDoc, PipelineDoc};

/// Where a list of notifications is declared, which decides the events it may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationScope {
    /// A pipeline file's `spec.notifications`: run and task events only.
    Pipeline,
    /// The server's config (an app's `notifications`, the server's `notifications.defaults`):
    /// every event; the run and task events apply to every pipeline of the app (or server).
    Server,
}

pub(crate) fn lower_notifications(
    cx: &mut Lowering<'_>,
    doc: &PipelineDoc,
) -> Vec<NotificationSpec> {
    let anchor = &doc.metadata.name;
    doc.spec
        .notifications
        .iter()
        .filter_map(|notification| lower_one(cx, notification, anchor, NotificationScope::Pipeline))
        .collect()
}

/// Checks the notification entries of a config file (`docs` read from `source`, the text of
/// `file`) and builds them, or returns every problem found, with its position.
pub fn lower_notification_list(
    docs: &[NotificationDoc],
    file: &Path,
    source: &str,
) -> Result<Vec<NotificationSpec>, Vec<Diagnostic>> {
    let templates = Templates::new();
    let mut cx = Lowering {
        file,
        source,
        templates: &templates,
        diagnostics: Vec::new(),
        overlay: None,
    };
    let anchor = Located {
        value: String::new(),
        line: 1,
        column: 1,
        origin: Default::default(),
    };
    let specs: Vec<NotificationSpec> = docs
        .iter()
        .filter_map(|doc| lower_one(&mut cx, doc, &anchor, NotificationScope::Server))
        .collect();
    match cx.diagnostics.is_empty() {
        true => Ok(specs),
        false => Err(cx.diagnostics),
    }
}

fn lower_one(
    cx: &mut Lowering<'_>,
    doc: &NotificationDoc,
    pipeline: &Located<String>,
    scope: NotificationScope,
) -> Option<NotificationSpec> {
    // where a problem of the entry as a whole is reported
    let anchor = doc
        .on
        .first()
        .or(doc.webhook.as_ref().map(|webhook| &webhook.url))
        .or(doc.slack.as_ref().map(|slack| &slack.url_env))
        .or(doc.email.as_ref().and_then(|email| email.to.first()))
        .unwrap_or(pipeline);
    let mut on = Vec::new();
    for name in &doc.on {
        match NotifyOn::parse(&name.value) {
            Some(event) if event.is_app_event() && scope == NotificationScope::Pipeline => {
                let message = format!("`{}` is an event of a GitOps app", name.value);
                let hint = "declare it in the app's `notifications` (or the server's \
                            `notifications.defaults`) in the server's config file"
                    .to_owned();
                cx.report(name, Code::BadNotification, message, Some(hint));
            }
            Some(event) if !on.contains(&event) => on.push(event),
            Some(_) => {}
            None => {
                let known: Vec<&str> = NotifyOn::ALL.iter().map(|on| on.as_str()).collect();
                let message = format!("unknown notification event `{}`", name.value);
                let hint = format!("use one of: {}", known.join(", "));
                cx.report(name, Code::BadNotification, message, Some(hint));
            }
        }
    }
    if doc.on.is_empty() {
        let message = "a notification needs at least one event in `on`".to_owned();
        cx.report(anchor, Code::BadNotification, message, None);
    }
    if let Some(message) = &doc.message
        && let Err(error) = cx.templates.check_template(&message.value)
    {
        let text = format!("bad template in notification message: {}", error.message);
        cx.report(message, Code::BadTemplate, text, None);
    }
    let sink = lower_sink(cx, doc, anchor)?;
    Some(NotificationSpec {
        on,
        sink,
        message: doc.message.as_ref().map(|message| message.value.clone()),
    })
}

fn lower_sink(
    cx: &mut Lowering<'_>,
    doc: &NotificationDoc,
    anchor: &Located<String>,
) -> Option<Sink> {
    match (&doc.webhook, &doc.slack, &doc.email) {
        (Some(webhook), None, None) => {
            let url = &webhook.url;
            if !(url.value.starts_with("http://") || url.value.starts_with("https://")) {
                let message = format!("webhook url `{}` is not an http(s) URL", url.value);
                cx.report(url, Code::BadNotification, message, None);
            }
            if let Some(var) = &webhook.secret_env {
                check_var(cx, var);
            }
            Some(Sink::Webhook {
                url: url.value.clone(),
                secret_env: webhook.secret_env.as_ref().map(|var| var.value.clone()),
            })
        }
        (None, Some(slack), None) => {
            check_var(cx, &slack.url_env);
            Some(Sink::Slack {
                url_env: slack.url_env.value.clone(),
            })
        }
        (None, None, Some(email)) => lower_email(cx, email, anchor),
        _ => {
            let message =
                "a notification needs exactly one of `webhook`, `slack` or `email`".to_owned();
            cx.report(anchor, Code::BadNotification, message, None);
            None
        }
    }
}

/// `email: {to, subject}`: at least one recipient, each a plain address (listed once), and a
/// subject that compiles.
fn lower_email(
    cx: &mut Lowering<'_>,
    email: &EmailSinkDoc,
    anchor: &Located<String>,
) -> Option<Sink> {
    if email.to.is_empty() {
        let message = "an e-mail notification needs at least one address in `to`".to_owned();
        cx.report(anchor, Code::BadNotification, message, None);
    }
    let mut to: Vec<String> = Vec::new();
    for address in &email.to {
        if !is_email_address(&address.value) {
            let message = format!("`{}` is not an e-mail address", address.value);
            let hint = "write a plain address such as `oncall@example.com`".to_owned();
            cx.report(address, Code::BadNotification, message, Some(hint));
        } else if !to.contains(&address.value) {
            to.push(address.value.clone());
        }
    }
    if let Some(subject) = &email.subject
        && let Err(error) = cx.templates.check_template(&subject.value)
    {
        let text = format!("bad template in e-mail subject: {}", error.message);
        cx.report(subject, Code::BadTemplate, text, None);
    }
    Some(Sink::Email {
        to,
        subject: email.subject.as_ref().map(|subject| subject.value.clone()),
    })
}

/// Whether `text` is a plain address (RFC 5321 `Mailbox` without quoting or address
/// literals): a dot-atom local part of at most 64 characters, `@`, and a host name of letters,
/// digits and hyphens (`localhost` too), at most 254 characters in all.
fn is_email_address(text: &str) -> bool {
    const LOCAL_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    let atom = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c))
    };
    let label = |part: &str| {
        !part.is_empty()
            && part.len() <= 63
            && !part.starts_with('-')
            && !part.ends_with('-')
            && part.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    text.len() <= 254
        && local.len() <= 64
        && local.split('.').all(atom)
        && domain.split('.').all(label)
}

fn check_var(cx: &mut Lowering<'_>, var: &Located<String>) {
    if !is_env_name(&var.value) {
        let message = format!("`{}` is not a valid environment variable name", var.value);
        cx.report(var, Code::BadNotification, message, None);
    }
}

/// `spec.deadline` or a task's `deadline`: exactly one of `within` (with an optional `from`)
/// and `by`; a problem of the whole is reported at `anchor` (the pipeline's or task's name).
pub(crate) fn lower_deadline(
    cx: &mut Lowering<'_>,
    deadline: Option<&DeadlineDoc>,
    anchor: &Located<String>,
) -> Option<DeadlineSpec> {
    let deadline = deadline?;
    match (&deadline.within, &deadline.by) {
        (Some(within), None) => {
            let from = match &deadline.from {
                None => DeadlineFrom::RunAfter,
                Some(from) if from.value == "run_after" => DeadlineFrom::RunAfter,
                Some(from) if from.value == "logical_date" => DeadlineFrom::LogicalDate,
                Some(from) => {
                    let message = format!("unknown deadline start `{}`", from.value);
                    let hint = "use `run_after` or `logical_date`".to_owned();
                    cx.report(from, Code::BadNotification, message, Some(hint));
                    return None;
                }
            };
            match aqueduct_core::quantity::parse_duration(&within.value) {
                Ok(duration) if !duration.is_zero() => Some(DeadlineSpec::Within {
                    from,
                    within: duration,
                }),
                _ => {
                    let message = format!("invalid deadline duration `{}`", within.value);
                    let hint = "use a duration such as `30m` or `2h`".to_owned();
                    cx.report(within, Code::BadDuration, message, Some(hint));
                    None
                }
            }
        }
        (None, Some(by)) => {
            if let Some(from) = &deadline.from {
                let message = "`from` goes with `within`, not with `by`".to_owned();
                cx.report(from, Code::BadNotification, message, None);
            }
            let parsed = by.value.split_once(':').and_then(|(hour, minute)| {
                let hour: i8 = hour.parse().ok().filter(|hour| (0..24).contains(hour))?;
                let minute: i8 = minute
                    .parse()
                    .ok()
                    .filter(|minute| (0..60).contains(minute))?;
                (minute_digits(&by.value)).then_some(DeadlineSpec::By { hour, minute })
            });
            if parsed.is_none() {
                let message = format!("invalid deadline time `{}`", by.value);
                let hint = "use HH:MM, e.g. `06:00`".to_owned();
                cx.report(by, Code::BadNotification, message, Some(hint));
            }
            parsed
        }
        (within, by) => {
            let message = "a deadline needs exactly one of `within` or `by`".to_owned();
            let at = within.as_ref().or(by.as_ref()).unwrap_or(anchor);
            cx.report(at, Code::BadNotification, message, None);
            None
        }
    }
}

/// Whether `HH:MM` has two digits of minutes.
fn minute_digits(text: &str) -> bool {
    text.split_once(':')
        .is_some_and(|(_, minute)| minute.len() == 2)
}

#[cfg(test)]
mod tests {
    use super::is_email_address;

    #[test]
    fn plain_addresses_are_the_addresses_accepted() {
        // the same edge cases the sender's message builder accepts (runtime notify::deliver)
        for good in [
            "root@localhost",
            "o'brien+alerts@mail.example-corp.org",
            "a.b{c}|d~e@x.org",
            "ops@müller.example",
        ] {
            assert!(is_email_address(good), "{good}");
        }
        let long_local = format!("{}@x.org", "a".repeat(65));
        let long_label = format!("a@{}.org", "x".repeat(64));
        for bad in [
            "",
            "oncall",
            "@x.org",
            "a@",
            "a@x..org",
            ".a@x.org",
            "a.@x.org",
            "a b@x.org",
            "<a@x.org>",
            "Ops <a@x.org>",
            "a@x_y.org",
            "a@-x.org",
            "a@x-.org",
            "a@b@x.org",
            long_local.as_str(),
            long_label.as_str(),
        ] {
            assert!(!is_email_address(bad), "{bad}");
        }
    }
}
