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
        Pin::new(&mut self.0).poll(cx).map(|answer| {
            answer.unwrap_or_else(|_| Err(not_stored(&StoreError("the store stopped".into()))))
        })
    }
}

/// Whether a frame of the channel-list fan-out is the heartbeat (see
/// [`Hub::beat`]), not an event to send.
pub fn is_heartbeat(frame: &Frame) -> bool {
    frame.as_str().is_empty()
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
        channels
            .by_name
            .values()
            .map(|c| c.summary.clone())
            .collect()
    }

    /// Channel-list events ([`ServerEvent::ChannelCreated`]), and the
    /// heartbeat ([`is_heartbeat`]).
    pub fn subscribe_directory(&self) -> broadcast::Receiver<Frame> {
        self.directory.subscribe()
    }

    /// Tells every connection it is time to ping and to check for silence:
    /// an empty frame on the channel-list fan-out, which every connection
    /// follows anyway (no timer per connection).
    pub fn beat(&self) {
        let _ = self.directory.send(Frame::from_static(""));
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
                        if state.ring.len() == HISTORY_LIMIT {
                            state.ring.pop_front();
                        }
                        state.ring.push_back(message);
                        state.announce(&committed.fanout, seq, frame);
                        drop(state);
                        // Answered last: whoever awaits it finds the hub
                        // already showing the message.
                        let _ = answer.send(Ok(seq));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DisplayName;
    use crate::server::store::SqliteStore;

    fn limits() -> HubLimits {
        HubLimits {
            max_channels: 3,
            fanout_capacity: 16,
        }
    }

    /// A hub over a fresh store, and the store.
    fn hub() -> (Hub, Arc<SqliteStore>) {
        let store = SqliteStore::open(":memory:").unwrap();
        let loaded = store.load(HISTORY_LIMIT).unwrap();
        (Hub::open(store.clone(), limits(), &loaded), store)
    }

    /// A hub over the same store, as after a restart.
    fn reopen(store: &Arc<SqliteStore>) -> Hub {
        let loaded = store.load(HISTORY_LIMIT).unwrap();
        Hub::open(store.clone(), limits(), &loaded)
    }

    fn name(s: &str) -> ChannelName {
        ChannelName::parse(s).unwrap()
    }

    fn who(id: IdentityId, s: &str) -> Identity {
        Identity {
            id,
            name: DisplayName::parse(s).unwrap(),
        }
    }

    fn text(s: &str) -> MessageText {
        MessageText::parse(s).unwrap()
    }

    async fn create(hub: &Hub, channel: &str) -> ChannelName {
        hub.create_channel(name(channel)).await.unwrap();
        name(channel)
    }

    /// Posts without a client id; the number it was stored as.
    async fn post(hub: &Hub, channel: &ChannelName, author: IdentityId, body: &str) -> Seq {
        hub.post(channel, &who(author, "someone"), text(body), None)
            .await
            .unwrap()
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

    #[tokio::test]
    async fn duplicate_channel_names_are_refused_case_insensitively() {
        let (hub, _store) = hub();
        create(&hub, "general").await;
        let err = hub.create_channel(name("General")).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::ChannelTaken);
        assert_eq!(hub.channels().len(), 1);
    }

    #[tokio::test]
    async fn the_channel_count_is_capped() {
        let (hub, _store) = hub();
        for n in ["a", "b", "c"] {
            create(&hub, n).await;
        }
        let err = hub.create_channel(name("d")).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::TooManyChannels);
        assert_eq!(hub.channels().len(), 3);
    }

    #[tokio::test]
    async fn channels_are_listed_by_name() {
        let (hub, _store) = hub();
        create(&hub, "zebra").await;
        create(&hub, "apple").await;
        let names: Vec<_> = hub.channels().into_iter().map(|c| c.name).collect();
        assert_eq!(names, vec![name("apple"), name("zebra")]);
    }

    #[tokio::test]
    async fn a_channel_keeps_only_its_last_hundred_messages_in_memory() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        for i in 1..=150 {
            post(&hub, &general, 1, &format!("m{i}")).await;
        }
        let history = hub.history(&general).unwrap().messages;
        assert_eq!(history.len(), HISTORY_LIMIT);
        assert_eq!(history.first().unwrap().seq, 51);
        assert_eq!(history.first().unwrap().text.as_str(), "m51");
        assert_eq!(history.last().unwrap().seq, 150);
        // The fifty before them are in the store, a page at a time.
        let page = hub.older(&general, 51).unwrap();
        assert_eq!(page.messages.len(), 50);
        assert_eq!(page.messages.first().unwrap().seq, 1);
        assert!(!page.more);
    }

    #[tokio::test]
    async fn sequence_numbers_increase_per_channel() {
        let (hub, _store) = hub();
        let (a, b) = (create(&hub, "a").await, create(&hub, "b").await);
        let a1 = post(&hub, &a, 1, "1").await;
        let b1 = post(&hub, &b, 1, "1").await;
        let a2 = post(&hub, &a, 1, "2").await;
        assert_eq!((a1, a2, b1), (1, 2, 1));
    }

    #[tokio::test]
    async fn subscribers_receive_events_in_sequence_order() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        post(&hub, &general, 1, "before").await;
        let mut sub = hub.join(&general, None).unwrap();
        assert!(
            matches!(sub.catchup, Catchup::Snapshot { ref messages, seq: 1 } if messages.len() == 1)
        );
        let sends: Vec<_> = (0..5)
            .map(|i| hub.post(&general, &who(1, "ada"), text(&format!("after {i}")), None))
            .collect();
        for send in sends {
            send.await.unwrap();
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

    #[tokio::test]
    async fn authors_can_delete_their_own_messages() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        let m = post(&hub, &general, 7, "oops").await;
        let mut sub = hub.join(&general, None).unwrap();
        hub.delete(&general, m, 7).await.unwrap();
        assert!(hub.history(&general).unwrap().messages.is_empty());
        assert_eq!(
            events(&mut sub),
            vec![ServerEvent::Deleted {
                channel: general,
                seq: m + 1,
                message_seq: m
            }]
        );
    }

    #[tokio::test]
    async fn deleting_is_authorized_by_identity_not_by_name() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        let m = hub
            .post(&general, &who(1, "ada"), text("mine"), None)
            .await
            .unwrap();
        let mut sub = hub.join(&general, None).unwrap();
        // Another identity under the same name has no power over it.
        let err = hub.delete(&general, m, 2).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::NotAuthor);
        assert_eq!(hub.history(&general).unwrap().messages.len(), 1);
        assert!(events(&mut sub).is_empty(), "nothing was announced");
    }

    #[tokio::test]
    async fn messages_older_than_the_window_can_be_deleted_by_their_author() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        let first = post(&hub, &general, 1, "old").await;
        for i in 0..HISTORY_LIMIT {
            post(&hub, &general, 2, &format!("m{i}")).await;
        }
        assert_eq!(
            hub.delete(&general, first, 2).await.unwrap_err().code,
            ErrorCode::NotAuthor
        );
        hub.delete(&general, first, 1).await.unwrap();
        assert!(hub.older(&general, 2).unwrap().messages.is_empty());
        assert_eq!(
            hub.delete(&general, first, 1).await.unwrap_err().code,
            ErrorCode::UnknownMessage
        );
    }

    #[tokio::test]
    async fn deleting_an_unknown_message_or_channel_is_refused() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        assert_eq!(
            hub.delete(&general, 42, 1).await.unwrap_err().code,
            ErrorCode::UnknownMessage
        );
        assert_eq!(
            hub.post(&name("nowhere"), &who(1, "ada"), text("hi"), None)
                .await
                .unwrap_err()
                .code,
            ErrorCode::UnknownChannel
        );
    }

    #[tokio::test]
    async fn new_channels_are_announced_once_stored() {
        let (hub, _store) = hub();
        let mut directory = hub.subscribe_directory();
        create(&hub, "general").await;
        let frame = directory.try_recv().unwrap();
        assert!(matches!(
            serde_json::from_str::<ServerEvent>(frame.as_str()).unwrap(),
            ServerEvent::ChannelCreated { channel } if channel.name == name("general")
        ));
    }

    #[tokio::test]
    async fn a_retried_send_is_stored_once_also_after_a_restart() {
        let (hub, store) = hub();
        let general = create(&hub, "general").await;
        let send = |hub: &Hub, author: IdentityId| {
            hub.post(
                &general,
                &who(author, "ada"),
                text("once"),
                Some("c-1".into()),
            )
        };
        // The repeat comes before the first is even stored.
        let (first, repeat) = (send(&hub, 1), send(&hub, 1));
        let first = first.await.unwrap();
        assert_eq!(repeat.await.unwrap(), first);
        // The same id from someone else is their own message.
        assert_ne!(send(&hub, 2).await.unwrap(), first);
        assert_eq!(hub.history(&general).unwrap().messages.len(), 2);

        let hub = reopen(&store);
        assert_eq!(send(&hub, 1).await.unwrap(), first);
        assert_eq!(hub.history(&general).unwrap().messages.len(), 2);
    }

    #[tokio::test]
    async fn a_join_with_a_recent_cursor_replays_exactly_the_missed_events() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        for i in 1..=10 {
            post(&hub, &general, 1, &format!("m{i}")).await;
        }
        hub.delete(&general, 9, 1).await.unwrap();
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

    #[tokio::test]
    async fn after_a_restart_cursors_resume_and_numbers_continue() {
        let (hub, store) = hub();
        let general = create(&hub, "general").await;
        for i in 1..=10 {
            post(&hub, &general, 1, &format!("m{i}")).await;
        }
        hub.delete(&general, 3, 1).await.unwrap();
        let epoch = hub.epoch().to_owned();
        drop(hub);

        let hub = reopen(&store);
        assert_eq!(hub.epoch(), epoch, "the epoch belongs to the store");
        let sub = hub.join(&general, Some(&cursor(&hub, 8))).unwrap();
        let Catchup::Replay { frames, seq: 11 } = sub.catchup else {
            panic!("expected a replay up to 11");
        };
        let replayed: Vec<ServerEvent> = frames
            .iter()
            .map(|f| serde_json::from_str(f.as_str()).unwrap())
            .collect();
        assert!(matches!(&replayed[..], [
            ServerEvent::Message { message: m9, .. },
            ServerEvent::Message { message: m10, .. },
            ServerEvent::Deleted { seq: 11, message_seq: 3, .. },
        ] if m9.seq == 9 && m10.seq == 10 && m10.text.as_str() == "m10"));
        // A cursor before the deleted message cannot be replayed exactly
        // (its text is gone): a snapshot, without it.
        let old = hub.join(&general, Some(&cursor(&hub, 1))).unwrap();
        assert!(
            matches!(old.catchup, Catchup::Snapshot { ref messages, seq: 11 } if messages.len() == 9)
        );
        assert_eq!(post(&hub, &general, 1, "next").await, 12);
    }

    #[tokio::test]
    async fn a_join_falls_back_to_a_snapshot_when_replay_cannot_be_exact() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        for i in 1..=150 {
            post(&hub, &general, 1, &format!("m{i}")).await;
        }
        // Event 50 is no longer logged: replaying from 49 would miss it.
        let old = hub.join(&general, Some(&cursor(&hub, 49))).unwrap();
        assert!(
            matches!(old.catchup, Catchup::Snapshot { ref messages, seq: 150 } if messages.len() == 100)
        );
        // Event 51 is the oldest logged: replay from 50 is exact.
        let edge = hub.join(&general, Some(&cursor(&hub, 50))).unwrap();
        assert!(matches!(edge.catchup, Catchup::Replay { ref frames, .. } if frames.len() == 100));
        // A cursor of another store, or from the future, is not trusted.
        let other_store = Cursor {
            epoch: "other".into(),
            seq: 140,
        };
        let restarted = hub.join(&general, Some(&other_store)).unwrap();
        assert!(matches!(restarted.catchup, Catchup::Snapshot { .. }));
        let future = hub.join(&general, Some(&cursor(&hub, 999))).unwrap();
        assert!(matches!(future.catchup, Catchup::Snapshot { .. }));
    }

    #[tokio::test]
    async fn the_fanout_queue_is_capped_for_a_follower_that_never_reads() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        let mut sleeper = hub.join(&general, None).unwrap();
        for i in 0..100 {
            post(&hub, &general, 1, &format!("m{i}")).await;
        }
        assert_eq!(hub.queued(&general).unwrap(), 16, "the capacity, not 100");
        assert!(matches!(
            sleeper.events.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(84))
        ));
    }

    #[tokio::test]
    async fn nothing_is_announced_or_acknowledged_when_the_store_fails() {
        let (hub, store) = hub();
        let general = create(&hub, "general").await;
        post(&hub, &general, 1, "kept").await;
        let mut sub = hub.join(&general, None).unwrap();
        store.close();
        let err = hub
            .post(&general, &who(1, "ada"), text("lost"), None)
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Internal);
        assert!(events(&mut sub).is_empty());
        assert_eq!(hub.history(&general).unwrap().messages.len(), 1);
        assert_eq!(
            hub.create_channel(name("more")).await.unwrap_err().code,
            ErrorCode::Internal
        );
        assert_eq!(hub.channels().len(), 1, "the failed creation is undone");
    }
}
