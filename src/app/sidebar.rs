//! The sidebar: who you are, the connection, the channel list and the
//! new-channel form.

use super::identity::SignedInAs;
use super::state::Chat;
use super::{ConnectionStatus, Listed};
use crate::api::create_channel;
use crate::model::ChannelName;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

#[component]
pub fn Sidebar() -> impl IntoView {
    view! {
        <aside class="sidebar">
            <header class="brand">
                <span class="logo" aria-hidden="true">
                    "#"
                </span>
                <span class="brand-name">"Flack"</span>
                <ConnectionStatus/>
            </header>
            <SignedInAs/>
            <ChannelList/>
            <NewChannel/>
        </aside>
    }
}

/// The navigation "Channels": a link to each channel.
#[component]
fn ChannelList() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let listed = expect_context::<Listed>();
    view! {
        <nav class="channels" aria-label="Channels">
            <h2 class="section-title">"Channels"</h2>
            <Transition fallback=|| view! { <p class="hint">"Loading channels\u{2026}"</p> }>
                {move || {
                    listed
                        .current(&chat)
                        .map(|list| {
                            if list.is_empty() {
                                view! {
                                    <p class="hint">"No channels yet. Create the first one below."</p>
                                }
                                    .into_any()
                            } else {
                                view! {
                                    <ul>
                                        {list
                                            .into_iter()
                                            .map(|channel| {
                                                let name = channel.name.to_string();
                                                view! {
                                                    <li>
                                                        <A href=format!("/c/{name}")>
                                                            <span class="hash" aria-hidden="true">
                                                                "#"
                                                            </span>
                                                            {name}
                                                        </A>
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
        </nav>
    }
}

/// The form that creates a channel and opens it.
#[component]
fn NewChannel() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let listed = expect_context::<Listed>();
    let navigate = use_navigate();
    let draft = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let can_create = move || chat.hydrated.get() && chat.name().is_some();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let name = match ChannelName::parse(&draft.get_untracked()) {
            Ok(name) => name,
            Err(refusal) => return problem.set(Some(refusal.message)),
        };
        busy.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            match create_channel(name.to_string()).await {
                Ok(created) => {
                    problem.set(None);
                    draft.set(String::new());
                    let path = format!("/c/{}", created.name);
                    if chat.channels.get_untracked().is_some() {
                        chat.add_channel(created);
                    } else {
                        listed.0.refetch();
                    }
                    navigate(&path, Default::default());
                }
                Err(refusal) => problem.set(Some(refusal.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="new-channel" on:submit=submit>
            <label for="new-channel">"New channel name"</label>
            <div class="row">
                <input
                    id="new-channel"
                    type="text"
                    placeholder="e.g. random"
                    autocomplete="off"
                    prop:value=draft
                    on:input=move |ev| {
                        draft.set(event_target_value(&ev));
                        problem.set(None);
                    }
                    disabled=move || !can_create()
                />
                <button type="submit" disabled=move || !can_create() || busy.get()>
                    "Create channel"
                </button>
            </div>
            {move || problem.get().map(|p| view! { <p role="alert" class="error">{p}</p> })}
        </form>
    }
}
