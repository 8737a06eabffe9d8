//! `GET /healthz`, for a load balancer or a supervisor: `200 ok` when the
//! store answers, else `503` and why, in a few words.
//!
//! "Answers" is both halves of the store: its read connection runs a
//! query, and its writer thread (which every change goes through) gets
//! through a barrier within [`WRITER_PATIENCE`]. A process whose writer
//! died or is stuck serves pages but can store nothing: it is not healthy.

use super::store::{Store, Write};
use super::AppState;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// How long the writer may take to get through everything queued before
/// the barrier: a commit takes milliseconds, so this is a writer that is
/// gone or stuck.
const WRITER_PATIENCE: Duration = Duration::from_secs(2);

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

/// Why the store does not answer, if it does not.
async fn check(state: &AppState) -> Result<(), String> {
    let store = state.store.clone();
    // A read blocks its thread (and may wait for the read connection).
    tokio::task::spawn_blocking(move || store.health())
        .await
        .map_err(|_| "the store's read check did not finish".to_owned())?
        .map_err(|err| format!("the store cannot be read: {err}"))?;
    let (done, written) = tokio::sync::oneshot::channel();
    state.store.write(
        Write::Barrier,
        Box::new(move |result| {
            let _ = done.send(result);
        }),
    );
    match tokio::time::timeout(WRITER_PATIENCE, written).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(err))) => Err(format!("the store cannot write: {err}")),
        Ok(Err(_)) => Err("the store's writer dropped the check".to_owned()),
        Err(_) => Err(format!(
            "the store's writer did not answer within {} s",
            WRITER_PATIENCE.as_secs()
        )),
    }
}
