//! Links: which URLs may be a link's target, and where a URL in the text
//! ends.

/// Schemes a link may have.
const SCHEMES: [&str; 3] = ["http://", "https://", "mailto:"];

/// Whether `url` may be a link's target: it starts with `http://`,
/// `https://` or `mailto:` (in any case) followed by something, and has no
/// whitespace, control character, `"`, `<` or `>`.
pub(crate) fn safe_href(url: &str) -> bool {
    scheme_len(url).is_some_and(|n| url.len() > n) && !url.chars().any(bad_in_url)
}

/// The length of `url`'s scheme, if it is one links may have.
pub(super) fn scheme_len(url: &str) -> Option<usize> {
    SCHEMES
        .iter()
        .find(|s| {
            url.get(..s.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(s))
        })
        .map(|s| s.len())
}

/// Characters that end a bare URL and that no link may contain.
pub(super) fn bad_in_url(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>')
}

/// For each index of `c` (and its end): the next index holding a character
/// no link may contain (else `c.len()`), and the index of the `)` closing a
/// URL starting there, parentheses balanced (else `usize::MAX`).
pub(super) fn link_tables(c: &[char]) -> (Vec<usize>, Vec<usize>) {
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
