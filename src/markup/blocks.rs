//! Line classification: what kind of block each line of a message starts
//! or continues (see the module documentation of [`super`]).

/// What a line of a message is.
pub(super) enum Line<'a> {
    Blank,
    /// Backticks opening a code block, and the language.
    Fence(usize, Option<String>),
    Quote(&'a str),
    /// Ordered, number, text.
    Item(bool, u32, &'a str),
    Text(&'a str),
}

pub(super) fn classify(line: &str) -> Line<'_> {
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
