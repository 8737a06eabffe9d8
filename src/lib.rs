//! Flack: a Slack-like chat in one Rust binary.
//!
//! # Layout
//! - [`model`]: shared types, limits and validation (server and browser).
//! - [`markup`]: the Markdown subset of messages, parsed to a tree the UI
//!   renders as views (never as HTML).
//! - [`emoji`]: what a reaction may be, and the picker's common ones.
//! - [`protocol`]: the WebSocket frames, `ClientFrame` up and `ServerEvent`
//!   down.
//! - [`api`]: server functions (request/response operations).
//! - [`app`]: the Leptos components, rendered on the server and hydrated.
//! - [`client`]: browser-only storage and the socket (feature `hydrate`;
//!   without it, inert stand-ins with the same functions).
//! - `server` (feature `ssr`): the hub, identities, sockets, settings and
//!   the HTTP listener.

#![recursion_limit = "256"]
#![warn(unreachable_pub)]
// Most modules are crate-private: their documentation is read with
// `cargo doc --document-private-items`, where links to them resolve.
#![allow(rustdoc::private_intra_doc_links)]

pub(crate) mod api;
pub(crate) mod app;
pub(crate) mod emoji;
pub(crate) mod markup;
pub mod model;
pub mod protocol;

#[cfg(feature = "hydrate")]
pub(crate) mod client;
/// On the server, the browser-only functions are inert stand-ins.
#[cfg(not(feature = "hydrate"))]
#[path = "client/inert.rs"]
pub(crate) mod client;
#[cfg(feature = "ssr")]
pub mod host;
#[cfg(feature = "ssr")]
pub mod server;

/// The browser's entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
