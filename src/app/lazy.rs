//! Code loaded on first use. The code of a `#[lazy]` function, and all that
//! only it uses, is split off by `cargo leptos build --split` into a WASM
//! chunk of its own, which the browser fetches the first time the function
//! is called (and keeps: see `server::site`). [`OnDemand`] shows such a
//! function's view once its chunk has arrived. On the server a `#[lazy]`
//! function is a plain `async fn`.
//!
//! Such views are drawn in the browser only, once the page is running: a
//! server-rendered view whose code is still on its way cannot be hydrated
//! (tachys stops at an unreachable point), so the server leaves them out.

use leptos::prelude::*;
use std::future::Future;
use std::pin::Pin;

/// The view of a `#[lazy]` function, on its way.
#[cfg(feature = "hydrate")]
pub(crate) type Loading = Pin<Box<dyn Future<Output = AnyView>>>;
#[cfg(not(feature = "hydrate"))]
pub(crate) type Loading = Pin<Box<dyn Future<Output = AnyView> + Send>>;

/// Shows the view `load` gives once the page runs and its code is there
/// (fetched the first time only), and `fallback` until then.
#[component]
pub(crate) fn OnDemand(
    load: impl Fn() -> Loading + Send + Sync + 'static,
    #[prop(optional)] fallback: Option<&'static str>,
) -> impl IntoView {
    // Effects run in the browser only, after hydration.
    let running = RwSignal::new(false);
    Effect::new(move |_| running.set(true));
    let load = std::sync::Arc::new(load);
    move || {
        let load = load.clone();
        running.get().then(move || {
            view! {
                <Suspense fallback=move || {
                    fallback.map(|text| view! { <p class="hint">{text}</p> })
                }>{move || Suspend::new(sendable(load()))}</Suspense>
            }
        })
    }
}

/// The browser runs one thread: a chunk's loader (which holds JavaScript
/// values) may go where the view code asks for `Send`.
#[cfg(feature = "hydrate")]
fn sendable(loading: Loading) -> send_wrapper::SendWrapper<Loading> {
    send_wrapper::SendWrapper::new(loading)
}

#[cfg(not(feature = "hydrate"))]
fn sendable(loading: Loading) -> Loading {
    loading
}
