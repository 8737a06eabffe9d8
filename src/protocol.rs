//! The WebSocket protocol at `/ws`: JSON text frames, one object each,
//! tagged by `"type"`. [`ClientFrame`] goes up, [`ServerEvent`] comes down.
//! `docs/protocol.md` documents it for other clients, with an example.
//!
//! Client frames carry raw strings: the server validates them with the
//! checks of [`crate::model`] and answers a bad one with an
//! [`ServerEvent::Error`], never by closing the connection.

use crate::model::{
    ChannelName, ChannelSummary, ErrorCode, Identity, IdentityId, Member, Message, Reaction,
    Refusal, Seq, ThreadSummary, UnreadCount,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A frame from a client to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Follow a channel, then receive its events. A socket follows one
    /// channel at a time; joining another leaves the first.
    ///
    /// Without `since`, the server answers with [`ServerEvent::Joined`]
    /// (a snapshot). With the cursor of the last event the client has, it
    /// replays exactly the events missed since then and confirms with
    /// [`ServerEvent::Resumed`]; if those are no longer all held, or the
    /// cursor is from another run of the server, it sends a snapshot.
    Join {
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<Cursor>,
    },
    /// Stop following the channel joined.
    Leave,
    /// Post a message. Needs a claimed display name (the identity cookie).
    /// `client_id`, if given, comes back to this socket only, in the
    /// [`ServerEvent::Ack`] or [`ServerEvent::Error`] that answers it, so
    /// the sender can match it to what it sent; a repeat of a `client_id`
    /// this identity already used in the channel is stored once.
    /// With `thread`, the message is a reply in the thread of message
    /// `thread` (which must not be a reply itself).
    Send {
        channel: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<Seq>,
    },
    /// Replace the text of one of one's own messages (the same rules as a
    /// new message's text).
    Edit {
        channel: String,
        seq: Seq,
        text: String,
    },
    /// Add (`on: true`) or remove one's reaction `emoji` to a message.
    /// Saying the same twice changes nothing (so a retry is safe).
    React {
        channel: String,
        seq: Seq,
        emoji: String,
        on: bool,
    },
    /// Delete one of one's own messages.
    Delete { channel: String, seq: Seq },
    /// I have read the channel up to event `seq` (kept per identity, so
    /// my other browsers count the same). Needs a name.
    Read { channel: String, seq: Seq },
    /// I am typing (`on: true`) in the joined channel, or in the thread of
    /// message `thread`, or stopped (`on: false`: cleared the field). Not
    /// stored; the server passes on at most one `on` per
    /// [`TYPING_EVERY_MS`] per connection and drops the rest.
    Typing {
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<Seq>,
        on: bool,
    },
    /// Asks for a [`ServerEvent::Pong`]: how a browser, which cannot see
    /// WebSocket pings, learns that its link is alive.
    Ping,
}

/// The WebSocket close code of a connection whose identity ended (signed
/// out on any device, or expired): everything it followed ends with it.
pub const CLOSE_SIGNED_OUT: u16 = 4001;

/// The shortest time between two `typing` frames a connection's are passed
/// on; a client sends one at most this often while its person types.
pub const TYPING_EVERY_MS: u64 = 2_000;

/// A position in a channel's event stream: the `seq` of the last event a
/// client has seen, in the store `epoch` (see [`ServerEvent::Hello`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub epoch: String,
    pub seq: Seq,
}

/// An event from the server to a client.
///
/// The events of a channel (`message`, `deleted`) carry `seq`: one
/// counter per channel numbers them all, so a client can tell exactly
/// what it has and what it missed.
///
/// On the wire an event is tagged inside, tag first:
/// `{"type":"message","channel":...}`. The browser's build reads it with
/// [`ServerEvent::from_json`], which moves the tag outside first
/// (`{"message":{"channel":...}}`, serde's default form): serde reads a
/// tag-inside enum by buffering each event whole in its own `Content`
/// type first, and that machinery was 90 KB of the browser's
/// WebAssembly (of 2 MB, before wasm-opt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", serde(tag = "type"))]
pub enum ServerEvent {
    /// First frame of every connection.
    Hello {
        /// An id of the server's stored history: the same across restarts
        /// on the same database, new with a new one.
        epoch: String,
        /// The identity this connection writes as, if it has one.
        me: Option<Identity>,
        /// Every channel, by name.
        channels: Vec<ChannelSummary>,
        /// My direct conversations (each with its two `people`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        directs: Vec<ChannelSummary>,
        /// The server closes a connection it has heard nothing from for
        /// this long (it pings every third of it); a client should send
        /// `ping` more often, and take a link that has been silent this
        /// long for dead.
        idle_timeout_ms: u64,
    },
    /// A channel was created (by anyone); or a direct conversation of
    /// mine (it has `people`), to its two people only.
    ChannelCreated { channel: ChannelSummary },
    /// A snapshot, which replaces what the client holds: the channel's
    /// most recent messages, oldest first, as of event `seq`. The answer to
    /// a join that cannot be resumed, and sent again if the connection
    /// falls behind.
    Joined {
        channel: ChannelName,
        seq: Seq,
        messages: Vec<Message>,
    },
    /// A resumed join: the events after the client's cursor were just
    /// sent, and the client is now at `seq`.
    Resumed { channel: ChannelName, seq: Seq },
    /// A new message in the joined channel; its `seq` is the event's.
    /// For a reply (`message.thread` set), `thread` is its parent's new
    /// reply count.
    Message {
        channel: ChannelName,
        message: Message,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<ThreadSummary>,
    },
    /// Message `message_seq` was edited by its author: its new text, and
    /// whom that mentions. `seq` is this event's own number.
    Edited {
        channel: ChannelName,
        seq: Seq,
        message_seq: Seq,
        text: crate::model::MessageText,
        edited_at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<Identity>,
    },
    /// The reactions to message `message_seq` changed: all of them now.
    Reacted {
        channel: ChannelName,
        seq: Seq,
        message_seq: Seq,
        reactions: Vec<Reaction>,
    },
    /// A message of the joined channel (number `message_seq`) was
    /// deleted by its author; `seq` is this event's own number. For a
    /// reply, `thread` is its parent's new reply count.
    Deleted {
        channel: ChannelName,
        seq: Seq,
        message_seq: Seq,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<ThreadSummary>,
    },
    /// To the people a new or edited message mentions, whichever channel
    /// they follow: the message (not a channel event, not numbered).
    Mention {
        channel: ChannelName,
        message: Message,
    },
    /// To the sender only: the send with this `client_id` is stored as
    /// message `seq` (also when it was a repeat, stored once).
    Ack {
        channel: ChannelName,
        client_id: String,
        seq: Seq,
    },
    /// A frame was refused; nothing changed.
    Error {
        code: ErrorCode,
        message: String,
        /// The refused send's `client_id`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// For a limit: wait this long before sending it again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// The answer to a `ping`.
    Pong,
    /// My unread counts: for every channel I can see after `hello`, then
    /// for those that changed (others posted or deleted, or I read one in
    /// another browser). Not for the channel this connection follows.
    Unread { counts: Vec<UnreadCount> },
    /// Someone is typing (`on`) in the joined channel (or the thread of
    /// `thread`), or stopped. Shown for a few seconds unless repeated; not
    /// numbered, not stored.
    Typing {
        channel: ChannelName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<Seq>,
        who: Identity,
        on: bool,
    },
    /// People came online (opened a first tab) or went offline (closed
    /// their last); sent to everyone, at most a few times a second.
    Presence {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        online: Vec<Identity>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        offline: Vec<IdentityId>,
    },
    /// Someone opened the joined channel for the first time: a new member.
    Member {
        channel: ChannelName,
        member: Member,
    },
}

impl ServerEvent {
    /// The error event for a refusal, tagged with the client's id if any.
    pub fn refusal(refusal: Refusal, client_id: Option<String>) -> Self {
        ServerEvent::Error {
            code: refusal.code,
            message: refusal.message,
            client_id,
            retry_after_ms: refusal.retry_after_ms,
        }
    }

    /// An event from the JSON text that came on the wire.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        #[cfg(feature = "ssr")]
        return serde_json::from_str(text);
        #[cfg(not(feature = "ssr"))]
        match tag_outside(text) {
            Some(outside) => serde_json::from_str(&outside),
            None => Err(serde::de::Error::custom("an event without its type first")),
        }
    }

    /// The event as the JSON text that goes on the wire.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: no maps with non-string
        // keys, no fallible Serialize impls.
        serde_json::to_string(self).expect("server events always serialize")
    }
}

/// An event's wire JSON (`{"type":"x",...}`, the type first, as the
/// server writes it) with the type outside: `{"x":{...}}`, or `"x"` for
/// an event with no fields. `None` if it does not start with its type.
pub fn tag_outside(text: &str) -> Option<String> {
    let rest = text.trim_start().strip_prefix(r#"{"type":""#)?;
    let (name, rest) = rest.split_at(rest.find('"')?);
    if name.is_empty() || name.contains('\\') {
        return None;
    }
    let fields = rest[1..].trim_start();
    if fields.starts_with('}') {
        return Some(format!(r#""{name}""#));
    }
    let fields = fields.strip_prefix(',')?;
    Some(format!(r#"{{"{name}":{{{fields}}}"#))
}

/// A client's real-time connection, as its status element reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Not started (no name yet, or not in a browser).
    Idle,
    Connecting,
    Online,
    /// Lost; trying again.
    Reconnecting,
    /// The browser says the network is gone.
    Offline,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_in_the_browser_have_their_type_moved_outside() {
        let events = [
            ServerEvent::Pong,
            ServerEvent::refusal(Refusal::new(ErrorCode::NotAuthor, "No."), Some("c1".into())),
            ServerEvent::Resumed {
                channel: ChannelName::parse("general").unwrap(),
                seq: 4,
            },
        ];
        for event in events {
            let wire = event.to_json();
            let outside: serde_json::Value =
                serde_json::from_str(&tag_outside(&wire).unwrap()).unwrap();
            let mut inside: serde_json::Value = serde_json::from_str(&wire).unwrap();
            let name = inside["type"].as_str().unwrap().to_owned();
            inside.as_object_mut().unwrap().remove("type");
            let expected = if inside.as_object().unwrap().is_empty() {
                serde_json::Value::String(name)
            } else {
                serde_json::json!({ name: inside })
            };
            assert_eq!(outside, expected, "{wire}");
        }
        assert_eq!(tag_outside(r#"{"channel":"general","type":"pong"}"#), None);
        assert_eq!(tag_outside("[]"), None);
        assert_eq!(tag_outside(r#"{"type":"#), None);
    }

    #[test]
    fn client_frames_use_the_documented_json() {
        let frame: ClientFrame =
            serde_json::from_str(r#"{"type":"send","channel":"general","text":"hi"}"#).unwrap();
        assert_eq!(
            frame,
            ClientFrame::Send {
                channel: "general".into(),
                text: "hi".into(),
                client_id: None,
                thread: None,
            }
        );
        let frame: ClientFrame = serde_json::from_str(
            r#"{"type":"join","channel":"general","since":{"epoch":"e1","seq":7}}"#,
        )
        .unwrap();
        assert_eq!(
            frame,
            ClientFrame::Join {
                channel: "general".into(),
                since: Some(Cursor {
                    epoch: "e1".into(),
                    seq: 7
                })
            }
        );
        let frame: ClientFrame =
            serde_json::from_str(r#"{"type":"delete","channel":"general","seq":3}"#).unwrap();
        assert_eq!(
            frame,
            ClientFrame::Delete {
                channel: "general".into(),
                seq: 3
            }
        );
        let frame: ClientFrame = serde_json::from_str(
            r#"{"type":"react","channel":"general","seq":3,"emoji":"👍","on":true}"#,
        )
        .unwrap();
        assert_eq!(
            frame,
            ClientFrame::React {
                channel: "general".into(),
                seq: 3,
                emoji: "👍".into(),
                on: true
            }
        );
        let frame: ClientFrame =
            serde_json::from_str(r#"{"type":"send","channel":"general","text":"re","thread":3}"#)
                .unwrap();
        assert!(matches!(
            frame,
            ClientFrame::Send {
                thread: Some(3),
                ..
            }
        ));
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"shout"}"#).is_err());
    }

    #[test]
    fn error_events_carry_code_and_message() {
        let event = ServerEvent::refusal(
            Refusal::new(
                ErrorCode::NotAuthor,
                "You can delete only your own messages.",
            ),
            None,
        );
        assert_eq!(
            event.to_json(),
            r#"{"type":"error","code":"not_author","message":"You can delete only your own messages."}"#
        );
    }
}
