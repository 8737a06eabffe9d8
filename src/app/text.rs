//! A message's text on screen: the Markdown subset of [`crate::markup`]
//! turned into views. Every piece of the user's text becomes a text node
//! or an attribute value, never HTML; links are only those `markup`
//! allows, and open in a new tab without access to this one.
//!
//! Every element is built by one function of one type (its tag and
//! attributes are values), so the tree costs one type-erased view in the
//! WASM rather than one per kind of element. Line breaks are newlines in
//! the text, which the `white-space: pre-wrap` of `.text` shows.

use crate::markup::{Block, Inline};
use crate::model::Identity;
use leptos::prelude::*;
use leptos::tachys::html::attribute::custom::CustomAttribute;
use leptos::tachys::html::attribute::{href, rel, start, target};
use leptos::tachys::html::element::{custom, ElementChild};
use leptos::tachys::view::add_attr::AddAnyAttr;

/// The attributes an element of a message text can have.
#[derive(Default)]
struct Attrs {
    class: Option<&'static str>,
    href: Option<String>,
    start: Option<String>,
    lang: Option<String>,
}

/// A link's attributes by their typed keys, not by name: hydrating an
/// attribute named by a string sets it again on the element, which for
/// the links of a hundred messages was hundreds of DOM calls. (`class` and
/// `data-lang`, rare, stay named: an absent one costs nothing, and a typed
/// `class` would be written `class=""` when absent.)
fn element(tag: &'static str, attrs: Attrs, children: Vec<AnyView>) -> AnyView {
    let link = attrs.href.is_some();
    custom(tag)
        .add_any_attr((
            href(attrs.href),
            target(link.then_some("_blank")),
            rel(link.then_some("noopener noreferrer nofollow")),
            start(attrs.start),
        ))
        .attr("class", attrs.class)
        .attr("data-lang", attrs.lang)
        .child(children)
        .into_any()
}

fn text(text: String) -> AnyView {
    text.into_any()
}

/// The views of a message text; `mentions` are the people it mentions,
/// `me` the reader's name (whose mentions stand out).
pub(crate) fn rich_text(text: &str, mentions: &[Identity], me: Option<&str>) -> Vec<AnyView> {
    let names: Vec<&str> = mentions.iter().map(|m| m.name.as_str()).collect();
    let me = me.map(str::to_lowercase);
    crate::markup::parse(text, &names)
        .iter()
        .map(|block| block_view(block, me.as_deref()))
        .collect()
}

fn block_view(block: &Block, me: Option<&str>) -> AnyView {
    match block {
        Block::Paragraph(inlines) => element("p", Attrs::default(), inlines_view(inlines, me)),
        Block::Code { lang, text: code } => {
            let inner = element("code", Attrs::default(), vec![text(code.clone())]);
            let attrs = Attrs {
                lang: lang.clone(),
                ..Attrs::default()
            };
            element("pre", attrs, vec![inner])
        }
        Block::Quote(inlines) => element("blockquote", Attrs::default(), inlines_view(inlines, me)),
        Block::List {
            ordered,
            start,
            items,
        } => {
            let items = items
                .iter()
                .map(|item| element("li", Attrs::default(), inlines_view(item, me)))
                .collect();
            if *ordered {
                let attrs = Attrs {
                    start: (*start != 1).then(|| start.to_string()),
                    ..Attrs::default()
                };
                element("ol", attrs, items)
            } else {
                element("ul", Attrs::default(), items)
            }
        }
    }
}

/// Inline content; runs of text and line breaks become one text node.
fn inlines_view(inlines: &[Inline], me: Option<&str>) -> Vec<AnyView> {
    let mut views = Vec::new();
    let mut run = String::new();
    for inline in inlines {
        match inline {
            Inline::Text(piece) => run.push_str(piece),
            Inline::Break => run.push('\n'),
            other => {
                if !run.is_empty() {
                    views.push(text(std::mem::take(&mut run)));
                }
                views.push(inline_view(other, me));
            }
        }
    }
    if !run.is_empty() {
        views.push(text(run));
    }
    views
}

fn inline_view(inline: &Inline, me: Option<&str>) -> AnyView {
    let plain = Attrs::default;
    match inline {
        Inline::Text(piece) => text(piece.clone()),
        Inline::Break => text("\n".to_owned()),
        Inline::Code(code) => element("code", plain(), vec![text(code.clone())]),
        Inline::Strong(children) => element("strong", plain(), inlines_view(children, me)),
        Inline::Emphasis(children) => element("em", plain(), inlines_view(children, me)),
        Inline::Strike(children) => element("del", plain(), inlines_view(children, me)),
        Inline::Link { href, children } => {
            let attrs = Attrs {
                href: Some(href.clone()),
                ..plain()
            };
            element("a", attrs, inlines_view(children, me))
        }
        Inline::Mention(name) => {
            let mine = me.is_some_and(|me| me == name.to_lowercase());
            let attrs = Attrs {
                class: Some(if mine { "mention of-me" } else { "mention" }),
                ..plain()
            };
            element("span", attrs, vec![text(format!("@{name}"))])
        }
    }
}
