//! The site's files (the WASM, JS and CSS of `pkg/`, the files of
//! `public/`), embedded in the binary by `build.rs`.
//!
//! The code (the JS glue, the main WASM, the split loader and the WASM
//! chunks loaded on first use) is served under `/pkg/<version>/`, the
//! version being a hash of all of it (see `build.rs`); the other files under
//! their plain name and under a name carrying a hash of their content
//! (`/pkg/flack.3f9a1c2b7d84e6a0.css`). Pages link the versioned and hashed
//! names, which browsers may keep for a year (`immutable`): a new build has
//! new names. Plain names must be revalidated (`no-cache`, with an ETag).
//! Text and WASM go out brotli- or gzip-compressed, as the browser accepts;
//! release builds carry the brotli bytes ready-made.

use super::AppState;
use crate::app::SiteAssets;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use memory_serve::{CacheControl, Manifest};
use std::sync::OnceLock;
use tokio::sync::Notify;
use tower::ServiceExt;

/// The routes serving the site's files, and the names pages link them by.
///
/// Getting the files ready (memory-serve unpacks each one and makes its
/// gzip copy: tens of milliseconds for the WebAssembly) runs on a thread of
/// its own, started here, so that the server answers pages at once; a
/// request for a file that comes sooner waits for it.
pub(crate) fn site(options: &LeptosOptions) -> (Router<AppState>, SiteAssets) {
    // Built once: memory-serve leaks the files' bytes into 'static memory.
    static SITE: OnceLock<(Router<AppState>, Manifest)> = OnceLock::new();
    let (router, manifest) = SITE.get_or_init(|| {
        let files = memory_serve::load!()
            // `/` is the app's page, not a file.
            .index_file(None)
            .enable_hashed_routes(true)
            .cache_control(CacheControl::NoCache);
        let manifest = files.manifest();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let router = files
                .into_router()
                .layer(middleware::from_fn(keep_versioned_code));
            let _ = FILES.set(router);
            READY.notify_waiters();
            tracing::debug!(ms = started.elapsed().as_millis(), "site files ready");
        });
        let mut routes = Router::new();
        for (route, served) in manifest.iter() {
            routes = routes.route(route, get(serve_file));
            if served != route {
                routes = routes.route(served, get(serve_file));
            }
        }
        (routes, manifest)
    });
    (router.clone(), linked_names(manifest, options))
}

/// The site's files once ready (see [`site`]).
static FILES: OnceLock<Router> = OnceLock::new();
static READY: Notify = Notify::const_new();

async fn serve_file(request: Request) -> Response {
    loop {
        // Registered before the check, so that no notice is missed.
        let ready = READY.notified();
        if let Some(files) = FILES.get() {
            return match files.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
        }
        ready.await;
    }
}

/// The version of the code that release builds serve under
/// `/pkg/<version>/`; empty in debug builds and before the site is built,
/// which serve it under its plain names.
const CODE_VERSION: &str = env!("FLACK_PKG_VERSION");

/// The versioned and hashed names of the files a page links, or the plain
/// ones when the site was not built (`cargo test` before `cargo leptos
/// build`) or is read from disk (debug builds).
fn linked_names(manifest: &Manifest, options: &LeptosOptions) -> SiteAssets {
    let plain = SiteAssets::plain(&options.site_pkg_dir, &options.output_name);
    let served = |route: String| manifest.get(&route).map_or(route, str::to_owned);
    let code = |route: String| match CODE_VERSION {
        "" => route,
        version => {
            let (dir, file) = route.rsplit_once('/').unwrap_or(("", &route));
            format!("{dir}/{version}/{file}")
        }
    };
    SiteAssets {
        script: code(plain.script),
        wasm: code(plain.wasm),
        style: served(plain.style),
        icon: served(plain.icon),
    }
}

/// Lets browsers keep the versioned code for a year: its URL changes with
/// every build that changes it.
async fn keep_versioned_code(request: Request, next: Next) -> Response {
    let versioned = !CODE_VERSION.is_empty()
        && request
            .uri()
            .path()
            .split('/')
            .nth(2)
            .is_some_and(|segment| segment == CODE_VERSION);
    let mut response = next.run(request).await;
    if versioned && response.status().is_success() {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=31536000, immutable"),
        );
    }
    response
}
