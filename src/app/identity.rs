//! The display name: signing in again from storage, the first-visit
//! prompt, "Signed in as" and "Sign out".

use super::state::{Chat, Me};
use crate::api::{claim_name, sign_out};
use crate::client::{socket, storage};
use crate::model::{DisplayName, ErrorCode, Identity};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Records a successful claim: remember the name, start the socket (or
/// connect it again as the new identity).
fn signed_in(chat: Chat, me: Identity) {
    storage::set_name(Some(&me.name));
    chat.me.set(Me::Named(me));
    socket::start(chat);
}

/// In the browser, claims the remembered name again (the server may have
/// restarted, or the cookie expired); with none, asks for one.
pub(crate) fn sign_in_from_storage(chat: Chat) {
    Effect::new(move |_| {
        let Some(remembered) = storage::name() else {
            chat.me.set(Me::Anonymous { problem: None });
            return;
        };
        // The page was rendered for this name (its cookie): no need to
        // ask the server again.
        if let Me::Named(me) = chat.me.get_untracked() {
            if me.name.as_str() == remembered {
                return signed_in(chat, me);
            }
        }
        spawn_local(async move {
            match claim_name(remembered.clone()).await {
                Ok(me) => signed_in(chat, me),
                Err(refusal) => {
                    let problem = if refusal.code == ErrorCode::NameTaken {
                        format!(
                            "Someone else is using \u{201c}{remembered}\u{201d} now. Please choose another name."
                        )
                    } else {
                        refusal.message
                    };
                    chat.me.set(Me::Anonymous {
                        problem: Some(problem),
                    });
                }
            }
        });
    });
}

/// The identity of the request being rendered, by its cookie (on the
/// server; the browser takes the page's answer, see `App`).
pub(crate) fn viewer_of_request() -> Option<Identity> {
    #[cfg(feature = "ssr")]
    {
        crate::api::ssr::caller()
    }
    #[cfg(not(feature = "ssr"))]
    None
}

/// The first-visit prompt for a display name (a modal dialog).
#[component]
pub(crate) fn NamePrompt() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let draft = RwSignal::new(storage::name().unwrap_or_default());
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let shown_problem = move || {
        problem.get().or_else(|| match chat.me.get() {
            Me::Anonymous { problem } => problem,
            _ => None,
        })
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let name = match DisplayName::parse(&draft.get_untracked()) {
            Ok(name) => name,
            Err(refusal) => return problem.set(Some(refusal.message)),
        };
        busy.set(true);
        spawn_local(async move {
            match claim_name(name.to_string()).await {
                Ok(me) => {
                    problem.set(None);
                    signed_in(chat, me);
                }
                Err(refusal) => problem.set(Some(refusal.message)),
            }
            busy.set(false);
        });
    };
    // The server draws the field disabled, and `autofocus` does not
    // focus a disabled field: focus it once it can be typed in (and
    // whenever the prompt comes back).
    let field = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let (true, Some(_)) = (chat.hydrated.get(), field.get()) {
            request_animation_frame(move || {
                if let Some(input) = field.get_untracked() {
                    let _ = input.focus();
                }
            });
        }
    });
    view! {
        <Show when=move || matches!(chat.me.get(), Me::Anonymous { .. })>
            <div class="overlay">
                <div class="prompt" role="dialog" aria-modal="true" aria-labelledby="prompt-title">
                <form class="prompt-form" on:submit=submit>
                    <h2 id="prompt-title">"Welcome to Flack"</h2>
                    <p>"Choose the name others will see on your messages."</p>
                    <label for="display-name">"Display name"</label>
                    <input
                        id="display-name"
                        node_ref=field
                        type="text"
                        autocomplete="nickname"
                        autofocus
                        // Drawn by the server: usable once the code runs.
                        disabled=move || !chat.hydrated.get()
                        prop:value=draft
                        on:input=move |ev| {
                            draft.set(event_target_value(&ev));
                            problem.set(None);
                        }
                    />
                    {move || {
                        shown_problem().map(|p| view! { <p role="alert" class="error">{p}</p> })
                    }}
                    <button type="submit" disabled=move || busy.get() || !chat.hydrated.get()>
                        "Continue"
                    </button>
                </form>
                </div>
            </div>
        </Show>
    }
}

/// "Signed in as", the current name, and "Sign out", which frees the
/// name and asks for one again.
#[component]
pub(crate) fn SignedInAs() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let busy = RwSignal::new(false);
    let leave = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            match sign_out().await {
                Ok(()) => {
                    storage::set_name(None);
                    chat.outbox.set(Vec::new());
                    // Whoever signs in next was not mentioned.
                    chat.forget_counts();
                    chat.me.set(Me::Anonymous { problem: None });
                    // Connected again without the cookie: reads only.
                    socket::reconnect();
                }
                Err(refusal) => chat.alert.set(Some(refusal.message)),
            }
            busy.set(false);
        });
    };
    move || {
        chat.name().map(|name| {
            view! {
                <section class="me">
                    <div class="me-who" aria-label="Signed in as">
                        <span class="me-label" aria-hidden="true">
                            "Signed in as"
                        </span>
                        <strong class="me-name">{name.to_string()}</strong>
                    </div>
                    <button
                        type="button"
                        class="sign-out"
                        title="Sign out: your name becomes free for anyone; your messages stay"
                        on:click=leave
                        disabled=busy
                    >
                        "Sign out"
                    </button>
                </section>
            }
        })
    }
}
