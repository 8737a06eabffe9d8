//! Who is around: "is typing" under a log, and the members panel.

use super::lazy::{Loading, OnDemand};
use super::sidebar::js_encode;
use super::state::Chat;
use crate::model::{ChannelName, DisplayName, Seq};
use leptos::prelude::*;

/// "Ada is typing…", "Ada and Bob are typing…", "Several people are
/// typing…"; empty when nobody is.
pub(crate) fn typing_text(names: &[DisplayName]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("{one} is typing\u{2026}"),
        [one, two] => format!("{one} and {two} are typing\u{2026}"),
        _ => "Several people are typing\u{2026}".to_owned(),
    }
}

/// The live status of who is typing in a channel (or one of its threads).
#[component]
pub(crate) fn TypingStatus(channel: ChannelName, thread: Option<Seq>) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let text = Memo::new(move |_| typing_text(&chat.typists(&channel, thread)));
    // The status is there only while someone types (so the page's one
    // status otherwise is the connection's); the live region around it
    // has screen readers announce it when it comes.
    view! {
        <div class="typing" aria-live="polite">
            <Show when=move || !text.with(String::is_empty)>
                <p role="status">{text}</p>
            </Show>
        </div>
    }
}

/// The button in the channel's header that shows or hides its members,
/// with how many are online.
#[component]
pub(crate) fn MembersButton() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let online = move || {
        chat.members.with(|m| {
            m.as_ref()
                .map(|(_, list)| list.iter().filter(|m| m.online).count())
        })
    };
    view! {
        <button
            type="button"
            class="members-toggle"
            aria-expanded=move || chat.show_members.get().to_string()
            aria-controls="members"
            on:click=move |_| chat.show_members.update(|shown| *shown = !*shown)
        >
            "Members"
            {move || online().map(|n| view! { <span class="count">{format!(" \u{b7} {n} online")}</span> })}
        </button>
    }
}

/// The members panel when it is shown; its code is loaded the first time.
#[component]
pub(crate) fn MembersPanel() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let load = || -> Loading { Box::pin(members_panel()) };
    view! {
        <Show when=move || chat.show_members.get()>
            <OnDemand load/>
        </Show>
    }
}

#[lazy]
fn members_panel() -> AnyView {
    view! { <Members/> }.into_any()
}

/// Who is in the open channel (has opened it), and who is online now.
#[component]
fn Members() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let members = move || chat.members.get().map(|(_, list)| list).unwrap_or_default();
    let count = move || {
        let list = members();
        let online = list.iter().filter(|m| m.online).count();
        format!("{} members, {online} online", list.len())
    };
    view! {
        <aside class="members" id="members" aria-label="Members">
                <header class="panel-head">
                    <h2>"Members"</h2>
                    <button
                        type="button"
                        class="close"
                        aria-label="Close members"
                        on:click=move |_| chat.show_members.set(false)
                    >
                        "\u{d7}"
                    </button>
                </header>
                <p class="hint">{count}</p>
                <ul aria-label="Members">
                    <For
                        each=members
                        key=|m| (m.identity.id, m.online)
                        let:member
                    >
                        <li class:online=member.online>
                            <span class="presence" aria-hidden="true"></span>
                            <span class="member-name">{member.identity.name.to_string()}</span>
                            <span class="visually-hidden">
                                {if member.online { ", online" } else { ", offline" }}
                            </span>
                            {(Some(member.identity.id) != chat.my_id_untracked())
                                .then(|| {
                                    let name = member.identity.name.to_string();
                                    let href = format!("/dm/{}", js_encode(&name));
                                    let navigate = leptos_router::hooks::use_navigate();
                                    view! {
                                        <button
                                            type="button"
                                            class="message-person"
                                            aria-label=format!("Message {name}")
                                            on:click=move |_| navigate(&href, Default::default())
                                        >
                                            "Message"
                                        </button>
                                    }
                                })}
                        </li>
                    </For>
                </ul>
            </aside>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<DisplayName> {
        list.iter()
            .map(|n| DisplayName::parse(n).unwrap())
            .collect()
    }

    #[test]
    fn typing_says_who_in_a_sentence() {
        assert_eq!(typing_text(&[]), "");
        assert_eq!(typing_text(&names(&["Ada"])), "Ada is typing\u{2026}");
        assert_eq!(
            typing_text(&names(&["Ada", "Bob"])),
            "Ada and Bob are typing\u{2026}"
        );
        assert_eq!(
            typing_text(&names(&["Ada", "Bob", "Cy"])),
            "Several people are typing\u{2026}"
        );
    }
}
