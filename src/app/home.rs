//! `/`: a welcome, and on a fresh load the way back to the channel this
//! browser was last in.

use super::state::Chat;
use super::Listed;
use crate::client::storage;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

#[component]
pub(crate) fn Home() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let listed = expect_context::<Listed>();
    let navigate = use_navigate();
    // Once per page load: later visits to `/` within the app stay here.
    Effect::new(move |_| {
        if chat.returned.get_untracked() {
            return;
        }
        let Some(channels) = listed.current(&chat) else {
            return;
        };
        chat.returned.set(true);
        let Some(last) = storage::channel() else {
            return;
        };
        if channels.iter().any(|c| c.name.as_str() == last) {
            let options = NavigateOptions {
                replace: true,
                ..Default::default()
            };
            navigate(&format!("/c/{last}"), options);
        } else {
            // It is gone (the server restarted, say): stay on the list.
            storage::set_channel(None);
        }
    });
    view! {
        <section class="empty">
            <h1>"Welcome to Flack"</h1>
            <p>"Pick a channel from the list, or create a new one."</p>
        </section>
    }
}
