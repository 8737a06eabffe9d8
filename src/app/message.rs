//! One message in a log: its author, time and formatted text, what it
//! mentions, its reactions and thread, and the actions on it (react,
//! reply in thread, edit and delete one's own).

use super::lazy::{Loading, OnDemand};
pub(crate) use super::state::Place;
use super::state::{Chat, Delivery, Outgoing};
use super::text::rich_text;
use crate::api::{delete_message, edit_message, react};
use crate::emoji::{self, COMMON};
use crate::model::{ChannelName, IdentityId, Message, MessageText, Reaction, Seq};
use chrono::{DateTime, Datelike, Local, TimeZone, Timelike, Utc};
use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

/// One message. What depends on who reads (my own message's actions,
/// mentions of me, my reactions) is drawn once, as things stand when the
/// message is drawn: lists of messages are keyed by their reader too (see
/// [`super::channel::with_reader`]), so a change of identity draws them
/// anew. Its buttons have no listener of their own: they say what they do
/// by their `name`, and the log's one listener acts ([`on_log_click`]).
/// That keeps a message to a few reactive pieces, which is what
/// hydrating a channel of 100 messages costs.
#[component]
pub(crate) fn MessageItem(message: Message, channel: ChannelName, place: Place) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let me = chat.identity_untracked();
    let me_id = me.as_ref().map(|me| me.id);
    let own = me_id == Some(message.author_id);
    let named = me.is_some();
    let at = message.sent_at;
    let seq = message.seq;
    let mentions_me = me_id.is_some_and(|me| message.mentions_id(me));
    let class = match (own, mentions_me) {
        (true, true) => "message own mentions-me",
        (true, false) => "message own",
        (false, true) => "message mentions-me",
        (false, false) => "message",
    };
    let highlighted = move || place == Place::Channel && chat.is_highlighted(seq);
    let can_thread = place == Place::Channel && message.thread.is_none();
    let replies = message.replies;
    let last_reply = message.last_reply_at;
    let edited = message.edited_at;
    let text = message.text.clone();
    let mentions = message.mentions.clone();
    let me_name = me.map(|me| me.name);
    let body = move || {
        rich_text(
            text.as_str(),
            &mentions,
            me_name.as_ref().map(|n| n.as_str()),
        )
    };
    let editing = move || chat.is_editing(place, seq);
    let anchor = match place {
        Place::Channel => format!("m{seq}"),
        Place::Thread => format!("t{seq}"),
    };
    let picking = move || chat.is_picking(place, seq);
    view! {
        <article class=class class:highlighted=highlighted id=anchor.clone()>
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
                {mentions_me.then(|| view! { <span class="mention-tag">"mentions you"</span> })}
                <span class="actions">
                    {named
                        .then(|| {
                            view! {
                        <button
                            type="button"
                            class="action"
                            aria-label="Add reaction"
                            title="Add reaction"
                            aria-expanded=move || picking().to_string()
                            name="react"
                        >
                            "\u{263a}+"
                        </button>
                            }
                        })}
                    {can_thread
                        .then(|| {
                            view! {
                                <button
                                    type="button"
                                    class="action"
                                    aria-label="Reply in thread"
                                    title="Reply in thread"
                                    name="reply"
                                >
                                    "Reply"
                                </button>
                            }
                        })}
                    {own
                        .then(|| {
                            view! {
                        <button
                            type="button"
                            class="action"
                            aria-label="Edit message"
                            title="Edit message"
                            name="edit"
                        >
                            "Edit"
                        </button>
                        <button
                            type="button"
                            class="action delete"
                            aria-label="Delete message"
                            title="Delete message"
                            name="delete"
                        >
                            "Delete"
                        </button>
                            }
                        })}
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
                        view! { <div class="text">{body()}</div> }.into_any()
                    }
                }
            }
            <Reactions
                reactions=message.reactions.clone()
                me=me_id
                seq
                channel=channel.clone()
                place
                tips=format!("{anchor}-r")
            />
            {(can_thread && replies > 0)
                .then(|| {
                    view! {
                        <p class="thread-summary">
                            <button type="button" class="replies" name="reply">
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

/// The one listener of a log of messages (the channel's or a thread's),
/// for the buttons of all its messages: each says what it does by its
/// `name` (and a reaction by its `value`, the emoji), the message is the
/// article it is in (whose id ends in its number). A hundred messages
/// then hydrate without four hundred listeners.
pub(crate) fn on_log_click(
    chat: Chat,
    channel: ChannelName,
    place: Place,
) -> impl Fn(leptos::ev::MouseEvent) + Clone + 'static {
    let navigate = use_navigate();
    move |ev| {
        let Some(clicked) = Clicked::of(&ev) else {
            return;
        };
        let seq = clicked.seq;
        let channel = channel.clone();
        match clicked.action.as_str() {
            "react" => chat.picker.update(|open| {
                *open = (*open != Some((place, seq))).then_some((place, seq));
            }),
            "reply" => navigate(&format!("/c/{channel}?thread={seq}"), Default::default()),
            "edit" => chat.editing.set(Some((place, seq))),
            "delete" => spawn_local(async move {
                if let Err(refusal) = delete_message(channel.to_string(), seq).await {
                    chat.alert.set(Some(refusal.message));
                }
            }),
            "toggle" => set_reaction(chat, &channel, seq, clicked.value, !clicked.pressed),
            _ => {}
        }
    }
}

/// Adds (`on`) or removes my reaction `emoji` to message `seq`; a
/// refusal is shown as the page's alert.
fn set_reaction(chat: Chat, channel: &ChannelName, seq: Seq, emoji: String, on: bool) {
    let channel = channel.to_string();
    spawn_local(async move {
        if let Err(refusal) = react(channel, seq, emoji, on).await {
            chat.alert.set(Some(refusal.message));
        }
    });
}

/// A click on a message's button, as [`on_log_click`] reads it.
struct Clicked {
    action: String,
    seq: Seq,
    value: String,
    pressed: bool,
}

impl Clicked {
    fn of(ev: &leptos::ev::MouseEvent) -> Option<Self> {
        use leptos::wasm_bindgen::JsCast;
        let target = ev.target()?.dyn_into::<leptos::web_sys::Element>().ok()?;
        let button = target.closest("button[name]").ok()??;
        let article = button.closest("article").ok()??;
        Some(Clicked {
            action: button.get_attribute("name")?,
            seq: article.id().get(1..)?.parse().ok()?,
            value: button.get_attribute("value").unwrap_or_default(),
            pressed: button.get_attribute("aria-pressed").as_deref() == Some("true"),
        })
    }
}

/// The reactions under a message, and the picker when it is open.
#[component]
fn Reactions(
    reactions: Vec<Reaction>,
    /// Who reads (as the message was drawn).
    me: Option<IdentityId>,
    seq: Seq,
    channel: ChannelName,
    place: Place,
    /// The start of the ids of the tooltips (unique on the page).
    tips: String,
) -> impl IntoView {
    let chat = expect_context::<Chat>();
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
            let mine = me.is_some_and(|me| reaction.by.iter().any(|i| i.id == me));
            let tip = format!("{tips}{i}");
            view! {
                <span class="reaction">
                    <button
                        type="button"
                        aria-pressed=mine.to_string()
                        aria-describedby=tip.clone()
                        disabled=me.is_none()
                        name="toggle"
                        value=reaction.emoji.clone()
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
    let picking = move || chat.is_picking(place, seq);
    view! {
        <div class="reactions">{shown}</div>
        <Show when=picking>
            {
                let channel = channel.clone();
                let on_pick = Callback::new(move |emoji: String| {
                    chat.picker.set(None);
                    set_reaction(chat, &channel, seq, emoji, true);
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
pub(crate) fn OutgoingItem(outgoing: Outgoing) -> impl IntoView {
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

/// Messages paired with who reads them, for a keyed list: each is drawn
/// for its reader (see [`MessageItem`]), and drawn anew when the reader
/// changes, as it is when the message itself changes (an edit, a
/// reaction).
pub(crate) fn with_reader(
    chat: Chat,
    messages: Vec<Message>,
) -> Vec<(Option<IdentityId>, Message)> {
    // Tracked; changes only when the identity does.
    let reader = chat.my_id();
    messages.into_iter().map(|m| (reader, m)).collect()
}

/// "14:05" today, "Nov 21, 14:05" before; in the viewer's time zone once
/// running in the browser, in UTC on the server (which does not know it).
pub(crate) fn time_label(at: DateTime<Utc>, in_browser: bool) -> String {
    if in_browser {
        let local = at.with_timezone(&Local);
        if local.date_naive() == Local::now().date_naive() {
            clock(&local)
        } else {
            format!("{}, {}", short_day(&local), clock(&local))
        }
    } else {
        format!("{}, {} UTC", short_day(&at), clock(&at))
    }
}

/// The full date and time, for the tooltip: "Sunday 22 November 2026,
/// 14:05:09", in the viewer's time zone in the browser, else in UTC.
pub(crate) fn full_time(at: DateTime<Utc>, in_browser: bool) -> String {
    fn full<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
        format!(
            "{} {} {} {}, {}:{:02}",
            WEEKDAYS[t.weekday().num_days_from_monday() as usize],
            t.day(),
            MONTHS[t.month0() as usize],
            t.year(),
            clock(t),
            t.second()
        )
    }
    if in_browser {
        full(&at.with_timezone(&Local))
    } else {
        format!("{} UTC", full(&at))
    }
}

// Dates are put together by hand rather than with chrono's `format`,
// whose format-string machinery would add ~20 KB to the WASM.
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// "09:05"
fn clock<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// "Nov 21"
fn short_day<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    format!("{} {}", &MONTHS[t.month0() as usize][..3], t.day())
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn server_rendered_times_are_in_utc() {
        let at = Utc.with_ymd_and_hms(2026, 3, 7, 9, 5, 4).unwrap();
        assert_eq!(time_label(at, false), "Mar 7, 09:05 UTC");
        assert_eq!(full_time(at, false), "Saturday 7 March 2026, 09:05:04 UTC");
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 23, 59, 59).unwrap();
        assert_eq!(time_label(at, false), "Nov 22, 23:59 UTC");
        assert_eq!(
            full_time(at, false),
            "Sunday 22 November 2026, 23:59:59 UTC"
        );
    }

    #[test]
    fn times_today_show_only_the_clock() {
        let now = Utc::now();
        let local = now.with_timezone(&Local);
        assert_eq!(
            time_label(now, true),
            format!("{:02}:{:02}", local.hour(), local.minute())
        );
        let long_ago = Utc.with_ymd_and_hms(2020, 1, 2, 3, 4, 5).unwrap();
        assert!(
            time_label(long_ago, true).starts_with("Jan "),
            "{}",
            time_label(long_ago, true)
        );
    }
}
