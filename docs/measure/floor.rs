//! The smallest apps a Leptos 0.8 page can be, measured against Flack's
//! first load (docs/benchmarks.md, "Fourth pass"). Not part of the build.
//!
//! To measure one: copy this file to `src/floor.rs`; in `src/lib.rs` add
//! `#[cfg(feature = "hydrate")] pub mod floor;`, put
//! `#[cfg(not(feature = "hydrate"))]` on `pub mod app;`, disable the
//! `#[cfg(feature = "hydrate")] pub mod client;` line, and hydrate
//! `floor::Floor` (or `Counter`, `Routed`, `Loaded`) instead of
//! `app::App`; then `cargo leptos build --release --precompress --split
//! --frontend-only` and `bash scripts/size-budget.sh`.

use crate::api::list_channels;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_params_map;
use leptos_router::path;

/// A button counting its clicks: 46,518 bytes of WASM (brotli).
#[component]
pub fn Counter() -> impl IntoView {
    let n = RwSignal::new(0);
    view! { <button on:click=move |_| n.update(|n| *n += 1)>{n}</button> }
}

/// The counter in a router with two routes, and a title: 107,082.
#[component]
pub fn Routed() -> impl IntoView {
    provide_meta_context();
    let n = RwSignal::new(0);
    view! {
        <Title text="Flack"/>
        <Router>
            <button on:click=move |_| n.update(|n| *n += 1)>{n}</button>
            <Routes fallback=|| "Not found">
                <Route path=path!("/") view=|| view! { <p>"Home"</p> }/>
                <Route path=path!("/c/:name") view=Page/>
            </Routes>
        </Router>
    }
}

/// One server function's answer, hydrated through a resource: 103,644.
#[component]
pub fn Loaded() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_channels());
    view! {
        <Transition fallback=|| "Loading">
            {move || list.get().map(|r| r.ok().unwrap_or_default().into_iter().map(|c| {
                let n = c.name.to_string();
                view! { <li><a href=format!("/c/{n}")>{n.clone()}</a></li> }
            }).collect_view())}
        </Transition>
    }
}

/// What every Flack page needs from Leptos: router, title, server data
/// through a resource, a form with a signal: 164,134.
#[component]
pub fn Floor() -> impl IntoView {
    provide_meta_context();
    let list = Resource::new(|| (), |_| list_channels());
    let draft = RwSignal::new(String::new());
    view! {
        <Title text="Flack"/>
        <Router>
            <nav>
                <Transition fallback=|| "Loading">
                    {move || list.get().map(|r| r.ok().unwrap_or_default().into_iter().map(|c| {
                        let n = c.name.to_string();
                        view! { <li><a href=format!("/c/{n}")>{n.clone()}</a></li> }
                    }).collect_view())}
                </Transition>
            </nav>
            <form on:submit=move |ev| { ev.prevent_default(); draft.set(String::new()); }>
                <input prop:value=draft on:input=move |ev| draft.set(event_target_value(&ev))/>
            </form>
            <main>
                <Routes fallback=|| "Not found">
                    <Route path=path!("/") view=|| view! { <p>"Home"</p> }/>
                    <Route path=path!("/c/:name") view=Page/>
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn Page() -> impl IntoView {
    let params = use_params_map();
    view! { <h1>{move || params.read().get("name").unwrap_or_default()}</h1> }
}
