//! `/search?q=...`: the messages I can see that have every word, newest
//! first, each a link to where it is; and the quick switcher (Ctrl+K).

use super::lazy::{Loading, OnDemand};
use super::sidebar::js_encode;
use super::state::Chat;
use crate::api::{find_people, search_messages};
use crate::model::{highlight, search_words, ChannelName, IdentityId, SearchHit};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

/// Characters of a result's text shown around its first match.
const SNIPPET_CHARS: usize = 240;

#[component]
pub(crate) fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let results = Resource::new(move || q.get(), search_messages);
    view! { <Search q results/> }
}

type Found = Resource<Result<Vec<SearchHit>, crate::model::Refusal>>;

/// The results, rendered on the server too (a search works without the
/// WebAssembly), so not loaded on demand.
#[component]
fn Search(q: Memo<String>, results: Found) -> impl IntoView {
    view! {
        <Title text="Search"/>
        <header class="channel-head">
            <h1>"Search"</h1>
        </header>
        <div class="search-page">
            <Transition fallback=|| view! { <p class="hint">"Searching\u{2026}"</p> }>
                {move || {
                    results
                        .get()
                        .map(|found| match found {
                            Ok(hits) => view! { <Results hits words=search_words(&q.get())/> }.into_any(),
                            Err(refusal) => {
                                view! {
                                    <p role="alert" class="error">
                                        {refusal.message}
                                    </p>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
        </div>
    }
}

/// Where a result leads: the channel (or conversation) at the message;
/// a reply also opens its thread.
fn result_href(
    hit: &SearchHit,
    me: Option<IdentityId>,
    directs: &[crate::model::ChannelSummary],
) -> String {
    let seq = hit.message.seq;
    let place = match hit.channel.people() {
        Some(_) => {
            let other = directs
                .iter()
                .find(|d| d.name == hit.channel)
                .and_then(|d| me.and_then(|me| d.other(me)))
                .map(|o| o.name.to_string())
                .unwrap_or_default();
            format!("/dm/{}", js_encode(&other))
        }
        None => format!("/c/{}", hit.channel),
    };
    match hit.message.thread {
        Some(_) => format!("{place}?m={seq}&thread={seq}"),
        None => format!("{place}?m={seq}"),
    }
}

/// Where a result is, as its link says it: "#general" or "@Ada".
fn place_label(
    channel: &ChannelName,
    me: Option<IdentityId>,
    directs: &[crate::model::ChannelSummary],
) -> String {
    match channel.people() {
        None => format!("#{channel}"),
        Some(_) => directs
            .iter()
            .find(|d| &d.name == channel)
            .and_then(|d| me.and_then(|me| d.other(me)))
            .map_or_else(|| "@direct".to_owned(), |o| format!("@{}", o.name)),
    }
}

/// The text around the first match, cut to about [`SNIPPET_CHARS`].
fn snippet(text: &str, words: &[String]) -> Vec<(String, bool)> {
    let runs = highlight(text, words);
    let total: usize = runs.iter().map(|(s, _)| s.chars().count()).sum();
    if total <= SNIPPET_CHARS {
        return runs;
    }
    // Keep some text before the first match, then as much as fits.
    let before_first: usize = runs
        .iter()
        .take_while(|(_, hit)| !hit)
        .map(|(s, _)| s.chars().count())
        .sum();
    let mut skip = before_first.saturating_sub(40);
    let mut budget = SNIPPET_CHARS;
    let mut out = Vec::new();
    if skip > 0 {
        out.push(("\u{2026}".to_owned(), false));
    }
    for (run, hit) in runs {
        let chars = run.chars().count();
        if skip >= chars {
            skip -= chars;
            continue;
        }
        let kept: String = run.chars().skip(skip).take(budget).collect();
        skip = 0;
        budget -= kept.chars().count();
        out.push((kept, hit));
        if budget == 0 {
            out.push(("\u{2026}".to_owned(), false));
            break;
        }
    }
    out
}

#[component]
fn Results(hits: Vec<SearchHit>, words: Vec<String>) -> impl IntoView {
    let chat = expect_context::<Chat>();
    if words.is_empty() {
        return view! { <p class="hint">"Type words to search for."</p> }.into_any();
    }
    if hits.is_empty() {
        return view! { <p class="hint">"No messages have all of these words."</p> }.into_any();
    }
    let me = chat.my_id_untracked();
    let directs = chat.directs.get_untracked();
    let in_browser = chat.hydrated.get_untracked();
    view! {
        <p class="hint">{format!("{} results, newest first", hits.len())}</p>
        <ul class="results" aria-label="Search results">
            {hits
                .into_iter()
                .map(|hit| {
                    let href = result_href(&hit, me, &directs);
                    let place = place_label(&hit.channel, me, &directs);
                    let time = super::message::time_label(hit.message.sent_at, in_browser);
                    let runs = snippet(hit.message.text.as_str(), &words);
                    view! {
                        <li>
                            <a href=href class="result">
                                <span class="result-head">
                                    <span class="result-place">{place}</span>
                                    " "
                                    <span class="author">{hit.message.author.to_string()}</span>
                                    " "
                                    <time datetime=hit.message.sent_at.to_rfc3339()>{time}</time>
                                </span>
                                <span class="result-text">
                                    {runs
                                        .into_iter()
                                        .map(|(run, hit)| {
                                            if hit {
                                                view! { <mark>{run}</mark> }.into_any()
                                            } else {
                                                run.into_any()
                                            }
                                        })
                                        .collect_view()}
                                </span>
                            </a>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

/// One place the quick switcher can go.
#[derive(Debug, Clone, PartialEq)]
struct Destination {
    label: String,
    href: String,
}

/// "Jump to": Ctrl+K (or Cmd+K) opens it anywhere; type a few letters of
/// a channel or a person, arrows to choose, Enter to go, Escape to close.
/// The dialog's code is loaded the first time it opens.
#[component]
pub(crate) fn QuickSwitcher() -> impl IntoView {
    let open = RwSignal::new(false);
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if (ev.ctrl_key() || ev.meta_key()) && ev.key().eq_ignore_ascii_case("k") {
            ev.prevent_default();
            open.set(true);
        }
    });
    on_cleanup(move || keys.remove());
    let load = move || -> Loading { Box::pin(switcher(open)) };
    view! {
        <Show when=move || open.get()>
            <OnDemand load/>
        </Show>
    }
}

#[lazy]
fn switcher(open: RwSignal<bool>) -> AnyView {
    view! { <Switcher open/> }.into_any()
}

/// The open "Jump to" dialog (closing it sets `open` to false).
#[component]
fn Switcher(open: RwSignal<bool>) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let listed = expect_context::<super::Listed>();
    let navigate = use_navigate();
    let draft = RwSignal::new(String::new());
    let active = RwSignal::new(0usize);
    let people = RwSignal::new(Vec::<crate::model::Identity>::new());
    let field = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(field) = field.get() {
            request_animation_frame(move || {
                let _ = field.focus();
            });
        }
    });
    let choices = Memo::new(move |_| {
        let typed = draft.get().trim().to_lowercase();
        let me = chat.my_id();
        let mut out: Vec<Destination> = listed
            .current(&chat)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.name.as_str().contains(&typed))
            .map(|c| Destination {
                label: format!("#{}", c.name),
                href: format!("/c/{}", c.name),
            })
            .collect();
        out.sort_by_key(|d| !d.label[1..].starts_with(&typed));
        out.extend(
            people
                .get()
                .into_iter()
                .filter(|p| Some(p.id) != me)
                .map(|p| Destination {
                    label: format!("@{}", p.name),
                    href: format!("/dm/{}", js_encode(p.name.as_str())),
                }),
        );
        out.truncate(12);
        out
    });
    let look_up = move |typed: String| {
        spawn_local(async move {
            if let Ok(found) = find_people(typed.clone()).await {
                if draft.get_untracked() == typed {
                    people.set(found);
                }
            }
        });
    };
    let go = Callback::new(move |at: usize| {
        if let Some(choice) = choices.with_untracked(|c| c.get(at).cloned()) {
            open.set(false);
            navigate(&choice.href, Default::default());
        }
    });
    let on_keydown = {
        move |ev: leptos::ev::KeyboardEvent| {
            let count = choices.with_untracked(Vec::len);
            match ev.key().as_str() {
                "ArrowDown" if count > 0 => {
                    ev.prevent_default();
                    active.update(|a| *a = (*a + 1) % count);
                }
                "ArrowUp" if count > 0 => {
                    ev.prevent_default();
                    active.update(|a| *a = (*a + count - 1) % count);
                }
                "Enter" => {
                    ev.prevent_default();
                    go.run(active.get_untracked());
                }
                "Escape" => {
                    ev.prevent_default();
                    open.set(false);
                }
                _ => {}
            }
        }
    };
    view! {
            <div class="overlay" on:click=move |_| open.set(false)>
                <div
                    class="prompt switcher"
                    role="dialog"
                    aria-modal="true"
                    aria-label="Jump to"
                    on:click=|ev| ev.stop_propagation()
                >
                    <h2>"Jump to"</h2>
                    <input
                        type="text"
                        role="combobox"
                        aria-label="Jump to"
                        aria-expanded="true"
                        aria-controls="jump-list"
                        aria-autocomplete="list"
                        aria-activedescendant=move || format!("jump-{}", active.get())
                        placeholder="A channel or a person"
                        node_ref=field
                        prop:value=draft
                        on:input=move |ev| {
                            let typed = event_target_value(&ev);
                            draft.set(typed.clone());
                            active.set(0);
                            if typed.trim().is_empty() {
                                people.set(Vec::new());
                            } else {
                                look_up(typed);
                            }
                        }
                        on:keydown=on_keydown
                    />
                    <ul id="jump-list" role="listbox" aria-label="Channels and people">
                        {move || {
                            choices
                                .get()
                                .into_iter()
                                .enumerate()
                                .map(|(at, choice)| {
                                    view! {
                                        <li
                                            id=format!("jump-{at}")
                                            role="option"
                                            aria-selected=move || (active.get() == at).to_string()
                                            on:mousedown=move |ev| {
                                                ev.prevent_default();
                                                go.run(at);
                                            }
                                        >
                                            {choice.label}
                                        </li>
                                    }
                                })
                                .collect_view()
                        }}
                    </ul>
                </div>
            </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_around_its_first_match() {
        let words = vec!["needle".to_owned()];
        let text = format!("{} needle {}", "a ".repeat(300), "b ".repeat(300));
        let runs = snippet(&text, &words);
        let shown: String = runs.iter().map(|(s, _)| s.as_str()).collect();
        assert!(shown.starts_with('\u{2026}'), "{shown}");
        assert!(shown.ends_with('\u{2026}'), "{shown}");
        assert!(shown.chars().count() <= SNIPPET_CHARS + 2);
        assert!(runs.contains(&("needle".to_owned(), true)));
        // A short one is whole.
        let runs = snippet("find the Needles here", &words);
        assert_eq!(
            runs,
            vec![
                ("find the ".to_owned(), false),
                ("Needle".to_owned(), true),
                ("s here".to_owned(), false)
            ]
        );
    }
}
