//! The message field of a channel or a thread: Enter sends, Shift+Enter
//! is a newline, Up in an empty field edits one's last message, and `@`
//! offers the names of the people in the channel.

use super::state::{Chat, Place};
use crate::model::{ChannelName, DisplayName, MessageText, Seq, MAX_MESSAGE_CHARS};
use crate::protocol::{ClientFrame, TYPING_EVERY_MS};
use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::prelude::*;

/// Most names the mention list offers at once.
const MAX_SUGGESTIONS: usize = 8;

/// The `@` being typed before the caret: where it starts, and the letters
/// after it. Names may have spaces, so the query may too (not newlines).
fn mention_query(text: &str, caret: usize) -> Option<(usize, String)> {
    let before = text.get(..caret)?;
    let at = before.rfind('@')?;
    let query = &before[at + 1..];
    let starts_word = before[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_alphanumeric());
    (starts_word && !query.contains('\n') && query.chars().count() <= 32)
        .then(|| (at, query.to_owned()))
}

/// The people to offer for `query`: names that start with it (or have a
/// word that does), case-insensitively, in the order given.
fn suggestions(people: &[DisplayName], query: &str) -> Vec<DisplayName> {
    let query = query.to_lowercase();
    people
        .iter()
        .filter(|name| {
            let key = name.key();
            key.starts_with(&query) || key.split(' ').any(|word| word.starts_with(&query))
        })
        .take(MAX_SUGGESTIONS)
        .cloned()
        .collect()
}

#[component]
pub(crate) fn Composer(channel: ChannelName, thread: Option<Seq>) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let draft = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    // The `@` being completed, the names offered, and the one chosen.
    let completing = RwSignal::new(None::<(usize, String)>);
    let active = RwSignal::new(0usize);
    let field = NodeRef::<leptos::html::Textarea>::new();
    let can_write = move || chat.hydrated.get() && chat.name().is_some();
    let (id, label, button) = match thread {
        None => ("message", "Message", "Send"),
        Some(_) => ("reply", "Reply", "Send reply"),
    };
    let placeholder = {
        let channel = channel.clone();
        move || match thread {
            // A direct conversation by the other person's name, never by
            // its internal one.
            None if channel.people().is_some() => {
                let other = chat.my_id().and_then(|me| {
                    chat.directs.with(|list| {
                        list.iter()
                            .find(|d| d.name == channel)
                            .and_then(|d| d.other(me))
                            .map(|o| o.name.to_string())
                    })
                });
                other.map_or_else(|| "Message".to_owned(), |name| format!("Message @{name}"))
            }
            None => format!("Message #{channel}"),
            Some(_) => "Reply in thread".to_owned(),
        }
    };
    // The people of the channel: whoever wrote what is shown, newest
    // first, not me.
    let people = Memo::new(move |_| {
        let me = chat.my_id();
        let mut seen: Vec<DisplayName> = Vec::new();
        let mut add = |author: &DisplayName, id| {
            if Some(id) != me && !seen.iter().any(|n| n.key() == author.key()) {
                seen.push(author.clone());
            }
        };
        chat.thread.with(|t| {
            if let Some(t) = t {
                for m in t.replies.iter().rev().chain(std::iter::once(&t.parent)) {
                    add(&m.author, m.author_id);
                }
            }
        });
        chat.live.with(|live| {
            if let Some(live) = live {
                for m in live.messages.iter().rev() {
                    add(&m.author, m.author_id);
                }
            }
        });
        chat.older.with(|older| {
            for m in older.messages.iter().rev() {
                add(&m.author, m.author_id);
            }
        });
        seen
    });
    let offered = Memo::new(move |_| match completing.get() {
        Some((_, query)) => people.with(|p| suggestions(p, &query)),
        None => Vec::new(),
    });
    let list_id = format!("{id}-mentions");
    let option_id = move |i: usize| format!("{id}-mention-{i}");
    let update_completion = move || {
        let Some(field) = field.get_untracked() else {
            return;
        };
        let caret = field
            .selection_start()
            .ok()
            .flatten()
            .map(|utf16| {
                // The caret counts UTF-16 units; the draft is UTF-8.
                let text = field.value();
                let mut units = 0;
                text.char_indices()
                    .find(|(_, c)| {
                        units += c.len_utf16();
                        units > utf16 as usize
                    })
                    .map_or(text.len(), |(i, _)| i)
            })
            .unwrap_or(0);
        completing.set(mention_query(&draft.get_untracked(), caret));
        active.set(0);
    };
    let choose = move |name: DisplayName| {
        let Some((at, query)) = completing.get_untracked() else {
            return;
        };
        let text = draft.get_untracked();
        let end = (at + 1 + query.len()).min(text.len());
        let filled = format!("{}@{} {}", &text[..at], name.as_str(), &text[end..]);
        let caret = (at + name.as_str().len() + 2) as u32;
        draft.set(filled);
        completing.set(None);
        if let Some(field) = field.get_untracked() {
            let _ = field.focus();
            request_animation_frame(move || {
                let _ = field.set_selection_range(caret, caret);
            });
        }
    };
    // When this field last said "typing" (0: it is not typing).
    let typed_at = StoredValue::new(0.0);
    let typing_channel = channel.clone();
    let report_typing = move |text: &str| {
        let now = crate::client::now_ms();
        let on = !text.trim().is_empty();
        let last = typed_at.get_value();
        let due = if on {
            now - last >= TYPING_EVERY_MS as f64 + 500.0
        } else {
            last > 0.0
        };
        if due {
            typed_at.set_value(if on { now } else { 0.0 });
            chat.send(ClientFrame::Typing {
                channel: typing_channel.to_string(),
                thread,
                on,
            });
        }
    };
    let submit = move || {
        typed_at.set_value(0.0);
        let text = draft.get_untracked();
        if text.trim().is_empty() {
            return;
        }
        if let Err(refusal) = MessageText::parse(&text) {
            return problem.set(Some(refusal.message));
        }
        // Into the outbox: sent now if online, else when back.
        chat.submit(channel.clone(), text, thread);
        draft.set(String::new());
        completing.set(None);
        problem.set(None);
    };
    // My last message here, to edit with Up.
    let my_last = move || {
        let me = chat.my_id()?;
        match thread {
            Some(_) => chat.thread.with_untracked(|t| {
                t.as_ref()?
                    .replies
                    .iter()
                    .rev()
                    .find(|m| m.author_id == me)
                    .map(|m| m.seq)
            }),
            None => chat.live.with_untracked(|live| {
                live.as_ref()?
                    .messages
                    .iter()
                    .rev()
                    .find(|m| m.author_id == me)
                    .map(|m| m.seq)
            }),
        }
    };
    let on_keydown = {
        let submit = submit.clone();
        move |ev: KeyboardEvent| {
            let offered_now = offered.get_untracked();
            if !offered_now.is_empty() {
                match ev.key().as_str() {
                    "ArrowDown" => {
                        ev.prevent_default();
                        active.update(|a| *a = (*a + 1) % offered_now.len());
                        return;
                    }
                    "ArrowUp" => {
                        ev.prevent_default();
                        active.update(|a| *a = (*a + offered_now.len() - 1) % offered_now.len());
                        return;
                    }
                    "Enter" | "Tab" => {
                        ev.prevent_default();
                        let at = active.get_untracked().min(offered_now.len() - 1);
                        choose(offered_now[at].clone());
                        return;
                    }
                    "Escape" => {
                        ev.prevent_default();
                        completing.set(None);
                        return;
                    }
                    _ => {}
                }
            }
            if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                ev.prevent_default();
                submit();
            } else if ev.key() == "ArrowUp" && draft.with_untracked(String::is_empty) {
                if let Some(seq) = my_last() {
                    ev.prevent_default();
                    let place = if thread.is_some() {
                        Place::Thread
                    } else {
                        Place::Channel
                    };
                    chat.editing.set(Some((place, seq)));
                }
            }
        }
    };
    let length = move || draft.with(|d| d.chars().count());
    let expanded = move || !offered.with(Vec::is_empty);
    let list_for_aria = list_id.clone();
    view! {
        <form
            class="composer"
            on:submit=move |ev: SubmitEvent| {
                ev.prevent_default();
                submit();
            }
        >
            <label for=id class="visually-hidden">
                {label}
            </label>
            <textarea
                id=id
                rows="2"
                placeholder=placeholder
                node_ref=field
                aria-autocomplete="list"
                aria-controls=list_for_aria
                aria-activedescendant=move || expanded().then(|| option_id(active.get()))
                prop:value=draft
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    report_typing(&value);
                    draft.set(value);
                    problem.set(None);
                    update_completion();
                }
                on:keydown=on_keydown
                on:blur=move |_| completing.set(None)
                disabled=move || !can_write()
            ></textarea>
            <button type="submit" disabled=move || !can_write()>
                {button}
            </button>
            <ul
                class="mention-list"
                id=list_id
                role="listbox"
                aria-label="Mention suggestions"
                hidden=move || !expanded()
            >
                <For
                    each=move || offered.get().into_iter().enumerate()
                    key=|(i, name)| (*i, name.clone())
                    let:item
                >
                    {
                        let (i, name) = item;
                        let chosen = name.clone();
                        view! {
                            <li
                                role="option"
                                id=option_id(i)
                                aria-selected=move || (active.get() == i).to_string()
                                on:mousedown=move |ev| {
                                    ev.prevent_default();
                                    choose(chosen.clone());
                                }
                            >
                                {format!("@{name}")}
                            </li>
                        }
                    }
                </For>
            </ul>
            <Show when=move || { length() > MAX_MESSAGE_CHARS - 200 }>
                <span class="counter" class:over=move || { length() > MAX_MESSAGE_CHARS }>
                    {move || format!("{}/{MAX_MESSAGE_CHARS}", length())}
                </span>
            </Show>
        </form>
        {move || {
            problem
                .get()
                .or_else(|| thread.is_none().then(|| chat.alert.get()).flatten())
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
    fn the_mention_being_typed_is_found_before_the_caret() {
        assert_eq!(mention_query("hi @ad", 6), Some((3, "ad".into())));
        assert_eq!(mention_query("@", 1), Some((0, String::new())));
        assert_eq!(mention_query("hi @Ada Lo", 10), Some((3, "Ada Lo".into())));
        assert_eq!(mention_query("mail a@b", 8), None, "not inside a word");
        assert_eq!(mention_query("@ada\nnext", 9), None, "not across lines");
        assert_eq!(mention_query("no at", 5), None);
    }

    #[test]
    fn suggestions_match_a_name_or_a_word_of_it() {
        let people: Vec<_> = ["Ada Lovelace", "Bob", "grace"]
            .iter()
            .map(|n| DisplayName::parse(n).unwrap())
            .collect();
        let names = |q| -> Vec<String> {
            suggestions(&people, q)
                .into_iter()
                .map(|n| n.to_string())
                .collect()
        };
        assert_eq!(names("lov"), ["Ada Lovelace"]);
        assert_eq!(names("B"), ["Bob"]);
        assert_eq!(names(""), ["Ada Lovelace", "Bob", "grace"]);
        assert!(names("zz").is_empty());
    }
}
