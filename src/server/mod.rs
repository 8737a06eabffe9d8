//! The server side (feature `ssr`): the chat's state and how it is kept
//! and reached, without any view code (the router that serves the app's
//! pages is one layer up, in `crate::host`).
//!
//! - [`hub`]: channels, their recent messages and fan-out.
//! - [`store`]: what outlives the process, by one contract; SQLite beneath.
//! - [`identity`]: identities, their names and tokens.
//! - [`calls`]: the server functions' bodies, as the app's API.
//! - [`origin`]: refusing state changes from other sites' pages.
//! - [`socket`]: one WebSocket connection's life.
//! - [`limits`]: rate limits and caps.
//! - [`settings`]: flags, environment and `Leptos.toml`.
//! - [`logs`]: the log lines' format.
//! - `health`: `GET /healthz`.
//! - `telemetry`: Prometheus metrics, on an address of their own.

pub(crate) mod calls;
pub(crate) mod health;
pub mod hub;
pub(crate) mod identity;
pub(crate) mod limits;
pub mod logs;
pub(crate) mod origin;
pub(crate) mod proxy;
pub mod settings;
pub(crate) mod socket;
pub mod store;
pub(crate) mod telemetry;

use axum::extract::FromRef;
use hub::Hub;
use identity::Identities;
use leptos::prelude::LeptosOptions;
use limits::Limits;
use settings::Settings;
use std::sync::Arc;
use store::Store;
use tokio::sync::watch;

/// What every handler and server function can reach.
#[derive(Clone, FromRef)]
pub(crate) struct AppState {
    pub leptos_options: LeptosOptions,
    pub hub: Arc<Hub>,
    pub identities: Arc<Identities>,
    /// The store, by its contract: any backend.
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub limits: Arc<Limits>,
    /// Turns `true` when the server is stopping.
    pub shutdown: watch::Receiver<bool>,
}

/// Resolves once the server is stopping (or its state is gone).
pub(crate) async fn stopping(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
