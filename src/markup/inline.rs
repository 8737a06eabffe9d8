//! The inline parser: code spans, emphasis, links, bare URLs, mentions and
//! escapes within a block's text, in one pass over its characters.

use super::links::{bad_in_url, link_tables, scheme_len};
use super::{safe_href, Inline};

/// Most spans open inside one another.
pub(super) const MAX_DEPTH: usize = 8;

/// Appends `node`, merging adjacent text.
pub(super) fn push(out: &mut Vec<Inline>, node: Inline) {
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

pub(super) fn inline(src: &str, names: &[(&str, Vec<char>)]) -> Vec<Inline> {
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
pub(super) fn fold(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
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
