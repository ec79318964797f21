//! The GitOps app routes of the server's API `Backend`, until the runtime's app controller
//! answers them: a server without that controller has no apps, so the list is empty and every
//! call that names an app is `app_not_found`. `backend.rs` delegates each method here.

use aqueduct_api::dto::{
    AppDetail, AppDiff, AppPlan, AppSummary, Page, RollbackResult, SyncRecord,
};
use aqueduct_api::{BackendError, HistoryQuery, RollbackRequest, SyncRequest};

/// The answer to every call that names an app on a server with no apps.
fn no_app(name: &str) -> BackendError {
    BackendError::AppNotFound(format!("no app named {name}"))
}

// wired to the runtime's app controller in the GitOps integration
pub(super) fn list_apps() -> Result<Vec<AppSummary>, BackendError> {
    Ok(Vec::new())
}

// wired to the runtime's app controller in the GitOps integration
pub(super) fn get_app(name: &str) -> Result<AppDetail, BackendError> {
    Err(no_app(name))
}

// wired to the runtime's app controller in the GitOps integration
pub(super) fn diff_app(name: &str, _revision: Option<&str>) -> Result<AppDiff, BackendError> {
    Err(no_app(name))
}

// wired to the runtime's app controller in the GitOps integration
pub(super) fn plan_app(name: &str, _revision: &str) -> Result<AppPlan, BackendError> {
    Err(no_app(name))
}

// wired to the runtime's app controller in the GitOps integration
pub(super) fn app_history(query: &HistoryQuery) -> Result<Page<SyncRecord>, BackendError> {
    Err(no_app(&query.app))
}

// wired to the runtime's app controller in the GitOps integration
pub(super) fn sync_app(request: &SyncRequest) -> Result<SyncRecord, BackendError> {
    Err(no_app(&request.app))
}

// wired to the runtime's app controller in the GitOps integration
pub(super) fn refresh_app(name: &str) -> Result<AppDetail, BackendError> {
    Err(no_app(name))
}

// wired to the runtime's app controller in the GitOps integration
pub(super) fn rollback_app(request: &RollbackRequest) -> Result<RollbackResult, BackendError> {
    Err(no_app(&request.app))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_without_apps_lists_none_and_finds_none() {
        assert_eq!(list_apps(), Ok(Vec::new()));
        let not_found = BackendError::AppNotFound("no app named prod".to_owned());
        assert_eq!(get_app("prod"), Err(not_found.clone()));
        assert_eq!(diff_app("prod", Some("main")), Err(not_found.clone()));
        assert_eq!(plan_app("prod", "main"), Err(not_found.clone()));
        assert_eq!(refresh_app("prod"), Err(not_found.clone()));
        let query = HistoryQuery {
            app: "prod".to_owned(),
            limit: 50,
            offset: 0,
        };
        assert_eq!(app_history(&query), Err(not_found.clone()));
        let initiator = "token:0123456789abcdef".to_owned();
        let sync = SyncRequest {
            app: "prod".to_owned(),
            revision: None,
            initiator: initiator.clone(),
        };
        assert_eq!(sync_app(&sync), Err(not_found.clone()));
        let rollback = RollbackRequest {
            app: "prod".to_owned(),
            id: 1,
            initiator,
        };
        assert_eq!(rollback_app(&rollback), Err(not_found));
    }
}
