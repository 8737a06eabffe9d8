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

/// A block of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
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
pub enum Inline {
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

/// Most spans open inside one another.
const MAX_DEPTH: usize = 8;
/// Schemes a link may have.
const SCHEMES: [&str; 3] = ["http://", "https://", "mailto:"];

/// Parses message text into blocks (see the module documentation). `names`
/// are the display names that may be mentioned; a [`Inline::Mention`] holds
/// the name as given here.
pub fn parse(text: &str, names: &[&str]) -> Vec<Block> {
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
pub fn mentions<'a>(text: &str, names: &[&'a str]) -> Vec<&'a str> {
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

/// Whether `url` may be a link's target: it starts with `http://`,
/// `https://` or `mailto:` (in any case) followed by something, and has no
/// whitespace, control character, `"`, `<` or `>`.
pub fn safe_href(url: &str) -> bool {
    scheme_len(url).is_some_and(|n| url.len() > n) && !url.chars().any(bad_in_url)
}

/// The text of blocks without markup (mentions as `@Name`), blocks and
/// list items separated by `\n`: for notifications and previews.
pub fn plain(blocks: &[Block]) -> String {
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

/// What a line of a message is.
enum Line<'a> {
    Blank,
    /// Backticks opening a code block, and the language.
    Fence(usize, Option<String>),
    Quote(&'a str),
    /// Ordered, number, text.
    Item(bool, u32, &'a str),
    Text(&'a str),
}

fn classify(line: &str) -> Line<'_> {
    let t = line.trim_start();
    if t.trim_end().is_empty() {
        return Line::Blank;
    }
    let ticks = t.bytes().take_while(|&b| b == b'`').count();
    if ticks >= 3 && !t[ticks..].contains('`') {
        let word = t[ticks..].split_whitespace().next();
        let ok = |w: &&str| {
            w.chars()
                .all(|c| c.is_alphanumeric() || "+-#._".contains(c))
        };
        return Line::Fence(ticks, word.filter(ok).map(str::to_string));
    }
    if t.trim_end() == ">" {
        return Line::Quote("");
    }
    if let Some(rest) = t.strip_prefix("> ") {
        return Line::Quote(rest.trim_end());
    }
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = t.strip_prefix(bullet) {
            return Line::Item(false, 1, rest.trim());
        }
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=9).contains(&digits) {
        let rest = &t[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            let start = t[..digits].parse().unwrap_or(1);
            return Line::Item(true, start, rest.trim());
        }
    }
    Line::Text(line.trim_end())
}

/// The length of `url`'s scheme, if it is one links may have.
fn scheme_len(url: &str) -> Option<usize> {
    SCHEMES
        .iter()
        .find(|s| {
            url.get(..s.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(s))
        })
        .map(|s| s.len())
}

/// Characters that end a bare URL and that no link may contain.
fn bad_in_url(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>')
}

/// Appends `node`, merging adjacent text.
fn push(out: &mut Vec<Inline>, node: Inline) {
    match (out.last_mut(), node) {
        (_, Inline::Text(s)) if s.is_empty() => {}
        (Some(Inline::Text(last)), Inline::Text(s)) => last.push_str(&s),
        (_, node) => out.push(node),
    }
}

/// An open span: its delimiter (`[` for link brackets, `\0` for the root),
/// how many delimiter characters opened it, and its content so far.
struct Frame {
    ch: char,
    n: usize,
    /// For brackets: whether they may still become a link.
    active: bool,
    children: Vec<Inline>,
}

/// The inline parser's state: the text and the open spans, innermost last.
struct Inl<'a> {
    c: Vec<char>,
    /// Names that may be mentioned, and their case-folded characters.
    names: &'a [(&'a str, Vec<char>)],
    stack: Vec<Frame>,
    /// Lengths of backtick runs known to have no closing run.
    unclosed_ticks: Vec<usize>,
    /// For each index: the next index holding a character a link may not
    /// contain; and, for each index `s`, the index of the `)` that closes a
    /// URL starting at `s` (computed on the first link).
    tables: Option<(Vec<usize>, Vec<usize>)>,
}

fn inline(src: &str, names: &[(&str, Vec<char>)]) -> Vec<Inline> {
    let mut p = Inl {
        c: src.chars().collect(),
        names,
        stack: vec![Frame {
            ch: '\0',
            n: 0,
            active: false,
            children: Vec::new(),
        }],
        unclosed_ticks: Vec::new(),
        tables: None,
    };
    p.run();
    p.fold_to(0);
    p.stack.pop().map(|f| f.children).unwrap_or_default()
}

impl Inl<'_> {
    fn out(&mut self) -> &mut Vec<Inline> {
        let last = self.stack.len() - 1;
        &mut self.stack[last].children
    }

    fn text_char(&mut self, c: char) {
        match self.out().last_mut() {
            Some(Inline::Text(last)) => last.push(c),
            _ => self.out().push(Inline::Text(c.into())),
        }
    }

    fn text(&mut self, s: &str) {
        push(self.out(), Inline::Text(s.to_string()));
    }

    fn run(&mut self) {
        let n = self.c.len();
        let mut i = 0;
        while i < n {
            let ch = self.c[i];
            let boundary = i == 0 || !self.c[i - 1].is_alphanumeric();
            i = match ch {
                '\\' if self.c.get(i + 1).is_some_and(char::is_ascii_punctuation) => {
                    let e = self.c[i + 1];
                    self.text_char(e);
                    i + 2
                }
                '\n' => {
                    push(self.out(), Inline::Break);
                    i + 1
                }
                '`' => self.code(i),
                '*' | '_' | '~' => self.delim(i),
                '[' if self.stack.len() <= MAX_DEPTH => {
                    self.stack.push(Frame {
                        ch: '[',
                        n: 1,
                        active: true,
                        children: Vec::new(),
                    });
                    i + 1
                }
                ']' => self.close_bracket(i),
                '@' if boundary => self.mention(i),
                'h' | 'H' if boundary => self.autolink(i),
                _ => {
                    self.text_char(ch);
                    i + 1
                }
            };
        }
    }

    /// Text from `a` to `b`.
    fn slice(&self, a: usize, b: usize) -> String {
        self.c[a..b].iter().collect()
    }

    /// A run of backticks at `i`: a code span if a run of the same length
    /// follows, else text.
    fn code(&mut self, i: usize) -> usize {
        let n = self.c.len();
        let run = self.c[i..].iter().take_while(|&&c| c == '`').count();
        let start = i + run;
        if !self.unclosed_ticks.contains(&run) {
            let mut j = start;
            while j < n {
                if self.c[j] != '`' {
                    j += 1;
                    continue;
                }
                let len = self.c[j..].iter().take_while(|&&c| c == '`').count();
                if len == run {
                    let mut s: String = self.c[start..j]
                        .iter()
                        .map(|&c| if c == '\n' { ' ' } else { c })
                        .collect();
                    if s.len() >= 2
                        && s.starts_with(' ')
                        && s.ends_with(' ')
                        && !s.trim().is_empty()
                    {
                        s = s[1..s.len() - 1].to_string();
                    }
                    push(self.out(), Inline::Code(s));
                    return j + len;
                }
                j += len;
            }
            self.unclosed_ticks.push(run);
        }
        let s = self.slice(i, start);
        self.text(&s);
        start
    }

    /// A run of `*`, `_` or `~` at `i`: closes and/or opens spans, or is
    /// text.
    fn delim(&mut self, i: usize) -> usize {
        let d = self.c[i];
        let len = self.c[i..].iter().take_while(|&&c| c == d).count();
        let end = i + len;
        let before = i.checked_sub(1).and_then(|b| self.c.get(b)).copied();
        let after = self.c.get(end).copied();
        let mut open = after.is_some_and(|a| !a.is_whitespace());
        let mut close = before.is_some_and(|b| !b.is_whitespace());
        if d == '_' {
            open &= !before.is_some_and(char::is_alphanumeric);
            close &= !after.is_some_and(char::is_alphanumeric);
        }
        if (d == '~' && len != 2) || len > 3 {
            let s = self.slice(i, end);
            self.text(&s);
            return end;
        }
        let mut left = len;
        while close && left > 0 {
            // The innermost span of `d`, not beyond link brackets.
            let mut k = self.stack.len() - 1;
            while k > 0 && self.stack[k].ch != d && self.stack[k].ch != '[' {
                k -= 1;
            }
            if k == 0 || self.stack[k].ch != d {
                break;
            }
            self.fold_to(k);
            let Some(f) = self.stack.pop() else { break };
            let used = left.min(f.n);
            if used < f.n {
                // `**` closed by `*`: the first `*` is text.
                self.text(&d.to_string());
            }
            let node = match (d, used) {
                ('~', _) => Inline::Strike(f.children),
                (_, 1) => Inline::Emphasis(f.children),
                _ => Inline::Strong(f.children),
            };
            push(self.out(), node);
            left -= used;
        }
        while open && left > 0 && self.stack.len() <= MAX_DEPTH {
            let n = if left == 1 || d == '~' { left } else { 2 };
            self.stack.push(Frame {
                ch: d,
                n,
                active: false,
                children: Vec::new(),
            });
            left -= n;
        }
        let s = self.slice(end - left, end);
        self.text(&s);
        end
    }

    /// Closes the innermost open spans until `k` is the innermost, their
    /// openers becoming text.
    fn fold_to(&mut self, k: usize) {
        while self.stack.len() > k + 1 {
            let Some(f) = self.stack.pop() else { return };
            let opener: String = if f.ch == '[' {
                "[".into()
            } else {
                std::iter::repeat_n(f.ch, f.n).collect()
            };
            let out = self.out();
            push(out, Inline::Text(opener));
            for node in f.children {
                push(out, node);
            }
        }
    }

    /// A `]` at `i`: a link if it closes an active bracket and `(url)`
    /// follows with a safe URL; else text.
    fn close_bracket(&mut self, i: usize) -> usize {
        let Some(k) = self.stack.iter().rposition(|f| f.ch == '[') else {
            self.text("]");
            return i + 1;
        };
        self.fold_to(k);
        if self.stack[k].active && self.c.get(i + 1) == Some(&'(') {
            let s = i + 2;
            let (bad, close) = self.tables.get_or_insert_with(|| link_tables(&self.c));
            let (bad, j) = (bad[s], close[s]);
            let head: String = match j {
                usize::MAX => String::new(),
                _ => self.c[s..j.min(s + 8)].iter().collect(),
            };
            if bad >= j && scheme_len(&head).is_some() {
                let href = self.slice(s, j);
                if safe_href(&href) {
                    if let Some(f) = self.stack.pop() {
                        let children = unlink(f.children);
                        push(self.out(), Inline::Link { href, children });
                    }
                    for f in &mut self.stack {
                        f.active = false;
                    }
                    return j + 1;
                }
            }
        }
        self.fold_to(k - 1);
        self.text("]");
        i + 1
    }

    /// An `@` at `i` (after a non-alphanumeric): a mention if a name
    /// follows.
    fn mention(&mut self, i: usize) -> usize {
        let rest = &self.c[i + 1..];
        let first = rest.first().map(|&c| fold(c));
        let mut best: Option<(&str, usize)> = None;
        for (name, folded) in self.names {
            let k = folded.len();
            if folded.first() != first.as_ref()
                || k > rest.len()
                || best.is_some_and(|(_, l)| l >= k)
                || rest.get(k).is_some_and(|c| c.is_alphanumeric())
            {
                continue;
            }
            if folded.iter().zip(rest).all(|(&a, &b)| a == fold(b)) {
                best = Some((name, k));
            }
        }
        let Some((name, k)) = best else {
            self.text_char('@');
            return i + 1;
        };
        push(self.out(), Inline::Mention(name.to_string()));
        i + 1 + k
    }

    /// An `h` at `i` (after a non-alphanumeric): a link if a bare URL
    /// starts here.
    fn autolink(&mut self, i: usize) -> usize {
        let head: String = self.c[i..self.c.len().min(i + 8)].iter().collect();
        // `head` starts with `h`: the scheme is not `mailto:`.
        let Some(scheme) = scheme_len(&head) else {
            self.text(&head[..1]);
            return i + 1;
        };
        let in_brackets = self.stack.iter().any(|f| f.ch == '[');
        let mut e = i + scheme;
        while e < self.c.len() && !bad_in_url(self.c[e]) && !(in_brackets && self.c[e] == ']') {
            e += 1;
        }
        let url = &self.c[i..e];
        let opens = url.iter().filter(|&&c| c == '(').count();
        let mut closes = url.iter().filter(|&&c| c == ')').count();
        while e > i + scheme {
            let last = self.c[e - 1];
            if last == ')' && closes > opens {
                closes -= 1;
            } else if !".,;:!?'\"*_~".contains(last) {
                break;
            }
            e -= 1;
        }
        if e == i + scheme {
            self.text(&head[..1]);
            return i + 1;
        }
        let href = self.slice(i, e);
        let children = vec![Inline::Text(href.clone())];
        push(self.out(), Inline::Link { href, children });
        e
    }
}

/// A character as names are compared: lower case (its first character).
fn fold(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

/// For each index of `c` (and its end): the next index holding a character
/// no link may contain (else `c.len()`), and the index of the `)` closing a
/// URL starting there, parentheses balanced (else `usize::MAX`).
fn link_tables(c: &[char]) -> (Vec<usize>, Vec<usize>) {
    let n = c.len();
    let mut bad = vec![n; n + 1];
    // depth[i]: '(' minus ')' in c[..i], offset by n + 1 to stay positive.
    let mut depth = vec![n + 1; n + 1];
    for i in 0..n {
        depth[i + 1] = match c[i] {
            '(' => depth[i] + 1,
            ')' => depth[i] - 1,
            _ => depth[i],
        };
    }
    let mut seen = vec![usize::MAX; 2 * n + 3];
    let mut close = vec![usize::MAX; n + 1];
    for i in (0..=n).rev() {
        if i < n {
            bad[i] = if bad_in_url(c[i]) { i } else { bad[i + 1] };
        }
        // The first later index where the depth drops below this one's is
        // just after the closing `)`.
        close[i] = match seen[depth[i] - 1] {
            usize::MAX => usize::MAX,
            after => after - 1,
        };
        seen[depth[i]] = i;
    }
    (bad, close)
}

/// Link content: any link inside is replaced by its content.
fn unlink(nodes: Vec<Inline>) -> Vec<Inline> {
    let mut out = Vec::new();
    for node in nodes {
        match node {
            Inline::Link { children, .. } => {
                for c in unlink(children) {
                    push(&mut out, c);
                }
            }
            Inline::Strong(c) => out.push(Inline::Strong(unlink(c))),
            Inline::Emphasis(c) => out.push(Inline::Emphasis(unlink(c))),
            Inline::Strike(c) => out.push(Inline::Strike(unlink(c))),
            other => push(&mut out, other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Inline {
        Inline::Text(s.into())
    }

    fn link(href: &str, children: Vec<Inline>) -> Inline {
        Inline::Link {
            href: href.into(),
            children,
        }
    }

    /// The inline content of a one-paragraph text.
    fn para(text: &str) -> Vec<Inline> {
        para_with(text, &[])
    }

    fn para_with(text: &str, names: &[&str]) -> Vec<Inline> {
        match parse(text, names).as_slice() {
            [Block::Paragraph(v)] => v.clone(),
            other => panic!("not one paragraph: {other:?}"),
        }
    }

    #[test]
    fn paragraph_keeps_single_newlines_as_breaks() {
        assert_eq!(para("a\nb"), vec![t("a"), Inline::Break, t("b")]);
    }

    #[test]
    fn blank_lines_separate_paragraphs_and_outer_ones_are_ignored() {
        let blocks = parse("\n\n a\n\n  \nb  \r\n\n", &[]);
        assert_eq!(
            blocks,
            vec![
                Block::Paragraph(vec![t(" a")]),
                Block::Paragraph(vec![t("b")])
            ]
        );
        assert!(parse("", &[]).is_empty());
        assert!(parse(" \n\t\n", &[]).is_empty());
    }

    #[test]
    fn crlf_lines_are_lines() {
        assert_eq!(para("a\r\nb"), vec![t("a"), Inline::Break, t("b")]);
    }

    #[test]
    fn fenced_code_keeps_language_and_verbatim_text() {
        let blocks = parse("```rust\nlet *a* = `b`;\n\n  <i>\n```\nafter", &[]);
        assert_eq!(
            blocks,
            vec![
                Block::Code {
                    lang: Some("rust".into()),
                    text: "let *a* = `b`;\n\n  <i>".into()
                },
                Block::Paragraph(vec![t("after")])
            ]
        );
    }

    #[test]
    fn fence_without_language_or_with_odd_language() {
        let code = |lang: Option<&str>, text: &str| Block::Code {
            lang: lang.map(str::to_string),
            text: text.into(),
        };
        assert_eq!(parse("```\nx\n```", &[]), vec![code(None, "x")]);
        assert_eq!(
            parse("``` c++ extra\nx\n```", &[]),
            vec![code(Some("c++"), "x")]
        );
        assert_eq!(parse("```\"><b>\nx\n```", &[]), vec![code(None, "x")]);
    }

    #[test]
    fn unclosed_fence_runs_to_end() {
        let code = Block::Code {
            lang: None,
            text: "a\n\n> b\n- c".into(),
        };
        assert_eq!(parse("x\n```\na\n\n> b\n- c\n\n", &[])[1], code);
    }

    #[test]
    fn fence_closes_only_with_as_many_backticks() {
        let blocks = parse("````\n```\n````\nz", &[]);
        assert_eq!(
            blocks[0],
            Block::Code {
                lang: None,
                text: "```".into()
            }
        );
        assert_eq!(blocks[1], Block::Paragraph(vec![t("z")]));
    }

    #[test]
    fn backticks_with_backticks_after_on_one_line_are_a_code_span() {
        assert_eq!(para("```a `b```"), vec![Inline::Code("a `b".into())]);
    }

    #[test]
    fn quote_lines_join_with_breaks() {
        let blocks = parse("> a *b*\n>\n  > c\nd", &[]);
        assert_eq!(
            blocks,
            vec![
                Block::Quote(vec![
                    t("a "),
                    Inline::Emphasis(vec![t("b")]),
                    Inline::Break,
                    Inline::Break,
                    t("c")
                ]),
                Block::Paragraph(vec![t("d")])
            ]
        );
    }

    #[test]
    fn quote_marker_needs_a_space() {
        assert_eq!(para(">x\n>_<"), vec![t(">x"), Inline::Break, t(">_<")]);
    }

    #[test]
    fn unordered_list_takes_all_bullets() {
        let blocks = parse("- a\n* **b**\n+ c\n  - d", &[]);
        assert_eq!(
            blocks,
            vec![Block::List {
                ordered: false,
                start: 1,
                items: vec![
                    vec![t("a")],
                    vec![Inline::Strong(vec![t("b")])],
                    vec![t("c")],
                    vec![t("d")]
                ]
            }]
        );
    }

    #[test]
    fn ordered_list_starts_at_its_first_number() {
        let blocks = parse("3. a\n4) b\n9. c", &[]);
        assert_eq!(
            blocks,
            vec![Block::List {
                ordered: true,
                start: 3,
                items: vec![vec![t("a")], vec![t("b")], vec![t("c")]]
            }]
        );
        assert!(matches!(
            parse("1234567890. x", &[])[0],
            Block::Paragraph(_)
        ));
    }

    #[test]
    fn a_change_of_kind_separates_blocks() {
        let blocks = parse("p\n- a\n1. b\n> q\nr\n```\nc", &[]);
        let kinds: Vec<&str> = blocks
            .iter()
            .map(|b| match b {
                Block::Paragraph(_) => "p",
                Block::List { ordered: false, .. } => "ul",
                Block::List { ordered: true, .. } => "ol",
                Block::Quote(_) => "q",
                Block::Code { .. } => "code",
            })
            .collect();
        assert_eq!(kinds, ["p", "ul", "ol", "q", "p", "code"]);
    }

    #[test]
    fn list_markers_need_a_space() {
        assert_eq!(
            para("-5 degrees\n*a*"),
            vec![
                t("-5 degrees"),
                Inline::Break,
                Inline::Emphasis(vec![t("a")])
            ]
        );
    }

    #[test]
    fn escaped_markers_make_paragraphs() {
        assert_eq!(
            para("\\- a\n\\> b\n1\\. c"),
            vec![t("- a"), Inline::Break, t("> b"), Inline::Break, t("1. c")]
        );
    }

    #[test]
    fn headings_and_rules_are_text() {
        assert_eq!(para("# x\n---"), vec![t("# x"), Inline::Break, t("---")]);
    }

    #[test]
    fn raw_html_stays_text() {
        let s = "<b>hi</b> <img src=x onerror=alert(1)> <script>alert(1)</script>";
        assert_eq!(para(s), vec![t(s)]);
    }

    #[test]
    fn code_span_is_verbatim() {
        assert_eq!(
            para("a `*b* [c](http://d) @Ada` e"),
            vec![
                t("a "),
                Inline::Code("*b* [c](http://d) @Ada".into()),
                t(" e")
            ]
        );
    }

    #[test]
    fn code_span_closes_only_with_as_many_backticks() {
        assert_eq!(para("``a`b``"), vec![Inline::Code("a`b".into())]);
        assert_eq!(para("`a``b`"), vec![Inline::Code("a``b".into())]);
    }

    #[test]
    fn unmatched_backticks_are_text() {
        assert_eq!(para("a ``b` c"), vec![t("a ``b` c")]);
        assert_eq!(para("\\`a`"), vec![t("`a`")]);
    }

    #[test]
    fn code_span_trims_one_space_and_joins_lines() {
        assert_eq!(para("`` `a` ``"), vec![Inline::Code("`a`".into())]);
        assert_eq!(para("`a\nb`"), vec![Inline::Code("a b".into())]);
        assert_eq!(para("`  `"), vec![Inline::Code("  ".into())]);
    }

    #[test]
    fn strong_emphasis_and_strike() {
        assert_eq!(
            para("**a** __b__ *c* _d_ ~~e~~"),
            vec![
                Inline::Strong(vec![t("a")]),
                t(" "),
                Inline::Strong(vec![t("b")]),
                t(" "),
                Inline::Emphasis(vec![t("c")]),
                t(" "),
                Inline::Emphasis(vec![t("d")]),
                t(" "),
                Inline::Strike(vec![t("e")])
            ]
        );
    }

    #[test]
    fn spans_nest() {
        assert_eq!(
            para("**bold *and em***"),
            vec![Inline::Strong(vec![
                t("bold "),
                Inline::Emphasis(vec![t("and em")])
            ])]
        );
        assert_eq!(
            para("*em **strong***"),
            vec![Inline::Emphasis(vec![
                t("em "),
                Inline::Strong(vec![t("strong")])
            ])]
        );
        assert_eq!(
            para("***both***"),
            vec![Inline::Strong(vec![Inline::Emphasis(vec![t("both")])])]
        );
        assert_eq!(
            para("~~*a* b~~"),
            vec![Inline::Strike(vec![
                Inline::Emphasis(vec![t("a")]),
                t(" b")
            ])]
        );
    }

    #[test]
    fn delimiters_need_non_space_inside() {
        assert_eq!(para("2 * 3 * 4"), vec![t("2 * 3 * 4")]);
        assert_eq!(para("a ** b ** c"), vec![t("a ** b ** c")]);
        assert_eq!(para("*a *"), vec![t("*a *")]);
    }

    #[test]
    fn snake_case_is_not_emphasis() {
        assert_eq!(
            para("snake_case_names and __init__"),
            vec![t("snake_case_names and "), Inline::Strong(vec![t("init")])]
        );
        assert_eq!(para("a_b_"), vec![t("a_b_")]);
        assert_eq!(
            para("2*3*4"),
            vec![t("2"), Inline::Emphasis(vec![t("3")]), t("4")]
        );
    }

    #[test]
    fn unclosed_delimiters_are_text() {
        assert_eq!(para("**a *b ~~c"), vec![t("**a *b ~~c")]);
        assert_eq!(para("**a*"), vec![t("*"), Inline::Emphasis(vec![t("a")])]);
        assert_eq!(para("*a**"), vec![Inline::Emphasis(vec![t("a")]), t("*")]);
    }

    #[test]
    fn a_closer_makes_inner_unclosed_openers_text() {
        assert_eq!(para("*a _b*"), vec![Inline::Emphasis(vec![t("a _b")])]);
    }

    #[test]
    fn long_runs_and_single_tildes_are_text() {
        assert_eq!(para("****a****"), vec![t("****a****")]);
        assert_eq!(para("~a~ ~~~b~~~"), vec![t("~a~ ~~~b~~~")]);
    }

    #[test]
    fn backslash_escapes_make_text() {
        assert_eq!(
            para(r"\*a\* \_ \` \[ \\ \~ \> \- \# \@Ada \] \( x\y \"),
            vec![t(r"*a* _ ` [ \ ~ > - # @Ada ] ( x\y \")]
        );
        assert_eq!(para_with(r"\@Ada", &["Ada"]), vec![t("@Ada")]);
    }

    #[test]
    fn adjacent_text_is_merged() {
        assert_eq!(para(r"a\*b<c>[d"), vec![t("a*b<c>[d")]);
    }

    #[test]
    fn multibyte_characters_next_to_delimiters() {
        assert_eq!(
            para("é*ü*👍**ß**ß_é_"),
            vec![
                t("é"),
                Inline::Emphasis(vec![t("ü")]),
                t("👍"),
                Inline::Strong(vec![t("ß")]),
                t("ß_é_")
            ]
        );
        assert_eq!(para("ü_é_ 👍"), vec![t("ü_é_ 👍")]);
        assert_eq!(para("👍_é_"), vec![t("👍"), Inline::Emphasis(vec![t("é")])]);
        assert_eq!(
            para("(_é_)"),
            vec![t("("), Inline::Emphasis(vec![t("é")]), t(")")]
        );
    }

    #[test]
    fn markdown_links_with_inline_text() {
        assert_eq!(
            para("see [the **docs**](https://x.org/a?b=c#d)!"),
            vec![
                t("see "),
                link(
                    "https://x.org/a?b=c#d",
                    vec![t("the "), Inline::Strong(vec![t("docs")])]
                ),
                t("!")
            ]
        );
        assert_eq!(
            para("[mail](MAILTO:a@b.c)"),
            vec![link("MAILTO:a@b.c", vec![t("mail")])]
        );
    }

    #[test]
    fn link_urls_may_hold_balanced_parentheses() {
        let href = "https://en.wikipedia.org/wiki/Rust_(language)";
        assert_eq!(
            para(&format!("([w]({href}))")),
            vec![t("("), link(href, vec![t("w")]), t(")")]
        );
    }

    #[test]
    fn javascript_links_stay_text() {
        for s in [
            "[x](javascript:alert(1))",
            "[x](JavaScript:alert(1))",
            "[x](data:text/html,<b>)",
            "[x](vbscript:msgbox)",
            "[x](/relative)",
            "[x](//host/a)",
            "[x](http://)",
            "[x]()",
            "[x] (mailto:a@b.c)",
        ] {
            assert_eq!(para(s), vec![t(s)], "{s}");
        }
    }

    #[test]
    fn bad_link_urls_leave_bare_urls_inside() {
        let l = |u: &str| link(u, vec![t(u)]);
        assert_eq!(
            para("[x](http://a b)"),
            vec![t("[x]("), l("http://a"), t(" b)")]
        );
        assert_eq!(
            para("[x](http://a\"on)"),
            vec![t("[x]("), l("http://a"), t("\"on)")]
        );
    }

    #[test]
    fn links_do_not_nest() {
        assert_eq!(
            para("[a [b](http://x) c](http://y)"),
            vec![
                t("[a "),
                link("http://x", vec![t("b")]),
                t(" c]("),
                link("http://y", vec![t("http://y")]),
                t(")")
            ]
        );
        assert_eq!(
            para("[see http://a.org](http://b.org)"),
            vec![link("http://b.org", vec![t("see http://a.org")])]
        );
    }

    #[test]
    fn spans_do_not_cross_link_brackets() {
        assert_eq!(
            para("*a [b* c*](http://x)"),
            vec![t("*a "), link("http://x", vec![t("b* c*")]),]
        );
        assert_eq!(
            para("*note [1]*"),
            vec![Inline::Emphasis(vec![t("note [1]")])]
        );
    }

    #[test]
    fn image_syntax_is_bang_and_link() {
        assert_eq!(
            para("![x](http://y)"),
            vec![t("!"), link("http://y", vec![t("x")])]
        );
    }

    #[test]
    fn bare_urls_are_links() {
        assert_eq!(
            para("go https://a.org/x_y_z?q=1 now"),
            vec![
                t("go "),
                link(
                    "https://a.org/x_y_z?q=1",
                    vec![t("https://a.org/x_y_z?q=1")]
                ),
                t(" now")
            ]
        );
        assert_eq!(
            para("HTTP://A.ORG"),
            vec![link("HTTP://A.ORG", vec![t("HTTP://A.ORG")])]
        );
    }

    #[test]
    fn bare_urls_leave_trailing_punctuation() {
        let l = |u: &str| link(u, vec![t(u)]);
        assert_eq!(
            para("(see http://a.org/b)."),
            vec![t("(see "), l("http://a.org/b"), t(").")]
        );
        assert_eq!(
            para("http://a.org/wiki/X_(y)!"),
            vec![l("http://a.org/wiki/X_(y)"), t("!")]
        );
        assert_eq!(
            para("**http://a.org**,"),
            vec![Inline::Strong(vec![l("http://a.org")]), t(",")]
        );
        assert_eq!(
            para("<http://a.org>\"'"),
            vec![t("<"), l("http://a.org"), t(">\"'")]
        );
    }

    #[test]
    fn bare_urls_need_a_boundary_and_a_host() {
        for s in [
            "xhttp://a.org",
            "http://",
            "http://.",
            "www.a.org",
            "ftp://a.org",
            "mailto:a@b.c",
        ] {
            assert_eq!(para(s), vec![t(s)], "{s}");
        }
    }

    #[test]
    fn mentions_become_nodes_with_the_given_name() {
        assert_eq!(
            para_with("hi @ada, (@BOB)", &["Ada", "Bob"]),
            vec![
                t("hi "),
                Inline::Mention("Ada".into()),
                t(", ("),
                Inline::Mention("Bob".into()),
                t(")")
            ]
        );
    }

    #[test]
    fn mentions_match_the_longest_name() {
        let names = ["Ada", "Ada Lovelace"];
        assert_eq!(
            para_with("@Ada Lovelace!", &names),
            vec![Inline::Mention("Ada Lovelace".into()), t("!")]
        );
        assert_eq!(
            para_with("@ada lovelaces", &names),
            vec![Inline::Mention("Ada".into()), t(" lovelaces")]
        );
    }

    #[test]
    fn mentions_need_boundaries() {
        let names = ["Ada"];
        assert_eq!(
            para_with("a@Ada @Adam @Ad", &names),
            vec![t("a@Ada @Adam @Ad")]
        );
        assert_eq!(
            para_with("*@Ada*", &names),
            vec![Inline::Emphasis(vec![Inline::Mention("Ada".into())])]
        );
        assert_eq!(
            para_with("@Ada_x", &names),
            vec![Inline::Mention("Ada".into()), t("_x")]
        );
        assert_eq!(para_with("@", &["", "Ada"]), vec![t("@")]);
    }

    #[test]
    fn mentions_lists_names_once_not_in_code() {
        let names = ["Ada", "Bob", "Cy", "Dee"];
        let text = "@bob @Ada `@Cy`\n```\n@Dee\n```\n- @ADA [@Cy](http://x)";
        assert_eq!(mentions(text, &names), vec!["Bob", "Ada", "Cy"]);
        assert!(mentions("@Ada", &[]).is_empty());
    }

    #[test]
    fn safe_href_allows_only_web_and_mail() {
        for ok in [
            "http://a",
            "HTTPS://a.org/x?y#z",
            "mailto:a@b.c",
            "https://é.fr/👍",
        ] {
            assert!(safe_href(ok), "{ok}");
        }
        for bad in [
            "",
            "javascript:alert(1)",
            " http://a",
            "http://a b",
            "http://a\"",
            "http://<a>",
            "http://a\u{0}",
            "data:text/html,x",
            "vbscript:x",
            "/a",
            "//host",
            "a.org",
            "http://",
            "mailto:",
            "http:/a",
            "ht\u{e9}p://a",
        ] {
            assert!(!safe_href(bad), "{bad}");
        }
    }

    #[test]
    fn plain_drops_markup() {
        let blocks = parse(
            "**Hi** @ada, see [docs](http://x) `c`\n\n> q\n- a\n- b\n```\ncode\n```",
            &["Ada"],
        );
        assert_eq!(plain(&blocks), "Hi @Ada, see docs c\nq\na\nb\ncode");
    }

    /// How deeply spans nest in `nodes`.
    fn depth(nodes: &[Inline]) -> usize {
        nodes
            .iter()
            .map(|n| match n {
                Inline::Strong(c) | Inline::Emphasis(c) | Inline::Strike(c) => 1 + depth(c),
                Inline::Link { children, .. } => 1 + depth(children),
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn nesting_is_capped() {
        let s = "*_~~[".repeat(10) + "x" + &"](http://a)~~_*".repeat(10);
        let blocks = parse(&s, &[]);
        let Block::Paragraph(v) = &blocks[0] else {
            panic!("{blocks:?}")
        };
        assert!(depth(v) <= MAX_DEPTH);
        let s = "*a ".repeat(20) + &"b*".repeat(20);
        let v = para(&s);
        assert!((1..=MAX_DEPTH).contains(&depth(&v)), "{v:?}");
    }

    /// Every inline list in `blocks`.
    fn each_inline(blocks: &[Block], f: &mut impl FnMut(&[Inline], bool)) {
        fn walk(v: &[Inline], in_link: bool, f: &mut impl FnMut(&[Inline], bool)) {
            f(v, in_link);
            for n in v {
                match n {
                    Inline::Strong(c) | Inline::Emphasis(c) | Inline::Strike(c) => {
                        walk(c, in_link, f)
                    }
                    Inline::Link { children, .. } => walk(children, true, f),
                    _ => {}
                }
            }
        }
        for b in blocks {
            match b {
                Block::Paragraph(v) | Block::Quote(v) => walk(v, false, f),
                Block::List { items, .. } => items.iter().for_each(|v| walk(v, false, f)),
                Block::Code { .. } => {}
            }
        }
    }

    fn is_subsequence(part: &str, of: &str) -> bool {
        let mut it = of.chars();
        part.chars().all(|c| it.any(|o| o == c))
    }

    /// Checks what must hold for any input.
    fn check(input: &str, names: &[&str]) {
        let blocks = parse(input, names);
        each_inline(&blocks, &mut |v, in_link| {
            for (k, n) in v.iter().enumerate() {
                match n {
                    Inline::Text(s) => {
                        assert!(!s.is_empty(), "{input:?}");
                        assert!(is_subsequence(s, input), "{s:?} from {input:?}");
                        assert!(!matches!(v.get(k + 1), Some(Inline::Text(_))), "{input:?}");
                    }
                    Inline::Link { href, .. } => {
                        assert!(!in_link, "nested link in {input:?}");
                        assert!(safe_href(href), "{href:?} from {input:?}");
                        assert!(!href.to_lowercase().starts_with("javascript"));
                    }
                    Inline::Mention(m) => assert!(names.contains(&m.as_str())),
                    _ => {}
                }
            }
            assert!(depth(v) <= MAX_DEPTH, "{input:?}");
        });
        let text = plain(&blocks);
        assert!(text.chars().count() <= input.chars().count(), "{input:?}");
        for m in mentions(input, names) {
            assert!(names.contains(&m));
        }
    }

    #[test]
    fn random_inputs_give_safe_trees() {
        const PIECES: &[&str] = &[
            "*",
            "*",
            "*",
            "_",
            "_",
            "~",
            "~",
            "`",
            "`",
            "[",
            "]",
            "(",
            ")",
            "<",
            ">",
            "@",
            "\\",
            "\n",
            "\n",
            " ",
            " ",
            " ",
            "a",
            "b",
            "Z",
            "1. ",
            "- ",
            "> ",
            "```",
            "http://",
            "https://",
            "javascript:",
            "mailto:",
            "é",
            "👍",
            "Ada",
            "ada Lovelace",
            "](",
            "\r",
        ];
        let names = ["Ada", "Ada Lovelace", "Bob"];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let target = (next() % 301) as usize;
            let mut s = String::new();
            while s.chars().count() < target {
                s.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            check(&s, &names);
        }
    }

    #[test]
    fn pathological_inputs_finish() {
        let inputs = [
            "*".repeat(4000),
            "_".repeat(4000),
            "~".repeat(4000),
            "`".repeat(4000),
            "[".repeat(4000),
            "]".repeat(4000),
            "[x](".repeat(1000),
            "](".repeat(2000),
            "(".repeat(2000) + &")".repeat(2000),
            "**a".repeat(1333),
            "*a ".repeat(1333),
            "_a ".repeat(1333),
            "~~a".repeat(1333),
            "`a".repeat(2000),
            (1..90).map(|n| "`".repeat(n) + "a").collect::<String>(),
            "[a](http://x".repeat(333),
            "[a](http://(".repeat(333),
            "http://(".repeat(500),
            "http://.".repeat(500),
            "@".repeat(4000),
            "@Ada ".repeat(800),
            "\\".repeat(4000),
            "> *\n".repeat(1000),
            "- [\n".repeat(1000),
            "```\n".repeat(1000),
            "*_~~[`".repeat(666),
        ];
        for input in &inputs {
            let blocks = parse(input, &["Ada", "Ada Lovelace"]);
            assert!(plain(&blocks).len() <= input.len());
            check(input, &["Ada"]);
        }
    }
}
