//! The hub: every channel, its recent messages and its fan-out.
//!
//! This is the one interface the rest of the server uses for channel state
//! (server functions and sockets alike). Persistence, unread counts and a
//! Redis relay between instances belong behind these methods, so callers
//! need not change when they come.
//!
//! Each channel keeps a ring of at most [`HISTORY_LIMIT`] messages and a
//! `broadcast` sender. Every event is serialized to JSON once, under the
//! channel's lock (so subscribers see events in sequence order), and the
//! bytes are fanned out: a receiver's clone is a reference count.

use crate::model::{
    ChannelHistory, ChannelName, ChannelSummary, DisplayName, ErrorCode, Message, MessageText,
    Refusal, Seq, HISTORY_LIMIT,
};
use crate::protocol::ServerEvent;
use axum::extract::ws::Utf8Bytes;
use chrono::Utc;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tokio::sync::broadcast;

/// One serialized [`ServerEvent`], shared by every receiver.
pub type Frame = Utf8Bytes;

/// Sizes of the hub's bounded queues.
#[derive(Debug, Clone, Copy)]
pub struct HubLimits {
    /// Most channels the hub holds.
    pub max_channels: usize,
    /// Events a channel buffers for its slowest subscriber; one that falls
    /// further behind is resynchronised with a fresh snapshot.
    pub fanout_capacity: usize,
}

/// The channel state of one server.
pub struct Hub {
    epoch: String,
    limits: HubLimits,
    channels: RwLock<BTreeMap<ChannelName, Arc<Channel>>>,
    /// Channel-list events, for every connection.
    directory: broadcast::Sender<Frame>,
}

struct Channel {
    summary: ChannelSummary,
    state: Mutex<ChannelState>,
    fanout: broadcast::Sender<Frame>,
}

struct ChannelState {
    /// Oldest first; never more than [`HISTORY_LIMIT`].
    ring: VecDeque<Message>,
    last_seq: Seq,
}

/// A subscription to one channel: what it holds now, and what comes next.
pub struct Subscription {
    pub snapshot: ChannelHistory,
    pub events: broadcast::Receiver<Frame>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a channel half-updated
    // (each update is a push and a pop), so a poisoned lock is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn unknown_channel(name: &ChannelName) -> Refusal {
    Refusal::new(
        ErrorCode::UnknownChannel,
        format!("There is no channel named \u{201c}{name}\u{201d}."),
    )
}

impl Hub {
    /// An empty hub; `epoch` names this run of the server.
    pub fn new(epoch: String, limits: HubLimits) -> Self {
        let (directory, _) = broadcast::channel(limits.fanout_capacity.max(1));
        Hub {
            epoch,
            limits,
            channels: RwLock::new(BTreeMap::new()),
            directory,
        }
    }

    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Every channel, sorted by name.
    pub fn channels(&self) -> Vec<ChannelSummary> {
        let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
        channels.values().map(|c| c.summary.clone()).collect()
    }

    /// Channel-list events ([`ServerEvent::ChannelCreated`]).
    pub fn subscribe_directory(&self) -> broadcast::Receiver<Frame> {
        self.directory.subscribe()
    }

    /// Creates a channel, announcing it to every connection. Refused if the
    /// name is taken (names are lowered, so case-insensitively) or the hub
    /// is full.
    pub fn create_channel(&self, name: ChannelName) -> Result<ChannelSummary, Refusal> {
        let mut channels = self.channels.write().unwrap_or_else(|p| p.into_inner());
        if channels.contains_key(&name) {
            return Err(Refusal::new(
                ErrorCode::ChannelTaken,
                format!("A channel named \u{201c}{name}\u{201d} already exists."),
            ));
        }
        if channels.len() >= self.limits.max_channels {
            return Err(Refusal::new(
                ErrorCode::TooManyChannels,
                format!(
                    "This server holds its maximum of {} channels.",
                    self.limits.max_channels
                ),
            ));
        }
        let summary = ChannelSummary {
            name: name.clone(),
            created_at: Utc::now(),
        };
        let (fanout, _) = broadcast::channel(self.limits.fanout_capacity.max(1));
        channels.insert(
            name,
            Arc::new(Channel {
                summary: summary.clone(),
                state: Mutex::new(ChannelState {
                    ring: VecDeque::with_capacity(HISTORY_LIMIT),
                    last_seq: 0,
                }),
                fanout,
            }),
        );
        // Sent under the write lock, so a connection that lists the
        // channels and then subscribes cannot miss or double a channel.
        let event = ServerEvent::ChannelCreated {
            channel: summary.clone(),
        };
        let _ = self.directory.send(event.to_json().into());
        Ok(summary)
    }

    fn channel(&self, name: &ChannelName) -> Result<Arc<Channel>, Refusal> {
        let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
        channels
            .get(name)
            .cloned()
            .ok_or_else(|| unknown_channel(name))
    }

    /// The channel's most recent messages, oldest first.
    pub fn history(&self, name: &ChannelName) -> Result<ChannelHistory, Refusal> {
        let channel = self.channel(name)?;
        let state = lock(&channel.state);
        Ok(ChannelHistory {
            channel: name.clone(),
            messages: state.ring.iter().cloned().collect(),
        })
    }

    /// Subscribes to a channel. The snapshot and the subscription are taken
    /// under the channel's lock, so the events that follow are exactly
    /// those after the snapshot.
    pub fn join(&self, name: &ChannelName) -> Result<Subscription, Refusal> {
        let channel = self.channel(name)?;
        let state = lock(&channel.state);
        Ok(Subscription {
            events: channel.fanout.subscribe(),
            snapshot: ChannelHistory {
                channel: name.clone(),
                messages: state.ring.iter().cloned().collect(),
            },
        })
    }

    /// Stores a message, giving it the channel's next sequence number, and
    /// fans it out. The oldest message goes once the channel holds more
    /// than [`HISTORY_LIMIT`].
    pub fn post(
        &self,
        name: &ChannelName,
        author: DisplayName,
        text: MessageText,
        client_id: Option<String>,
    ) -> Result<Message, Refusal> {
        let channel = self.channel(name)?;
        let mut state = lock(&channel.state);
        state.last_seq += 1;
        let message = Message {
            seq: state.last_seq,
            author,
            text,
            sent_at: Utc::now(),
        };
        if state.ring.len() == HISTORY_LIMIT {
            state.ring.pop_front();
        }
        state.ring.push_back(message.clone());
        let event = ServerEvent::Message {
            channel: name.clone(),
            message: message.clone(),
            client_id,
        };
        let _ = channel.fanout.send(event.to_json().into());
        Ok(message)
    }

    /// Deletes a message on behalf of `by`, who must be its author.
    pub fn delete(&self, name: &ChannelName, seq: Seq, by: &DisplayName) -> Result<(), Refusal> {
        let channel = self.channel(name)?;
        let mut state = lock(&channel.state);
        // The ring is sorted by seq, so this is a binary search.
        let index = state
            .ring
            .binary_search_by_key(&seq, |m| m.seq)
            .map_err(|_| {
                Refusal::new(
                    ErrorCode::UnknownMessage,
                    format!("Message {seq} is not in \u{201c}{name}\u{201d} (any more)."),
                )
            })?;
        if state.ring[index].author.key() != by.key() {
            return Err(Refusal::new(
                ErrorCode::NotAuthor,
                "You can delete only your own messages.",
            ));
        }
        state.ring.remove(index);
        let event = ServerEvent::Deleted {
            channel: name.clone(),
            seq,
        };
        let _ = channel.fanout.send(event.to_json().into());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> Hub {
        Hub::new(
            "test".into(),
            HubLimits {
                max_channels: 3,
                fanout_capacity: 16,
            },
        )
    }

    fn name(s: &str) -> ChannelName {
        ChannelName::parse(s).unwrap()
    }

    fn who(s: &str) -> DisplayName {
        DisplayName::parse(s).unwrap()
    }

    fn text(s: &str) -> MessageText {
        MessageText::parse(s).unwrap()
    }

    #[test]
    fn duplicate_channel_names_are_refused_case_insensitively() {
        let hub = hub();
        hub.create_channel(name("general")).unwrap();
        let err = hub.create_channel(name("General")).unwrap_err();
        assert_eq!(err.code, ErrorCode::ChannelTaken);
        assert_eq!(hub.channels().len(), 1);
    }

    #[test]
    fn the_channel_count_is_capped() {
        let hub = hub();
        for n in ["a", "b", "c"] {
            hub.create_channel(name(n)).unwrap();
        }
        let err = hub.create_channel(name("d")).unwrap_err();
        assert_eq!(err.code, ErrorCode::TooManyChannels);
        assert_eq!(hub.channels().len(), 3);
    }

    #[test]
    fn channels_are_listed_by_name() {
        let hub = hub();
        hub.create_channel(name("zebra")).unwrap();
        hub.create_channel(name("apple")).unwrap();
        let names: Vec<_> = hub.channels().into_iter().map(|c| c.name).collect();
        assert_eq!(names, vec![name("apple"), name("zebra")]);
    }

    #[test]
    fn a_channel_keeps_only_its_last_hundred_messages() {
        let hub = hub();
        let general = name("general");
        hub.create_channel(general.clone()).unwrap();
        for i in 1..=150 {
            hub.post(&general, who("ada"), text(&format!("m{i}")), None)
                .unwrap();
        }
        let history = hub.history(&general).unwrap().messages;
        assert_eq!(history.len(), HISTORY_LIMIT);
        assert_eq!(history.first().unwrap().seq, 51);
        assert_eq!(history.first().unwrap().text.as_str(), "m51");
        assert_eq!(history.last().unwrap().seq, 150);
    }

    #[test]
    fn sequence_numbers_increase_per_channel() {
        let hub = hub();
        hub.create_channel(name("a")).unwrap();
        hub.create_channel(name("b")).unwrap();
        let a1 = hub.post(&name("a"), who("x"), text("1"), None).unwrap();
        let b1 = hub.post(&name("b"), who("x"), text("1"), None).unwrap();
        let a2 = hub.post(&name("a"), who("x"), text("2"), None).unwrap();
        assert_eq!((a1.seq, a2.seq, b1.seq), (1, 2, 1));
    }

    #[test]
    fn subscribers_receive_events_in_sequence_order() {
        let hub = hub();
        let general = name("general");
        hub.create_channel(general.clone()).unwrap();
        hub.post(&general, who("ada"), text("before"), None)
            .unwrap();
        let mut sub = hub.join(&general).unwrap();
        assert_eq!(sub.snapshot.messages.len(), 1);
        for i in 0..5 {
            hub.post(&general, who("ada"), text(&format!("after {i}")), None)
                .unwrap();
        }
        let mut seqs = Vec::new();
        while let Ok(frame) = sub.events.try_recv() {
            match serde_json::from_str::<ServerEvent>(frame.as_str()).unwrap() {
                ServerEvent::Message { message, .. } => seqs.push(message.seq),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(seqs, vec![2, 3, 4, 5, 6]);
    }

    #[test]
    fn authors_can_delete_their_own_messages() {
        let hub = hub();
        let general = name("general");
        hub.create_channel(general.clone()).unwrap();
        let m = hub.post(&general, who("Ada"), text("oops"), None).unwrap();
        let mut sub = hub.join(&general).unwrap();
        hub.delete(&general, m.seq, &who("ada")).unwrap();
        assert!(hub.history(&general).unwrap().messages.is_empty());
        let frame = sub.events.try_recv().unwrap();
        assert_eq!(
            serde_json::from_str::<ServerEvent>(frame.as_str()).unwrap(),
            ServerEvent::Deleted {
                channel: general,
                seq: m.seq
            }
        );
    }

    #[test]
    fn deleting_someone_elses_message_is_refused() {
        let hub = hub();
        let general = name("general");
        hub.create_channel(general.clone()).unwrap();
        let m = hub.post(&general, who("ada"), text("mine"), None).unwrap();
        let mut sub = hub.join(&general).unwrap();
        let err = hub.delete(&general, m.seq, &who("mallory")).unwrap_err();
        assert_eq!(err.code, ErrorCode::NotAuthor);
        assert_eq!(hub.history(&general).unwrap().messages, vec![m]);
        assert!(sub.events.try_recv().is_err(), "nothing was announced");
    }

    #[test]
    fn deleting_an_unknown_message_or_channel_is_refused() {
        let hub = hub();
        let general = name("general");
        hub.create_channel(general.clone()).unwrap();
        assert_eq!(
            hub.delete(&general, 42, &who("ada")).unwrap_err().code,
            ErrorCode::UnknownMessage
        );
        assert_eq!(
            hub.post(&name("nowhere"), who("ada"), text("hi"), None)
                .unwrap_err()
                .code,
            ErrorCode::UnknownChannel
        );
    }

    #[test]
    fn new_channels_are_announced() {
        let hub = hub();
        let mut directory = hub.subscribe_directory();
        hub.create_channel(name("general")).unwrap();
        let frame = directory.try_recv().unwrap();
        assert!(matches!(
            serde_json::from_str::<ServerEvent>(frame.as_str()).unwrap(),
            ServerEvent::ChannelCreated { channel } if channel.name == name("general")
        ));
    }
}
