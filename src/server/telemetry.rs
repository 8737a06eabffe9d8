//! Prometheus metrics, at `/metrics` on an address of their own (the
//! `metrics_addr` setting, off by default), never on the public one: how
//! busy the server is is nobody else's business.
//!
//! - `flack_connections` (gauge): open WebSocket connections.
//! - `flack_messages_total` (counter): messages posted and stored.
//! - `flack_commit_seconds` (histogram): each group commit's duration.
//! - `flack_fanout_queued_max` (gauge): the most events waiting in any
//!   channel's fan-out for its slowest follower.
//! - `flack_refusals_total{code}` (counter): refusals answered, by code.
//!
//! The recorder is the process's (the `metrics` macros write to one
//! global recorder): installed by the first server that serves metrics,
//! and shared by any other in the same process. Until then, and without
//! `metrics_addr`, recording costs next to nothing.

use crate::model::ErrorCode;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub(crate) const CONNECTIONS: &str = "flack_connections";
pub(crate) const MESSAGES: &str = "flack_messages_total";
pub(crate) const COMMIT_SECONDS: &str = "flack_commit_seconds";
pub(crate) const FANOUT_QUEUED_MAX: &str = "flack_fanout_queued_max";
pub(crate) const REFUSALS: &str = "flack_refusals_total";

/// Buckets of `flack_commit_seconds`: a commit waits for the disk (one
/// fsync), from a fraction of a millisecond on an SSD to a second on a
/// struggling disk.
const COMMIT_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// How often histograms are folded in when nobody scrapes: their samples
/// are held until then.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder, installed on first use.
fn recorder() -> Result<&'static PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(COMMIT_SECONDS.into()), &COMMIT_BUCKETS)
                .and_then(|builder| builder.install_recorder())
                .map_err(|err| format!("cannot record metrics: {err}"))?;
            describe();
            Ok(handle)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The HELP line of each metric.
fn describe() {
    metrics::describe_gauge!(CONNECTIONS, "Open WebSocket connections.");
    metrics::describe_counter!(MESSAGES, "Messages posted and stored.");
    metrics::describe_histogram!(
        COMMIT_SECONDS,
        metrics::Unit::Seconds,
        "Duration of each group commit of the store."
    );
    metrics::describe_gauge!(
        FANOUT_QUEUED_MAX,
        "Most events waiting in any channel's fan-out for its slowest follower."
    );
    metrics::describe_counter!(REFUSALS, "Refusals answered, by error code.");
}

/// Serves `GET /metrics` on `addr` until `shutdown`; the address bound
/// (the port the system chose, for port 0) and the task serving it.
pub(crate) async fn serve(
    addr: SocketAddr,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let handle = recorder().map_err(std::io::Error::other)?;
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(render))
        .with_state(handle);
    let task = tokio::spawn(async move {
        let serving = axum::serve(listener, app)
            .with_graceful_shutdown(super::stopping(shutdown.clone()))
            .into_future();
        let upkeep = async {
            let mut ticks = tokio::time::interval(UPKEEP_EVERY);
            loop {
                ticks.tick().await;
                handle.run_upkeep();
            }
        };
        tokio::select! {
            served = serving => {
                if let Err(err) = served {
                    tracing::warn!(cause = %err, "the metrics listener failed");
                }
            }
            () = upkeep => {}
        }
    });
    tracing::info!(addr = %bound, "metrics at http://{bound}/metrics");
    Ok((bound, task))
}

/// `GET /metrics`: every metric, in Prometheus's text format.
async fn render(State(handle): State<&'static PrometheusHandle>) -> impl IntoResponse {
    handle.run_upkeep();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
}

/// Counts a refusal answered (its caller logs it, in the span of the
/// connection or call that answered it).
pub(crate) fn count_refusal(code: ErrorCode) {
    metrics::counter!(REFUSALS, "code" => code_name(code)).increment(1);
}

/// An error code as clients see it (`invalid_channel_name`).
pub(crate) fn code_name(code: ErrorCode) -> String {
    match serde_json::to_value(code) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{code:?}"),
    }
}

/// Counts one open WebSocket connection for as long as it lives, however
/// it ends.
pub(crate) struct Connected;

impl Connected {
    pub(crate) fn new() -> Self {
        metrics::gauge!(CONNECTIONS).increment(1.0);
        Connected
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        metrics::gauge!(CONNECTIONS).decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_named_as_clients_see_them() {
        assert_eq!(
            code_name(ErrorCode::InvalidChannelName),
            "invalid_channel_name"
        );
        assert_eq!(code_name(ErrorCode::Internal), "internal");
    }
}
