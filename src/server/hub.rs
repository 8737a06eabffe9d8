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

use super::store::{Change, ChannelId, Loaded, Store, StoreError, StoredEvent, Write};
use crate::model::{
    check_seq, search_words, ChannelHistory, ChannelName, ChannelSummary, Emoji, ErrorCode,
    Identity, IdentityId, Member, Message, MessageContext, MessageText, OlderMessages, Reaction,
    Refusal, SearchHit, Seq, Thread, UnreadCount, HISTORY_LIMIT, MAX_REACTIONS, OLDER_PAGE,
    SEARCH_LIMIT, THREAD_PAGE,
};

/// Most direct conversations a server holds.
pub const MAX_DIRECTS: usize = 100_000;

/// Messages shown on each side of one opened from a search.
pub const CONTEXT_SIDE: usize = 25;
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
    /// Channel-list events and mentions, for every connection.
    directory: broadcast::Sender<Notice>,
    /// Read marks and who is online.
    awareness: Mutex<Awareness>,
}

/// What the hub knows of people beyond their messages.
#[derive(Default)]
struct Awareness {
    /// Who has read which channel up to which event. Bounded by the
    /// identities and channels; an identity's marks go with it.
    reads: HashMap<IdentityId, HashMap<ChannelId, Seq>>,
    /// The people with a connection open, and how many.
    online: HashMap<IdentityId, (Identity, u32)>,
    /// Who was online at the last announcement.
    announced: HashMap<IdentityId, Identity>,
}

/// What every connection hears, whichever channel it follows.
#[derive(Debug, Clone)]
pub enum Notice {
    /// Time to ping, and to check for silence (see [`Hub::beat`]).
    Beat,
    /// An event for everyone (a channel was created).
    All(Frame),
    /// An event for the connections of these identities only (a mention).
    To(Arc<[IdentityId]>, Frame),
    /// These channels changed since the last tick: each connection works
    /// out its person's unread counts of those it does not follow.
    Activity(Arc<[ChannelName]>),
    /// These identities ended (signed out, expired): their connections
    /// close, and with them every subscription they held.
    Ended(Arc<[IdentityId]>),
}

/// A message to post: its text, and what the server worked out about it.
#[derive(Debug, Clone)]
pub struct Draft {
    pub text: MessageText,
    /// The sender's id for it, to recognise a retried send.
    pub client_id: Option<String>,
    /// The message whose thread it is a reply in.
    pub thread: Option<Seq>,
    /// Whom the text mentions.
    pub mentions: Vec<Identity>,
}

impl Draft {
    /// A plain message: no client id, thread or mentions.
    pub fn text(text: MessageText) -> Self {
        Draft {
            text,
            client_id: None,
            thread: None,
            mentions: Vec::new(),
        }
    }
}

/// A channel event on its way to the disk, and what to do once it is there.
struct Queued {
    event: ServerEvent,
    /// The message whose text or reactions the event carries.
    message_seq: Option<Seq>,
    changes: Vec<Change>,
    ring: Vec<RingChange>,
    /// The messages staged for it (see `ChannelState::staged`).
    staged: Vec<Seq>,
    /// Who hears of it wherever they are, and what.
    notify: Option<(Vec<IdentityId>, ServerEvent)>,
    /// The send's (author, client id), forgotten if it is not stored.
    client_id: Option<(IdentityId, String)>,
}

impl Queued {
    /// An event that changes one message (staged already).
    fn update(
        event: ServerEvent,
        message: Message,
        notify: Option<(Vec<IdentityId>, ServerEvent)>,
    ) -> Self {
        Queued {
            event,
            message_seq: Some(message.seq),
            staged: vec![message.seq],
            changes: vec![Change::Update(message.clone())],
            ring: vec![RingChange::Replace(message)],
            notify,
            client_id: None,
        }
    }
}

/// How a committed event changes the channel's window.
enum RingChange {
    /// A new message (not a reply).
    Push(Message),
    /// A new version of a message, if the window holds it.
    Replace(Message),
    /// A deleted message.
    Remove(Seq),
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
    /// An event was committed since the last tick (see [`Hub::tick`]).
    active: std::sync::atomic::AtomicBool,
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
    /// Messages as the writes on their way to the disk leave them (`None`:
    /// deleted), and how many such writes there are. The window and the
    /// store show a message as committed; a write is decided on this, so
    /// two quick reactions both count. Emptied as writes commit.
    staged: HashMap<Seq, (Option<Message>, u32)>,
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

    /// Message `seq` as it stands once the writes numbered so far are
    /// committed; `None` if it does not exist (any more).
    fn current(
        &self,
        store: &dyn Store,
        channel: ChannelId,
        seq: Seq,
    ) -> Result<Option<Message>, Refusal> {
        if let Some((message, _)) = self.staged.get(&seq) {
            return Ok(message.clone());
        }
        if let Ok(at) = self.ring.binary_search_by_key(&seq, |m| m.seq) {
            return Ok(Some(self.ring[at].clone()));
        }
        if seq > self.last_seq {
            return Ok(None);
        }
        store.message(channel, seq).map_err(|err| not_stored(&err))
    }

    /// Records what a write about to be queued makes of message `seq`.
    fn stage(&mut self, seq: Seq, message: Option<Message>) {
        let entry = self.staged.entry(seq).or_insert((None, 0));
        entry.0 = message;
        entry.1 += 1;
    }

    /// A write staged for `seq` is committed (or failed).
    fn unstage(&mut self, seq: Seq) {
        if let Some(entry) = self.staged.get_mut(&seq) {
            entry.1 -= 1;
            if entry.1 == 0 {
                self.staged.remove(&seq);
            }
        }
    }

    fn change_ring(&mut self, change: RingChange) {
        match change {
            RingChange::Push(message) => {
                if self.ring.len() == HISTORY_LIMIT {
                    self.ring.pop_front();
                }
                self.ring.push_back(message);
            }
            RingChange::Replace(message) => {
                if let Ok(at) = self.ring.binary_search_by_key(&message.seq, |m| m.seq) {
                    self.ring[at] = message;
                }
            }
            RingChange::Remove(seq) => {
                if let Ok(at) = self.ring.binary_search_by_key(&seq, |m| m.seq) {
                    self.ring.remove(at);
                }
            }
        }
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
                .map(|(seq, json)| (*seq, Frame::from(json.clone())))
                .collect();
            let mut state = ChannelState {
                ring: stored.recent.iter().cloned().collect(),
                log,
                last_seq: stored.last_seq,
                numbered: stored.last_seq,
                client_ids: HashMap::new(),
                client_id_order: VecDeque::new(),
                staged: HashMap::new(),
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
                    active: Default::default(),
                }),
            );
        }
        let mut awareness = Awareness::default();
        for (identity, channel, seq) in &loaded.reads {
            awareness
                .reads
                .entry(*identity)
                .or_default()
                .insert(*channel, *seq);
        }
        Hub {
            epoch: loaded.epoch.clone(),
            limits,
            store,
            channels: Arc::new(RwLock::new(Channels { by_name, next_id })),
            directory,
            awareness: Mutex::new(awareness),
        }
    }

    /// The store's epoch: cursors of another are not trusted.
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Every channel, sorted by name (not the direct conversations).
    pub fn channels(&self) -> Vec<ChannelSummary> {
        let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
        channels
            .by_name
            .values()
            .filter(|c| c.summary.people.is_empty())
            .map(|c| c.summary.clone())
            .collect()
    }

    /// The direct conversations `me` is in.
    pub fn directs(&self, me: IdentityId) -> Vec<ChannelSummary> {
        let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
        channels
            .by_name
            .values()
            .filter(|c| c.summary.people.iter().any(|p| p.id == me))
            .map(|c| c.summary.clone())
            .collect()
    }

    /// Channel-list events ([`ServerEvent::ChannelCreated`]), mentions,
    /// and the heartbeat.
    pub fn subscribe_directory(&self) -> broadcast::Receiver<Notice> {
        self.directory.subscribe()
    }

    /// Tells every connection it is time to ping and to check for silence:
    /// an empty frame on the channel-list fan-out, which every connection
    /// follows anyway (no timer per connection).
    pub fn beat(&self) {
        let _ = self.directory.send(Notice::Beat);
    }

    /// Ends the connections of identities that no longer exist (signed
    /// out or expired), wherever they are.
    pub fn ended(&self, ids: &[IdentityId]) {
        if !ids.is_empty() {
            let _ = self.directory.send(Notice::Ended(ids.into()));
        }
    }

    /// Creates a channel, announcing it to every connection once stored.
    /// Refused if the name is taken (names are lowered, so
    /// case-insensitively) or the hub is full.
    pub fn create_channel(&self, name: ChannelName) -> Pending<ChannelSummary> {
        if name.people().is_some() {
            return Pending::ready(Err(Refusal::new(
                ErrorCode::InvalidChannelName,
                "A channel name cannot start with \u{201c}@\u{201d}.",
            )));
        }
        let channels = self.channels.write().unwrap_or_else(|p| p.into_inner());
        if channels.by_name.contains_key(&name) {
            return Pending::ready(Err(Refusal::new(
                ErrorCode::ChannelTaken,
                format!("A channel named \u{201c}{name}\u{201d} already exists."),
            )));
        }
        let held = channels
            .by_name
            .values()
            .filter(|c| c.summary.people.is_empty())
            .count();
        if held >= self.limits.max_channels {
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
            people: Vec::new(),
        };
        self.create(channels, summary, None)
    }

    /// The direct conversation of `me` and `other`, started if new: only
    /// the two of them hear of it. At most [`MAX_DIRECTS`] on a server.
    pub fn open_direct(&self, me: &Identity, other: &Identity) -> Pending<ChannelSummary> {
        if me.id == other.id {
            return Pending::ready(Err(Refusal::new(
                ErrorCode::BadRequest,
                "A direct conversation is with someone else.",
            )));
        }
        let name = ChannelName::direct(me.id, other.id);
        let channels = self.channels.write().unwrap_or_else(|p| p.into_inner());
        if let Some(channel) = channels.by_name.get(&name) {
            return Pending::ready(Ok(channel.summary.clone()));
        }
        let held = channels
            .by_name
            .values()
            .filter(|c| !c.summary.people.is_empty())
            .count();
        if held >= MAX_DIRECTS {
            return Pending::ready(Err(Refusal::new(
                ErrorCode::TooManyChannels,
                format!("This server holds its maximum of {MAX_DIRECTS} direct conversations."),
            )));
        }
        let mut people = vec![me.clone(), other.clone()];
        people.sort_by_key(|p| p.id);
        let summary = ChannelSummary {
            name,
            created_at: Utc::now().trunc_subsecs(3),
            people,
        };
        let to: Arc<[IdentityId]> = Arc::from([me.id, other.id]);
        self.create(channels, summary, Some(to))
    }

    /// Creates a channel (or direct conversation) under the lock of the
    /// channel map, announcing it once stored: to everyone, or only to
    /// the people `to`.
    fn create(
        &self,
        mut channels: std::sync::RwLockWriteGuard<'_, Channels>,
        summary: ChannelSummary,
        to: Option<Arc<[IdentityId]>>,
    ) -> Pending<ChannelSummary> {
        let name = summary.name.clone();
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
                staged: HashMap::new(),
            }),
            fanout,
            active: Default::default(),
        });
        channels.by_name.insert(name.clone(), channel);
        let (answer, pending) = Pending::channel();
        let directory = self.directory.clone();
        let frame: Frame = ServerEvent::ChannelCreated {
            channel: summary.clone(),
        }
        .to_json()
        .into();
        let notice = match to {
            Some(ids) => Notice::To(ids, frame),
            None => Notice::All(frame),
        };
        let all = Arc::clone(&self.channels);
        // Queued under the lock: sends to the channel queue behind it.
        self.store.write(
            Write::CreateChannel {
                id,
                name: summary.name.clone(),
                created_at: summary.created_at,
                people: summary.people.clone(),
            },
            Box::new(move |stored| match stored {
                Ok(()) => {
                    let _ = directory.send(notice);
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

    /// The channel, if `viewer` may see it: a direct conversation only its
    /// two people, who learn nothing else (not even that it exists).
    fn visible_channel(
        &self,
        name: &ChannelName,
        viewer: Option<IdentityId>,
    ) -> Result<Arc<Channel>, Refusal> {
        if !name.visible_to(viewer) {
            return Err(unknown_channel(name));
        }
        self.channel(name)
    }

    /// The channel's most recent messages, oldest first.
    pub fn history(
        &self,
        name: &ChannelName,
        viewer: Option<IdentityId>,
    ) -> Result<ChannelHistory, Refusal> {
        let channel = self.visible_channel(name, viewer)?;
        let state = lock(&channel.state);
        Ok(ChannelHistory {
            channel: name.clone(),
            messages: state.ring.iter().cloned().collect(),
        })
    }

    /// A page of the stored messages numbered below `before`.
    pub fn older(
        &self,
        name: &ChannelName,
        viewer: Option<IdentityId>,
        before: Seq,
    ) -> Result<OlderMessages, Refusal> {
        check_seq(before)?;
        let channel = self.visible_channel(name, viewer)?;
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
        viewer: Option<IdentityId>,
        since: Option<&Cursor>,
    ) -> Result<Subscription, Refusal> {
        let channel = self.visible_channel(name, viewer)?;
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

    /// The thread of message `seq`, or the one it is a reply in: the
    /// parent as it stands, and its newest [`THREAD_PAGE`] replies. So a
    /// link to a reply leads to its parent, wherever that is.
    pub fn thread(
        &self,
        name: &ChannelName,
        viewer: Option<IdentityId>,
        seq: Seq,
    ) -> Result<Thread, Refusal> {
        check_seq(seq)?;
        let channel = self.visible_channel(name, viewer)?;
        let state = lock(&channel.state);
        let mut message = state
            .current(&*self.store, channel.id, seq)?
            .ok_or_else(|| unknown_message(name, seq))?;
        if let Some(parent) = message.thread {
            message = state
                .current(&*self.store, channel.id, parent)?
                .ok_or_else(|| unknown_message(name, parent))?;
        }
        drop(state);
        let parent = message.seq;
        let replies = self
            .store
            .replies(channel.id, parent, THREAD_PAGE)
            .map_err(|err| not_stored(&err))?;
        Ok(Thread {
            channel: name.clone(),
            parent: message,
            replies,
        })
    }

    /// Queues the channel's event `seq` with its changes; once committed,
    /// it changes the window, is logged and fanned out, the people it
    /// names hear of it, and the answer is `value`. Called under the
    /// channel's lock, so events are queued (and so committed and
    /// announced) in sequence order.
    fn queue_event<T: Send + 'static>(
        &self,
        channel: &Arc<Channel>,
        seq: Seq,
        queued: Queued,
        value: T,
    ) -> Pending<T> {
        let Queued {
            event,
            message_seq,
            changes,
            ring,
            staged,
            notify,
            client_id,
        } = queued;
        let json = event.to_json();
        let frame = Frame::from(json.clone());
        let (answer, pending) = Pending::channel();
        let committed = Arc::clone(channel);
        let directory = self.directory.clone();
        self.store.write(
            Write::Channel {
                channel: channel.id,
                event: StoredEvent {
                    seq,
                    message_seq,
                    json,
                },
                changes,
            },
            Box::new(move |stored| {
                let mut state = lock(&committed.state);
                for seq in staged {
                    state.unstage(seq);
                }
                match stored {
                    Ok(()) => {
                        // A post's event is numbered as its message; no other's is.
                        metrics::counter!(crate::server::telemetry::MESSAGES)
                            .increment(u64::from(message_seq == Some(seq)));
                        for change in ring {
                            state.change_ring(change);
                        }
                        state.announce(&committed.fanout, seq, frame);
                        drop(state);
                        committed
                            .active
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                        if let Some((ids, event)) = notify.filter(|(ids, _)| !ids.is_empty()) {
                            let _ = directory
                                .send(Notice::To(ids.into(), Frame::from(event.to_json())));
                        }
                        // Answered last: whoever awaits it finds the hub
                        // already showing the change.
                        let _ = answer.send(Ok(value));
                    }
                    Err(err) => {
                        if let Some(key) = client_id {
                            // Never stored: a retry is a new send.
                            state.client_ids.remove(&key);
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

    /// Stores a message (or a reply in a thread) as the channel's next
    /// event and, once committed, fans it out; the answer is its number.
    /// The oldest message leaves the window once the channel holds more
    /// than [`HISTORY_LIMIT`]; replies stay in their threads. A repeat of
    /// a `client_id` this author already used (a retried send) is not
    /// stored again: its answer is the first one's number, once that is
    /// stored.
    pub fn post(&self, name: &ChannelName, author: &Identity, draft: Draft) -> Pending<Seq> {
        if let Some(Err(refusal)) = draft.thread.map(check_seq) {
            return Pending::ready(Err(refusal));
        }
        match self.start_post(name, author, draft) {
            Ok(pending) => pending,
            Err(refusal) => Pending::ready(Err(refusal)),
        }
    }

    fn start_post(
        &self,
        name: &ChannelName,
        author: &Identity,
        mut draft: Draft,
    ) -> Result<Pending<Seq>, Refusal> {
        let channel = self.visible_channel(name, Some(author.id))?;
        only_people_of(name, &mut draft.mentions);
        let mut state = lock(&channel.state);
        let id_key = draft.client_id.as_ref().map(|id| (author.id, id.clone()));
        if let Some(seq) = id_key.as_ref().and_then(|key| state.client_ids.get(key)) {
            let seq = *seq;
            if seq <= state.last_seq {
                return Ok(Pending::ready(Ok(seq)));
            }
            // Still on its way to the disk: answer once it is there.
            let (answer, pending) = Pending::channel();
            self.store.write(
                Write::Barrier,
                Box::new(move |stored| {
                    let _ = answer.send(stored.map(|()| seq).map_err(|e| not_stored(&e)));
                }),
            );
            return Ok(pending);
        }
        let parent = match draft.thread {
            Some(parent) => {
                let message = state
                    .current(&*self.store, channel.id, parent)?
                    .ok_or_else(|| unknown_message(name, parent))?;
                if message.thread.is_some() {
                    return Err(Refusal::new(
                        ErrorCode::InvalidThread,
                        "A reply cannot have a thread of its own; reply in its parent's thread.",
                    ));
                }
                Some(message)
            }
            None => None,
        };
        let seq = state.number();
        let mut message = Message::new(seq, author, draft.text, Utc::now().trunc_subsecs(3));
        message.thread = draft.thread;
        message.mentions = draft.mentions;
        let mut changes = vec![Change::Insert {
            message: message.clone(),
            client_id: draft.client_id.clone(),
        }];
        let mut staged = Vec::new();
        let (ring, thread) = match parent {
            Some(mut parent) => {
                parent.replies += 1;
                parent.last_reply_at = Some(message.sent_at);
                let summary = parent.thread_summary();
                state.stage(parent.seq, Some(parent.clone()));
                staged.push(parent.seq);
                changes.push(Change::Update(parent.clone()));
                (vec![RingChange::Replace(parent)], Some(summary))
            }
            None => (vec![RingChange::Push(message.clone())], None),
        };
        if let Some(key) = &id_key {
            state.remember_client_id(key.clone(), seq);
        }
        let notify = mention_notice(name, &message, &[]);
        let event = ServerEvent::Message {
            channel: name.clone(),
            message,
            thread,
        };
        let queued = Queued {
            event,
            message_seq: Some(seq),
            changes,
            ring,
            staged,
            notify,
            client_id: id_key,
        };
        Ok(self.queue_event(&channel, seq, queued, seq))
    }

    /// Replaces the text of message `seq` on behalf of identity `by`, who
    /// must be its author. The same text again changes nothing.
    pub fn edit(
        &self,
        name: &ChannelName,
        seq: Seq,
        by: IdentityId,
        text: MessageText,
        mentions: Vec<Identity>,
    ) -> Pending<()> {
        if let Err(refusal) = check_seq(seq) {
            return Pending::ready(Err(refusal));
        }
        let mut mentions = mentions;
        only_people_of(name, &mut mentions);
        let start = || -> Result<Pending<()>, Refusal> {
            let channel = self.visible_channel(name, Some(by))?;
            let mut state = lock(&channel.state);
            let mut message = state
                .current(&*self.store, channel.id, seq)?
                .ok_or_else(|| unknown_message(name, seq))?;
            if message.author_id != by {
                return Err(Refusal::new(
                    ErrorCode::NotEditor,
                    "You can edit only your own messages.",
                ));
            }
            if message.text == text {
                return Ok(Pending::ready(Ok(())));
            }
            let before = std::mem::take(&mut message.mentions);
            message.text = text;
            message.mentions = mentions;
            message.edited_at = Some(Utc::now().trunc_subsecs(3));
            let event_seq = state.number();
            state.stage(seq, Some(message.clone()));
            let notify = mention_notice(name, &message, &before);
            let event = ServerEvent::Edited {
                channel: name.clone(),
                seq: event_seq,
                message_seq: seq,
                text: message.text.clone(),
                edited_at: message.edited_at.unwrap_or_default(),
                mentions: message.mentions.clone(),
            };
            let queued = Queued::update(event, message, notify);
            Ok(self.queue_event(&channel, event_seq, queued, ()))
        };
        start().unwrap_or_else(|refusal| Pending::ready(Err(refusal)))
    }

    /// Adds (`on`) or removes `who`'s reaction `emoji` to message `seq`.
    /// What is already so changes nothing; a message takes reactions of
    /// at most [`MAX_REACTIONS`] different emoji.
    pub fn react(
        &self,
        name: &ChannelName,
        seq: Seq,
        who: &Identity,
        emoji: Emoji,
        on: bool,
    ) -> Pending<()> {
        if let Err(refusal) = check_seq(seq) {
            return Pending::ready(Err(refusal));
        }
        let start = || -> Result<Pending<()>, Refusal> {
            let channel = self.visible_channel(name, Some(who.id))?;
            let mut state = lock(&channel.state);
            let mut message = state
                .current(&*self.store, channel.id, seq)?
                .ok_or_else(|| unknown_message(name, seq))?;
            let at = message
                .reactions
                .iter()
                .position(|r| r.emoji == emoji.as_str());
            let mine = at.is_some_and(|at| message.reactions[at].by.iter().any(|i| i.id == who.id));
            if mine == on {
                return Ok(Pending::ready(Ok(())));
            }
            match (at, on) {
                (Some(at), true) => message.reactions[at].by.push(who.clone()),
                (None, true) => {
                    if message.reactions.len() >= MAX_REACTIONS {
                        return Err(Refusal::new(
                            ErrorCode::TooManyReactions,
                            format!(
                                "A message can have reactions of at most {MAX_REACTIONS} different emoji."
                            ),
                        ));
                    }
                    message.reactions.push(Reaction {
                        emoji: emoji.as_str().to_owned(),
                        by: vec![who.clone()],
                    });
                }
                (Some(at), false) => {
                    message.reactions[at].by.retain(|i| i.id != who.id);
                    if message.reactions[at].by.is_empty() {
                        message.reactions.remove(at);
                    }
                }
                (None, false) => return Ok(Pending::ready(Ok(()))),
            }
            let event_seq = state.number();
            state.stage(seq, Some(message.clone()));
            let event = ServerEvent::Reacted {
                channel: name.clone(),
                seq: event_seq,
                message_seq: seq,
                reactions: message.reactions.clone(),
            };
            let queued = Queued::update(event, message, None);
            Ok(self.queue_event(&channel, event_seq, queued, ()))
        };
        start().unwrap_or_else(|refusal| Pending::ready(Err(refusal)))
    }

    /// Deletes a message on behalf of identity `by`, who must be its
    /// author. A message with replies is not deleted: its thread would be
    /// lost to the people who replied.
    pub fn delete(&self, name: &ChannelName, seq: Seq, by: IdentityId) -> Pending<()> {
        if let Err(refusal) = check_seq(seq) {
            return Pending::ready(Err(refusal));
        }
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
        let channel = self.visible_channel(name, Some(by))?;
        let mut state = lock(&channel.state);
        let message = state
            .current(&*self.store, channel.id, seq)?
            .ok_or_else(|| unknown_message(name, seq))?;
        if message.author_id != by {
            return Err(not_author());
        }
        if message.replies > 0 {
            return Err(Refusal::new(
                ErrorCode::HasReplies,
                "A message with replies cannot be deleted; you can edit it instead.",
            ));
        }
        let parent = match message.thread {
            Some(parent) => state.current(&*self.store, channel.id, parent)?,
            None => None,
        };
        let event_seq = state.number();
        state.stage(seq, None);
        let mut staged = vec![seq];
        let mut changes = vec![Change::Delete { seq }];
        let mut ring = vec![RingChange::Remove(seq)];
        let thread = parent.map(|mut parent| {
            parent.replies = parent.replies.saturating_sub(1);
            if parent.replies == 0 {
                parent.last_reply_at = None;
            }
            let summary = parent.thread_summary();
            state.stage(parent.seq, Some(parent.clone()));
            staged.push(parent.seq);
            changes.push(Change::Update(parent.clone()));
            ring.push(RingChange::Replace(parent));
            summary
        });
        let event = ServerEvent::Deleted {
            channel: name.clone(),
            seq: event_seq,
            message_seq: seq,
            thread,
        };
        let queued = Queued {
            event,
            message_seq: None,
            changes,
            ring,
            staged,
            notify: None,
            client_id: None,
        };
        Ok(self.queue_event(&channel, event_seq, queued, ()))
    }

    /// Events queued in a channel's fan-out for its slowest follower:
    /// never more than the configured `fanout_capacity`.
    pub fn queued(&self, name: &ChannelName) -> Result<usize, Refusal> {
        Ok(self.channel(name)?.fanout.len())
    }

    /// The newest messages (and replies) `viewer` can see whose text has
    /// every word of `query` (as word prefixes), at most [`SEARCH_LIMIT`].
    /// Deleted messages are never found; edited ones by their new text.
    pub fn search(
        &self,
        viewer: Option<IdentityId>,
        query: &str,
    ) -> Result<Vec<SearchHit>, Refusal> {
        let words = search_words(query);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let visible: HashMap<ChannelId, ChannelName> = {
            let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
            channels
                .by_name
                .values()
                .filter(|c| c.summary.name.visible_to(viewer))
                .map(|c| (c.id, c.summary.name.clone()))
                .collect()
        };
        let found = self
            .store
            .search(&words, &|id| visible.contains_key(&id), SEARCH_LIMIT)
            .map_err(|err| not_stored(&err))?;
        Ok(found
            .into_iter()
            .filter_map(|f| {
                Some(SearchHit {
                    channel: visible.get(&f.channel)?.clone(),
                    message: f.message,
                })
            })
            .collect())
    }

    /// The messages around message `seq` (or around its thread's parent,
    /// for a reply): up to [`CONTEXT_SIDE`] on each side, and whether
    /// there are more before, and between these and the window.
    pub fn context(
        &self,
        name: &ChannelName,
        viewer: Option<IdentityId>,
        seq: Seq,
    ) -> Result<MessageContext, Refusal> {
        check_seq(seq)?;
        let channel = self.visible_channel(name, viewer)?;
        let (message, window_start) = {
            let state = lock(&channel.state);
            let message = state.current(&*self.store, channel.id, seq)?;
            (message, state.ring.front().map(|m| m.seq))
        };
        let message = message.ok_or_else(|| unknown_message(name, seq))?;
        let centre = message.thread.unwrap_or(message.seq);
        let fail = |err: StoreError| not_stored(&err);
        let (mut messages, more_before) = self
            .store
            .older(channel.id, centre + 1, CONTEXT_SIDE + 1)
            .map_err(fail)?;
        let (after, _) = self
            .store
            .newer(channel.id, centre, CONTEXT_SIDE)
            .map_err(fail)?;
        messages.extend(after);
        let last = messages.last().map_or(centre, |m| m.seq);
        let more_after = match window_start {
            Some(start) if last < start => {
                let (next, _) = self.store.newer(channel.id, last, 1).map_err(fail)?;
                next.first().is_some_and(|m| m.seq < start)
            }
            _ => false,
        };
        Ok(MessageContext {
            messages,
            more_before,
            more_after,
        })
    }

    /// A page of the stored messages numbered above `after`, oldest first.
    pub fn newer(
        &self,
        name: &ChannelName,
        viewer: Option<IdentityId>,
        after: Seq,
    ) -> Result<OlderMessages, Refusal> {
        check_seq(after)?;
        let channel = self.visible_channel(name, viewer)?;
        let (messages, more) = self
            .store
            .newer(channel.id, after, OLDER_PAGE)
            .map_err(|err| not_stored(&err))?;
        Ok(OlderMessages { messages, more })
    }

    fn awareness(&self) -> MutexGuard<'_, Awareness> {
        lock(&self.awareness)
    }

    /// My unread counts in `names` (those that exist): over each window,
    /// the top-level messages by others after my read mark.
    pub fn unread(&self, me: IdentityId, names: &[ChannelName]) -> Vec<UnreadCount> {
        let channels: Vec<Arc<Channel>> = {
            let all = self.channels.read().unwrap_or_else(|p| p.into_inner());
            names
                .iter()
                .filter(|n| n.visible_to(Some(me)))
                .filter_map(|n| all.by_name.get(n).cloned())
                .collect()
        };
        let marks: Vec<Seq> = {
            let awareness = self.awareness();
            let mine = awareness.reads.get(&me);
            channels
                .iter()
                .map(|c| mine.and_then(|m| m.get(&c.id)).copied().unwrap_or(0))
                .collect()
        };
        channels
            .iter()
            .zip(marks)
            .map(|(channel, read)| {
                let state = lock(&channel.state);
                let (mut unread, mut mentions) = (0, 0);
                for message in state.ring.iter().rev().take_while(|m| m.seq > read) {
                    if message.author_id != me {
                        unread += 1;
                        if message.mentions_id(me) {
                            mentions += 1;
                        }
                    }
                }
                UnreadCount {
                    channel: channel.summary.name.clone(),
                    read,
                    unread,
                    mentions,
                }
            })
            .collect()
    }

    /// My unread counts in every channel and direct conversation of mine.
    pub fn unread_all(&self, me: IdentityId) -> Vec<UnreadCount> {
        let names: Vec<ChannelName> = self
            .channels()
            .into_iter()
            .chain(self.directs(me))
            .map(|c| c.name)
            .collect();
        self.unread(me, &names)
    }

    /// Records that `me` has read `name` up to event `seq` (at most its
    /// last): stored, and my connections are told my new count. A mark
    /// never moves back. The first mark makes me a member: the channel's
    /// followers hear of it.
    pub fn mark_read(&self, me: &Identity, name: &ChannelName, seq: Seq) -> Result<(), Refusal> {
        check_seq(seq)?;
        let channel = self.visible_channel(name, Some(me.id))?;
        let seq = seq.min(lock(&channel.state).last_seq);
        let first = {
            let mut awareness = self.awareness();
            let marks = awareness.reads.entry(me.id).or_default();
            match marks.insert(channel.id, seq) {
                Some(mark) if mark >= seq => {
                    marks.insert(channel.id, mark);
                    return Ok(());
                }
                previous => previous.is_none(),
            }
        };
        self.store.write(
            Write::Read {
                identity: me.id,
                channel: channel.id,
                seq,
            },
            Box::new(|_| {}),
        );
        let counts = self.unread(me.id, std::slice::from_ref(name));
        let frame = ServerEvent::Unread { counts }.to_json();
        let _ = self
            .directory
            .send(Notice::To(Arc::from([me.id]), Frame::from(frame)));
        if first {
            let member = ServerEvent::Member {
                channel: name.clone(),
                member: Member {
                    identity: me.clone(),
                    online: self.is_online(me.id),
                },
            };
            let _ = channel.fanout.send(Frame::from(member.to_json()));
        }
        Ok(())
    }

    /// The people who have opened channel `name` (a read mark), by id.
    pub fn members(
        &self,
        name: &ChannelName,
        viewer: Option<IdentityId>,
    ) -> Result<Vec<IdentityId>, Refusal> {
        let channel = self.visible_channel(name, viewer)?;
        let awareness = self.awareness();
        let mut ids: Vec<IdentityId> = awareness
            .reads
            .iter()
            .filter(|(_, marks)| marks.contains_key(&channel.id))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Forgets what the hub holds of identities `gone` (removed).
    pub fn forget(&self, keep: impl Fn(IdentityId) -> bool) {
        self.awareness().reads.retain(|id, _| keep(*id));
    }

    /// Whether `id` has a connection open.
    pub fn is_online(&self, id: IdentityId) -> bool {
        self.awareness().online.contains_key(&id)
    }

    /// How many connections `id` has open.
    pub fn connections(&self, id: IdentityId) -> usize {
        self.awareness()
            .online
            .get(&id)
            .map_or(0, |entry| entry.1 as usize)
    }

    /// A connection of `who` opened; online from the next tick.
    pub fn connected(&self, who: &Identity) {
        let mut awareness = self.awareness();
        let entry = awareness
            .online
            .entry(who.id)
            .or_insert_with(|| (who.clone(), 0));
        entry.1 += 1;
    }

    /// A connection of `id` closed; offline from the next tick if it was
    /// the last.
    pub fn disconnected(&self, id: IdentityId) {
        let mut awareness = self.awareness();
        if let Some(entry) = awareness.online.get_mut(&id) {
            entry.1 -= 1;
            if entry.1 == 0 {
                awareness.online.remove(&id);
            }
        }
    }

    /// Whether `who` may say they are typing in `name` (or a thread of it).
    pub fn may_type(
        &self,
        name: &ChannelName,
        who: &Identity,
        thread: Option<Seq>,
    ) -> Result<(), Refusal> {
        if let Some(thread) = thread {
            check_seq(thread)?;
        }
        self.visible_channel(name, Some(who.id)).map(|_| ())
    }

    /// Passes on that `who` is typing in `name` (or the thread of message
    /// `thread` there), or stopped, to its followers: not numbered, not
    /// stored.
    pub fn typing(
        &self,
        name: &ChannelName,
        who: &Identity,
        thread: Option<Seq>,
        on: bool,
    ) -> Result<(), Refusal> {
        if let Some(thread) = thread {
            check_seq(thread)?;
        }
        let channel = self.visible_channel(name, Some(who.id))?;
        let event = ServerEvent::Typing {
            channel: name.clone(),
            thread,
            who: who.clone(),
            on,
        };
        let _ = channel.fanout.send(Frame::from(event.to_json()));
        Ok(())
    }

    /// Announces what changed since the last tick, in one notice each:
    /// the channels with new events (so connections update their unread
    /// counts) and who came online or went offline. Called a few times a
    /// second, so a busy channel costs each connection one wake-up per
    /// tick rather than one per message, and a reload is not an offline
    /// blip.
    pub fn tick(&self) {
        let active: Vec<ChannelName> = {
            let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
            let deepest = channels.by_name.values().map(|c| c.fanout.len()).max();
            metrics::gauge!(crate::server::telemetry::FANOUT_QUEUED_MAX)
                .set(deepest.unwrap_or(0) as f64);
            channels
                .by_name
                .values()
                .filter(|c| c.active.swap(false, std::sync::atomic::Ordering::Relaxed))
                .map(|c| c.summary.name.clone())
                .collect()
        };
        if !active.is_empty() {
            let _ = self.directory.send(Notice::Activity(active.into()));
        }
        let presence = {
            let mut awareness = self.awareness();
            let online: Vec<Identity> = awareness
                .online
                .iter()
                .filter(|(id, _)| !awareness.announced.contains_key(id))
                .map(|(_, (who, _))| who.clone())
                .collect();
            let offline: Vec<IdentityId> = awareness
                .announced
                .keys()
                .filter(|id| !awareness.online.contains_key(id))
                .copied()
                .collect();
            for id in &offline {
                awareness.announced.remove(id);
            }
            for who in &online {
                awareness.announced.insert(who.id, who.clone());
            }
            (!online.is_empty() || !offline.is_empty())
                .then_some(ServerEvent::Presence { online, offline })
        };
        if let Some(event) = presence {
            let _ = self
                .directory
                .send(Notice::All(Frame::from(event.to_json())));
        }
    }
}

/// The mention notice for a message: to the people it mentions that it
/// did not before, but not to its author.
fn mention_notice(
    name: &ChannelName,
    message: &Message,
    before: &[Identity],
) -> Option<(Vec<IdentityId>, ServerEvent)> {
    let ids: Vec<IdentityId> = message
        .mentions
        .iter()
        .map(|m| m.id)
        .filter(|id| *id != message.author_id && !before.iter().any(|b| b.id == *id))
        .collect();
    (!ids.is_empty()).then(|| {
        (
            ids,
            ServerEvent::Mention {
                channel: name.clone(),
                message: message.clone(),
            },
        )
    })
}

/// In a direct conversation, only its two people can be mentioned: nobody
/// else hears of it.
fn only_people_of(name: &ChannelName, mentions: &mut Vec<Identity>) {
    if let Some((a, b)) = name.people() {
        mentions.retain(|m| m.id == a || m.id == b);
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
        hub.post(channel, &who(author, "someone"), Draft::text(text(body)))
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

    fn counts(hub: &Hub, me: IdentityId, channel: &ChannelName) -> (Seq, u32, u32) {
        let count = hub.unread(me, std::slice::from_ref(channel)).remove(0);
        (count.read, count.unread, count.mentions)
    }

    #[tokio::test]
    async fn unread_counts_others_messages_after_my_mark() {
        let (hub, store) = hub();
        let general = create(&hub, "general").await;
        let ann = who(1, "ann");
        // Nothing read: every message by someone else counts, mine not.
        post(&hub, &general, 2, "one").await;
        post(&hub, &general, 1, "mine").await;
        let three = post(&hub, &general, 2, "three").await;
        assert_eq!(counts(&hub, 1, &general), (0, 2, 0));
        assert_eq!(counts(&hub, 2, &general), (0, 1, 0));
        // Reading up to "three" leaves nothing; later messages count again.
        hub.mark_read(&ann, &general, three).unwrap();
        assert_eq!(counts(&hub, 1, &general), (three, 0, 0));
        let four = post(&hub, &general, 2, "four").await;
        let mut draft = Draft::text(text("@ann five"));
        draft.mentions = vec![ann.clone()];
        let five = hub.post(&general, &who(3, "cy"), draft).await.unwrap();
        assert_eq!(counts(&hub, 1, &general), (three, 2, 1));
        // A deleted unread message no longer counts, nor its mention.
        hub.delete(&general, five, 3).await.unwrap();
        assert_eq!(counts(&hub, 1, &general), (three, 1, 0));
        // Replies are counted in their thread, not in the channel.
        let mut reply = Draft::text(text("a reply"));
        reply.thread = Some(four);
        hub.post(&general, &who(2, "bob"), reply).await.unwrap();
        assert_eq!(counts(&hub, 1, &general).1, 1);
        // A mark never moves back, and never past the last event.
        hub.mark_read(&ann, &general, 1).unwrap();
        assert_eq!(counts(&hub, 1, &general).0, three);
        hub.mark_read(&ann, &general, 10_000).unwrap();
        let (read, unread, _) = counts(&hub, 1, &general);
        assert_eq!(unread, 0);
        assert!(read < 10_000, "{read}");
        // Stored: the same after a restart (once the marks are written).
        let (tx, rx) = oneshot::channel();
        store.write(
            Write::Barrier,
            Box::new(move |_| {
                let _ = tx.send(());
            }),
        );
        rx.await.unwrap();
        let again = reopen(&store);
        assert_eq!(counts(&again, 1, &general), (read, 0, 0));
        assert_eq!(counts(&again, 2, &general).0, 0);
    }

    #[tokio::test]
    async fn my_other_connections_hear_my_new_count_and_followers_a_new_member() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        let seq = post(&hub, &general, 2, "hello").await;
        let mut directory = hub.subscribe_directory();
        let mut followers = hub.join(&general, None, None).unwrap();
        let ann = who(1, "ann");
        hub.mark_read(&ann, &general, seq).unwrap();
        match directory.try_recv().unwrap() {
            Notice::To(ids, frame) => {
                assert_eq!(&*ids, &[1]);
                let event: ServerEvent = serde_json::from_str(frame.as_str()).unwrap();
                let ServerEvent::Unread { counts } = event else {
                    panic!("{event:?}")
                };
                assert_eq!((counts[0].read, counts[0].unread), (seq, 0));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            &events(&mut followers)[..],
            [ServerEvent::Member { member, .. }] if member.identity == ann
        ));
        assert_eq!(hub.members(&general, None).unwrap(), vec![1]);
        // Reading again is no news to anyone.
        hub.mark_read(&ann, &general, seq).unwrap();
        assert!(directory.try_recv().is_err());
        assert!(events(&mut followers).is_empty());
        // An identity that is gone takes its marks with it.
        hub.forget(|id| id != 1);
        assert!(hub.members(&general, None).unwrap().is_empty());
    }

    #[tokio::test]
    async fn presence_is_announced_per_tick_not_per_connection() {
        let (hub, _store) = hub();
        let mut directory = hub.subscribe_directory();
        let ann = who(1, "ann");
        // Two tabs, one closed: still online; announced once, on the tick.
        hub.connected(&ann);
        hub.connected(&ann);
        hub.disconnected(1);
        assert!(directory.try_recv().is_err());
        assert!(hub.is_online(1));
        hub.tick();
        let presence = |notice: Notice| match notice {
            Notice::All(frame) => serde_json::from_str::<ServerEvent>(frame.as_str()).unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            presence(directory.try_recv().unwrap()),
            ServerEvent::Presence {
                online: vec![ann.clone()],
                offline: vec![]
            }
        );
        // Nothing new, nothing said.
        hub.tick();
        assert!(directory.try_recv().is_err());
        // A reload between two ticks is no blip.
        hub.disconnected(1);
        hub.connected(&ann);
        hub.tick();
        assert!(directory.try_recv().is_err());
        // The last tab closed: offline at the next tick.
        hub.disconnected(1);
        assert!(!hub.is_online(1));
        hub.tick();
        assert_eq!(
            presence(directory.try_recv().unwrap()),
            ServerEvent::Presence {
                online: vec![],
                offline: vec![1]
            }
        );
    }

    #[tokio::test]
    async fn a_tick_names_the_channels_with_new_events_once() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        let quiet = create(&hub, "quiet").await;
        let mut directory = hub.subscribe_directory();
        post(&hub, &general, 2, "one").await;
        post(&hub, &general, 2, "two").await;
        hub.tick();
        match directory.try_recv().unwrap() {
            Notice::Activity(names) => assert_eq!(&*names, std::slice::from_ref(&general)),
            other => panic!("{other:?}"),
        }
        hub.tick();
        assert!(directory.try_recv().is_err());
        let _ = quiet;
    }

    #[tokio::test]
    async fn typing_goes_to_followers_unnumbered_and_unstored() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        let mut followers = hub.join(&general, None, None).unwrap();
        hub.typing(&general, &who(1, "ann"), None, true).unwrap();
        assert!(matches!(
            &events(&mut followers)[..],
            [ServerEvent::Typing {
                on: true,
                thread: None,
                ..
            }]
        ));
        // Not in the replay log: a resumed join gets nothing.
        let resumed = hub.join(&general, None, Some(&cursor(&hub, 0))).unwrap();
        assert!(
            matches!(resumed.catchup, Catchup::Replay { ref frames, seq: 0 } if frames.is_empty())
        );
        assert_eq!(
            hub.typing(&name("nowhere"), &who(1, "ann"), None, true)
                .unwrap_err()
                .code,
            ErrorCode::UnknownChannel
        );
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
        let history = hub.history(&general, None).unwrap().messages;
        assert_eq!(history.len(), HISTORY_LIMIT);
        assert_eq!(history.first().unwrap().seq, 51);
        assert_eq!(history.first().unwrap().text.as_str(), "m51");
        assert_eq!(history.last().unwrap().seq, 150);
        // The fifty before them are in the store, a page at a time.
        let page = hub.older(&general, None, 51).unwrap();
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
        let mut sub = hub.join(&general, None, None).unwrap();
        assert!(
            matches!(sub.catchup, Catchup::Snapshot { ref messages, seq: 1 } if messages.len() == 1)
        );
        let sends: Vec<_> = (0..5)
            .map(|i| {
                hub.post(
                    &general,
                    &who(1, "ada"),
                    Draft::text(text(&format!("after {i}"))),
                )
            })
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
        let mut sub = hub.join(&general, None, None).unwrap();
        hub.delete(&general, m, 7).await.unwrap();
        assert!(hub.history(&general, None).unwrap().messages.is_empty());
        assert_eq!(
            events(&mut sub),
            vec![ServerEvent::Deleted {
                channel: general,
                seq: m + 1,
                message_seq: m,
                thread: None
            }]
        );
    }

    #[tokio::test]
    async fn deleting_is_authorized_by_identity_not_by_name() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        let m = hub
            .post(&general, &who(1, "ada"), Draft::text(text("mine")))
            .await
            .unwrap();
        let mut sub = hub.join(&general, None, None).unwrap();
        // Another identity under the same name has no power over it.
        let err = hub.delete(&general, m, 2).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::NotAuthor);
        assert_eq!(hub.history(&general, None).unwrap().messages.len(), 1);
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
        assert!(hub.older(&general, None, 2).unwrap().messages.is_empty());
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
            hub.post(&name("nowhere"), &who(1, "ada"), Draft::text(text("hi")))
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
        let Notice::All(frame) = directory.try_recv().unwrap() else {
            panic!("expected an event for everyone");
        };
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
                Draft {
                    client_id: Some("c-1".into()),
                    ..Draft::text(text("once"))
                },
            )
        };
        // The repeat comes before the first is even stored.
        let (first, repeat) = (send(&hub, 1), send(&hub, 1));
        let first = first.await.unwrap();
        assert_eq!(repeat.await.unwrap(), first);
        // The same id from someone else is their own message.
        assert_ne!(send(&hub, 2).await.unwrap(), first);
        assert_eq!(hub.history(&general, None).unwrap().messages.len(), 2);

        let hub = reopen(&store);
        assert_eq!(send(&hub, 1).await.unwrap(), first);
        assert_eq!(hub.history(&general, None).unwrap().messages.len(), 2);
    }

    #[tokio::test]
    async fn a_join_with_a_recent_cursor_replays_exactly_the_missed_events() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        for i in 1..=10 {
            post(&hub, &general, 1, &format!("m{i}")).await;
        }
        hub.delete(&general, 9, 1).await.unwrap();
        let sub = hub.join(&general, None, Some(&cursor(&hub, 7))).unwrap();
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

        let up_to_date = hub.join(&general, None, Some(&cursor(&hub, 11))).unwrap();
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
        let sub = hub.join(&general, None, Some(&cursor(&hub, 8))).unwrap();
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
        let old = hub.join(&general, None, Some(&cursor(&hub, 1))).unwrap();
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
        let old = hub.join(&general, None, Some(&cursor(&hub, 49))).unwrap();
        assert!(
            matches!(old.catchup, Catchup::Snapshot { ref messages, seq: 150 } if messages.len() == 100)
        );
        // Event 51 is the oldest logged: replay from 50 is exact.
        let edge = hub.join(&general, None, Some(&cursor(&hub, 50))).unwrap();
        assert!(matches!(edge.catchup, Catchup::Replay { ref frames, .. } if frames.len() == 100));
        // A cursor of another store, or from the future, is not trusted.
        let other_store = Cursor {
            epoch: "other".into(),
            seq: 140,
        };
        let restarted = hub.join(&general, None, Some(&other_store)).unwrap();
        assert!(matches!(restarted.catchup, Catchup::Snapshot { .. }));
        let future = hub.join(&general, None, Some(&cursor(&hub, 999))).unwrap();
        assert!(matches!(future.catchup, Catchup::Snapshot { .. }));
    }

    #[tokio::test]
    async fn the_fanout_queue_is_capped_for_a_follower_that_never_reads() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        let mut sleeper = hub.join(&general, None, None).unwrap();
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
        let mut sub = hub.join(&general, None, None).unwrap();
        store.close();
        let err = hub
            .post(&general, &who(1, "ada"), Draft::text(text("lost")))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Internal);
        assert!(events(&mut sub).is_empty());
        assert_eq!(hub.history(&general, None).unwrap().messages.len(), 1);
        assert_eq!(
            hub.create_channel(name("more")).await.unwrap_err().code,
            ErrorCode::Internal
        );
        assert_eq!(hub.channels().len(), 1, "the failed creation is undone");
    }

    fn emoji(s: &str) -> Emoji {
        Emoji::parse(s).unwrap()
    }

    /// A reply in the thread of `parent`.
    async fn reply(hub: &Hub, channel: &ChannelName, parent: Seq, author: IdentityId) -> Seq {
        let draft = Draft {
            thread: Some(parent),
            ..Draft::text(text("a reply"))
        };
        hub.post(channel, &who(author, "someone"), draft)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn only_the_author_can_edit_and_everyone_sees_the_edit() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        let m = post(&hub, &general, 1, "helo").await;
        let mut sub = hub.join(&general, None, None).unwrap();
        let err = hub
            .edit(&general, m, 2, text("hijacked"), vec![])
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotEditor);
        hub.edit(&general, m, 1, text("hello"), vec![])
            .await
            .unwrap();
        let shown = &hub.history(&general, None).unwrap().messages[0];
        assert_eq!(shown.text.as_str(), "hello");
        assert!(shown.edited_at.is_some());
        match &events(&mut sub)[..] {
            [ServerEvent::Edited {
                seq,
                message_seq,
                text,
                ..
            }] => {
                assert_eq!((*seq, *message_seq), (m + 1, m));
                assert_eq!(text.as_str(), "hello");
            }
            other => panic!("expected one edit event, got {other:?}"),
        }
        // The same text again is no event.
        hub.edit(&general, m, 1, text("hello"), vec![])
            .await
            .unwrap();
        assert!(events(&mut sub).is_empty());
        let err = hub
            .edit(&general, 99, 1, text("x"), vec![])
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownMessage);
    }

    #[tokio::test]
    async fn reactions_toggle_per_person_and_are_capped() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        let m = post(&hub, &general, 1, "react to me").await;
        let mut sub = hub.join(&general, None, None).unwrap();
        let (ada, bob) = (who(1, "ada"), who(2, "bob"));
        hub.react(&general, m, &ada, emoji("👍"), true)
            .await
            .unwrap();
        hub.react(&general, m, &ada, emoji("👍"), true)
            .await
            .unwrap();
        hub.react(&general, m, &bob, emoji("👍"), true)
            .await
            .unwrap();
        let reactions = hub.history(&general, None).unwrap().messages[0]
            .reactions
            .clone();
        assert_eq!(reactions.len(), 1);
        assert_eq!(reactions[0].by, vec![ada.clone(), bob.clone()]);
        assert_eq!(events(&mut sub).len(), 2, "saying it twice is one event");
        hub.react(&general, m, &ada, emoji("👍"), false)
            .await
            .unwrap();
        hub.react(&general, m, &bob, emoji("👍"), false)
            .await
            .unwrap();
        assert!(hub.history(&general, None).unwrap().messages[0]
            .reactions
            .is_empty());
        // At most MAX_REACTIONS different emoji.
        let faces: Vec<String> = (0..=MAX_REACTIONS as u32)
            .map(|i| char::from_u32(0x1F600 + i).unwrap().to_string())
            .collect();
        for face in &faces[..MAX_REACTIONS] {
            hub.react(&general, m, &ada, emoji(face), true)
                .await
                .unwrap();
        }
        let err = hub
            .react(&general, m, &ada, emoji(&faces[MAX_REACTIONS]), true)
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::TooManyReactions);
        // But one more person on an existing emoji is fine.
        hub.react(&general, m, &bob, emoji(&faces[0]), true)
            .await
            .unwrap();
        // Not to a deleted message.
        hub.delete(&general, m, 1).await.unwrap();
        let err = hub
            .react(&general, m, &bob, emoji("👍"), true)
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownMessage);
    }

    #[tokio::test]
    async fn quick_changes_to_one_message_build_on_each_other() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        let m = post(&hub, &general, 1, "busy").await;
        // Queued together, before any is committed: none is lost.
        let pending: Vec<_> = (1..=5)
            .map(|id| hub.react(&general, m, &who(id, "x"), emoji("🎉"), true))
            .collect();
        let replies: Vec<_> = (0..3)
            .map(|_| {
                hub.post(
                    &general,
                    &who(2, "bob"),
                    Draft {
                        thread: Some(m),
                        ..Draft::text(text("quick"))
                    },
                )
            })
            .collect();
        for p in pending {
            p.await.unwrap();
        }
        for r in replies {
            r.await.unwrap();
        }
        let shown = hub.history(&general, None).unwrap().messages[0].clone();
        assert_eq!(shown.reactions[0].by.len(), 5);
        assert_eq!(shown.replies, 3);
    }

    #[tokio::test]
    async fn replies_stay_in_their_thread_and_count_on_the_parent() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        let parent = post(&hub, &general, 1, "topic").await;
        let mut sub = hub.join(&general, None, None).unwrap();
        let r1 = reply(&hub, &general, parent, 2).await;
        let r2 = reply(&hub, &general, parent, 3).await;
        let history = hub.history(&general, None).unwrap().messages;
        assert_eq!(history.len(), 1, "replies do not flood the channel");
        assert_eq!(history[0].replies, 2);
        assert!(history[0].last_reply_at.is_some());
        match &events(&mut sub)[0] {
            ServerEvent::Message {
                message,
                thread: Some(summary),
                ..
            } => {
                assert_eq!(message.thread, Some(parent));
                assert_eq!((summary.parent, summary.replies), (parent, 1));
            }
            other => panic!("expected a reply, got {other:?}"),
        }
        let thread = hub.thread(&general, None, parent).unwrap();
        let seqs: Vec<_> = thread.replies.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [r1, r2]);
        // No thread under a reply, and none under nothing.
        let draft = Draft {
            thread: Some(r1),
            ..Draft::text(text("deeper"))
        };
        let err = hub.post(&general, &who(2, "bob"), draft).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidThread);
        let draft = Draft {
            thread: Some(77),
            ..Draft::text(text("nowhere"))
        };
        let err = hub.post(&general, &who(2, "bob"), draft).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownMessage);
        // A parent with replies is kept; a deleted reply counts down.
        let err = hub.delete(&general, parent, 1).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::HasReplies);
        hub.delete(&general, r1, 2).await.unwrap();
        assert_eq!(hub.history(&general, None).unwrap().messages[0].replies, 1);
        let thread = hub.thread(&general, None, parent).unwrap();
        assert_eq!(thread.replies.len(), 1);
        assert_eq!(thread.parent.replies, 1);
    }

    #[tokio::test]
    async fn a_thread_outlives_its_parents_place_in_the_window() {
        let (hub, store) = hub();
        let general = create(&hub, "general").await;
        let parent = post(&hub, &general, 1, "old topic").await;
        for i in 0..HISTORY_LIMIT {
            post(&hub, &general, 1, &format!("chatter {i}")).await;
        }
        assert!(hub
            .history(&general, None)
            .unwrap()
            .messages
            .iter()
            .all(|m| m.seq != parent));
        reply(&hub, &general, parent, 2).await;
        reply(&hub, &general, parent, 2).await;
        hub.react(&general, parent, &who(2, "bob"), emoji("👀"), true)
            .await
            .unwrap();
        let thread = hub.thread(&general, None, parent).unwrap();
        assert_eq!(thread.parent.replies, 2);
        assert_eq!(thread.replies.len(), 2);
        assert_eq!(thread.parent.reactions.len(), 1);
        // And after a restart.
        let hub = reopen(&store);
        let thread = hub.thread(&general, None, parent).unwrap();
        assert_eq!((thread.parent.replies, thread.replies.len()), (2, 2));
    }

    #[tokio::test]
    async fn every_kind_of_event_replays_exactly_also_after_a_restart() {
        let (hub, store) = hub();
        let general = create(&hub, "general").await;
        let m = post(&hub, &general, 1, "first").await;
        let cursor_at = m;
        hub.edit(&general, m, 1, text("first, edited"), vec![])
            .await
            .unwrap();
        hub.react(&general, m, &who(2, "bob"), emoji("👍"), true)
            .await
            .unwrap();
        let r = reply(&hub, &general, m, 2).await;
        hub.delete(&general, r, 2).await.unwrap();
        let kinds = |hub: &Hub| -> Vec<String> {
            match hub
                .join(&general, None, Some(&cursor(hub, cursor_at)))
                .unwrap()
                .catchup
            {
                Catchup::Replay { frames, seq } => {
                    assert_eq!(seq, cursor_at + 4);
                    frames
                        .iter()
                        .map(|f| {
                            let event: serde_json::Value =
                                serde_json::from_str(f.as_str()).unwrap();
                            event["type"].as_str().unwrap().to_owned()
                        })
                        .collect()
                }
                Catchup::Snapshot { .. } => panic!("expected a replay"),
            }
        };
        assert_eq!(kinds(&hub), ["edited", "reacted", "message", "deleted"]);
        let hub = reopen(&store);
        // The reply's own event is erased with it: its text is gone.
        match hub
            .join(&general, None, Some(&cursor(&hub, cursor_at)))
            .unwrap()
            .catchup
        {
            Catchup::Snapshot { messages, .. } => {
                assert_eq!(messages[0].text.as_str(), "first, edited");
                assert_eq!(messages[0].reactions.len(), 1);
                assert_eq!(messages[0].replies, 0);
            }
            Catchup::Replay { .. } => panic!("the erased reply cannot be replayed"),
        }
        // Without the deletion, the stored log replays every kind.
        let r = reply(&hub, &general, m, 2).await;
        hub.edit(&general, r, 2, text("a reply, edited"), vec![])
            .await
            .unwrap();
        let from = r - 1;
        let hub = reopen(&store);
        match hub
            .join(&general, None, Some(&cursor(&hub, from)))
            .unwrap()
            .catchup
        {
            Catchup::Replay { frames, .. } => assert_eq!(frames.len(), 2),
            Catchup::Snapshot { .. } => panic!("expected a replay after the restart"),
        }
    }

    #[tokio::test]
    async fn mentions_reach_the_people_named_once() {
        let (hub, _store) = hub();
        let general = create(&hub, "general").await;
        let mut notices = hub.subscribe_directory();
        let (bob, cy) = (who(2, "bob"), who(3, "cy"));
        let draft = Draft {
            mentions: vec![bob.clone(), who(1, "ada")],
            ..Draft::text(text("@bob and @ada"))
        };
        let m = hub.post(&general, &who(1, "ada"), draft).await.unwrap();
        match notices.try_recv().unwrap() {
            Notice::To(ids, frame) => {
                assert_eq!(&ids[..], [2], "not to the author herself");
                assert!(frame.as_str().contains(r#""type":"mention""#));
            }
            other => panic!("expected a mention, got {other:?}"),
        }
        hub.edit(&general, m, 1, text("@bob and @cy"), vec![bob, cy])
            .await
            .unwrap();
        match notices.try_recv().unwrap() {
            Notice::To(ids, _) => assert_eq!(&ids[..], [3], "only the newly mentioned"),
            other => panic!("expected a mention, got {other:?}"),
        }
        assert!(notices.try_recv().is_err());
        post(&hub, &general, 1, "nobody named").await;
        assert!(notices.try_recv().is_err());
    }
}
