//! The Leptos app: the HTML shell, the router and the page layout.
//!
//! - [`state`]: the shared signals ([`state::Chat`]).
//! - [`identity`]: the display-name prompt and "Signed in as".
//! - [`sidebar`]: the channel list and the new-channel form.
//! - [`channel`]: an open channel: title, message log and composer.
//! - [`home`]: `/`, which returns to the remembered channel.

pub mod channel;
pub mod home;
pub mod identity;
pub mod sidebar;
pub mod state;

use crate::api::list_channels;
use crate::model::ChannelSummary;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};
use state::{Chat, Connection};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The channel list as the server rendered it, until the socket has sent
/// its own (see [`Chat::channels`]).
#[derive(Clone, Copy)]
pub struct Listed(pub Resource<Result<Vec<ChannelSummary>, crate::model::Refusal>>);

impl Listed {
    /// The best-known channel list (tracked): the socket's if it has
    /// spoken, else the server-rendered one.
    pub fn current(&self, chat: &Chat) -> Option<Vec<ChannelSummary>> {
        chat.channels
            .get()
            .or_else(|| self.0.get().and_then(Result::ok))
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let chat = Chat::new();
    provide_context(chat);
    provide_context(Listed(Resource::new(|| (), |_| list_channels())));

    Effect::new(move |_| chat.hydrated.set(true));
    identity::sign_in_from_storage(chat);

    view! {
        <Stylesheet id="leptos" href="/pkg/flack.css"/>
        <Title text="Flack"/>
        <Meta name="description" content="Flack: a self-hosted chat"/>
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml"/>
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
                    </Routes>
                </main>
            </div>
            <identity::NamePrompt/>
        </Router>
    }
}

/// The `status` element: says when the app is offline or reconnecting.
#[component]
pub fn ConnectionStatus() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let state = move || chat.connection.get();
    view! {
        <p
            role="status"
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
    view! {
        <section class="empty">
            <h1>"Page not found"</h1>
            <p>"There is nothing here. Pick a channel from the list."</p>
        </section>
    }
}
