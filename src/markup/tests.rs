use super::inline::MAX_DEPTH;
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
                Inline::Strong(c) | Inline::Emphasis(c) | Inline::Strike(c) => walk(c, in_link, f),
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
