//! `GET /healthz`, for a load balancer or a supervisor: `200 ok` when the
//! store answers, else `503` and why, in a few words.
//!
//! "Answers" is both halves of the store: its read connection runs a
//! query, and its writer thread (which every change goes through) gets
//! through a barrier within two seconds. A process whose writer
//! died or is stuck serves pages but can store nothing: it is not healthy.

use super::AppState;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// `GET /healthz`.
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    let answer = match check(&state).await {
        Ok(()) => (StatusCode::OK, "ok".to_owned()),
        Err(reason) => {
            tracing::warn!(%reason, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, reason)
        }
    };
    (
        answer.0,
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
        ],
        answer.1,
    )
        .into_response()
}

/// Why the store does not answer, if it does not: its own check (a
/// read, and a write through the writer within its patience).
async fn check(state: &AppState) -> Result<(), String> {
    state
        .store
        .health()
        .await
        .map_err(|err| format!("the store does not answer: {err}"))
}
