//! Shared types and the validation both sides run.
//!
//! Everything here compiles for the server and for the browser: the UI uses
//! the same checks for instant feedback that the server enforces. A value of
//! [`ChannelName`], [`DisplayName`] or [`MessageText`] can only be built
//! through its `parse`, so holding one proves it is valid.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest display name, in characters, after trimming.
pub const MAX_DISPLAY_NAME_CHARS: usize = 32;
/// Longest channel name, in characters.
pub const MAX_CHANNEL_NAME_CHARS: usize = 80;
/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// How many messages a channel keeps: older ones are dropped.
pub const HISTORY_LIMIT: usize = 100;
/// Default cap on the number of channels a server holds.
pub const DEFAULT_MAX_CHANNELS: usize = 1000;
/// Largest WebSocket text frame the server accepts, in bytes: a message of
/// [`MAX_MESSAGE_CHARS`] characters of four UTF-8 bytes each, every one
/// escaped at worst to two bytes by JSON, plus the frame's other fields.
pub const MAX_FRAME_BYTES: usize = MAX_MESSAGE_CHARS * 4 * 2 + 1024;

/// A message's number within its channel: assigned by the server, starting
/// at 1, strictly increasing. It orders messages and identifies them.
pub type Seq = u64;

/// The largest number an event or message can have (the store keeps them
/// as signed 64-bit integers). Numbers from clients are checked against it.
pub const MAX_SEQ: Seq = i64::MAX as Seq;

/// A sequence number a client sent, if it is one there can be.
pub fn check_seq(seq: Seq) -> Result<Seq, Refusal> {
    if seq > MAX_SEQ {
        return Err(Refusal::new(
            ErrorCode::BadRequest,
            format!("{seq} is not a message number: they go up to {MAX_SEQ}."),
        ));
    }
    Ok(seq)
}

/// An identity's stable number: assigned by the server when a name is
/// first claimed, never reused. Messages record it; every write is
/// authorized by it, never by the name.
pub type IdentityId = u64;

/// How many older messages one "Load older messages" page holds.
pub const OLDER_PAGE: usize = 50;

/// What went wrong, as a stable machine-readable code. Each has an HTTP
/// status for server functions and a human sentence in [`Refusal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The display name is empty, too long or has control characters.
    InvalidDisplayName,
    /// Someone else holds this display name.
    NameTaken,
    /// The channel name breaks the naming rules.
    InvalidChannelName,
    /// A channel of this name exists already.
    ChannelTaken,
    /// The server holds as many channels as it may.
    TooManyChannels,
    /// No channel of this name.
    UnknownChannel,
    /// The message is empty or has control characters.
    InvalidMessage,
    /// The message is longer than [`MAX_MESSAGE_CHARS`].
    MessageTooLong,
    /// No message with this sequence number in the channel (any more).
    UnknownMessage,
    /// The action needs a claimed display name, and the request has none.
    NotSignedIn,
    /// Only the author may delete a message.
    NotAuthor,
    /// A WebSocket frame that is not valid JSON, or not a known frame.
    BadFrame,
    /// A WebSocket frame larger than [`MAX_FRAME_BYTES`].
    FrameTooLarge,
    /// A malformed request to a server function.
    BadRequest,
    /// A request body over the server's limit.
    RequestTooLarge,
    /// Too many sends or channel creations in a short time.
    RateLimited,
    /// Too many open connections from one address.
    TooManyConnections,
    /// Too many names claimed from one address in a short time.
    TooManyClaims,
    /// The server holds as many identities as it may.
    TooManyIdentities,
    /// A state-changing request from a page of another site.
    CrossSite,
    /// Only the author may edit a message.
    NotEditor,
    /// A reply's parent is not a message that can hold a thread (it is a
    /// reply itself, or deleted).
    InvalidThread,
    /// A message with replies cannot be deleted: the thread would be lost.
    HasReplies,
    /// Not exactly one emoji.
    InvalidEmoji,
    /// The message has as many different reactions as it may.
    TooManyReactions,
    UnknownPerson,
    /// A fault of the server or of the network; not the user's doing.
    Internal,
}

impl ErrorCode {
    /// The HTTP status a server function answers with for this refusal.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidDisplayName
            | ErrorCode::InvalidChannelName
            | ErrorCode::InvalidMessage
            | ErrorCode::InvalidThread
            | ErrorCode::InvalidEmoji
            | ErrorCode::BadFrame
            | ErrorCode::BadRequest => 400,
            ErrorCode::NotSignedIn => 401,
            ErrorCode::NotAuthor | ErrorCode::NotEditor | ErrorCode::CrossSite => 403,
            ErrorCode::UnknownChannel | ErrorCode::UnknownMessage | ErrorCode::UnknownPerson => 404,
            ErrorCode::NameTaken
            | ErrorCode::ChannelTaken
            | ErrorCode::HasReplies
            | ErrorCode::TooManyReactions => 409,
            ErrorCode::MessageTooLong | ErrorCode::FrameTooLarge | ErrorCode::RequestTooLarge => {
                413
            }
            ErrorCode::TooManyChannels
            | ErrorCode::RateLimited
            | ErrorCode::TooManyConnections
            | ErrorCode::TooManyClaims
            | ErrorCode::TooManyIdentities => 429,
            ErrorCode::Internal => 500,
        }
    }
}

/// A refused request: a code for programs and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
    /// For a limit: how long to wait before the same request can succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// The same refusal, saying when to try again.
    pub fn retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after_ms = Some(wait.as_millis().try_into().unwrap_or(u64::MAX));
        self
    }
}

/// Is `c` a control character we refuse? Newline is the one allowed.
fn is_forbidden_control(c: char) -> bool {
    c.is_control() && c != '\n'
}

/// A display name: 1 to [`MAX_DISPLAY_NAME_CHARS`] characters after
/// trimming, no control characters. Names are unique case-insensitively,
/// by [`DisplayName::key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, Refusal> {
        let name = raw.trim();
        let invalid = |why: &str| Refusal::new(ErrorCode::InvalidDisplayName, why);
        if name.is_empty() {
            return Err(invalid("Please enter a display name."));
        }
        if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
            return Err(invalid(&format!(
                "A display name can be at most {MAX_DISPLAY_NAME_CHARS} characters long."
            )));
        }
        if name.chars().any(|c| c.is_control()) {
            return Err(invalid("A display name cannot contain control characters."));
        }
        Ok(DisplayName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive identity of the name: two names with the same
    /// key are the same name.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A channel name: 1 to [`MAX_CHANNEL_NAME_CHARS`] characters of `a-z`,
/// `0-9`, `-` and `_`. Input is trimmed and lowered first, so `General`
/// becomes `general`; the lowered form is the identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChannelName(String);

impl ChannelName {
    /// A channel's name, or a direct conversation's (see
    /// [`ChannelName::direct`]).
    pub fn parse(raw: &str) -> Result<Self, Refusal> {
        if let Some((a, b)) = direct_people(raw) {
            return Ok(ChannelName::direct(a, b));
        }
        let name = raw.trim().to_lowercase();
        let invalid = |why: String| Refusal::new(ErrorCode::InvalidChannelName, why);
        if name.is_empty() {
            return Err(invalid("Please enter a channel name.".into()));
        }
        if name.chars().count() > MAX_CHANNEL_NAME_CHARS {
            return Err(invalid(format!(
                "A channel name can be at most {MAX_CHANNEL_NAME_CHARS} characters long."
            )));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
        {
            let shown = if bad.is_whitespace() {
                "a space".to_owned()
            } else if bad.is_control() {
                "a control character".to_owned()
            } else {
                format!("\u{201c}{bad}\u{201d}")
            };
            return Err(invalid(format!(
                "A channel name can use only letters a-z, digits, \u{201c}-\u{201d} and \u{201c}_\u{201d}; it has {shown}."
            )));
        }
        Ok(ChannelName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The direct conversation of two people: `@<id>-<id>`, the lower
    /// first. No channel name can look like it (`@` is not allowed in
    /// one), so it never names a channel.
    pub fn direct(a: IdentityId, b: IdentityId) -> Self {
        ChannelName(format!("@{}-{}", a.min(b), a.max(b)))
    }

    /// The two people of a direct conversation; `None` for a channel.
    pub fn people(&self) -> Option<(IdentityId, IdentityId)> {
        direct_people(&self.0)
    }

    /// Whether `viewer` may see it: anyone a channel, only its two people
    /// a direct conversation.
    pub fn visible_to(&self, viewer: Option<IdentityId>) -> bool {
        match self.people() {
            None => true,
            Some((a, b)) => viewer.is_some_and(|v| v == a || v == b),
        }
    }
}

/// The two ids of a direct conversation's name, exactly as
/// [`ChannelName::direct`] writes it (two different ids, lower first).
fn direct_people(raw: &str) -> Option<(IdentityId, IdentityId)> {
    let (a, b) = raw.strip_prefix('@')?.split_once('-')?;
    let number = |s: &str| {
        (!s.is_empty()
            && s.len() <= 19
            && s.bytes().all(|c| c.is_ascii_digit())
            && !s.starts_with('0'))
        .then(|| s.parse::<IdentityId>().ok())
        .flatten()
    };
    let (a, b) = (number(a)?, number(b)?);
    (a < b).then_some((a, b))
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The text of a message: 1 to [`MAX_MESSAGE_CHARS`] characters, not only
/// whitespace, no control characters but newline. A `\r\n` from a form is
/// taken as `\n`. The text is kept as typed otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, Refusal> {
        let text = raw.replace("\r\n", "\n");
        if text.trim().is_empty() {
            return Err(Refusal::new(
                ErrorCode::InvalidMessage,
                "An empty message cannot be sent.",
            ));
        }
        let chars = text.chars().count();
        if chars > MAX_MESSAGE_CHARS {
            return Err(Refusal::new(
                ErrorCode::MessageTooLong,
                format!(
                    "A message can be at most {MAX_MESSAGE_CHARS} characters long; this one has {chars}."
                ),
            ));
        }
        if text.chars().any(is_forbidden_control) {
            return Err(Refusal::new(
                ErrorCode::InvalidMessage,
                "A message cannot contain control characters other than newlines.",
            ));
        }
        Ok(MessageText(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who someone is: their identity's number and current display name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    pub id: IdentityId,
    pub name: DisplayName,
}

/// Most different emoji one message can have reactions of.
pub const MAX_REACTIONS: usize = 20;
/// Most replies one thread request returns (the newest).
pub const THREAD_PAGE: usize = 500;

/// One message as the server stored it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// The message's number in its channel.
    pub seq: Seq,
    /// The author's identity: what decides who may edit or delete it.
    pub author_id: IdentityId,
    /// The author's display name when they sent it.
    pub author: DisplayName,
    pub text: MessageText,
    /// When the server accepted it.
    pub sent_at: DateTime<Utc>,
    /// For a reply: the message whose thread it is in. Replies are not
    /// in the channel's own list of messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<Seq>,
    /// When the author last changed the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
    /// The people the text mentions (`@name`), as the server resolved them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<Identity>,
    /// Reactions, in the order each emoji was first used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// For a thread's parent: how many replies it has.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replies: u32,
    /// For a thread's parent: when the latest reply was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reply_at: Option<DateTime<Utc>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Message {
    /// A new message with no thread, edits or reactions.
    pub fn new(seq: Seq, author: &Identity, text: MessageText, sent_at: DateTime<Utc>) -> Message {
        Message {
            seq,
            author_id: author.id,
            author: author.name.clone(),
            text,
            sent_at,
            thread: None,
            edited_at: None,
            mentions: Vec::new(),
            reactions: Vec::new(),
            replies: 0,
            last_reply_at: None,
        }
    }

    /// Whether identity `id` is among those the message mentions.
    pub fn mentions_id(&self, id: IdentityId) -> bool {
        self.mentions.iter().any(|m| m.id == id)
    }

    /// The thread's summary, for a message that can have one.
    pub fn thread_summary(&self) -> ThreadSummary {
        ThreadSummary {
            parent: self.seq,
            replies: self.replies,
            last_reply_at: self.last_reply_at,
        }
    }
}

/// The people who reacted to a message with one emoji.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reaction {
    /// One emoji (see [`Emoji`]).
    pub emoji: String,
    /// Who reacted with it, in the order they did.
    pub by: Vec<Identity>,
}

/// A thread's parent as its reply count shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadSummary {
    pub parent: Seq,
    pub replies: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reply_at: Option<DateTime<Utc>>,
}

/// A thread: its parent and its replies, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    pub channel: ChannelName,
    pub parent: Message,
    /// The newest [`THREAD_PAGE`] replies at most, oldest first.
    pub replies: Vec<Message>,
}

/// Exactly one emoji, as a reaction (see [`crate::emoji::is_single_emoji`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Emoji(String);

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, Refusal> {
        if crate::emoji::is_single_emoji(raw) {
            Ok(Emoji(raw.to_owned()))
        } else {
            let shown: String = raw.chars().take(crate::emoji::MAX_EMOJI_CHARS).collect();
            let more = if shown.len() < raw.len() {
                "\u{2026}"
            } else {
                ""
            };
            Err(Refusal::new(
                ErrorCode::InvalidEmoji,
                format!("A reaction is exactly one emoji; \u{201c}{shown}{more}\u{201d} is not."),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A channel as the channel list shows it; or a direct conversation, with
/// its two `people`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSummary {
    pub name: ChannelName,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<Identity>,
}

impl ChannelSummary {
    /// In a direct conversation: the person who is not `me`.
    pub fn other(&self, me: IdentityId) -> Option<&Identity> {
        self.people.iter().find(|p| p.id != me)
    }
}

/// Most results a search returns.
pub const SEARCH_LIMIT: usize = 20;
/// Most words of a search that count.
pub const MAX_SEARCH_WORDS: usize = 8;

/// A message a search found, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub channel: ChannelName,
    pub message: Message,
}

/// The words of a search: runs of letters and digits, lowered; at most
/// [`MAX_SEARCH_WORDS`], each at most 64 characters.
pub fn search_words(query: &str) -> Vec<String> {
    let mut words = search_words_all(query);
    words.truncate(MAX_SEARCH_WORDS);
    words
}

/// Every word of a text as [`search_words`] cuts them.
pub fn search_words_all(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(64).collect::<String>().to_lowercase())
        .collect()
}

/// `text` cut in runs, `true` for those that match a word of the search
/// (a word of the text that starts with it, as the search matched them),
/// for showing the matches marked. Case-insensitive.
pub fn highlight(text: &str, words: &[String]) -> Vec<(String, bool)> {
    let mut runs: Vec<(String, bool)> = Vec::new();
    let mut push = |s: &str, hit: bool| match runs.last_mut() {
        Some((run, was)) if *was == hit => run.push_str(s),
        _ => runs.push((s.to_owned(), hit)),
    };
    let mut rest = text;
    while !rest.is_empty() {
        // The next word of the text, and what is before it.
        let start = rest.find(char::is_alphanumeric).unwrap_or(rest.len());
        push(&rest[..start], false);
        rest = &rest[start..];
        let end = rest
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(rest.len());
        let word = &rest[..end];
        let lowered = word.to_lowercase();
        let matched = words
            .iter()
            .filter(|w| lowered.starts_with(w.as_str()))
            .map(|w| w.chars().count())
            .max();
        match matched {
            Some(chars) => {
                let cut = word
                    .char_indices()
                    .nth(chars)
                    .map_or(word.len(), |(at, _)| at);
                push(&word[..cut], true);
                push(&word[cut..], false);
            }
            None => push(word, false),
        }
        rest = &rest[end..];
    }
    runs.retain(|(s, _)| !s.is_empty());
    runs
}

/// Messages around one (a search result) and how they sit: whether there
/// are older ones, and whether newer ones are missing between these and
/// the most recent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageContext {
    pub messages: Vec<Message>,
    pub more_before: bool,
    pub more_after: bool,
}

/// What I have not read in a channel: counted over its window (so at
/// most [`HISTORY_LIMIT`]), top-level messages by others after `read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadCount {
    pub channel: ChannelName,
    /// The number of the last event I have read (0: none).
    pub read: Seq,
    pub unread: u32,
    /// Of those, the ones that mention me.
    pub mentions: u32,
}

/// Someone who has opened a channel, and whether they are online now
/// (any tab open).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub identity: Identity,
    pub online: bool,
}

/// A channel's most recent messages, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelHistory {
    pub channel: ChannelName,
    pub messages: Vec<Message>,
}

/// A page of stored messages older than those shown, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OlderMessages {
    pub messages: Vec<Message>,
    /// Whether the channel has messages older than these.
    pub more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  ada ").unwrap().as_str(), "ada");
        assert_eq!(
            DisplayName::parse("   ").unwrap_err().code,
            ErrorCode::InvalidDisplayName
        );
        let longest = "x".repeat(MAX_DISPLAY_NAME_CHARS);
        assert!(DisplayName::parse(&longest).is_ok());
        assert!(DisplayName::parse(&format!("{longest}x")).is_err());
        // Characters, not bytes: 32 three-byte characters are fine.
        assert!(DisplayName::parse(&"é".repeat(MAX_DISPLAY_NAME_CHARS)).is_ok());
    }

    #[test]
    fn display_names_refuse_control_characters() {
        assert!(DisplayName::parse("a\u{7}b").is_err());
        assert!(DisplayName::parse("a\nb").is_err());
    }

    #[test]
    fn display_name_keys_ignore_case() {
        let a = DisplayName::parse("Ada").unwrap();
        let b = DisplayName::parse("aDA").unwrap();
        assert_eq!(a.key(), b.key());
        assert_eq!(a.as_str(), "Ada", "the name keeps the case it was typed in");
    }

    #[test]
    fn channel_names_are_lowered_and_checked() {
        assert_eq!(ChannelName::parse(" General ").unwrap().as_str(), "general");
        assert!(ChannelName::parse("rust-lang_2").is_ok());
        for bad in ["", "  ", "has space", "dot.dot", "émoji", "<b>", "a/b"] {
            let err = ChannelName::parse(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidChannelName, "{bad:?}");
        }
        assert!(ChannelName::parse(&"a".repeat(MAX_CHANNEL_NAME_CHARS)).is_ok());
        assert!(ChannelName::parse(&"a".repeat(MAX_CHANNEL_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn channel_name_refusal_names_the_bad_character() {
        let err = ChannelName::parse("a.b").unwrap_err();
        assert!(err.message.contains("\u{201c}.\u{201d}"), "{}", err.message);
    }

    #[test]
    fn messages_are_bounded_and_not_empty() {
        assert_eq!(
            MessageText::parse(" \n ").unwrap_err().code,
            ErrorCode::InvalidMessage
        );
        assert!(MessageText::parse(&"x".repeat(MAX_MESSAGE_CHARS)).is_ok());
        assert_eq!(
            MessageText::parse(&"x".repeat(MAX_MESSAGE_CHARS + 1))
                .unwrap_err()
                .code,
            ErrorCode::MessageTooLong
        );
    }

    #[test]
    fn messages_keep_newlines_and_refuse_other_controls() {
        assert_eq!(
            MessageText::parse("one\r\ntwo\n").unwrap().as_str(),
            "one\ntwo\n"
        );
        assert!(MessageText::parse("tab\there").is_err());
        assert!(MessageText::parse("nul\0").is_err());
    }

    #[test]
    fn html_is_kept_as_plain_text() {
        let text = MessageText::parse("<script>alert(1)</script>").unwrap();
        assert_eq!(text.as_str(), "<script>alert(1)</script>");
    }

    #[test]
    fn a_full_message_fits_in_a_frame() {
        let text = MessageText::parse(&"\u{1F600}".repeat(MAX_MESSAGE_CHARS)).unwrap();
        let frame = serde_json::to_string(&text).unwrap();
        assert!(frame.len() < MAX_FRAME_BYTES);
    }

    #[test]
    fn every_refusal_is_a_client_error_but_internal() {
        for code in [
            ErrorCode::InvalidDisplayName,
            ErrorCode::NameTaken,
            ErrorCode::NotSignedIn,
            ErrorCode::NotAuthor,
            ErrorCode::UnknownChannel,
            ErrorCode::MessageTooLong,
            ErrorCode::TooManyChannels,
        ] {
            assert!((400..500).contains(&code.http_status()), "{code:?}");
        }
        assert_eq!(ErrorCode::Internal.http_status(), 500);
    }

    #[test]
    fn direct_conversations_have_one_name_no_channel_can_take() {
        let name = ChannelName::direct(7, 3);
        assert_eq!(name.as_str(), "@3-7");
        assert_eq!(name.people(), Some((3, 7)));
        assert_eq!(ChannelName::parse("@3-7").unwrap(), name);
        assert!(name.visible_to(Some(3)) && name.visible_to(Some(7)));
        assert!(!name.visible_to(Some(5)) && !name.visible_to(None));
        // Only the exact form: no other spelling of the same pair, no self.
        for other in [
            "@7-3", "@03-7", "@3-3", "@3-7-9", "@3-", "@-7", "@a-b", " @3-7x",
        ] {
            assert!(
                ChannelName::parse(other).is_err(),
                "{other} should not parse"
            );
        }
        let general = ChannelName::parse("general").unwrap();
        assert_eq!(general.people(), None);
        assert!(general.visible_to(None));
    }

    #[test]
    fn search_words_are_letters_and_digits_lowered() {
        assert_eq!(
            search_words("  \"Zebra\" OR cross* (x) café-42 "),
            vec!["zebra", "or", "cross", "x", "café", "42"]
        );
        assert!(search_words("\"()*^:-").is_empty());
        assert_eq!(search_words(&"w ".repeat(50)).len(), MAX_SEARCH_WORDS);
    }

    #[test]
    fn highlighting_marks_word_prefixes_as_text_runs() {
        let words = search_words("zeb CROSS");
        assert_eq!(
            highlight("The Zebra crossing, zebras!", &words),
            vec![
                ("The ".to_owned(), false),
                ("Zeb".to_owned(), true),
                ("ra ".to_owned(), false),
                ("cross".to_owned(), true),
                ("ing, ".to_owned(), false),
                ("zeb".to_owned(), true),
                ("ras!".to_owned(), false),
            ]
        );
        // Markup is just text in a run.
        assert_eq!(
            highlight("<b>zeb</b>", &words),
            vec![
                ("<b>".to_owned(), false),
                ("zeb".to_owned(), true),
                ("</b>".to_owned(), false)
            ]
        );
        assert_eq!(highlight("", &words), vec![]);
    }
}
