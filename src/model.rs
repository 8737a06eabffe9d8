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
            | ErrorCode::BadFrame
            | ErrorCode::BadRequest => 400,
            ErrorCode::NotSignedIn => 401,
            ErrorCode::NotAuthor | ErrorCode::CrossSite => 403,
            ErrorCode::UnknownChannel | ErrorCode::UnknownMessage => 404,
            ErrorCode::NameTaken | ErrorCode::ChannelTaken => 409,
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
    pub fn parse(raw: &str) -> Result<Self, Refusal> {
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
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The text of a message: 1 to [`MAX_MESSAGE_CHARS`] characters, not only
/// whitespace, no control characters but newline. A `\r\n` from a form is
/// taken as `\n`. The text is kept as typed otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub id: IdentityId,
    pub name: DisplayName,
}

/// One message as the server stored it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The message's number in its channel.
    pub seq: Seq,
    /// The author's identity: what decides who may delete it.
    pub author_id: IdentityId,
    /// The author's display name when they sent it.
    pub author: DisplayName,
    pub text: MessageText,
    /// When the server accepted it.
    pub sent_at: DateTime<Utc>,
}

/// A channel as the channel list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSummary {
    pub name: ChannelName,
    pub created_at: DateTime<Utc>,
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
}
