//! The top layer (feature `ssr`): the only one that sees both the app
//! and the server. It builds the router (`/ws`, `/api/*`, `/healthz`, the
//! Leptos pages, the site's files) and the HTTP listener; `main.rs` only
//! starts it.
//!
//! - [`site`]: the site's files, embedded in the binary.
//!
//! [`Server::bind`] wires them: state, then the router, then an HTTP
//! listener whose limits are tighter than hyper's defaults, with graceful
//! shutdown; and, when `metrics_addr` is set, a second listener for
//! `/metrics`.

pub(crate) mod site;

use crate::app::{shell, App};
use crate::server::hub::{Hub, HubLimits};
use crate::server::identity::Identities;
use crate::server::limits::Limits;
use crate::server::proxy::TrustedProxies;
use crate::server::settings::Settings;
use crate::server::store::{SqliteStore, Store, Write};
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as HttpBuilder;
use hyper_util::service::TowerToHyperService;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tracing::Instrument;

use crate::server::{health, origin, socket, stopping, telemetry, AppState};

/// Largest request body: the largest valid server-function call is well
/// under 1 KiB.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;
/// Largest request head (request line and headers), and longest URL.
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A running server.
pub struct Server {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    /// Its channel state, for tests and tools in the same process.
    pub hub: Arc<Hub>,
    /// Its identities, likewise.
    pub identities: Arc<Identities>,
    /// The address metrics are served on, if any (`metrics_addr`; useful
    /// with port 0).
    pub metrics_addr: Option<SocketAddr>,
    store: Arc<dyn Store>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// Serves `/metrics`, when `metrics_addr` is set.
    metrics: Option<JoinHandle<()>>,
    sweeper: JoinHandle<()>,
    beater: JoinHandle<()>,
    ticker: JoinHandle<()>,
}

/// How often idle identities and old history are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// How often unread counts and presence changes are announced.
const AWARENESS_EVERY: Duration = Duration::from_millis(400);

impl Server {
    /// Opens the store, binds the listener and starts serving in the
    /// background.
    pub async fn bind(settings: Settings, leptos_options: LeptosOptions) -> std::io::Result<Self> {
        let metrics_at = settings
            .metrics_socket()
            .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
        let sqlite = SqliteStore::open(&settings.database).map_err(std::io::Error::other)?;
        let database = sqlite.path().display().to_string();
        let store: Arc<dyn Store> = sqlite;
        let started = std::time::Instant::now();
        let loaded = store
            .load(crate::model::HISTORY_LIMIT)
            .await
            .map_err(std::io::Error::other)?;
        tracing::info!(
            %database,
            channels = loaded.channels.len(),
            identities = loaded.identities.len(),
            ms = started.elapsed().as_millis() as u64,
            "state loaded"
        );
        let listener = TcpListener::bind(settings.addr).await?;
        let addr = listener.local_addr()?;
        let (stop, shutdown) = watch::channel(false);
        let (metrics_addr, metrics) = match metrics_at {
            Some(at) => {
                let (bound, task) = telemetry::serve(at, shutdown.clone()).await?;
                (Some(bound), Some(task))
            }
            None => (None, None),
        };
        let shared = Arc::clone(&store);
        let hub = Hub::open(
            Arc::clone(&shared),
            HubLimits {
                max_channels: settings.max_channels,
                fanout_capacity: settings.fanout_capacity,
            },
            &loaded,
        );
        let identities = Identities::new(shared, loaded.identities, settings.max_identities);
        let state = AppState {
            leptos_options,
            hub: Arc::new(hub),
            identities: Arc::new(identities),
            store: Arc::clone(&store),
            limits: Arc::new(Limits::new(&settings)),
            settings: Arc::new(settings),
            shutdown: shutdown.clone(),
        };
        let hub = Arc::clone(&state.hub);
        let identities = Arc::clone(&state.identities);
        // One timer for every socket: each third of the idle timeout, they
        // ping, and close if silent too long.
        let every = Duration::from_secs(state.settings.idle_timeout_secs) / 3;
        let beater = tokio::spawn({
            let hub = Arc::clone(&hub);
            async move {
                let start = tokio::time::Instant::now() + every;
                let mut ticks = tokio::time::interval_at(start, every);
                loop {
                    ticks.tick().await;
                    hub.beat();
                }
            }
        });
        // Unread counts and presence: a few announcements a second.
        let ticker = tokio::spawn({
            let hub = Arc::clone(&hub);
            async move {
                let mut ticks = tokio::time::interval(AWARENESS_EVERY);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    hub.tick();
                }
            }
        });
        let sweeper = tokio::spawn(sweep(state.clone()));
        let proxies = Arc::new(state.settings.trusted_proxies.clone());
        if !proxies.is_empty() {
            tracing::info!(%proxies, "X-Forwarded-For believed from these proxies");
        }
        let task = tokio::spawn(serve(listener, router(state), proxies, shutdown));
        Ok(Server {
            addr,
            hub,
            identities,
            metrics_addr,
            store,
            stop,
            task,
            metrics,
            sweeper,
            beater,
            ticker,
        })
    }

    /// Its store, for tests and tools in the same process.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Stops accepting, closes every WebSocket (1001, going away), waits
    /// for open requests to finish, then for every queued write.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        if let Some(mut metrics) = self.metrics {
            // A scraper's open connection must not hold the stop up.
            if tokio::time::timeout(Duration::from_secs(5), &mut metrics)
                .await
                .is_err()
            {
                metrics.abort();
            }
        }
        self.sweeper.abort();
        self.beater.abort();
        self.ticker.abort();
        let store = self.store;
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
    }
}

/// Removes identities nobody used for `identity_days`, and history older
/// than `history_days` behind each channel's last 100 messages: at start,
/// then every [`SWEEP_EVERY`].
async fn sweep(state: AppState) {
    let days = |n: u32| (n > 0).then(|| chrono::Utc::now() - chrono::Duration::days(n.into()));
    loop {
        if let Some(before) = days(state.settings.identity_days) {
            match state.identities.expire(before).await {
                Ok(removed) if !removed.is_empty() => {
                    tracing::info!(removed = removed.len(), "idle identities removed");
                    state.hub.ended(&removed);
                }
                Ok(_) => {}
                Err(err) => tracing::error!(cause = %err, "removing idle identities failed"),
            }
        }
        // The read marks of identities removed (expired or signed out).
        state.hub.forget(|id| state.identities.get(id).is_some());
        if let Some(messages_before) = days(state.settings.history_days) {
            state
                .store
                .write(Write::Sweep { messages_before }, Box::new(|_| {}));
        }
        tokio::time::sleep(SWEEP_EVERY).await;
    }
}

/// Every route of the app.
pub(crate) fn router(state: AppState) -> Router {
    let started = std::time::Instant::now();
    let routes = route_list();
    tracing::debug!(ms = started.elapsed().as_millis(), "routes listed");
    let (files, assets) = site::site(&state.leptos_options);
    let context = {
        let state = state.clone();
        move || {
            provide_context(state.clone());
            // The API reaches the server only through this.
            let calls: Arc<dyn crate::api::ssr::Calls> = Arc::new(state.clone());
            provide_context(calls);
            provide_context(assets.clone());
            set_content_security_policy();
        }
    };
    let page = {
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    };
    Router::new()
        .route("/ws", get(socket::upgrade))
        .route("/api/{*endpoint}", post(server_fn).get(server_fn))
        .route("/healthz", get(health::healthz))
        .leptos_routes_with_context(&state, routes, context.clone(), page.clone())
        .merge(files)
        // Any other path: the app's "Page not found" (status 404).
        .fallback(leptos_axum::render_app_async_with_context(context, page))
        // A page with 100 messages is ~90 KB of HTML, ~10 KB compressed.
        // Fast settings: a page is compressed for each request.
        .layer(
            CompressionLayer::new()
                .br(true)
                .gzip(true)
                .quality(CompressionLevel::Precise(4)),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(origin::refuse_cross_site))
        // Around the cross-site check too, so that its refusals are
        // logged in the call's span.
        .layer(middleware::from_fn(in_server_fn_span))
        .layer(middleware::from_fn(limit_url))
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

/// The app's routes, listed once per process. While Leptos lists them it
/// holds every resource in the process pending (leptos_server's
/// `SuppressResourceLoad` is a global flag, leptos-rs/leptos#4773), so
/// listing them again while another server in the same process renders a
/// page would stall that page.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Runs a server function call (any request under `/api/`) in a span of
/// its own, `server_fn`, whose `endpoint` (the path after `/api/`) every
/// line it logs carries. On the whole router rather than on the
/// `/api/{*endpoint}` route: Leptos routes each known server function
/// itself (`leptos_routes_with_context`), so that route only sees the
/// unknown ones.
async fn in_server_fn_span(request: Request, next: Next) -> Response {
    let Some(endpoint) = request.uri().path().strip_prefix("/api/") else {
        return next.run(request).await;
    };
    let span = tracing::info_span!("server_fn", endpoint = %endpoint);
    next.run(request).instrument(span).await
}

async fn server_fn(State(state): State<AppState>, request: Request<Body>) -> impl IntoResponse {
    leptos_axum::handle_server_fns_with_context(move || provide_context(state.clone()), request)
        .await
}

/// The Content-Security-Policy of a rendered page: scripts only from this
/// site, or inline with this response's nonce (Leptos puts it on the
/// hydration script and its streamed resources); WebAssembly may be
/// compiled; nothing may frame the page.
pub(crate) fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// During server rendering: the CSP header with the nonce of this render.
fn set_content_security_policy() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Headers every response carries.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn limit_url(request: Request, next: Next) -> Response {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if length > MAX_HEAD_BYTES {
        return (
            StatusCode::URI_TOO_LONG,
            format!("URLs can be at most {MAX_HEAD_BYTES} bytes long."),
        )
            .into_response();
    }
    next.run(request).await
}

/// Accepts connections until `shutdown`, then drains them.
async fn serve(
    listener: TcpListener,
    app: Router,
    proxies: Arc<TrustedProxies>,
    shutdown: watch::Receiver<bool>,
) {
    let mut http = HttpBuilder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(15))
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(64);
    http.http2().max_header_list_size(MAX_HEAD_BYTES as u32);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let stopping = stopping(shutdown);
    tokio::pin!(stopping);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, for instance: wait, not spin.
                    tracing::warn!(cause = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stopping => break,
        };
        let _ = stream.set_nodelay(true);
        // Handlers that need the client's address (the per-address
        // limits) find it as axum's ConnectInfo: the peer's, or, from a
        // trusted reverse proxy, the one it forwarded.
        let proxies = Arc::clone(&proxies);
        let service = app.clone().map_request(move |mut request: Request<_>| {
            let forwarded = request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .map(|value| value.as_bytes());
            let client = proxies.client(peer.ip(), forwarded);
            let client = SocketAddr::new(client, peer.port());
            request.extensions_mut().insert(ConnectInfo(client));
            request
        });
        let service = TowerToHyperService::new(service);
        let connection = http
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(cause = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within 10 s of shutdown");
    }
}
