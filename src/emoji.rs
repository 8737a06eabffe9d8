//! What a reaction may be: exactly one emoji (see [`is_single_emoji`]), and
//! the picker's common ones with their names for people.

/// The picker's common reactions: (emoji, English name used as the button's
/// accessible name).
pub(crate) const COMMON: &[(&str, &str)] = &[
    ("👍", "thumbs up"),
    ("❤️", "red heart"),
    ("😂", "face with tears of joy"),
    ("🎉", "party popper"),
    ("😮", "face with open mouth"),
    ("😢", "crying face"),
    ("👀", "eyes"),
    ("✅", "check mark button"),
    ("🙏", "folded hands"),
    ("🚀", "rocket"),
];

/// Longest emoji accepted, in chars (ZWJ families and tag flags are up to
/// about 10).
pub(crate) const MAX_EMOJI_CHARS: usize = 16;

const VS16: char = '\u{FE0F}';
const ZWJ: char = '\u{200D}';
const KEYCAP: char = '\u{20E3}';
const BLACK_FLAG: char = '\u{1F3F4}';
const CANCEL_TAG: char = '\u{E007F}';

/// The name of an emoji for people: its [`COMMON`] name, else the emoji
/// itself.
pub(crate) fn name(emoji: &str) -> &str {
    COMMON
        .iter()
        .find(|(e, _)| *e == emoji)
        .map_or(emoji, |(_, n)| n)
}

/// Whether `s` is exactly one emoji, with nothing around it, of at most
/// [`MAX_EMOJI_CHARS`] chars. One emoji is one of:
/// - a pictographic base (U+1F000–U+1FAFF except regional indicators,
///   U+2600–U+27BF, U+2300–U+23FF, U+2B00–U+2BFF, U+2190–U+21FF,
///   U+25A0–U+25FF, U+2934–U+2935, U+3030, U+303D, U+3297, U+3299, U+00A9,
///   U+00AE, U+203C, U+2049, U+2122, U+2139, U+24C2), optionally followed
///   by VS16 (U+FE0F) and/or a skin tone (U+1F3FB–U+1F3FF), then any number
///   of ZWJ (U+200D) and another such base with its options;
/// - a flag: two regional indicators (U+1F1E6–U+1F1FF);
/// - a keycap: `0`–`9`, `#` or `*`, optionally VS16, then U+20E3;
/// - a tag sequence: U+1F3F4, tag characters (U+E0020–U+E007E), then
///   U+E007F.
pub(crate) fn is_single_emoji(s: &str) -> bool {
    let c: Vec<char> = s.chars().take(MAX_EMOJI_CHARS + 1).collect();
    if c.len() > MAX_EMOJI_CHARS {
        return false;
    }
    match c.as_slice() {
        [] => false,
        [a, b] if regional(*a) && regional(*b) => true,
        [k, VS16, KEYCAP] | [k, KEYCAP] => k.is_ascii_digit() || matches!(k, '#' | '*'),
        [BLACK_FLAG, tags @ .., CANCEL_TAG] if !tags.is_empty() => {
            tags.iter().all(|t| ('\u{E0020}'..='\u{E007E}').contains(t))
        }
        _ => zwj_sequence(&c),
    }
}

/// Whether `c` is bases with their modifiers, joined by ZWJ.
fn zwj_sequence(c: &[char]) -> bool {
    let mut i = 0;
    loop {
        if !c.get(i).is_some_and(|&b| base(b)) {
            return false;
        }
        i += 1;
        if c.get(i) == Some(&VS16) {
            i += 1;
        }
        if c.get(i).is_some_and(|&t| skin_tone(t)) {
            i += 1;
        }
        match c.get(i) {
            None => return true,
            Some(&ZWJ) => i += 1,
            Some(_) => return false,
        }
    }
}

fn regional(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

fn skin_tone(c: char) -> bool {
    ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
}

/// Whether `c` is a pictographic code point an emoji may start with.
fn base(c: char) -> bool {
    matches!(c,
        '\u{1F000}'..='\u{1FAFF}'
        | '\u{2600}'..='\u{27BF}'
        | '\u{2300}'..='\u{23FF}'
        | '\u{2B00}'..='\u{2BFF}'
        | '\u{2190}'..='\u{21FF}'
        | '\u{25A0}'..='\u{25FF}'
        | '\u{2934}'..='\u{2935}'
        | '\u{3030}' | '\u{303D}' | '\u{3297}' | '\u{3299}'
        | '\u{00A9}' | '\u{00AE}' | '\u{203C}' | '\u{2049}'
        | '\u{2122}' | '\u{2139}' | '\u{24C2}'
    ) && !regional(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_reactions_are_single_emoji_with_names() {
        for (emoji, label) in COMMON {
            assert!(is_single_emoji(emoji), "{emoji}");
            assert_eq!(name(emoji), *label);
        }
    }

    #[test]
    fn other_emoji_are_named_by_themselves() {
        assert_eq!(name("🦀"), "🦀");
    }

    #[test]
    fn sequences_are_single_emoji() {
        for s in [
            "👍🏽",
            "👨‍👩‍👧‍👦",
            "🏳️‍🌈",
            "🧑🏿‍💻",
            "🇫🇷",
            "1️⃣",
            "#⃣",
            "🏴󠁧󠁢󠁥󠁮󠁧󠁿",
            "🏴",
            "©",
            "☺️",
        ] {
            assert!(is_single_emoji(s), "{s}");
        }
    }

    #[test]
    fn other_text_is_not_a_single_emoji() {
        for s in [
            "",
            " 👍",
            "👍 ",
            "👍👍",
            "a",
            "1",
            "<b>",
            "🇫",
            "🇫🇷🇫",
            "\u{200D}",
            "👍\u{200D}",
            "\u{200D}👍",
            "\u{FE0F}",
            "1\u{FE0F}",
            "a\u{20E3}",
            "🏴\u{E007F}",
            "🏴\u{E0067}",
            "👍\u{E0067}\u{E007F}",
        ] {
            assert!(!is_single_emoji(s), "{s:?}");
        }
    }

    #[test]
    fn long_inputs_are_refused() {
        assert!(!is_single_emoji(&"x".repeat(10_000)));
        assert!(!is_single_emoji(&"👍".repeat(5000)));
        let family = ["👨"; 9].join("\u{200D}");
        assert_eq!(family.chars().count(), 17);
        assert!(!is_single_emoji(&family));
        assert!(is_single_emoji(&["👨"; 8].join("\u{200D}")));
    }
}
