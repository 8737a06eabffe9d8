//! The thread panel (`?thread=<seq>` on a channel's page): the parent,
//! its replies and a composer, beside the channel on a wide screen and
//! over it on a phone. Replies arrive live through the channel's socket.

use super::awareness::TypingStatus;
use super::composer::Composer;
use super::lazy::{Loading, OnDemand};
use super::message::with_reader;
use super::message::{on_log_click, MessageItem, OutgoingItem, Place};
use super::state::{Chat, OpenThread};
use crate::api::fetch_thread;
use crate::model::{ChannelName, Seq};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_query_map};

/// The thread panel when a thread is open; its code is loaded the first
/// time.
#[component]
pub(crate) fn ThreadPanel(channel: ChannelName) -> impl IntoView {
    let wanted = wanted_thread();
    let load = move || -> Loading { Box::pin(thread_panel(channel.clone())) };
    view! {
        <Show when=move || wanted.get().is_some()>
            <OnDemand load=load.clone()/>
        </Show>
    }
}

/// The thread that `?thread=` asks for.
fn wanted_thread() -> Memo<Option<Seq>> {
    let query = use_query_map();
    Memo::new(move |_| {
        query
            .read()
            .get("thread")
            .and_then(|seq| seq.parse::<Seq>().ok())
    })
}

#[lazy]
fn thread_panel(channel: ChannelName) -> AnyView {
    view! { <Thread channel/> }.into_any()
}

#[component]
fn Thread(channel: ChannelName) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let wanted = wanted_thread();
    let problem = RwSignal::new(None::<String>);
    // Load the thread asked for; keep it live from the socket after.
    {
        let channel = channel.clone();
        Effect::new(move |_| {
            let Some(parent) = wanted.get() else {
                chat.thread.set(None);
                return;
            };
            let held = chat.thread.with_untracked(|t| {
                t.as_ref().is_some_and(|t| {
                    // `?thread=` may name a reply: its thread is the one.
                    t.channel == channel
                        && (t.parent.seq == parent || t.replies.iter().any(|r| r.seq == parent))
                })
            });
            if held {
                return;
            }
            problem.set(None);
            chat.thread.set(None);
            let channel = channel.clone();
            spawn_local(async move {
                match fetch_thread(channel.to_string(), parent).await {
                    Ok(thread) => {
                        if wanted.get_untracked() == Some(parent) {
                            chat.thread.update(|open| {
                                // Replies that arrived live meanwhile stay.
                                let mut replies = thread.replies;
                                if let Some(live) = open.take().filter(|t| {
                                    t.channel == thread.channel && t.parent.seq == thread.parent.seq
                                }) {
                                    for reply in live.replies {
                                        if let Err(at) =
                                            replies.binary_search_by_key(&reply.seq, |m| m.seq)
                                        {
                                            replies.insert(at, reply);
                                        }
                                    }
                                }
                                *open = Some(OpenThread {
                                    channel: thread.channel,
                                    parent: thread.parent,
                                    replies,
                                });
                            });
                        }
                    }
                    Err(refusal) => problem.set(Some(refusal.message)),
                }
            });
        });
    }
    on_cleanup(move || chat.thread.set(None));
    let navigate = use_navigate();
    let close = {
        let channel = channel.clone();
        move |_| navigate(&format!("/c/{channel}"), Default::default())
    };
    let on_keydown = {
        let close = close.clone();
        move |ev: leptos::ev::KeyboardEvent| {
            // Not an Escape that closed something inside (an editor, the
            // reaction picker, the mention list).
            if ev.key() == "Escape"
                && !ev.default_prevented()
                && chat.editing.get_untracked().is_none()
            {
                close(());
            }
        }
    };
    view! {
        <Show when=move || wanted.get().is_some()>
            <aside class="thread" aria-label="Thread" on:keydown=on_keydown.clone()>
                <header class="thread-head">
                    <h2>"Thread"</h2>
                    <button type="button" class="close" on:click={
                        let close = close.clone();
                        move |_| close(())
                    }>
                        "Close thread"
                    </button>
                </header>
                {move || problem.get().map(|p| view! { <p role="alert" class="error">{p}</p> })}
                <ThreadBody channel=channel.clone()/>
            </aside>
        </Show>
    }
}

#[component]
fn ThreadBody(channel: ChannelName) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let parent = Memo::new(move |_| chat.thread.with(|t| t.as_ref().map(|t| t.parent.clone())));
    let replies = Memo::new(move |_| {
        chat.thread
            .with(|t| t.as_ref().map(|t| t.replies.clone()).unwrap_or_default())
    });
    let parent_seq = move || parent.with(|p| p.as_ref().map(|p| p.seq));
    let outgoing = Memo::new(move |_| {
        let parent = parent_seq();
        chat.outbox.with(|outbox| {
            outbox
                .iter()
                .filter(|o| o.thread.is_some() && o.thread == parent)
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let log = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        replies.track();
        outgoing.track();
        if let Some(log) = log.get() {
            log.set_scroll_top(log.scroll_height());
        }
    });
    let on_click = on_log_click(chat, channel.clone(), Place::Thread);
    let parent_channel = channel.clone();
    let reply_channel = channel.clone();
    view! {
        <div
            class="thread-log"
            role="log"
            aria-label="Thread messages"
            node_ref=log
            on:click=on_click
        >
            {move || {
                // Drawn for its reader (see `MessageItem`).
                chat.my_id();
                parent
                    .get()
                    .map(|message| {
                        let count = format!("{} replies", message.replies);
                        view! {
                            <MessageItem message channel=parent_channel.clone() place=Place::Thread/>
                            <p class="thread-count">{count}</p>
                        }
                    })
            }}
            <For
                each=move || with_reader(chat, replies.get())
                key=|read| read.clone()
                children=move |(_, message)| {
                    view! { <MessageItem message channel=channel.clone() place=Place::Thread/> }
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
        {move || {
            parent_seq()
                .map(|seq| {
                    view! {
                        <TypingStatus channel=reply_channel.clone() thread=Some(seq)/>
                        <Composer channel=reply_channel.clone() thread=Some(seq)/>
                    }
                })
        }}
    }
}
