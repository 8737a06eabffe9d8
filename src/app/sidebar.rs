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
pub(crate) fn Sidebar() -> impl IntoView {
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
            <SearchBox/>
            <ChannelList/>
            <NewChannel/>
            <DirectList/>
            <Notifications/>
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
                                                let listed_name = channel.name.clone();
                                                let counts = Memo::new(move |_| {
                                                    chat.unread_in(&listed_name)
                                                });
                                                view! {
                                                    <li class:unread=move || { counts.get().0 > 0 }>
                                                        <A href=format!("/c/{name}")>
                                                            <span class="hash" aria-hidden="true">
                                                                "#"
                                                            </span>
                                                            <span class="channel-name">{name}</span>
                                                            <UnreadBadges counts/>
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

/// The `search` landmark: a search box that opens `/search?q=...` (a
/// plain GET form, so it works before the app has loaded too).
#[component]
fn SearchBox() -> impl IntoView {
    let navigate = use_navigate();
    let query = leptos_router::hooks::use_query_map();
    let draft = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(q) = query.read().get("q") {
            draft.set(q);
        }
    });
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let q = draft.get_untracked();
        if q.trim().is_empty() {
            return;
        }
        let encoded = js_encode(&q);
        navigate(&format!("/search?q={encoded}"), Default::default());
    };
    view! {
        <search class="search">
            <form action="/search" method="get" on:submit=submit>
                <input
                    type="search"
                    name="q"
                    aria-label="Search messages"
                    placeholder="Search messages"
                    maxlength="200"
                    prop:value=draft
                    on:input=move |ev| draft.set(event_target_value(&ev))
                />
            </form>
        </search>
    }
}

/// `text` as a URL path segment or query value.
pub(crate) fn js_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The navigation "Direct messages": a link to each conversation of mine,
/// named by the other person, with its unread counts.
#[component]
fn DirectList() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let entries = move || {
        let me = chat.my_id()?;
        let mut list: Vec<_> = chat
            .directs
            .get()
            .into_iter()
            .filter_map(|d| Some((d.name.clone(), d.other(me)?.name.clone())))
            .collect();
        list.sort_by_key(|(_, other)| other.key());
        Some(list)
    };
    view! {
        <nav class="channels directs" aria-label="Direct messages">
            <h2 class="section-title">"Direct messages"</h2>
            {move || match entries() {
                Some(list) if !list.is_empty() => {
                    view! {
                        <ul>
                            {list
                                .into_iter()
                                .map(|(key, other)| {
                                    let counts = Memo::new(move |_| chat.unread_in(&key));
                                    view! {
                                        <li class:unread=move || { counts.get().0 > 0 }>
                                            <A href=format!("/dm/{}", js_encode(other.as_str()))>
                                                <span class="hash" aria-hidden="true">
                                                    "@"
                                                </span>
                                                <span class="channel-name">{other.to_string()}</span>
                                                <UnreadBadges counts/>
                                            </A>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                        .into_any()
                }
                _ => {
                    view! {
                        <p class="hint">"Start one with \u{201c}Message\u{201d} beside a member."</p>
                    }
                        .into_any()
                }
            }}
        </nav>
    }
}

/// A link's unread and mention counts: read out as ", 3 unread, 1
/// mentions", shown as badges.
#[component]
pub(crate) fn UnreadBadges(counts: Memo<(u32, u32)>) -> impl IntoView {
    view! {
        <Show when=move || { counts.get().0 > 0 }>
            <span class="visually-hidden">
                {move || {
                    let (unread, mentions) = counts.get();
                    if mentions > 0 {
                        format!(", {unread} unread, {mentions} mentions")
                    } else {
                        format!(", {unread} unread")
                    }
                }}
            </span>
            <Show when=move || { counts.get().1 > 0 }>
                <span class="badge mention" aria-hidden="true">
                    {move || format!("@{}", counts.get().1)}
                </span>
            </Show>
            <span class="badge" aria-hidden="true">
                {move || counts.get().0.to_string()}
            </span>
        </Show>
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

/// "Enable notifications": asks the browser's permission, only when
/// clicked, so that mentions can be shown while the tab is out of sight.
#[component]
fn Notifications() -> impl IntoView {
    use crate::client::notify;
    let chat = expect_context::<Chat>();
    // Known only in the browser: on the server, nothing shows.
    let state = RwSignal::new(None::<&'static str>);
    Effect::new(move |_| {
        if chat.hydrated.get() && notify::supported() {
            state.set(Some(if notify::granted() {
                "on"
            } else if notify::denied() {
                "blocked"
            } else {
                "ask"
            }));
        }
    });
    let enable = move |_| {
        notify::request(move |granted| state.set(Some(if granted { "on" } else { "blocked" })));
    };
    view! {
        {move || match state.get() {
            Some("ask") => Some(
                view! {
                    <button type="button" class="notifications" on:click=enable>
                        "Enable notifications"
                    </button>
                }
                    .into_any(),
            ),
            Some("on") => Some(
                view! { <p class="hint">"Notifications are on for mentions."</p> }.into_any(),
            ),
            Some("blocked") => Some(
                view! {
                    <p class="hint">
                        "Notifications are blocked; allow them in the browser\u{2019}s site settings."
                    </p>
                }
                    .into_any(),
            ),
            _ => None,
        }}
    }
}
