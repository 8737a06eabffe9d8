//! The UI's state: signals that components read, and how server events
//! change them. Browser-only work (storage, the socket) is in
//! `crate::client`, which is inert on the server.
//!
//! Real time never loses, doubles or reorders a message: the open channel
//! is held with the `seq` of the last event applied (its cursor); an event
//! at or below the cursor is a repeat and is ignored, one beyond the next
//! means something was missed, and the socket joins again from the cursor
//! so the server replays exactly the gap. What the user sends goes through
//! an outbox: pending until the server acknowledges it, sent again (with
//! the same id, which the server stores once) after a reconnect, and
//! failed, with a retry, if the server refuses it or never answers. The
//! outbox sends one message at a time, in order, each once the one before
//! is acknowledged; a refusal for going too fast waits as long as the
//! server says and sends it again, so what was typed offline goes out at
//! the pace the server allows.

use crate::model::{
    ChannelName, ChannelSummary, DisplayName, ErrorCode, Identity, IdentityId, Message, Seq,
    HISTORY_LIMIT,
};
use crate::protocol::{ClientFrame, Cursor, ServerEvent};
use leptos::prelude::*;

/// Who the user is, as far as this tab knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Me {
    /// Not known yet: on the server, and until the browser has checked its
    /// storage.
    Unknown,
    /// No name: the prompt shows, with the reason if a claim failed.
    Anonymous { problem: Option<String> },
    /// Signed in as this identity.
    Named(Identity),
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
    /// The browser says the network is gone.
    Offline,
}

/// The open channel as the socket keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveChannel {
    pub channel: ChannelName,
    /// The last event applied.
    pub seq: Seq,
    pub messages: Vec<Message>,
}

/// Where a message in the outbox stands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Waiting for the connection, or for the server's acknowledgement.
    Pending,
    /// Refused, or not acknowledged in time; the reason.
    Failed(String),
}

/// A message the user sent that the server has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub client_id: String,
    pub channel: ChannelName,
    pub text: String,
    pub delivery: Delivery,
    /// Bumped by every attempt, so a stale timeout does nothing.
    pub attempt: u32,
    /// Sent on the open socket, and not answered yet.
    pub in_flight: bool,
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
    /// The open channel as the socket keeps it, once joined.
    pub live: RwSignal<Option<LiveChannel>>,
    /// The server run the cursors belong to (from its hello).
    pub epoch: RwSignal<Option<String>>,
    /// Messages sent and not yet acknowledged, oldest first.
    pub outbox: RwSignal<Vec<Outgoing>>,
    pub connection: RwSignal<Connection>,
    /// A refusal the server sent over the socket, for the user to see.
    pub alert: RwSignal<Option<String>>,
    /// Whether this page load has already gone back to the remembered
    /// channel (it does so once).
    pub returned: RwSignal<bool>,
    /// Bumped when the open page's server-rendered history is stale (the
    /// server's store changed, or a channel it lacked was created): the
    /// page loads it again.
    pub reload: RwSignal<u64>,
    /// Stored messages older than the live ones, loaded on request, of
    /// the open channel; and whether there are more.
    pub older: RwSignal<Older>,
}

/// The open channel's older messages, loaded by "Load older messages".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Older {
    pub channel: Option<ChannelName>,
    /// Oldest first; all older than the live messages.
    pub messages: Vec<Message>,
    /// Whether the start of the channel has been reached.
    pub complete: bool,
}

impl Chat {
    pub fn new() -> Self {
        Chat {
            me: RwSignal::new(Me::Unknown),
            hydrated: RwSignal::new(false),
            channels: RwSignal::new(None),
            open: RwSignal::new(None),
            live: RwSignal::new(None),
            epoch: RwSignal::new(None),
            outbox: RwSignal::new(Vec::new()),
            connection: RwSignal::new(Connection::Idle),
            alert: RwSignal::new(None),
            returned: RwSignal::new(false),
            reload: RwSignal::new(0),
            older: RwSignal::new(Older::default()),
        }
    }

    /// The signed-in name, if any (tracked).
    pub fn name(&self) -> Option<DisplayName> {
        match self.me.get() {
            Me::Named(me) => Some(me.name),
            _ => None,
        }
    }

    /// The signed-in identity's number, if any (tracked).
    pub fn my_id(&self) -> Option<IdentityId> {
        self.me.with(|me| match me {
            Me::Named(me) => Some(me.id),
            _ => None,
        })
    }

    /// Sends a frame on the socket; `false` if it is not open.
    pub fn send(&self, frame: ClientFrame) -> bool {
        crate::client::socket::send(&frame)
    }

    /// The join for the open channel: from the cursor if the channel is
    /// held live, so the server replays only what was missed.
    pub fn join_frame(&self) -> Option<ClientFrame> {
        let open = self.open.get_untracked()?;
        let since = self.live.with_untracked(|live| {
            let live = live.as_ref().filter(|l| l.channel == open)?;
            let epoch = self.epoch.get_untracked()?;
            Some(Cursor {
                epoch,
                seq: live.seq,
            })
        });
        Some(ClientFrame::Join {
            channel: open.to_string(),
            since,
        })
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

    /// Queues a message; it is sent when its turn comes. Returns its
    /// client id.
    pub fn submit(&self, channel: ChannelName, text: String) -> String {
        let client_id = new_client_id();
        self.outbox.update(|outbox| {
            outbox.push(Outgoing {
                client_id: client_id.clone(),
                channel,
                text,
                delivery: Delivery::Pending,
                attempt: 0,
                in_flight: false,
            })
        });
        self.pump();
        client_id
    }

    /// Puts a failed message back in line (the Retry button).
    pub fn retry(&self, client_id: &str) {
        self.update_entry(client_id, |entry| {
            entry.delivery = Delivery::Pending;
            entry.in_flight = false;
        });
        self.pump();
    }

    /// Sends the oldest pending message, unless one is already waiting for
    /// its answer or the socket is not open: one at a time, in order.
    pub fn pump(&self) {
        let next = self.outbox.with_untracked(|outbox| {
            if outbox.iter().any(|o| o.in_flight) {
                return None;
            }
            outbox
                .iter()
                .find(|o| o.delivery == Delivery::Pending)
                .cloned()
        });
        let Some(entry) = next else { return };
        let frame = ClientFrame::Send {
            channel: entry.channel.to_string(),
            text: entry.text.clone(),
            client_id: Some(entry.client_id.clone()),
        };
        if self.send(frame) {
            let attempt = entry.attempt + 1;
            self.update_entry(&entry.client_id, |o| {
                o.attempt = attempt;
                o.in_flight = true;
            });
            crate::client::socket::expect_ack(*self, entry.client_id, attempt);
        }
    }

    /// The socket closed: nothing is in flight any more; what was sent
    /// goes again (the server stores a repeat once) when it is back.
    pub fn link_lost(&self) {
        self.outbox.update(|outbox| {
            for entry in outbox.iter_mut() {
                entry.in_flight = false;
            }
        });
    }

    /// Marks a message failed if `attempt` is still its latest and it is
    /// still unacknowledged; the next one goes.
    pub fn give_up(&self, client_id: &str, attempt: u32) {
        let current = self.outbox.with_untracked(|outbox| {
            outbox
                .iter()
                .any(|o| o.client_id == client_id && o.attempt == attempt && o.in_flight)
        });
        if current {
            let reason = "The server did not confirm this message.".to_owned();
            self.update_entry(client_id, |o| {
                o.delivery = Delivery::Failed(reason);
                o.in_flight = false;
            });
            self.pump();
        }
    }

    fn update_entry(&self, client_id: &str, change: impl FnOnce(&mut Outgoing)) {
        self.outbox.update(|outbox| {
            if let Some(entry) = outbox.iter_mut().find(|o| o.client_id == client_id) {
                change(entry);
            }
        });
    }

    fn acknowledged(&self, client_id: &str) {
        self.outbox
            .update(|outbox| outbox.retain(|o| o.client_id != client_id));
        self.pump();
    }

    /// The server refused a send of ours.
    fn refused(
        &self,
        client_id: &str,
        code: ErrorCode,
        message: String,
        retry_after_ms: Option<u64>,
    ) {
        match code {
            // Too fast: the same message again once the server allows.
            ErrorCode::RateLimited => {
                self.update_entry(client_id, |o| o.in_flight = false);
                let chat = *self;
                let wait = retry_after_ms.unwrap_or(1000).clamp(100, 60_000);
                crate::client::socket::later(move || chat.pump(), wait);
            }
            // Not signed in: the name is being claimed again, after which
            // the socket reconnects and the outbox goes on.
            ErrorCode::NotSignedIn => self.update_entry(client_id, |o| o.in_flight = false),
            _ => {
                self.update_entry(client_id, |o| {
                    o.delivery = Delivery::Failed(message);
                    o.in_flight = false;
                });
                self.pump();
            }
        }
    }

    /// Applies one event from the server to the signals.
    pub fn apply(&self, event: ServerEvent) {
        match event {
            ServerEvent::Hello {
                channels,
                epoch,
                me,
                idle_timeout_ms,
            } => {
                crate::client::socket::set_idle_timeout(idle_timeout_ms);
                self.channels.set(Some(channels));
                let new_store = self
                    .epoch
                    .get_untracked()
                    .is_some_and(|known| known != epoch);
                self.epoch.set(Some(epoch));
                if new_store {
                    // Nothing held is known to the new store: load afresh.
                    self.live.set(None);
                    self.older.set(Older::default());
                    self.reload.update(|n| *n += 1);
                }
                if me.is_none() && matches!(self.me.get_untracked(), Me::Named(_)) {
                    if crate::client::storage::name().is_some() {
                        // The server does not know us (a new store, or we
                        // were idle too long): claim the name again, then
                        // reconnect as its holder.
                        super::identity::reclaim(*self);
                    } else {
                        // Signed out in another tab: so is this one.
                        self.me.set(Me::Anonymous { problem: None });
                    }
                }
            }
            ServerEvent::ChannelCreated { channel } => {
                self.add_channel(channel);
                if self.open.get_untracked().is_none() {
                    // The open page may be this channel's "not found".
                    self.reload.update(|n| *n += 1);
                }
            }
            ServerEvent::Joined {
                channel,
                seq,
                messages,
            } => {
                if self.open.get_untracked().as_ref() == Some(&channel) {
                    self.live.set(Some(LiveChannel {
                        channel: channel.clone(),
                        seq,
                        messages,
                    }));
                }
                self.pump();
            }
            ServerEvent::Resumed { .. } => self.pump(),
            ServerEvent::Message { channel, message } => {
                let seq = message.seq;
                self.on_event(&channel, seq, |messages| push_in_order(messages, message));
            }
            ServerEvent::Deleted {
                channel,
                seq,
                message_seq,
            } => {
                self.older
                    .update(|older| older.messages.retain(|m| m.seq != message_seq));
                self.on_event(&channel, seq, |messages| {
                    messages.retain(|m| m.seq != message_seq)
                })
            }
            ServerEvent::Ack { client_id, .. } => self.acknowledged(&client_id),
            ServerEvent::Error {
                code,
                message,
                client_id: Some(client_id),
                retry_after_ms,
            } => self.refused(&client_id, code, message, retry_after_ms),
            ServerEvent::Error { message, .. } => self.alert.set(Some(message)),
            ServerEvent::Pong => {}
        }
    }

    /// Applies the channel event numbered `seq` if it is the next one.
    fn on_event(&self, channel: &ChannelName, seq: Seq, change: impl FnOnce(&mut Vec<Message>)) {
        let mut gap = false;
        self.live.update(|live| {
            let Some(live) = live.as_mut().filter(|l| &l.channel == channel) else {
                return;
            };
            match Step::of(live.seq, seq) {
                Step::Repeat => {}
                Step::Next => {
                    change(&mut live.messages);
                    live.seq = seq;
                }
                Step::Gap => gap = true,
            }
        });
        if gap {
            // Missed something: join again from the cursor to get it.
            if let Some(frame) = self.join_frame() {
                self.send(frame);
            }
        }
    }
}

impl Default for Chat {
    fn default() -> Self {
        Self::new()
    }
}

/// How an event's number relates to the cursor.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Repeat,
    Next,
    Gap,
}

impl Step {
    fn of(cursor: Seq, seq: Seq) -> Step {
        if seq <= cursor {
            Step::Repeat
        } else if seq == cursor + 1 {
            Step::Next
        } else {
            Step::Gap
        }
    }
}

/// A fresh id for a send: random, so a retry after a reload could not
/// collide with another message.
fn new_client_id() -> String {
    let random = crate::client::random_u64();
    format!("{random:016x}")
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
            author_id: 1,
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

    #[test]
    fn events_are_repeats_next_or_gaps() {
        assert_eq!(Step::of(5, 5), Step::Repeat);
        assert_eq!(Step::of(5, 3), Step::Repeat);
        assert_eq!(Step::of(5, 6), Step::Next);
        assert_eq!(Step::of(5, 8), Step::Gap);
    }

    #[test]
    fn applying_events_skips_repeats_and_follows_the_cursor() {
        let owner = Owner::new();
        owner.with(|| {
            let chat = Chat::new();
            let general = ChannelName::parse("general").unwrap();
            chat.open.set(Some(general.clone()));
            chat.apply(ServerEvent::Joined {
                channel: general.clone(),
                seq: 2,
                messages: vec![message(1), message(2)],
            });
            let event = |seq| ServerEvent::Message {
                channel: general.clone(),
                message: message(seq),
            };
            chat.apply(event(3));
            chat.apply(event(3));
            chat.apply(event(2));
            chat.apply(ServerEvent::Deleted {
                channel: general.clone(),
                seq: 4,
                message_seq: 1,
            });
            let live = chat.live.get_untracked().unwrap();
            assert_eq!(live.seq, 4);
            let seqs: Vec<_> = live.messages.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, vec![2, 3]);
            // A gap is not applied (the socket is asked to resume instead).
            chat.apply(event(9));
            assert_eq!(chat.live.get_untracked().unwrap().seq, 4);
        });
    }
}
