//! The hub: every channel, its recent messages and its fan-out.
//!
//! This is the one interface the rest of the server uses for channel state
//! (server functions and sockets alike). Persistence, unread counts and a
//! Redis relay between instances belong behind these methods, so callers
//! need not change when they come.
//!
//! Each channel keeps a ring of at most [`HISTORY_LIMIT`] messages, a log
//! of its last [`HISTORY_LIMIT`] events (messages and deletions, numbered
//! by one per-channel sequence) for clients that reconnect, and a
//! `broadcast` sender. Every event is serialized to JSON once, under the
//! channel's lock (so subscribers see events in sequence order), and the
//! bytes are fanned out and logged: a clone is a reference count.

use crate::model::{
    ChannelHistory, ChannelName, ChannelSummary, DisplayName, ErrorCode, Message, MessageText,
    Refusal, Seq, HISTORY_LIMIT,
};
use crate::protocol::{Cursor, ServerEvent};
use axum::extract::ws::Utf8Bytes;
use chrono::Utc;
use std::collections::{BTreeMap, HashMap, VecDeque};
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

/// How many recent `client_id`s a channel remembers to drop repeats.
const REMEMBERED_CLIENT_IDS: usize = 1024;

struct ChannelState {
    /// Oldest first; never more than [`HISTORY_LIMIT`].
    ring: VecDeque<Message>,
    /// The last events, oldest first, as sent; never more than
    /// [`HISTORY_LIMIT`].
    log: VecDeque<(Seq, Frame)>,
    /// The number of the last event.
    last_seq: Seq,
    /// Accepted sends by (author key, client id), and their order.
    client_ids: HashMap<(String, String), Seq>,
    client_id_order: VecDeque<(String, String)>,
}

impl ChannelState {
    /// The number the next event gets.
    fn next_seq(&self) -> Seq {
        self.last_seq + 1
    }

    /// Logs and fans out the event numbered [`Self::next_seq`].
    fn emit(&mut self, fanout: &broadcast::Sender<Frame>, event: &ServerEvent) {
        self.last_seq += 1;
        let seq = self.last_seq;
        let frame: Frame = event.to_json().into();
        if self.log.len() == HISTORY_LIMIT {
            self.log.pop_front();
        }
        self.log.push_back((seq, frame.clone()));
        // No receivers is fine: nobody is following the channel.
        let _ = fanout.send(frame);
    }

    fn remember_client_id(&mut self, key: (String, String), seq: Seq) {
        if self.client_id_order.len() == REMEMBERED_CLIENT_IDS {
            if let Some(old) = self.client_id_order.pop_front() {
                self.client_ids.remove(&old);
            }
        }
        self.client_id_order.push_back(key.clone());
        self.client_ids.insert(key, seq);
    }
}

/// How a subscriber catches up before following the live events.
#[derive(Debug)]
pub enum Catchup {
    /// Replace everything held with these messages (as of event `seq`).
    Snapshot { messages: Vec<Message>, seq: Seq },
    /// Apply these events, exactly those after the subscriber's cursor;
    /// it is then at `seq`.
    Replay { frames: Vec<Frame>, seq: Seq },
}

/// A subscription to one channel: how to catch up, and what comes next.
pub struct Subscription {
    pub catchup: Catchup,
    pub events: broadcast::Receiver<Frame>,
}

/// The outcome of an accepted send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// Stored and fanned out.
    New(Message),
    /// A repeat of a `client_id` already accepted: stored once, as `seq`.
    Repeat { seq: Seq },
}

impl Posted {
    pub fn seq(&self) -> Seq {
        match self {
            Posted::New(message) => message.seq,
            Posted::Repeat { seq } => *seq,
        }
    }
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
                    log: VecDeque::with_capacity(HISTORY_LIMIT),
                    last_seq: 0,
                    client_ids: HashMap::new(),
                    client_id_order: VecDeque::new(),
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

    /// Subscribes to a channel. The catch-up and the subscription are taken
    /// under the channel's lock, so the events that follow are exactly
    /// those after it. With a cursor of this run that the log still
    /// covers, the catch-up is a replay of the missed events; otherwise a
    /// snapshot.
    pub fn join(
        &self,
        name: &ChannelName,
        since: Option<&Cursor>,
    ) -> Result<Subscription, Refusal> {
        let channel = self.channel(name)?;
        let state = lock(&channel.state);
        let replayable = since.filter(|cursor| {
            let oldest_logged = state
                .log
                .front()
                .map_or(state.last_seq + 1, |(seq, _)| *seq);
            cursor.epoch == self.epoch
                && cursor.seq <= state.last_seq
                && cursor.seq + 1 >= oldest_logged
        });
        let catchup = match replayable {
            Some(cursor) => Catchup::Replay {
                frames: state
                    .log
                    .iter()
                    .filter(|(seq, _)| *seq > cursor.seq)
                    .map(|(_, frame)| frame.clone())
                    .collect(),
                seq: state.last_seq,
            },
            None => Catchup::Snapshot {
                messages: state.ring.iter().cloned().collect(),
                seq: state.last_seq,
            },
        };
        Ok(Subscription {
            catchup,
            events: channel.fanout.subscribe(),
        })
    }

    /// Stores a message as the channel's next event and fans it out. The
    /// oldest message goes once the channel holds more than
    /// [`HISTORY_LIMIT`]. A repeat of a `client_id` this author already
    /// used (a retried send) is not stored again.
    pub fn post(
        &self,
        name: &ChannelName,
        author: DisplayName,
        text: MessageText,
        client_id: Option<String>,
    ) -> Result<Posted, Refusal> {
        let channel = self.channel(name)?;
        let mut state = lock(&channel.state);
        let id_key = client_id.as_ref().map(|id| (author.key(), id.clone()));
        if let Some(seq) = id_key.as_ref().and_then(|key| state.client_ids.get(key)) {
            return Ok(Posted::Repeat { seq: *seq });
        }
        let message = Message {
            seq: state.next_seq(),
            author,
            text,
            sent_at: Utc::now(),
        };
        let event = ServerEvent::Message {
            channel: name.clone(),
            message: message.clone(),
            client_id,
        };
        state.emit(&channel.fanout, &event);
        if state.ring.len() == HISTORY_LIMIT {
            state.ring.pop_front();
        }
        state.ring.push_back(message.clone());
        if let Some(key) = id_key {
            state.remember_client_id(key, message.seq);
        }
        Ok(Posted::New(message))
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
            seq: state.next_seq(),
            message_seq: seq,
        };
        state.emit(&channel.fanout, &event);
        Ok(())
    }

    /// Events queued in a channel's fan-out for its slowest follower:
    /// never more than the configured `fanout_capacity`.
    pub fn queued(&self, name: &ChannelName) -> Result<usize, Refusal> {
        Ok(self.channel(name)?.fanout.len())
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

    /// Posts without a client id; the message stored.
    fn post(hub: &Hub, channel: &ChannelName, author: &str, body: &str) -> Message {
        match hub.post(channel, who(author), text(body), None).unwrap() {
            Posted::New(message) => message,
            repeat => panic!("unexpected {repeat:?}"),
        }
    }

    fn events(sub: &mut Subscription) -> Vec<ServerEvent> {
        std::iter::from_fn(|| sub.events.try_recv().ok())
            .map(|frame| serde_json::from_str(frame.as_str()).unwrap())
            .collect()
    }

    fn cursor(hub: &Hub, seq: Seq) -> Cursor {
        Cursor {
            epoch: hub.epoch().to_owned(),
            seq,
        }
    }

    #[test]
    fn a_channel_keeps_only_its_last_hundred_messages() {
        let hub = hub();
        let general = name("general");
        hub.create_channel(general.clone()).unwrap();
        for i in 1..=150 {
            post(&hub, &general, "ada", &format!("m{i}"));
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
        let a1 = post(&hub, &name("a"), "x", "1");
        let b1 = post(&hub, &name("b"), "x", "1");
        let a2 = post(&hub, &name("a"), "x", "2");
        assert_eq!((a1.seq, a2.seq, b1.seq), (1, 2, 1));
    }

    #[test]
    fn subscribers_receive_events_in_sequence_order() {
        let hub = hub();
        let general = name("general");
        hub.create_channel(general.clone()).unwrap();
        post(&hub, &general, "ada", "before");
        let mut sub = hub.join(&general, None).unwrap();
        assert!(
            matches!(sub.catchup, Catchup::Snapshot { ref messages, seq: 1 } if messages.len() == 1)
        );
        for i in 0..5 {
            post(&hub, &general, "ada", &format!("after {i}"));
        }
        let seqs: Vec<_> = events(&mut sub)
            .into_iter()
            .map(|event| match event {
                ServerEvent::Message { message, .. } => message.seq,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(seqs, vec![2, 3, 4, 5, 6]);
    }

    #[test]
    fn authors_can_delete_their_own_messages() {
        let hub = hub();
        let general = name("general");
        hub.create_channel(general.clone()).unwrap();
        let m = post(&hub, &general, "Ada", "oops");
        let mut sub = hub.join(&general, None).unwrap();
        hub.delete(&general, m.seq, &who("ada")).unwrap();
        assert!(hub.history(&general).unwrap().messages.is_empty());
        assert_eq!(
            events(&mut sub),
            vec![ServerEvent::Deleted {
                channel: general,
                seq: m.seq + 1,
                message_seq: m.seq
            }]
        );
    }

    #[test]
    fn deleting_someone_elses_message_is_refused() {
        let hub = hub();
        let general = name("general");
        hub.create_channel(general.clone()).unwrap();
        let m = post(&hub, &general, "ada", "mine");
        let mut sub = hub.join(&general, None).unwrap();
        let err = hub.delete(&general, m.seq, &who("mallory")).unwrap_err();
        assert_eq!(err.code, ErrorCode::NotAuthor);
        assert_eq!(hub.history(&general).unwrap().messages, vec![m]);
        assert!(events(&mut sub).is_empty(), "nothing was announced");
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

    #[test]
    fn a_retried_send_is_stored_once() {
        let hub = hub();
        let general = name("general");
        hub.create_channel(general.clone()).unwrap();
        let send = |author: &str| {
            hub.post(&general, who(author), text("once"), Some("c-1".into()))
                .unwrap()
        };
        let first = send("ada");
        assert!(matches!(first, Posted::New(_)));
        assert_eq!(send("ada"), Posted::Repeat { seq: first.seq() });
        assert_eq!(send("ADA"), Posted::Repeat { seq: first.seq() });
        // The same id from someone else is their own message.
        assert!(matches!(send("bob"), Posted::New(_)));
        assert_eq!(hub.history(&general).unwrap().messages.len(), 2);
    }

    #[test]
    fn a_join_with_a_recent_cursor_replays_exactly_the_missed_events() {
        let hub = hub();
        let general = name("general");
        hub.create_channel(general.clone()).unwrap();
        for i in 1..=10 {
            post(&hub, &general, "ada", &format!("m{i}"));
        }
        hub.delete(&general, 9, &who("ada")).unwrap();
        let sub = hub.join(&general, Some(&cursor(&hub, 7))).unwrap();
        let Catchup::Replay { frames, seq } = sub.catchup else {
            panic!("expected a replay");
        };
        assert_eq!(seq, 11);
        let replayed: Vec<ServerEvent> = frames
            .iter()
            .map(|f| serde_json::from_str(f.as_str()).unwrap())
            .collect();
        assert_eq!(replayed.len(), 4, "m8, m9, m10 and the deletion of m9");
        assert!(matches!(&replayed[0], ServerEvent::Message { message, .. } if message.seq == 8));
        assert!(matches!(
            &replayed[3],
            ServerEvent::Deleted {
                seq: 11,
                message_seq: 9,
                ..
            }
        ));

        let up_to_date = hub.join(&general, Some(&cursor(&hub, 11))).unwrap();
        assert!(
            matches!(up_to_date.catchup, Catchup::Replay { ref frames, seq: 11 } if frames.is_empty())
        );
    }

    #[test]
    fn a_join_falls_back_to_a_snapshot_when_replay_cannot_be_exact() {
        let hub = hub();
        let general = name("general");
        hub.create_channel(general.clone()).unwrap();
        for i in 1..=150 {
            post(&hub, &general, "ada", &format!("m{i}"));
        }
        // Event 50 is no longer logged: replaying from 49 would miss it.
        let old = hub.join(&general, Some(&cursor(&hub, 49))).unwrap();
        assert!(
            matches!(old.catchup, Catchup::Snapshot { ref messages, seq: 150 } if messages.len() == 100)
        );
        // Event 51 is the oldest logged: replay from 50 is exact.
        let edge = hub.join(&general, Some(&cursor(&hub, 50))).unwrap();
        assert!(matches!(edge.catchup, Catchup::Replay { ref frames, .. } if frames.len() == 100));
        // A cursor of another run, or from the future, is not trusted.
        let other_run = Cursor {
            epoch: "other".into(),
            seq: 140,
        };
        let restarted = hub.join(&general, Some(&other_run)).unwrap();
        assert!(matches!(restarted.catchup, Catchup::Snapshot { .. }));
        let future = hub.join(&general, Some(&cursor(&hub, 999))).unwrap();
        assert!(matches!(future.catchup, Catchup::Snapshot { .. }));
    }

    #[test]
    fn the_fanout_queue_is_capped_for_a_follower_that_never_reads() {
        let hub = hub();
        let general = name("general");
        hub.create_channel(general.clone()).unwrap();
        let mut sleeper = hub.join(&general, None).unwrap();
        for i in 0..100 {
            post(&hub, &general, "ada", &format!("m{i}"));
        }
        assert_eq!(hub.queued(&general).unwrap(), 16, "the capacity, not 100");
        assert!(matches!(
            sleeper.events.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(84))
        ));
    }
}
