//! An open channel (`/c/<name>`): its title, its messages and the composer.
//!
//! The first render (on the server, or on client-side navigation) shows
//! the history from the `fetch_history` server function; once the socket
//! has joined the channel, its live copy takes over.

use super::awareness::{MembersButton, MembersPanel, TypingStatus};
use super::composer::Composer;
use super::message::{on_log_click, with_reader, MessageItem, OutgoingItem, Place};
use super::state::{Chat, Older};
use super::thread::ThreadPanel;
use crate::api::{fetch_history, message_context, newer_messages, older_messages, open_direct};
use crate::client::storage;
use crate::model::{ChannelHistory, ChannelName, ErrorCode, Seq};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub(crate) fn ChannelPage() -> impl IntoView {
    let params = use_params_map();
    let raw = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    // The name as the server knows it (lowered). An invalid one is never
    // echoed: it is whatever a crafted link put there.
    let title = Signal::derive(move || {
        ChannelName::parse(&raw.get())
            .map_or_else(|_| "Not a channel".to_owned(), |name| name.to_string())
    });
    view! { <ChannelView key=raw.into() title mark="#"/> }
}

/// `/dm/<name>`: my direct conversation with that person (started if new).
#[component]
pub(crate) fn DirectPage() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let params = use_params_map();
    let person = Memo::new(move |_| url_decode(&params.read().get("name").unwrap_or_default()));
    let direct = Resource::new(move || person.get(), open_direct);
    let key = Signal::derive(move || {
        direct
            .get()
            .and_then(Result::ok)
            .map(|d| d.name.to_string())
            .unwrap_or_default()
    });
    let title = Signal::derive(move || {
        match (direct.get(), chat.my_id()) {
            (Some(Ok(d)), Some(me)) => d.other(me).map(|o| o.name.to_string()),
            _ => None,
        }
        .unwrap_or_else(|| "Direct message".to_owned())
    });
    view! {
        <Transition fallback=|| view! { <p class="hint">"Loading\u{2026}"</p> }>
            {move || {
                direct
                    .get()
                    .map(|found| match found {
                        Ok(d) => {
                            chat.add_direct(d);
                            view! { <ChannelView key title mark="@"/> }.into_any()
                        }
                        Err(refusal) => {
                            // Asked for by another site's link: starting it
                            // takes a click here (a same-site request).
                            let confirm = (refusal.code == ErrorCode::CrossSite)
                                .then(|| {
                                    view! {
                                        <button
                                            type="button"
                                            on:click=move |_| direct.refetch()
                                        >
                                            "Start the conversation"
                                        </button>
                                    }
                                });
                            view! {
                                <header class="channel-head">
                                    <h1>"Direct message"</h1>
                                </header>
                                <div class="empty">
                                    <p role="alert" class="error">
                                        {refusal.message}
                                    </p>
                                    {confirm}
                                </div>
                            }
                                .into_any()
                        }
                    })
            }}
        </Transition>
    }
}

/// A percent-encoded path segment, decoded (as it was, if it is not
/// valid UTF-8 once decoded).
fn url_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[at],
            bytes.get(at + 1).copied().and_then(hex),
            bytes.get(at + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                at += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| raw.to_owned())
}

/// A channel or direct conversation, by its `key` (the name the server
/// knows it by), headed `title` after `mark` ("#" or "@").
#[component]
fn ChannelView(key: Signal<String>, title: Signal<String>, mark: &'static str) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let raw = key;
    let history = Resource::new(
        move || (raw.get(), chat.reload.get()),
        |(name, _)| fetch_history(name),
    );

    // Follow and remember the channel once it is known to exist.
    Effect::new(move |_| match history.get() {
        Some(Ok(history)) => {
            storage::set_channel(Some(&history.channel));
            if chat.open.get_untracked().as_ref() != Some(&history.channel) {
                // What was read in the channel left is read (a mark may
                // be waiting for its second).
                chat.read_open();
                chat.live.set(None);
                chat.older.set(Older::default());
                chat.alert.set(None);
                chat.editing.set(None);
                chat.picker.set(None);
                chat.divider.set(None);
                chat.members.set(None);
                chat.open.set(Some(history.channel));
            }
        }
        Some(Err(_)) => chat.open.set(None),
        None => {}
    });
    on_cleanup(move || {
        chat.read_open();
        chat.open.set(None);
    });
    // Back on the page: what arrived meanwhile is read now.
    let visible = window_event_listener(leptos::ev::visibilitychange, move |_| {
        chat.read_open();
    });
    on_cleanup(move || visible.remove());
    // A link to one message (`?m=<seq>`): highlight it and bring it into
    // view once shown.
    let query = use_query_map();
    Effect::new(move |_| {
        let wanted = query
            .read()
            .get("m")
            .and_then(|seq| seq.parse::<Seq>().ok());
        chat.highlight.set(wanted);
    });
    Effect::new(move |_| {
        let Some(seq) = chat.highlight.get() else {
            return;
        };
        chat.live.track();
        chat.older.track();
        request_animation_frame(move || {
            if let Some(found) = document().get_element_by_id(&format!("m{seq}")) {
                found.scroll_into_view();
            }
        });
    });
    // A message older than those held (from a search): load the messages
    // around it, once the live ones are there.
    let fetched = StoredValue::new(None::<(ChannelName, Seq)>);
    Effect::new(move |_| {
        let Some(seq) = chat.highlight.get() else {
            return;
        };
        let Some((channel, first_live)) = chat.live.with(|live| {
            live.as_ref()
                .map(|l| (l.channel.clone(), l.messages.first().map(|m| m.seq)))
        }) else {
            return;
        };
        // Not before the channel is open here: opening it clears what
        // is held of it (and the live messages may be an earlier visit's).
        if chat.open.with(|open| open.as_ref() != Some(&channel)) {
            return;
        }
        let held = chat.older.with_untracked(|o| {
            o.channel.as_ref() == Some(&channel) && o.messages.iter().any(|m| m.seq == seq)
        });
        let older = first_live.is_none_or(|first| seq < first);
        let wanted = Some((channel.clone(), seq));
        if held || !older || fetched.get_value() == wanted {
            return;
        }
        fetched.set_value(wanted);
        spawn_local(async move {
            match message_context(channel.to_string(), seq).await {
                Ok(context) => chat.older.set(Older {
                    channel: Some(channel),
                    complete: !context.more_before,
                    gap: context.more_after,
                    messages: context
                        .messages
                        .into_iter()
                        .filter(|m| first_live.is_none_or(|first| m.seq < first))
                        .collect(),
                }),
                Err(refusal) => chat.alert.set(Some(refusal.message)),
            }
        });
    });

    view! {
        <Title text=move || format!("{mark}{}", title.get())/>
        <header class="channel-head">
            <h1>
                <span class="hash" aria-hidden="true">
                    {mark}
                </span>
                {title}
            </h1>
            <MembersButton/>
        </header>
        <Transition fallback=|| view! { <p class="hint">"Loading messages\u{2026}"</p> }>
            {move || {
                history
                    .get()
                    .map(|result| match result {
                        Ok(initial) => {
                            let channel = initial.channel.clone();
                            view! {
                                <div class="channel-body">
                                    <div class="channel-main">
                                        <MessageLog initial/>
                                        <TypingStatus channel=channel.clone() thread=None/>
                                        <Composer channel=channel.clone() thread=None/>
                                    </div>
                                    <ThreadPanel channel/>
                                    <MembersPanel/>
                                </div>
                            }
                                .into_any()
                        }
                        Err(refusal) => {
                            view! {
                                <div class="empty">
                                    <p role="alert" class="error">
                                        {refusal.message}
                                    </p>
                                    <p>"Pick another channel from the list, or create it."</p>
                                </div>
                            }
                                .into_any()
                        }
                    })
            }}
        </Transition>
    }
}

/// The log of messages, oldest first, kept scrolled to the newest; then
/// the user's own messages still on their way.
#[component]
fn MessageLog(initial: ChannelHistory) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let channel = initial.channel.clone();
    let messages = Memo::new(move |_| {
        chat.live
            .get()
            .filter(|live| live.channel == initial.channel)
            .map_or_else(|| initial.messages.clone(), |live| live.messages)
    });
    let outgoing = {
        let channel = channel.clone();
        Memo::new(move |_| {
            chat.outbox.with(|outbox| {
                outbox
                    .iter()
                    .filter(|o| o.channel == channel && o.thread.is_none())
                    .cloned()
                    .collect::<Vec<_>>()
            })
        })
    };
    let older = {
        let channel = channel.clone();
        Memo::new(move |_| {
            chat.older.with(|older| {
                if older.channel.as_ref() == Some(&channel) {
                    older.clone()
                } else {
                    Older::default()
                }
            })
        })
    };
    // The first message by someone else after my read mark as it was
    // when I opened the channel: "New messages" goes above it.
    let first_unread = {
        let channel = channel.clone();
        Memo::new(move |_| {
            let (held, mark) = chat.divider.get()?;
            if held != channel {
                return None;
            }
            let me = chat.my_id();
            messages.with(|list| {
                list.iter()
                    .find(|m| m.seq > mark && Some(m.author_id) != me)
                    .map(|m| m.seq)
            })
        })
    };
    // Whether "New messages" goes above a message, followed per message.
    let divider_at = Selector::new(move || first_unread.get());
    let log = NodeRef::<leptos::html::Div>::new();
    // Keep the newest message in view as messages arrive; but first show
    // where the new messages start, once.
    let shown_divider = StoredValue::new(false);
    Effect::new(move |_| {
        messages.track();
        outgoing.track();
        let divider = first_unread.get();
        let Some(log) = log.get() else { return };
        match divider {
            Some(_) if !shown_divider.get_value() => {
                shown_divider.set_value(true);
                request_animation_frame(move || {
                    if let Some(line) = document().get_element_by_id("new-messages") {
                        line.scroll_into_view();
                    }
                });
            }
            _ => log.set_scroll_top(log.scroll_height()),
        }
    });
    let older_channel = channel.clone();
    // Whether there may be stored messages before the first shown.
    let may_have_older = move || {
        let first = older
            .with(|o| o.messages.first().map(|m| m.seq))
            .or_else(|| messages.with(|m| m.first().map(|m| m.seq)));
        !older.with(|o| o.complete) && first.is_some_and(|seq| seq > 1)
    };
    let loading = RwSignal::new(false);
    let load_older = {
        let channel = channel.clone();
        move |_| {
            if loading.get_untracked() {
                return;
            }
            let Some(before) = older
                .with_untracked(|o| o.messages.first().map(|m| m.seq))
                .or_else(|| messages.with_untracked(|m| m.first().map(|m| m.seq)))
            else {
                return;
            };
            loading.set(true);
            let channel = channel.clone();
            spawn_local(async move {
                let height = log.get_untracked().map(|l| l.scroll_height());
                match older_messages(channel.to_string(), before).await {
                    Ok(page) => {
                        chat.older.update(|older| {
                            if older.channel.as_ref() != Some(&channel) {
                                *older = Older {
                                    channel: Some(channel.clone()),
                                    ..Older::default()
                                };
                            }
                            let mut messages = page.messages;
                            messages.append(&mut older.messages);
                            older.messages = messages;
                            older.complete = !page.more;
                        });
                        // Keep what was in view where it was, once the
                        // older messages are drawn above it.
                        request_animation_frame(move || {
                            if let (Some(log), Some(before)) = (log.get_untracked(), height) {
                                let grown = log.scroll_height() - before;
                                log.set_scroll_top(log.scroll_top() + grown);
                            }
                        });
                    }
                    Err(refusal) => chat.alert.set(Some(refusal.message)),
                }
                loading.set(false);
            });
        }
    };
    // After a jump to an old message: fill the gap up to the live ones.
    let load_newer = {
        let channel = channel.clone();
        move |_| {
            if loading.get_untracked() {
                return;
            }
            let Some(after) = older.with_untracked(|o| o.messages.last().map(|m| m.seq)) else {
                return;
            };
            let first_live = messages.with_untracked(|m| m.first().map(|m| m.seq));
            loading.set(true);
            let channel = channel.clone();
            spawn_local(async move {
                match newer_messages(channel.to_string(), after).await {
                    Ok(page) => chat.older.update(|older| {
                        if older.channel.as_ref() != Some(&channel) {
                            return;
                        }
                        let reached = !page.more
                            || page
                                .messages
                                .iter()
                                .any(|m| first_live.is_some_and(|first| m.seq >= first));
                        older.messages.extend(
                            page.messages
                                .into_iter()
                                .filter(|m| first_live.is_none_or(|first| m.seq < first)),
                        );
                        older.gap = !reached;
                    }),
                    Err(refusal) => chat.alert.set(Some(refusal.message)),
                }
                loading.set(false);
            });
        }
    };
    let on_click = on_log_click(chat, channel.clone(), Place::Channel);
    view! {
        <Show when=may_have_older>
            <button
                type="button"
                class="load-older"
                on:click=load_older.clone()
                disabled=move || loading.get() || !chat.hydrated.get()
            >
                {move || if loading.get() { "Loading\u{2026}" } else { "Load older messages" }}
            </button>
        </Show>
        <div
            class="log"
            role="log"
            aria-label="Messages"
            node_ref=log
            on:click=on_click
        >
            <Show when=move || messages.with(Vec::is_empty) && outgoing.with(Vec::is_empty)>
                <p class="hint">"No messages yet. Say hello!"</p>
            </Show>
            // Keyed by reader and whole message: an edited one is drawn
            // anew, and all are when the identity changes.
            <For
                each=move || with_reader(chat, older.get().messages)
                key=|read| read.clone()
                children=move |(_, message)| {
                    view! { <MessageItem message channel=older_channel.clone() place=Place::Channel/> }
                }
            />
            <Show when=move || older.with(|o| o.gap)>
                <button
                    type="button"
                    class="load-older"
                    on:click=load_newer.clone()
                    disabled=move || loading.get()
                >
                    "Load newer messages"
                </button>
            </Show>
            <For
                each=move || with_reader(chat, messages.get())
                key=|read| read.clone()
                children=move |(_, message)| {
                    let seq = message.seq;
                    let divider_at = divider_at.clone();
                    view! {
                        {move || {
                            divider_at
                                .selected(&Some(seq))
                                .then(|| {
                                    view! {
                                        <div
                                            class="new-messages"
                                            id="new-messages"
                                            role="separator"
                                            aria-label="New messages"
                                        >
                                            <span aria-hidden="true">"New messages"</span>
                                        </div>
                                    }
                                })
                        }}
                        <MessageItem message channel=channel.clone() place=Place::Channel/>
                    }
                }
            />
            <For
                each=move || outgoing.get()
                key=|o| (o.client_id.clone(), o.delivery.clone())
                let:outgoing
            >
                <OutgoingItem outgoing/>
            </For>
        </div>
    }
}
