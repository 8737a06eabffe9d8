//! The Markdown subset of messages, parsed to a tree that the UI renders as
//! views (text nodes and elements, never as HTML).
//!
//! # Blocks
//!
//! A message is split into lines (a `\r` before a `\n` is dropped). Blocks
//! end at a blank line (blank lines are otherwise ignored) or where the
//! next line is of another kind.
//!
//! - **Code block**: a line starting (after spaces) with three or more
//!   backticks and no other backtick; the first word after them, if made of
//!   letters, digits and `+ - # . _` only, is the language. The following
//!   lines are the code, verbatim, up to a line of at least as many
//!   backticks and nothing else. An unclosed block runs to the end of the
//!   message (less trailing blank lines).
//! - **Quote**: consecutive lines starting (after spaces) with `> `, or
//!   consisting of `>` alone. Their text, without the marker, is inline
//!   content, lines separated by breaks. A quote inside a quote is text.
//! - **List**: consecutive lines starting (after spaces) with `- `, `* ` or
//!   `+ ` (unordered), or with 1 to 9 digits, then `.` or `)`, then a space
//!   (ordered, numbered from the first item's number). Each line is one
//!   item of inline content. Ordered and unordered items do not mix in one
//!   list; indented items are items of the same list (no nesting).
//! - **Paragraph**: consecutive other lines; each newline is a break.
//!   Trailing spaces of lines are dropped.
//!
//! There are no headings, rules, tables, images or raw HTML: `# x`, `<b>`
//! and `![a](b)` are text (the last one `!` then a link, if `b` is a link).
//!
//! # Inline content
//!
//! - `` `code` ``: a run of N backticks up to the next run of exactly N
//!   backticks; the content is verbatim (newlines become spaces, and one
//!   space is removed at each end if both ends have one and it is not all
//!   spaces). A run without a partner is text. Code comes first: markup
//!   characters inside code are text.
//! - `**strong**` or `__strong__`, `*emphasis*` or `_emphasis_`,
//!   `~~strikethrough~~`: an opening run must be followed by a non-space and
//!   a closing run preceded by a non-space, so `2 * 3 * 4` is text. `_` also
//!   only opens after a non-alphanumeric (or at the start) and only closes
//!   before a non-alphanumeric (or at the end), so `snake_case_name` is
//!   text. A run of three opens or closes both (`***both***`,
//!   `**strong *and em***`); a longer run of `*` or `_`, and a run of `~`
//!   other than two, is text. A closer closes the innermost open span of
//!   its character (spans opened inside that one become text; a single
//!   character closing a double opener leaves one opening character as
//!   text); delimiters left unclosed are text. Spans do not cross link brackets. Nesting is at most
//!   8 deep (deeper openers are text).
//! - `[text](url)`: a link if `url` is a safe link (see [`safe_href`]; it
//!   ends at the `)` that balances the `(`, so `(...)` inside URLs work),
//!   the text being inline content. Otherwise the brackets and parentheses
//!   are text: `[a](javascript:x)` stays as written. Links do not nest: a
//!   link inside link text leaves the outer brackets as text, and bare URLs
//!   inside link text are text.
//! - Bare `http://` and `https://` URLs (scheme in any case) after a
//!   non-alphanumeric or at the start are links, up to whitespace, a control
//!   character, `<`, `>` or `"` (and, inside link brackets, `]`); trailing
//!   `. , ; : ! ? ' " * _ ~` are not part of them, nor is a trailing `)`
//!   without a `(` to balance it inside the URL. Something must remain after
//!   the `//`. `www.` alone is text.
//! - `@Name`: a mention of one of the names given to [`parse`], after a
//!   non-alphanumeric or at the start, matched case-insensitively (the
//!   longest name that fits), and followed by the end or a non-alphanumeric.
//!   Names may contain spaces. Mentions inside code are text.
//! - A backslash before any ASCII punctuation character (`` \* \_ \` \[ \\
//!   \~ \> \- \# \@ `` ...) is that character as text (which is also how a
//!   line starting with `\-`, `\>` or `1\.` is a paragraph). Any other
//!   backslash is text.
//! - A newline is a break.
//!
//! Parsing takes time about linear in the text's length, whatever the text.

mod blocks;
mod inline;
mod links;
#[cfg(test)]
mod tests;

use blocks::{classify, Line};
use inline::{fold, inline};
pub(crate) use links::safe_href;

/// A block of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Block {
    /// Lines of inline content; each newline inside is an [`Inline::Break`].
    Paragraph(Vec<Inline>),
    /// A fenced code block: its language word, if any, and its text,
    /// verbatim, lines joined by `\n`.
    Code {
        /// The word after the opening backticks.
        lang: Option<String>,
        /// The lines between the fences.
        text: String,
    },
    /// Consecutive `> ` lines, as inline content with breaks between lines.
    Quote(Vec<Inline>),
    /// Consecutive list items, each inline content.
    List {
        /// Numbered (`1.` or `1)`) rather than bulleted.
        ordered: bool,
        /// The first item's number, for ordered lists (else 1).
        start: u32,
        /// The items.
        items: Vec<Vec<Inline>>,
    },
}

/// Inline content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inline {
    /// Text, as it is shown.
    Text(String),
    /// A code span's content.
    Code(String),
    /// `**x**` or `__x__`.
    Strong(Vec<Inline>),
    /// `*x*` or `_x_`.
    Emphasis(Vec<Inline>),
    /// `~~x~~`.
    Strike(Vec<Inline>),
    /// `[text](url)` or a bare URL; `href` satisfies [`safe_href`].
    Link {
        /// The URL.
        href: String,
        /// The link's content (never containing links).
        children: Vec<Inline>,
    },
    /// A mention: the name as given to [`parse`], without `@`.
    Mention(String),
    /// A line break.
    Break,
}

/// Parses message text into blocks (see the module documentation). `names`
/// are the display names that may be mentioned; a [`Inline::Mention`] holds
/// the name as given here.
pub(crate) fn parse(text: &str, names: &[&str]) -> Vec<Block> {
    let names: Vec<(&str, Vec<char>)> = names
        .iter()
        .filter(|n| !n.is_empty())
        .map(|&n| (n, n.chars().map(fold).collect()))
        .collect();
    let names = names.as_slice();
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let kind = classify(lines[i]);
        i += 1;
        match kind {
            Line::Blank => {}
            Line::Fence(ticks, lang) => {
                let mut body = Vec::new();
                let mut closed = false;
                while i < lines.len() {
                    let t = lines[i].trim();
                    i += 1;
                    if t.len() >= ticks && t.bytes().all(|b| b == b'`') {
                        closed = true;
                        break;
                    }
                    body.push(lines[i - 1]);
                }
                while !closed && body.last().is_some_and(|l| l.trim().is_empty()) {
                    body.pop();
                }
                let text = body.join("\n");
                blocks.push(Block::Code { lang, text });
            }
            Line::Quote(first) => {
                let mut src = first.to_string();
                while let Some(Line::Quote(more)) = lines.get(i).map(|l| classify(l)) {
                    src.push('\n');
                    src.push_str(more);
                    i += 1;
                }
                blocks.push(Block::Quote(inline(&src, names)));
            }
            Line::Item(ordered, start, first) => {
                let mut items = vec![inline(first, names)];
                while let Some(Line::Item(o, _, more)) = lines.get(i).map(|l| classify(l)) {
                    if o != ordered {
                        break;
                    }
                    items.push(inline(more, names));
                    i += 1;
                }
                blocks.push(Block::List {
                    ordered,
                    start,
                    items,
                });
            }
            Line::Text(first) => {
                let mut src = first.to_string();
                while let Some(Line::Text(more)) = lines.get(i).map(|l| classify(l)) {
                    src.push('\n');
                    src.push_str(more);
                    i += 1;
                }
                blocks.push(Block::Paragraph(inline(&src, names)));
            }
        }
    }
    blocks
}

/// The names mentioned in `text` (as [`parse`] finds them, so not inside
/// code), each once, as given in `names`, in order of first mention.
#[cfg_attr(not(feature = "ssr"), allow(dead_code))] // used by the server only
pub(crate) fn mentions<'a>(text: &str, names: &[&'a str]) -> Vec<&'a str> {
    fn walk<'a>(nodes: &[Inline], names: &[&'a str], out: &mut Vec<&'a str>) {
        for node in nodes {
            match node {
                Inline::Mention(m) => {
                    if let Some(&n) = names.iter().find(|n| **n == m.as_str()) {
                        if !out.contains(&n) {
                            out.push(n);
                        }
                    }
                }
                Inline::Strong(c) | Inline::Emphasis(c) | Inline::Strike(c) => walk(c, names, out),
                Inline::Link { children, .. } => walk(children, names, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for block in parse(text, names) {
        match block {
            Block::Paragraph(v) | Block::Quote(v) => walk(&v, names, &mut out),
            Block::List { items, .. } => items.iter().for_each(|v| walk(v, names, &mut out)),
            Block::Code { .. } => {}
        }
    }
    out
}

/// The text of blocks without markup (mentions as `@Name`), blocks and
/// list items separated by `\n`: for notifications and previews.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))] // used by the browser only
pub(crate) fn plain(blocks: &[Block]) -> String {
    fn walk(nodes: &[Inline], out: &mut String) {
        for node in nodes {
            match node {
                Inline::Text(s) | Inline::Code(s) => out.push_str(s),
                Inline::Strong(c) | Inline::Emphasis(c) | Inline::Strike(c) => walk(c, out),
                Inline::Link { children, .. } => walk(children, out),
                Inline::Mention(m) => {
                    out.push('@');
                    out.push_str(m);
                }
                Inline::Break => out.push('\n'),
            }
        }
    }
    let mut out = String::new();
    for (i, block) in blocks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match block {
            Block::Paragraph(v) | Block::Quote(v) => walk(v, &mut out),
            Block::Code { text, .. } => out.push_str(text),
            Block::List { items, .. } => {
                for (j, item) in items.iter().enumerate() {
                    if j > 0 {
                        out.push('\n');
                    }
                    walk(item, &mut out);
                }
            }
        }
    }
    out
}
