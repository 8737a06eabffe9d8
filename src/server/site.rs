//! The site's files (the WASM, JS and CSS of `pkg/`, the files of
//! `public/`), embedded in the binary by `build.rs`.
//!
//! Each file is served under its plain name and under a name carrying a hash
//! of its content (`/pkg/flack.3f9a1c2b7d84e6a0.wasm`). Pages link the
//! hashed names, which browsers may keep for a year (`immutable`): a new
//! build has new names. Plain names must be revalidated (`no-cache`, with an
//! ETag). Text and WASM go out brotli- or gzip-compressed, as the browser
//! accepts; release builds carry the brotli bytes ready-made.

use super::AppState;
use crate::app::SiteAssets;
use axum::Router;
use leptos::config::LeptosOptions;
use memory_serve::{CacheControl, Manifest};
use std::sync::OnceLock;

/// The routes serving the site's files, and the names pages link them by.
pub fn site(options: &LeptosOptions) -> (Router<AppState>, SiteAssets) {
    // Built once: memory-serve leaks the files' bytes into 'static memory.
    static SITE: OnceLock<(Router<AppState>, Manifest)> = OnceLock::new();
    let (router, manifest) = SITE.get_or_init(|| {
        let files = memory_serve::load!()
            // `/` is the app's page, not a file.
            .index_file(None)
            .enable_hashed_routes(true)
            .cache_control(CacheControl::NoCache);
        let manifest = files.manifest();
        (files.into_router(), manifest)
    });
    (router.clone(), linked_names(manifest, options))
}

/// The hashed names of the files a page links, or the plain ones when the
/// site was not built (`cargo test` before `cargo leptos build`).
fn linked_names(manifest: &Manifest, options: &LeptosOptions) -> SiteAssets {
    let plain = SiteAssets::plain(&options.site_pkg_dir, &options.output_name);
    let served = |route: String| manifest.get(&route).map_or(route, str::to_owned);
    SiteAssets {
        script: served(plain.script),
        wasm: served(plain.wasm),
        style: served(plain.style),
        icon: served(plain.icon),
    }
}
