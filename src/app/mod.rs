//! The Leptos app: the HTML shell, the router and the page layout.
//!
//! - [`state`]: the shared signals ([`state::Chat`]).
//! - [`identity`]: the display-name prompt and "Signed in as".
//! - [`sidebar`]: the channel list and the new-channel form.
//! - [`channel`]: an open channel: title, message log and composer.
//! - [`message`]: one message, its reactions, editor and actions.
//! - [`text`]: a message's formatted text as views.
//! - [`composer`]: the message field, with `@` completion.
//! - [`thread`]: the thread panel.
//! - [`home`]: `/`, which returns to the remembered channel.

// `#[component]` gives each component's props builder a `pub fn build`
// (typed-builder's), which is out of reach here: only the module can allow it.
#![allow(unreachable_pub)]

pub(crate) mod awareness;
pub(crate) mod channel;
pub(crate) mod composer;
pub(crate) mod home;
pub(crate) mod identity;
pub(crate) mod lazy;
pub(crate) mod message;
pub(crate) mod search;
pub(crate) mod sidebar;
// Server events and the outbox drive the state only in the browser (and in
// its unit tests); the server only renders its first values.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) mod state;
pub(crate) mod text;
pub(crate) mod thread;

use crate::api::list_channels;
use crate::model::ChannelSummary;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Meta, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};
use state::{Chat, Connection, Me};

/// The HTML document around the app, rendered on the server. It links the
/// site's files by the names in the [`SiteAssets`] in context (see
/// `server::site`).
#[cfg_attr(not(feature = "ssr"), allow(dead_code))] // used by the server only
pub(crate) fn shell(options: LeptosOptions) -> impl IntoView {
    let assets = use_context::<SiteAssets>()
        .unwrap_or_else(|| SiteAssets::plain(&options.site_pkg_dir, &options.output_name));
    // Loads the JS glue, which fetches and starts the WASM, which hydrates
    // the page (as Leptos's `HydrationScripts` does, with hashed names),
    // once the server's HTML is loaded and drawn (the frame after the
    // `load` event): the code's download then does not hold up the first
    // paint of the messages, which the HTML already has.
    let start = format!(
        "const start = () => import({script:?}).then(m => m.default({{ module_or_path: {wasm:?} }}).then(() => m.hydrate()));\n\
         const later = () => requestAnimationFrame(() => setTimeout(start, 0));\n\
         if (document.readyState === \"complete\") later(); else addEventListener(\"load\", later);",
        script = assets.script,
        wasm = assets.wasm,
    );
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="stylesheet" id="leptos" href=assets.style/>
                <link rel="icon" href=assets.icon type="image/svg+xml"/>
                <AutoReload options/>
                <script type="module" nonce=leptos::nonce::use_nonce()>
                    {start}
                </script>
                <MetaTags/>
            </head>
            <body>
                <App/>
                <script nonce=leptos::nonce::use_nonce()>{SHOW_NEWEST}</script>
            </body>
        </html>
    }
}

/// Run as soon as the server's HTML is parsed, before its first paint:
/// shows the newest messages of the log (or the "New messages" line), as
/// the page does once its code runs, so that the first paint is already
/// what the reader will see (without it, the oldest messages were painted
/// first and the newest ones only after the WebAssembly had loaded).
/// No `<`, `>` or `&`: it is written into the page as escaped text.
#[cfg_attr(not(feature = "ssr"), allow(dead_code))] // used by the server only
const SHOW_NEWEST: &str = "(function () {\
    var log = document.querySelector('[role=log].log'); if (!log) return;\
    var line = document.getElementById('new-messages');\
    if (line) line.scrollIntoView(); else log.scrollTop = log.scrollHeight;\
})();";

/// Where a page finds the site's files: URL paths of the JS glue, the
/// WebAssembly, the style sheet and the icon.
#[cfg_attr(not(feature = "ssr"), allow(dead_code))] // used by the server only
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SiteAssets {
    pub script: String,
    pub wasm: String,
    pub style: String,
    pub icon: String,
}

#[cfg_attr(not(feature = "ssr"), allow(dead_code))] // used by the server only
impl SiteAssets {
    /// The plain names cargo-leptos gives the files.
    pub(crate) fn plain(pkg_dir: &str, output_name: &str) -> Self {
        SiteAssets {
            script: format!("/{pkg_dir}/{output_name}.js"),
            wasm: format!("/{pkg_dir}/{output_name}.wasm"),
            style: format!("/{pkg_dir}/{output_name}.css"),
            icon: "/favicon.svg".to_string(),
        }
    }
}

/// The channel list as the server rendered it, until the socket has sent
/// its own (see [`Chat::channels`]).
#[derive(Clone, Copy)]
pub(crate) struct Listed(pub Resource<Result<Vec<ChannelSummary>, crate::model::Refusal>>);

impl Listed {
    /// The best-known channel list (tracked): the socket's if it has
    /// spoken, else the server-rendered one.
    pub(crate) fn current(&self, chat: &Chat) -> Option<Vec<ChannelSummary>> {
        chat.channels
            .get()
            .or_else(|| self.0.get().and_then(Result::ok))
    }
}

#[component]
pub(crate) fn App() -> impl IntoView {
    provide_meta_context();
    // Who is reading, by the identity cookie: decided on the server and
    // carried to the browser in the page, so that hydration meets what the
    // server drew (the reader's own messages with their actions, mentions
    // of them, a newcomer's name prompt, disabled until the code runs) and
    // redraws nothing.
    let viewer = SharedValue::new(identity::viewer_of_request).into_inner();
    let chat = Chat::new(viewer.map_or(Me::Anonymous { problem: None }, Me::Named));
    provide_context(chat);
    provide_context(Listed(Resource::new(|| (), |_| list_channels())));

    Effect::new(move |_| {
        chat.hydrated.set(true);
    });
    identity::sign_in_from_storage(chat);
    chat.keep_outbox();

    view! {
        <Title text="Flack" formatter=page_title/>
        <Meta name="description" content="Flack: a self-hosted chat"/>
        <Router>
            <div class="layout">
                <sidebar::Sidebar/>
                <main class="main">
                    <Routes fallback=|| view! { <NotFound/> }>
                        // Rendered whole before sending (no streaming), so a
                        // page is complete without JavaScript.
                        <Route path=path!("/") view=home::Home ssr=SsrMode::Async/>
                        <Route
                            path=path!("/c/:name")
                            view=channel::ChannelPage
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/dm/:name")
                            view=channel::DirectPage
                            ssr=SsrMode::Async
                        />
                        <Route path=path!("/search") view=search::SearchPage ssr=SsrMode::Async/>
                    </Routes>
                </main>
            </div>
            <identity::NamePrompt/>
            <search::QuickSwitcher/>
        </Router>
    }
}

/// The document title: a page's own title, then the app's name. Server
/// rendering writes the title into the HTML unescaped (leptos_meta does
/// not escape it), so there it is escaped here; in the browser it is set
/// as text and stays as it is.
fn page_title(text: String) -> String {
    let title = if text == "Flack" {
        text
    } else {
        format!("{text} \u{b7} Flack")
    };
    if cfg!(feature = "ssr") {
        escape_html(&title)
    } else {
        title
    }
}

/// Text made safe to put inside HTML, as text or in a quoted attribute.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The `status` element: says when the app is offline or reconnecting.
#[component]
pub(crate) fn ConnectionStatus() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let state = move || chat.connection.get();
    view! {
        <p
            role="status"
            aria-label="Connection"
            class="connection"
            data-state=move || format!("{:?}", state()).to_lowercase()
        >
            {move || match state() {
                Connection::Idle => "",
                Connection::Connecting => "Connecting\u{2026}",
                Connection::Online => "Online",
                Connection::Reconnecting => "Connection lost \u{2014} reconnecting\u{2026}",
                Connection::Offline => "Offline \u{2014} messages wait until you are back",
            }}
        </p>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="empty">
            <h1>"Page not found"</h1>
            <p>"There is nothing here. Pick a channel from the list."</p>
        </section>
    }
}
