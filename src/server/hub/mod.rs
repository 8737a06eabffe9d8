//! The hub announces what the store decided: every channel's directory
//! entry, a cache of its recent messages and events, and its fan-out.
//!
//! - this file: the hub, its channels, creating channels and
//!   conversations;
//! - [`writes`]: posting, editing, reacting, deleting, and announcing
//!   each event as the store committed it;
//! - [`reads`]: history, joining (catch-up), threads, search;
//! - [`awareness`]: read marks and unread counts, presence, typing.
//!
//! A write states intent to the [`Store`], which numbers and decides it;
//! its completion (run in commit order) updates the channel's window and
//! event cache, fans out the event's bytes (serialized once; a clone is a
//! reference count), and answers the writer. So nothing is acknowledged
//! or broadcast before it is on disk, subscribers see a channel's events
//! in sequence order, and the caches only ever hold committed state.

mod awareness;
mod reads;
mod writes;

#[cfg(test)]
mod tests;

pub use writes::Draft;

use super::store::{ChannelId, Event, Loaded, Outcome, Store, StoreError, Write};
use crate::model::{
    ChannelName, ChannelSummary, ErrorCode, Identity, IdentityId, Message, Refusal, Seq,
};
use crate::protocol::ServerEvent;
use axum::extract::ws::Utf8Bytes;
use chrono::{SubsecRound, Utc};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::task::{Context, Poll};
use tokio::sync::{broadcast, oneshot};

/// Most direct conversations a server holds.
pub(crate) const MAX_DIRECTS: usize = 100_000;

/// Messages shown on each side of one opened from a search.
pub(crate) const CONTEXT_SIDE: usize = 25;

/// One serialized [`ServerEvent`], shared by every receiver.
pub(crate) type Frame = Utf8Bytes;

/// Sizes of the hub's bounded queues.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HubLimits {
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
pub(crate) enum Notice {
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

struct Channels {
    by_name: BTreeMap<ChannelName, Arc<Channel>>,
}

struct Channel {
    id: ChannelId,
    summary: ChannelSummary,
    state: Mutex<ChannelState>,
    fanout: broadcast::Sender<Frame>,
    /// An event was committed since the last tick (see [`Hub::tick`]).
    active: std::sync::atomic::AtomicBool,
}

/// A channel's caches of committed state.
struct ChannelState {
    /// Its most recent messages, oldest first; never more than
    /// [`crate::model::HISTORY_LIMIT`].
    ring: VecDeque<Message>,
    /// Its events announced since the start, as sent, oldest first; never
    /// more than [`crate::model::HISTORY_LIMIT`]. Older ones (and all of
    /// them after a restart) are replayed from the store's log.
    log: VecDeque<(Seq, Frame)>,
    /// The number of the last event announced.
    last_seq: Seq,
}

/// How a subscriber catches up before following the live events.
#[derive(Debug)]
pub(crate) enum Catchup {
    /// Replace everything held with these messages (as of event `seq`).
    Snapshot { messages: Vec<Message>, seq: Seq },
    /// Apply these events, exactly those after the subscriber's cursor;
    /// it is then at `seq`.
    Replay { frames: Vec<Frame>, seq: Seq },
}

/// A subscription to one channel: how to catch up, and what comes next.
pub(crate) struct Subscription {
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
    pub(crate) fn ready(result: Result<T, Refusal>) -> Self {
        let (tx, pending) = Self::channel();
        let _ = tx.send(result);
        pending
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T, Refusal>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|answer| {
            answer.unwrap_or_else(|_| {
                Err(refusal(StoreError::Unavailable("the store stopped".into())))
            })
        })
    }
}

/// The refusal a client gets for a store's answer: the store's own for a
/// conflict; for a failure, that nothing changed (and the log says why).
pub(crate) fn refusal(err: StoreError) -> Refusal {
    match err {
        StoreError::Conflict(refusal) => refusal,
        failure => not_stored(&failure),
    }
}

/// The refusal for a write or read the store could not do.
pub(crate) fn not_stored(err: &StoreError) -> Refusal {
    tracing::error!(cause = %err, "the store failed");
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

impl Channel {
    fn new(
        id: ChannelId,
        summary: ChannelSummary,
        ring: VecDeque<Message>,
        last_seq: Seq,
        fanout_capacity: usize,
    ) -> Self {
        let (fanout, _) = broadcast::channel(fanout_capacity.max(1));
        Channel {
            id,
            summary,
            state: Mutex::new(ChannelState {
                ring,
                log: VecDeque::new(),
                last_seq,
            }),
            fanout,
            active: Default::default(),
        }
    }
}

impl Hub {
    /// The hub over a store, with what the store holds. The event caches
    /// start empty: until new events come, catching up is replayed from
    /// the store's log.
    pub(crate) fn open(store: Arc<dyn Store>, limits: HubLimits, loaded: &Loaded) -> Self {
        let (directory, _) = broadcast::channel(limits.fanout_capacity.max(1));
        let mut by_name = BTreeMap::new();
        for stored in &loaded.channels {
            let channel = Channel::new(
                stored.channel.id,
                stored.channel.summary.clone(),
                stored.recent.iter().cloned().collect(),
                stored.last_seq,
                limits.fanout_capacity,
            );
            by_name.insert(stored.channel.summary.name.clone(), Arc::new(channel));
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
            channels: Arc::new(RwLock::new(Channels { by_name })),
            directory,
            awareness: Mutex::new(awareness),
        }
    }

    /// The store's epoch: cursors of another are not trusted.
    pub(crate) fn epoch(&self) -> &str {
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
    pub(crate) fn subscribe_directory(&self) -> broadcast::Receiver<Notice> {
        self.directory.subscribe()
    }

    /// Tells every connection it is time to ping and to check for silence:
    /// an empty frame on the channel-list fan-out, which every connection
    /// follows anyway (no timer per connection).
    pub(crate) fn beat(&self) {
        let _ = self.directory.send(Notice::Beat);
    }

    /// Ends the connections of identities that no longer exist (signed
    /// out or expired), wherever they are.
    pub(crate) fn ended(&self, ids: &[IdentityId]) {
        if !ids.is_empty() {
            let _ = self.directory.send(Notice::Ended(ids.into()));
        }
    }

    /// Creates a channel, announcing it to every connection once stored.
    /// The store refuses a taken name (names are lowered, so
    /// case-insensitively) and one past the most channels it may hold.
    pub(crate) fn create_channel(&self, name: ChannelName) -> Pending<ChannelSummary> {
        if name.people().is_some() {
            return Pending::ready(Err(Refusal::new(
                ErrorCode::InvalidChannelName,
                "A channel name cannot start with \u{201c}@\u{201d}.",
            )));
        }
        self.made(
            Write::CreateChannel {
                name,
                at: Utc::now().trunc_subsecs(3),
                max_channels: self.limits.max_channels,
            },
            None,
        )
    }

    /// The direct conversation of `me` and `other`, started if new: only
    /// the two of them hear of it. At most [`MAX_DIRECTS`] on a server.
    pub(crate) fn open_direct(&self, me: &Identity, other: &Identity) -> Pending<ChannelSummary> {
        let name = ChannelName::direct(me.id, other.id);
        if let Ok(channel) = self.channel(&name) {
            return Pending::ready(Ok(channel.summary.clone()));
        }
        self.made(
            Write::OpenDirect {
                people: [me.clone(), other.clone()],
                at: Utc::now().trunc_subsecs(3),
                max_directs: MAX_DIRECTS,
            },
            Some(Arc::from([me.id, other.id])),
        )
    }

    /// Asks the store for a channel (or conversation); once it is stored,
    /// the hub holds it and announces it: to everyone, or only to the
    /// people `to`.
    fn made(&self, write: Write, to: Option<Arc<[IdentityId]>>) -> Pending<ChannelSummary> {
        let (answer, pending) = Pending::channel();
        let channels = Arc::clone(&self.channels);
        let directory = self.directory.clone();
        let capacity = self.limits.fanout_capacity;
        self.store.write(
            write,
            Box::new(move |outcome| {
                let (stored, created) = match outcome {
                    Ok(Outcome::Channel { channel, created }) => (channel, created),
                    Ok(other) => {
                        let err = StoreError::Io(format!("unexpected answer {other:?}"));
                        let _ = answer.send(Err(refusal(err)));
                        return;
                    }
                    Err(err) => {
                        let _ = answer.send(Err(refusal(err)));
                        return;
                    }
                };
                let summary = stored.summary.clone();
                {
                    let mut channels = channels.write().unwrap_or_else(|p| p.into_inner());
                    channels
                        .by_name
                        .entry(summary.name.clone())
                        .or_insert_with(|| {
                            Arc::new(Channel::new(
                                stored.id,
                                summary.clone(),
                                VecDeque::new(),
                                0,
                                capacity,
                            ))
                        });
                }
                if created {
                    let frame: Frame = ServerEvent::ChannelCreated {
                        channel: summary.clone(),
                    }
                    .to_json()
                    .into();
                    let _ = directory.send(match to {
                        Some(ids) => Notice::To(ids, frame),
                        None => Notice::All(frame),
                    });
                }
                let _ = answer.send(Ok(summary));
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

    /// Events queued in a channel's fan-out for its slowest follower:
    /// never more than the configured `fanout_capacity`.
    pub fn queued(&self, name: &ChannelName) -> Result<usize, Refusal> {
        Ok(self.channel(name)?.fanout.len())
    }
}

/// The event as it goes on the wire, for channel `name`.
fn wire(name: &ChannelName, event: &Event) -> ServerEvent {
    use crate::server::store::EventKind;
    let channel = name.clone();
    match (event.kind, &event.message) {
        (EventKind::Posted, Some(message)) => ServerEvent::Message {
            channel,
            message: message.clone(),
            thread: event.thread(),
        },
        (EventKind::Edited, Some(message)) => ServerEvent::Edited {
            channel,
            seq: event.seq,
            message_seq: event.message_seq,
            text: message.text.clone(),
            edited_at: message.edited_at.unwrap_or(message.sent_at),
            mentions: message.mentions.clone(),
        },
        (EventKind::Reacted, Some(message)) => ServerEvent::Reacted {
            channel,
            seq: event.seq,
            message_seq: event.message_seq,
            reactions: message.reactions.clone(),
        },
        _ => ServerEvent::Deleted {
            channel,
            seq: event.seq,
            message_seq: event.message_seq,
            thread: event.thread(),
        },
    }
}
