//! An open channel (`/c/<name>`): its title, its messages and the composer.
//!
//! The first render (on the server, or on client-side navigation) shows
//! the history from the `fetch_history` server function; once the socket
//! has joined the channel, its live copy takes over.

use super::state::{Chat, Delivery, Older, Outgoing};
use crate::api::{delete_message, fetch_history, older_messages};
use crate::client::storage;
use crate::model::{ChannelHistory, ChannelName, Message, MessageText, MAX_MESSAGE_CHARS};
use chrono::{DateTime, Datelike, Local, TimeZone, Timelike, Utc};
use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ChannelPage() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let params = use_params_map();
    let raw = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    // The name as the server knows it (lowered). An invalid one is never
    // echoed: it is whatever a crafted link put there.
    let title = move || {
        ChannelName::parse(&raw.get())
            .map_or_else(|_| "Not a channel".to_owned(), |name| name.to_string())
    };
    let history = Resource::new(
        move || (raw.get(), chat.reload.get()),
        |(name, _)| fetch_history(name),
    );

    // Follow and remember the channel once it is known to exist.
    Effect::new(move |_| match history.get() {
        Some(Ok(history)) => {
            storage::set_channel(Some(&history.channel));
            if chat.open.get_untracked().as_ref() != Some(&history.channel) {
                chat.live.set(None);
                chat.older.set(Older::default());
                chat.alert.set(None);
                chat.open.set(Some(history.channel));
            }
        }
        Some(Err(_)) => chat.open.set(None),
        None => {}
    });
    on_cleanup(move || chat.open.set(None));

    view! {
        <Title text=move || format!("#{}", title())/>
        <header class="channel-head">
            <h1>
                <span class="hash" aria-hidden="true">
                    "#"
                </span>
                {title}
            </h1>
        </header>
        <Transition fallback=|| view! { <p class="hint">"Loading messages\u{2026}"</p> }>
            {move || {
                history
                    .get()
                    .map(|result| match result {
                        Ok(initial) => {
                            let channel = initial.channel.clone();
                            view! {
                                <MessageLog initial/>
                                <Composer channel/>
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
                    .filter(|o| o.channel == channel)
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
    let log = NodeRef::<leptos::html::Div>::new();
    // Keep the newest message in view as messages arrive.
    Effect::new(move |_| {
        messages.track();
        outgoing.track();
        if let Some(log) = log.get() {
            log.set_scroll_top(log.scroll_height());
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
        <div class="log" role="log" aria-label="Messages" node_ref=log>
            <Show when=move || messages.with(Vec::is_empty) && outgoing.with(Vec::is_empty)>
                <p class="hint">"No messages yet. Say hello!"</p>
            </Show>
            <For each=move || older.get().messages key=|message| message.seq let:message>
                <MessageItem message channel=older_channel.clone()/>
            </For>
            <For each=move || messages.get() key=|message| message.seq let:message>
                <MessageItem message channel=channel.clone()/>
            </For>
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

/// "14:05" today, "Nov 21, 14:05" before; in the viewer's time zone once
/// running in the browser, in UTC on the server (which does not know it).
fn time_label(at: DateTime<Utc>, in_browser: bool) -> String {
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
fn full_time(at: DateTime<Utc>, in_browser: bool) -> String {
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

#[component]
fn MessageItem(message: Message, channel: ChannelName) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let author_id = message.author_id;
    let own = move || chat.my_id() == Some(author_id);
    let at = message.sent_at;
    let seq = message.seq;
    let delete = move |_| {
        let channel = channel.to_string();
        spawn_local(async move {
            if let Err(refusal) = delete_message(channel, seq).await {
                chat.alert.set(Some(refusal.message));
            }
        });
    };
    view! {
        <article class="message" class:own=own>
            <header>
                <span class="author">{message.author.to_string()}</span>
                <time
                    datetime=at.to_rfc3339()
                    title=move || full_time(at, chat.hydrated.get())
                >
                    {move || time_label(at, chat.hydrated.get())}
                </time>
                <Show when=own>
                    <button
                        type="button"
                        class="delete"
                        aria-label="Delete message"
                        title="Delete message"
                        on:click=delete.clone()
                    >
                        "Delete"
                    </button>
                </Show>
            </header>
            <p class="text">{message.text.as_str().to_owned()}</p>
        </article>
    }
}

/// A message of the user's on its way: pending, or failed with a retry.
/// Not an `article` yet: it has no number or server time until stored.
#[component]
fn OutgoingItem(outgoing: Outgoing) -> impl IntoView {
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

/// The message field: Enter sends, Shift+Enter is a newline.
#[component]
fn Composer(channel: ChannelName) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let draft = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let can_write = move || chat.hydrated.get() && chat.name().is_some();
    let placeholder = format!("Message #{channel}");
    let submit = move || {
        let text = draft.get_untracked();
        if text.trim().is_empty() {
            return;
        }
        if let Err(refusal) = MessageText::parse(&text) {
            return problem.set(Some(refusal.message));
        }
        // Into the outbox: sent now if online, else when back.
        chat.submit(channel.clone(), text);
        draft.set(String::new());
        problem.set(None);
    };
    let on_keydown = {
        let submit = submit.clone();
        move |ev: KeyboardEvent| {
            if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                ev.prevent_default();
                submit();
            }
        }
    };
    let length = move || draft.with(|d| d.chars().count());
    view! {
        <form
            class="composer"
            on:submit=move |ev: SubmitEvent| {
                ev.prevent_default();
                submit();
            }
        >
            <label for="message" class="visually-hidden">
                "Message"
            </label>
            <textarea
                id="message"
                rows="2"
                placeholder=placeholder
                prop:value=draft
                on:input=move |ev| {
                    draft.set(event_target_value(&ev));
                    problem.set(None);
                }
                on:keydown=on_keydown
                disabled=move || !can_write()
            ></textarea>
            <button type="submit" disabled=move || !can_write()>
                "Send"
            </button>
            <Show when=move || { length() > MAX_MESSAGE_CHARS - 200 }>
                <span class="counter" class:over=move || { length() > MAX_MESSAGE_CHARS }>
                    {move || format!("{}/{MAX_MESSAGE_CHARS}", length())}
                </span>
            </Show>
        </form>
        {move || {
            problem
                .get()
                .or_else(|| chat.alert.get())
                .map(|p| {
                    view! {
                        <p role="alert" class="error composer-alert">
                            {p}
                            <button
                                type="button"
                                class="dismiss"
                                on:click=move |_| {
                                    problem.set(None);
                                    chat.alert.set(None);
                                }
                            >
                                "Dismiss"
                            </button>
                        </p>
                    }
                })
        }}
    }
}

#[cfg(test)]
mod tests {
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
