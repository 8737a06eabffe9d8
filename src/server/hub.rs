//! The hub: every channel, its recent messages and its fan-out.
//!
//! This is the one interface the rest of the server uses for channel state
//! (server functions and sockets alike). What must outlive the process is
//! written through the [`Store`]; the hub keeps the live parts in memory.
//!
//! Each channel keeps a ring of at most [`HISTORY_LIMIT`] messages, a log
//! of its last [`HISTORY_LIMIT`] events (messages and deletions, numbered
//! by one per-channel sequence) for clients that reconnect, and a
//! `broadcast` sender. An event is numbered and serialized once, under the
//! channel's lock, and queued to the store in that order; once committed,
//! the store's writer runs its completion, which logs and fans out the
//! bytes (a clone is a reference count) and answers the writer. So nothing
//! is acknowledged or broadcast before it is on disk, and subscribers see
//! events in sequence order.

use super::store::{ChannelId, Loaded, Store, StoreError, Write};
use crate::model::{
    ChannelHistory, ChannelName, ChannelSummary, ErrorCode, Identity, IdentityId, Message,
    MessageText, OlderMessages, Refusal, Seq, HISTORY_LIMIT, OLDER_PAGE,
};
use crate::protocol::{Cursor, ServerEvent};
use axum::extract::ws::Utf8Bytes;
use chrono::{SubsecRound, Utc};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::task::{Context, Poll};
use tokio::sync::{broadcast, oneshot};

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
    store: Arc<dyn Store>,
    channels: Arc<RwLock<Channels>>,
    /// Channel-list events, for every connection.
    directory: broadcast::Sender<Frame>,
}

struct Channels {
    by_name: BTreeMap<ChannelName, Arc<Channel>>,
    next_id: ChannelId,
}

struct Channel {
    id: ChannelId,
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
    /// The number of the last event committed and announced.
    last_seq: Seq,
    /// The number of the last event numbered (it may be on its way to the
    /// disk).
    numbered: Seq,
    /// Accepted sends by (author, client id), and their order.
    client_ids: HashMap<(IdentityId, String), Seq>,
    client_id_order: VecDeque<(IdentityId, String)>,
}

impl ChannelState {
    fn number(&mut self) -> Seq {
        self.numbered += 1;
        self.numbered
    }

    /// Logs and fans out the committed event `seq`.
    fn announce(&mut self, fanout: &broadcast::Sender<Frame>, seq: Seq, frame: Frame) {
        self.last_seq = seq;
        if self.log.len() == HISTORY_LIMIT {
            self.log.pop_front();
        }
        self.log.push_back((seq, frame.clone()));
        // No receivers is fine: nobody is following the channel.
        let _ = fanout.send(frame);
    }

    /// Event `seq` could not be stored: it never happens. Clients that
    /// hold an earlier cursor cannot be replayed across the hole, so the
    /// log starts again after it.
    fn skip(&mut self, seq: Seq) {
        self.last_seq = seq;
        self.log.clear();
    }

    fn remember_client_id(&mut self, key: (IdentityId, String), seq: Seq) {
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

/// The answer to a write, once it is on disk (or could not be stored).
pub struct Pending<T>(oneshot::Receiver<Result<T, Refusal>>);

impl<T> Pending<T> {
    pub(crate) fn channel() -> (oneshot::Sender<Result<T, Refusal>>, Self) {
        let (tx, rx) = oneshot::channel();
        (tx, Pending(rx))
    }

    /// Already answered.
    pub fn ready(result: Result<T, Refusal>) -> Self {
        let (tx, pending) = Self::channel();
        let _ = tx.send(result);
        pending
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T, Refusal>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|answer| answer.unwrap_or_else(|_| Err(not_stored(&StoreError("the store stopped".into())))))
    }
}

/// The refusal for a write the store could not make.
pub fn not_stored(err: &StoreError) -> Refusal {
    tracing::error!(cause = %err, "a write was not stored");
    Refusal::new(
        ErrorCode::Internal,
        "The server could not store that; nothing changed. Please try again.",
    )
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

fn unknown_message(name: &ChannelName, seq: Seq) -> Refusal {
    Refusal::new(
        ErrorCode::UnknownMessage,
        format!("Message {seq} is not in \u{201c}{name}\u{201d} (any more)."),
    )
}

impl Hub {
    /// The hub over a store, with what the store holds.
    pub fn open(store: Arc<dyn Store>, limits: HubLimits, loaded: &Loaded) -> Self {
        let (directory, _) = broadcast::channel(limits.fanout_capacity.max(1));
        let mut by_name = BTreeMap::new();
        let mut next_id = 1;
        for stored in &loaded.channels {
            next_id = next_id.max(stored.id + 1);
            let log = stored
                .log
                .iter()
                .map(|(seq, event)| (*seq, Frame::from(event.to_json())))
                .collect();
            let mut state = ChannelState {
                ring: stored.recent.iter().cloned().collect(),
                log,
                last_seq: stored.last_seq,
                numbered: stored.last_seq,
                client_ids: HashMap::new(),
                client_id_order: VecDeque::new(),
            };
            for (author, client_id, seq) in &stored.client_ids {
                state.remember_client_id((*author, client_id.clone()), *seq);
            }
            let (fanout, _) = broadcast::channel(limits.fanout_capacity.max(1));
            by_name.insert(
                stored.summary.name.clone(),
                Arc::new(Channel {
                    id: stored.id,
                    summary: stored.summary.clone(),
                    state: Mutex::new(state),
                    fanout,
                }),
            );
        }
        Hub {
            epoch: loaded.epoch.clone(),
            limits,
            store,
            channels: Arc::new(RwLock::new(Channels { by_name, next_id })),
            directory,
        }
    }

    /// The store's epoch: cursors of another are not trusted.
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Every channel, sorted by name.
    pub fn channels(&self) -> Vec<ChannelSummary> {
        let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
        channels.by_name.values().map(|c| c.summary.clone()).collect()
    }

    /// Channel-list events ([`ServerEvent::ChannelCreated`]).
    pub fn subscribe_directory(&self) -> broadcast::Receiver<Frame> {
        self.directory.subscribe()
    }

    /// Creates a channel, announcing it to every connection once stored.
    /// Refused if the name is taken (names are lowered, so
    /// case-insensitively) or the hub is full.
    pub fn create_channel(&self, name: ChannelName) -> Pending<ChannelSummary> {
        let mut channels = self.channels.write().unwrap_or_else(|p| p.into_inner());
        if channels.by_name.contains_key(&name) {
            return Pending::ready(Err(Refusal::new(
                ErrorCode::ChannelTaken,
                format!("A channel named \u{201c}{name}\u{201d} already exists."),
            )));
        }
        if channels.by_name.len() >= self.limits.max_channels {
            return Pending::ready(Err(Refusal::new(
                ErrorCode::TooManyChannels,
                format!(
                    "This server holds its maximum of {} channels.",
                    self.limits.max_channels
                ),
            )));
        }
        let summary = ChannelSummary {
            name: name.clone(),
            created_at: Utc::now().trunc_subsecs(3),
        };
        let id = channels.next_id;
        channels.next_id += 1;
        let (fanout, _) = broadcast::channel(self.limits.fanout_capacity.max(1));
        // In the map at once, so that sends to it queue behind its
        // creation; announced once stored.
        let channel = Arc::new(Channel {
            id,
            summary: summary.clone(),
            state: Mutex::new(ChannelState {
                ring: VecDeque::with_capacity(HISTORY_LIMIT),
                log: VecDeque::with_capacity(HISTORY_LIMIT),
                last_seq: 0,
                numbered: 0,
                client_ids: HashMap::new(),
                client_id_order: VecDeque::new(),
            }),
            fanout,
        });
        channels.by_name.insert(name.clone(), channel);
        let (answer, pending) = Pending::channel();
        let directory = self.directory.clone();
        let frame: Frame = ServerEvent::ChannelCreated {
            channel: summary.clone(),
        }
        .to_json()
        .into();
        let all = Arc::clone(&self.channels);
        // Queued under the lock: sends to the channel queue behind it.
        self.store.write(
            Write::CreateChannel {
                id,
                name: summary.name.clone(),
                created_at: summary.created_at,
            },
            Box::new(move |stored| match stored {
                Ok(()) => {
                    let _ = directory.send(frame);
                    let _ = answer.send(Ok(summary));
                }
                Err(err) => {
                    // Never created: the name is free again.
                    let mut channels = all.write().unwrap_or_else(|p| p.into_inner());
                    if channels.by_name.get(&name).is_some_and(|c| c.id == id) {
                        channels.by_name.remove(&name);
                    }
                    drop(channels);
                    let _ = answer.send(Err(not_stored(&err)));
                }
            }),
        );
        pending
    }

    fn channel(&self, name: &ChannelName) -> Result<Arc<Channel>, Refusal> {
        let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
        channels
            .by_name
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

    /// A page of the stored messages numbered below `before`.
    pub fn older(&self, name: &ChannelName, before: Seq) -> Result<OlderMessages, Refusal> {
        let channel = self.channel(name)?;
        let (messages, more) = self
            .store
            .older(channel.id, before, OLDER_PAGE)
            .map_err(|err| not_stored(&err))?;
        Ok(OlderMessages { messages, more })
    }

    /// Subscribes to a channel. The catch-up and the subscription are taken
    /// under the channel's lock, so the events that follow are exactly
    /// those after it. With a cursor of this store that the log still
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

    /// Stores a message as the channel's next event and, once committed,
    /// fans it out; the answer is its number. The oldest message leaves
    /// the ring once the channel holds more than [`HISTORY_LIMIT`]. A
    /// repeat of a `client_id` this author already used (a retried send)
    /// is not stored again: its answer is the first one's number, once
    /// that is stored.
    pub fn post(
        &self,
        name: &ChannelName,
        author: &Identity,
        text: MessageText,
        client_id: Option<String>,
    ) -> Pending<Seq> {
        let channel = match self.channel(name) {
            Ok(channel) => channel,
            Err(refusal) => return Pending::ready(Err(refusal)),
        };
        let mut state = lock(&channel.state);
        let id_key = client_id.as_ref().map(|id| (author.id, id.clone()));
        if let Some(seq) = id_key.as_ref().and_then(|key| state.client_ids.get(key)) {
            let seq = *seq;
            if seq <= state.last_seq {
                return Pending::ready(Ok(seq));
            }
            // Still on its way to the disk: answer once it is there.
            let (answer, pending) = Pending::channel();
            self.store.write(
                Write::Barrier,
                Box::new(move |stored| {
                    let _ = answer.send(stored.map(|()| seq).map_err(|e| not_stored(&e)));
                }),
            );
            return pending;
        }
        let seq = state.number();
        let message = Message {
            seq,
            author_id: author.id,
            author: author.name.clone(),
            text,
            sent_at: Utc::now().trunc_subsecs(3),
        };
        let frame: Frame = ServerEvent::Message {
            channel: name.clone(),
            message: message.clone(),
        }
        .to_json()
        .into();
        if let Some(key) = id_key {
            state.remember_client_id(key, seq);
        }
        let (answer, pending) = Pending::channel();
        let committed = Arc::clone(&channel);
        // Queued under the channel's lock: the store commits, and runs the
        // completions, in sequence order.
        self.store.write(
            Write::Message {
                channel: channel.id,
                message: message.clone(),
                client_id: client_id.clone(),
            },
            Box::new(move |stored| {
                let mut state = lock(&committed.state);
                match stored {
                    Ok(()) => {
                        // The sender's answer first, so its acknowledgement
                        // tends to precede the message it gets with everyone.
                        let _ = answer.send(Ok(seq));
                        if state.ring.len() == HISTORY_LIMIT {
                            state.ring.pop_front();
                        }
                        state.ring.push_back(message);
                        state.announce(&committed.fanout, seq, frame);
                    }
                    Err(err) => {
                        if let Some(client_id) = client_id {
                            state.client_ids.remove(&(message.author_id, client_id));
                        }
                        state.skip(seq);
                        drop(state);
                        let _ = answer.send(Err(not_stored(&err)));
                    }
                }
            }),
        );
        pending
    }

    /// Deletes a message on behalf of identity `by`, who must be its
    /// author; older messages than the ring holds are looked up in the
    /// store.
    pub fn delete(&self, name: &ChannelName, seq: Seq, by: IdentityId) -> Pending<()> {
        match self.start_delete(name, seq, by) {
            Ok(pending) => pending,
            Err(refusal) => Pending::ready(Err(refusal)),
        }
    }

    fn start_delete(
        &self,
        name: &ChannelName,
        seq: Seq,
        by: IdentityId,
    ) -> Result<Pending<()>, Refusal> {
        let channel = self.channel(name)?;
        let mut state = lock(&channel.state);
        // The ring is sorted by seq, so this is a binary search.
        let removed = match state.ring.binary_search_by_key(&seq, |m| m.seq) {
            Ok(index) => {
                if state.ring[index].author_id != by {
                    return Err(not_author());
                }
                state.ring.remove(index)
            }
            Err(_) if seq <= state.last_seq => {
                let stored = self
                    .store
                    .author(channel.id, seq)
                    .map_err(|err| not_stored(&err))?;
                match stored {
                    Some(stored) if !stored.deleted => {
                        if stored.author_id != by {
                            return Err(not_author());
                        }
                        None
                    }
                    _ => return Err(unknown_message(name, seq)),
                }
            }
            Err(_) => return Err(unknown_message(name, seq)),
        };
        let event_seq = state.number();
        let frame: Frame = ServerEvent::Deleted {
            channel: name.clone(),
            seq: event_seq,
            message_seq: seq,
        }
        .to_json()
        .into();
        let (answer, pending) = Pending::channel();
        let committed = Arc::clone(&channel);
        self.store.write(
            Write::Delete {
                channel: channel.id,
                seq,
                event_seq,
            },
            Box::new(move |stored| {
                let mut state = lock(&committed.state);
                match stored {
                    Ok(()) => {
                        state.announce(&committed.fanout, event_seq, frame);
                        drop(state);
                        let _ = answer.send(Ok(()));
                    }
                    Err(err) => {
                        // Not deleted after all: back where it was.
                        if let Some(message) = removed {
                            if let Err(at) = state.ring.binary_search_by_key(&seq, |m| m.seq) {
                                state.ring.insert(at, message);
                            }
                        }
                        state.skip(event_seq);
                        drop(state);
                        let _ = answer.send(Err(not_stored(&err)));
                    }
                }
            }),
        );
        Ok(pending)
    }

    /// Events queued in a channel's fan-out for its slowest follower:
    /// never more than the configured `fanout_capacity`.
    pub fn queued(&self, name: &ChannelName) -> Result<usize, Refusal> {
        Ok(self.channel(name)?.fanout.len())
    }
}

fn not_author() -> Refusal {
    Refusal::new(
        ErrorCode::NotAuthor,
        "You can delete only your own messages.",
    )
}
