//! The UI's state: signals that components read, and how server events
//! change them. Browser-only work (storage, the socket) is in
//! `crate::client`, which is inert on the server.

use crate::model::{
    ChannelHistory, ChannelName, ChannelSummary, DisplayName, Message, HISTORY_LIMIT,
};
use crate::protocol::{ClientFrame, ServerEvent};
use leptos::prelude::*;

/// Who the user is, as far as this tab knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Me {
    /// Not known yet: on the server, and until the browser has checked its
    /// storage.
    Unknown,
    /// No name: the prompt shows, with the reason if a claim failed.
    Anonymous { problem: Option<String> },
    /// Signed in under this name.
    Named(DisplayName),
}

/// The real-time connection, as the status element reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Not started (no name yet, or not in a browser).
    Idle,
    Connecting,
    Online,
    /// Lost; trying again.
    Reconnecting,
}

/// The shared UI state, provided as context by [`crate::app::App`].
#[derive(Debug, Clone, Copy)]
pub struct Chat {
    pub me: RwSignal<Me>,
    /// `false` during server rendering and hydration, `true` once the app
    /// runs in the browser: inputs are enabled only then.
    pub hydrated: RwSignal<bool>,
    /// The channel list as the socket keeps it, once it has said hello.
    pub channels: RwSignal<Option<Vec<ChannelSummary>>>,
    /// The channel the user has open, which the socket follows.
    pub open: RwSignal<Option<ChannelName>>,
    /// The open channel's messages as the socket keeps them, once joined.
    pub live: RwSignal<Option<ChannelHistory>>,
    pub connection: RwSignal<Connection>,
    /// A refusal the server sent over the socket, for the user to see.
    pub alert: RwSignal<Option<String>>,
    /// Whether this page load has already gone back to the remembered
    /// channel (it does so once).
    pub returned: RwSignal<bool>,
}

impl Chat {
    pub fn new() -> Self {
        Chat {
            me: RwSignal::new(Me::Unknown),
            hydrated: RwSignal::new(false),
            channels: RwSignal::new(None),
            open: RwSignal::new(None),
            live: RwSignal::new(None),
            connection: RwSignal::new(Connection::Idle),
            alert: RwSignal::new(None),
            returned: RwSignal::new(false),
        }
    }

    /// The signed-in name, if any (tracked).
    pub fn name(&self) -> Option<DisplayName> {
        match self.me.get() {
            Me::Named(name) => Some(name),
            _ => None,
        }
    }

    /// Sends a frame on the socket; `false` if it is not open.
    pub fn send(&self, frame: ClientFrame) -> bool {
        crate::client::socket::send(&frame)
    }

    /// Adds a channel to the live list, once, in name order.
    pub fn add_channel(&self, channel: ChannelSummary) {
        self.channels.update(|list| {
            if let Some(list) = list {
                if let Err(at) = list.binary_search_by(|c| c.name.cmp(&channel.name)) {
                    list.insert(at, channel);
                }
            }
        });
    }

    /// Applies one event from the server to the signals.
    pub fn apply(&self, event: ServerEvent) {
        match event {
            ServerEvent::Hello { channels, .. } => self.channels.set(Some(channels)),
            ServerEvent::ChannelCreated { channel } => self.add_channel(channel),
            ServerEvent::Joined { channel, messages } => {
                if self.open.get_untracked().as_ref() == Some(&channel) {
                    self.live.set(Some(ChannelHistory { channel, messages }));
                }
            }
            ServerEvent::Message {
                channel, message, ..
            } => self.on_live(&channel, |messages| push_in_order(messages, message)),
            ServerEvent::Deleted { channel, seq } => {
                self.on_live(&channel, |messages| messages.retain(|m| m.seq != seq))
            }
            ServerEvent::Error { message, .. } => self.alert.set(Some(message)),
        }
    }

    fn on_live(&self, channel: &ChannelName, change: impl FnOnce(&mut Vec<Message>)) {
        self.live.update(|live| {
            if let Some(live) = live.as_mut().filter(|l| &l.channel == channel) {
                change(&mut live.messages);
            }
        });
    }
}

impl Default for Chat {
    fn default() -> Self {
        Self::new()
    }
}

/// Adds a message in sequence order, ignoring one already held, keeping
/// the last [`HISTORY_LIMIT`].
fn push_in_order(messages: &mut Vec<Message>, message: Message) {
    if let Err(at) = messages.binary_search_by_key(&message.seq, |m| m.seq) {
        messages.insert(at, message);
        if messages.len() > HISTORY_LIMIT {
            let excess = messages.len() - HISTORY_LIMIT;
            messages.drain(..excess);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MessageText;
    use chrono::Utc;

    fn message(seq: u64) -> Message {
        Message {
            seq,
            author: DisplayName::parse("ada").unwrap(),
            text: MessageText::parse("hi").unwrap(),
            sent_at: Utc::now(),
        }
    }

    #[test]
    fn messages_are_kept_in_sequence_order_once() {
        let mut list = vec![message(1), message(3)];
        push_in_order(&mut list, message(2));
        push_in_order(&mut list, message(3));
        let seqs: Vec<_> = list.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
    }

    #[test]
    fn the_view_keeps_the_last_hundred() {
        let mut list: Vec<_> = (1..=100).map(message).collect();
        push_in_order(&mut list, message(101));
        assert_eq!(list.len(), HISTORY_LIMIT);
        assert_eq!(list[0].seq, 2);
    }
}
