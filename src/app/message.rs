//! One message in a log: its author, time and formatted text, what it
//! mentions, its reactions and thread, and the actions on it (react,
//! reply in thread, edit and delete one's own).

use super::channel::{full_time, time_label};
use super::lazy::{Loading, OnDemand};
pub use super::state::Place;
use super::state::{Chat, Delivery, Outgoing};
use super::text::rich_text;
use crate::api::{delete_message, edit_message, react};
use crate::emoji::{self, COMMON};
use crate::model::{ChannelName, Message, MessageText, Reaction, Seq};
use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

#[component]
pub fn MessageItem(message: Message, channel: ChannelName, place: Place) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let author_id = message.author_id;
    let own = move || chat.my_id() == Some(author_id);
    let at = message.sent_at;
    let seq = message.seq;
    let mentions_me = {
        let message = message.clone();
        move || chat.my_id().is_some_and(|me| message.mentions_id(me))
    };
    let highlighted = move || place == Place::Channel && chat.highlight.get() == Some(seq);
    let delete = {
        let channel = channel.clone();
        move |_| {
            let channel = channel.to_string();
            spawn_local(async move {
                if let Err(refusal) = delete_message(channel, seq).await {
                    chat.alert.set(Some(refusal.message));
                }
            });
        }
    };
    let navigate = use_navigate();
    let open_thread = {
        let channel = channel.clone();
        move |_| navigate(&format!("/c/{channel}?thread={seq}"), Default::default())
    };
    let can_thread = place == Place::Channel && message.thread.is_none();
    let replies = message.replies;
    let last_reply = message.last_reply_at;
    let edited = message.edited_at;
    let text = message.text.clone();
    let mentions = message.mentions.clone();
    let body = move || {
        let me = chat.name();
        rich_text(text.as_str(), &mentions, me.as_ref().map(|n| n.as_str()))
    };
    let editing = move || chat.editing.get() == Some((place, seq));
    let anchor = match place {
        Place::Channel => format!("m{seq}"),
        Place::Thread => format!("t{seq}"),
    };
    let picking = move || chat.picker.get() == Some((place, seq));
    view! {
        <article
            class="message"
            class:own=own
            class:mentions-me=mentions_me.clone()
            class:highlighted=highlighted
            id=anchor.clone()
        >
            <header>
                <span class="author">{message.author.to_string()}</span>
                <time datetime=at.to_rfc3339() title=move || full_time(at, chat.hydrated.get())>
                    {move || time_label(at, chat.hydrated.get())}
                </time>
                {edited
                    .map(|when| {
                        view! {
                            <span
                                class="edited"
                                title=move || format!("Edited {}", full_time(when, chat.hydrated.get()))
                            >
                                "(edited)"
                            </span>
                        }
                    })}
                <Show when=mentions_me.clone()>
                    <span class="mention-tag">"mentions you"</span>
                </Show>
                <span class="actions">
                    <Show when=move || chat.name().is_some()>
                        <button
                            type="button"
                            class="action"
                            aria-label="Add reaction"
                            title="Add reaction"
                            aria-expanded=move || picking().to_string()
                            on:click=move |_| {
                                chat.picker.set(if picking() { None } else { Some((place, seq)) })
                            }
                        >
                            "\u{263a}+"
                        </button>
                    </Show>
                    {can_thread
                        .then(|| {
                            view! {
                                <button
                                    type="button"
                                    class="action"
                                    aria-label="Reply in thread"
                                    title="Reply in thread"
                                    on:click=open_thread.clone()
                                >
                                    "Reply"
                                </button>
                            }
                        })}
                    <Show when=own>
                        <button
                            type="button"
                            class="action"
                            aria-label="Edit message"
                            title="Edit message"
                            on:click=move |_| chat.editing.set(Some((place, seq)))
                        >
                            "Edit"
                        </button>
                        <button
                            type="button"
                            class="action delete"
                            aria-label="Delete message"
                            title="Delete message"
                            on:click=delete.clone()
                        >
                            "Delete"
                        </button>
                    </Show>
                </span>
            </header>
            {
                let message = message.clone();
                let channel = channel.clone();
                move || {
                    if editing() {
                        let (message, channel) = (message.clone(), channel.clone());
                        let load = move || -> Loading {
                            Box::pin(editor(message.clone(), channel.clone()))
                        };
                        view! { <OnDemand load/> }.into_any()
                    } else {
                        view! { <div class="text">{body.clone()}</div> }.into_any()
                    }
                }
            }
            <Reactions
                reactions=message.reactions.clone()
                seq
                channel=channel.clone()
                place
                tips=format!("{anchor}-r")
            />
            {(can_thread && replies > 0)
                .then(|| {
                    let open = {
                        let channel = channel.clone();
                        let navigate = use_navigate();
                        move |_| navigate(&format!("/c/{channel}?thread={seq}"), Default::default())
                    };
                    view! {
                        <p class="thread-summary">
                            <button type="button" class="replies" on:click=open>
                                {format!("{replies} replies")}
                            </button>
                            {last_reply
                                .map(|when| {
                                    view! {
                                        <span class="last-reply">
                                            "Last reply "
                                            <time datetime=when.to_rfc3339()>
                                                {move || time_label(when, chat.hydrated.get())}
                                            </time>
                                        </span>
                                    }
                                })}
                        </p>
                    }
                })}
        </article>
    }
}

/// The reactions under a message, and the picker when it is open.
#[component]
fn Reactions(
    reactions: Vec<Reaction>,
    seq: Seq,
    channel: ChannelName,
    place: Place,
    /// The start of the ids of the tooltips (unique on the page).
    tips: String,
) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let toggle = {
        let channel = channel.clone();
        move |emoji: String, on: bool| {
            let channel = channel.to_string();
            spawn_local(async move {
                if let Err(refusal) = react(channel, seq, emoji, on).await {
                    chat.alert.set(Some(refusal.message));
                }
            });
        }
    };
    let shown = reactions
        .into_iter()
        .enumerate()
        .map(|(i, reaction)| {
            let count = reaction.by.len();
            let who = reaction
                .by
                .iter()
                .map(|i| i.name.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let ids: Vec<_> = reaction.by.iter().map(|i| i.id).collect();
            let mine = move || chat.my_id().is_some_and(|me| ids.contains(&me));
            let emoji = reaction.emoji.clone();
            let tip = format!("{tips}{i}");
            let toggle = toggle.clone();
            let mine_now = mine.clone();
            view! {
                <span class="reaction">
                    <button
                        type="button"
                        aria-pressed=move || mine().to_string()
                        aria-describedby=tip.clone()
                        disabled=move || chat.name().is_none()
                        on:click=move |_| toggle(emoji.clone(), !mine_now())
                    >
                        {format!("{} {count}", reaction.emoji)}
                    </button>
                    <span class="tip" role="tooltip" id=tip>
                        {format!("{who} reacted with {}", emoji::name(&reaction.emoji))}
                    </span>
                </span>
            }
        })
        .collect_view();
    let picking = move || chat.picker.get() == Some((place, seq));
    view! {
        <div class="reactions">{shown}</div>
        <Show when=picking>
            {
                let toggle = toggle.clone();
                let on_pick = Callback::new(move |emoji: String| {
                    chat.picker.set(None);
                    toggle(emoji, true);
                });
                let load = move || -> Loading { Box::pin(picker(on_pick)) };
                view! { <OnDemand load/> }
            }
        </Show>
    }
}

/// The picker's code (and the names of the common emoji), loaded the first
/// time someone opens it.
#[lazy]
fn picker(on_pick: Callback<String>) -> AnyView {
    view! { <Picker on_pick=move |emoji| on_pick.run(emoji)/> }.into_any()
}

/// The "Reactions" dialog: the common emoji, or any one typed.
#[component]
fn Picker(on_pick: impl Fn(String) + Clone + Send + Sync + 'static) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let typed = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let first = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(first) = first.get() {
            request_animation_frame(move || {
                let _ = first.focus();
            });
        }
    });
    let close_on_escape = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            chat.picker.set(None);
        }
    };
    let buttons = COMMON
        .iter()
        .enumerate()
        .map(|(i, (emoji, name))| {
            let on_pick = on_pick.clone();
            let node = if i == 0 { first } else { NodeRef::new() };
            view! {
                <button
                    type="button"
                    aria-label=*name
                    title=*name
                    node_ref=node
                    on:click=move |_| on_pick(emoji.to_string())
                >
                    {*emoji}
                </button>
            }
        })
        .collect_view();
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let emoji = typed.get_untracked().trim().to_owned();
        match crate::model::Emoji::parse(&emoji) {
            Ok(emoji) => on_pick(emoji.as_str().to_owned()),
            Err(refusal) => problem.set(Some(refusal.message)),
        }
    };
    view! {
        <div class="picker" role="dialog" aria-label="Reactions" on:keydown=close_on_escape>
            <div class="common">{buttons}</div>
            <form class="any-emoji" on:submit=add>
                <input
                    type="text"
                    aria-label="Any emoji"
                    placeholder="Any emoji"
                    maxlength="16"
                    prop:value=typed
                    on:input=move |ev| {
                        typed.set(event_target_value(&ev));
                        problem.set(None);
                    }
                />
                <button type="submit">"Add"</button>
                <button type="button" on:click=move |_| chat.picker.set(None)>
                    "Close"
                </button>
            </form>
            {move || problem.get().map(|p| view! { <p role="alert" class="error">{p}</p> })}
        </div>
    }
}

/// The editor's code, loaded the first time someone edits a message.
#[lazy]
fn editor(message: Message, channel: ChannelName) -> AnyView {
    view! { <Editor message channel/> }.into_any()
}

/// The inline editor of one's own message: Enter (or Save) saves, Escape
/// (or Cancel) cancels.
#[component]
fn Editor(message: Message, channel: ChannelName) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let draft = RwSignal::new(message.text.as_str().to_owned());
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let field = NodeRef::<leptos::html::Textarea>::new();
    Effect::new(move |_| {
        // On the next frame: a view loaded on demand is put in the page
        // after its effects first run.
        if let Some(field) = field.get() {
            request_animation_frame(move || {
                let _ = field.focus();
                let end = field.value().len() as u32;
                let _ = field.set_selection_range(end, end);
            });
        }
    });
    let seq = message.seq;
    let save = move || {
        if busy.get_untracked() {
            return;
        }
        let text = match MessageText::parse(&draft.get_untracked()) {
            Ok(text) => text,
            Err(refusal) => return problem.set(Some(refusal.message)),
        };
        busy.set(true);
        let channel = channel.to_string();
        spawn_local(async move {
            match edit_message(channel, seq, text.as_str().to_owned()).await {
                Ok(()) => chat.editing.set(None),
                Err(refusal) => problem.set(Some(refusal.message)),
            }
            busy.set(false);
        });
    };
    let on_keydown = {
        let save = save.clone();
        move |ev: KeyboardEvent| {
            if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                ev.prevent_default();
                save();
            } else if ev.key() == "Escape" {
                ev.prevent_default();
                chat.editing.set(None);
            }
        }
    };
    view! {
        <div class="editor">
            <textarea
                aria-label="Edit message"
                rows="2"
                node_ref=field
                prop:value=draft
                on:input=move |ev| {
                    draft.set(event_target_value(&ev));
                    problem.set(None);
                }
                on:keydown=on_keydown
            ></textarea>
            <div class="row">
                <button type="button" on:click=move |_| save() disabled=busy>
                    "Save"
                </button>
                <button type="button" on:click=move |_| chat.editing.set(None)>
                    "Cancel"
                </button>
                <span class="hint">"Enter to save, Escape to cancel"</span>
            </div>
            {move || problem.get().map(|p| view! { <p role="alert" class="error">{p}</p> })}
        </div>
    }
}

/// A message of the user's on its way: pending, or failed with a retry.
/// Not an `article` yet: it has no number or server time until stored.
#[component]
pub fn OutgoingItem(outgoing: Outgoing) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let client_id = outgoing.client_id.clone();
    let (state, problem) = match &outgoing.delivery {
        Delivery::Pending => ("Sending\u{2026}", None),
        Delivery::Failed(reason) => ("Not sent", Some(reason.clone())),
    };
    let failed = problem.is_some();
    view! {
        <div class="message outgoing" class:failed=failed>
            <header>
                <span class="author">{move || chat.name().map(|n| n.to_string())}</span>
                <span class="delivery">{state}</span>
                <Show when=move || failed>
                    <button
                        type="button"
                        class="retry"
                        on:click={
                            let client_id = client_id.clone();
                            move |_| chat.retry(&client_id)
                        }
                    >
                        "Retry"
                    </button>
                </Show>
            </header>
            <p class="text">{outgoing.text}</p>
            {problem.map(|p| view! { <p class="error">{p}</p> })}
        </div>
    }
}
