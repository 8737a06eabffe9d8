//! The store decides: the one authority over what outlives the process.
//!
//! A write states what a person did ([`Write`]: post, edit, react,
//! delete, create a channel, open a conversation, claim a name, sign out,
//! mark read). The store decides it in the write's own transaction: it
//! assigns the channel's next sequence number, ids, checks uniqueness with
//! its constraints, changes counts and reaction sets in SQL, and answers
//! with what it assigned and the event as committed, built from the
//! committed rows ([`Outcome`]). A write it refuses ([`StoreError::Conflict`])
//! changes nothing, leaves no hole in the numbering and fails no other
//! write. The hub only announces what the store answered.
//!
//! Writes are answered in the order they were queued, each once it is
//! committed, so a channel's events are announced in sequence order.
//! Reads are async: they never block a runtime worker, and never wait for
//! a lock that writers hold.
//!
//! This module is the backend-neutral contract: the trait and its types.
//! [`sqlite`] is the embedded backend; the contract tests (`contract`)
//! run against any backend.

#[cfg(test)]
pub(crate) mod contract;
pub(crate) mod sqlite;

pub use sqlite::{backup, SqliteStore};

use crate::model::{
    ChannelName, ChannelSummary, DisplayName, ErrorCode, Identity, IdentityId, Message,
    MessageText, Refusal, Seq, ThreadSummary,
};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;

/// A channel's number in the store.
pub(crate) type ChannelId = u64;

/// A token's SHA-256 hash: all the store keeps of it.
pub(crate) type TokenHash = [u8; 32];

/// Why a store could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The write breaks a rule of the stored state (a taken name, not the
    /// author, no such message): refused, and nothing changed.
    #[error("{}", .0.message)]
    Conflict(Refusal),
    /// The store takes no requests (closed, or stopping).
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The database could not be read or written.
    #[error("database: {0}")]
    Io(String),
}

impl StoreError {
    /// A refusal of the write, with the code and sentence the client gets.
    pub(crate) fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        StoreError::Conflict(Refusal::new(code, message))
    }
}

/// An answer that comes later.
pub(crate) type Answer<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

/// What a write's completion is told: what the store decided, or why not.
pub type Done = Box<dyn FnOnce(Result<Outcome, StoreError>) + Send>;

/// What a person did, as the store is asked to record it.
#[derive(Debug, Clone)]
pub enum Write {
    /// A new channel, refused if the name is taken or the store holds
    /// `max_channels` channels already.
    CreateChannel {
        name: ChannelName,
        at: DateTime<Utc>,
        max_channels: usize,
    },
    /// The direct conversation of two people, made if new (at most
    /// `max_directs` on a store).
    OpenDirect {
        people: [Identity; 2],
        at: DateTime<Utc>,
        max_directs: usize,
    },
    /// A message, or a reply in the thread of message `thread`. A repeat
    /// of a `client_id` the author already used in the channel (a retried
    /// send) is not stored again: the answer is the first one's number.
    Post {
        channel: ChannelId,
        author: Identity,
        text: MessageText,
        thread: Option<Seq>,
        mentions: Vec<Identity>,
        client_id: Option<String>,
        at: DateTime<Utc>,
    },
    /// The author's new text for message `seq`.
    Edit {
        channel: ChannelId,
        seq: Seq,
        by: IdentityId,
        text: MessageText,
        mentions: Vec<Identity>,
        at: DateTime<Utc>,
    },
    /// `who` adds (`on`) or takes back a reaction; a message holds
    /// reactions of at most `max_emoji` different emoji.
    React {
        channel: ChannelId,
        seq: Seq,
        who: Identity,
        emoji: String,
        on: bool,
        max_emoji: usize,
    },
    /// The author deletes message `seq` (not one with replies).
    Delete {
        channel: ChannelId,
        seq: Seq,
        by: IdentityId,
    },
    /// Claims `name` for the identity whose token hash is `presented`, or
    /// for a new one with the token hash `new_token` (at most
    /// `max_identities`). Names are unique, compared case-insensitively.
    Claim {
        presented: Option<TokenHash>,
        name: DisplayName,
        new_token: TokenHash,
        at: DateTime<Utc>,
        max_identities: usize,
    },
    /// The identity was used at `at`.
    Touch { id: IdentityId, at: DateTime<Utc> },
    /// The holder of this token signs out: the token is void, the name
    /// free, the read marks gone. Its messages stay.
    SignOut { token: TokenHash },
    /// Removes the identities not used since `before`.
    Expire { before: DateTime<Utc> },
    /// `identity` has read `channel` up to event `seq` (a mark only moves
    /// forward, and never past the channel's last event).
    Read {
        identity: IdentityId,
        channel: ChannelId,
        seq: Seq,
    },
    /// Removes messages sent before `messages_before` that are not among
    /// their channel's most recent [`crate::model::HISTORY_LIMIT`] (a
    /// thread stays as long as its parent).
    Sweep { messages_before: DateTime<Utc> },
    /// Changes nothing; answered once everything queued before it is.
    Barrier,
}

/// What the store decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A channel event, numbered by the store (boxed: it is much the
    /// largest answer).
    Event(Box<Event>),
    /// A retried send: the number the first one was stored as.
    Repeat(Seq),
    /// Nothing to change (the same text, a reaction already so).
    Unchanged,
    /// A channel or conversation: made now (`created`), or the one there
    /// was.
    Channel {
        channel: StoredChannel,
        created: bool,
    },
    /// A claimed name: the identity as it now is, and as it was before
    /// (`None` for a new one); `previous == Some(identity)` when nothing
    /// changed.
    Claimed {
        identity: StoredIdentity,
        previous: Option<StoredIdentity>,
    },
    /// The identities removed (signed out, expired).
    Removed(Vec<IdentityId>),
    /// Done, with nothing to report.
    Done,
}

/// A channel as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChannel {
    pub id: ChannelId,
    pub summary: ChannelSummary,
}

/// What kind of event a channel's event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Posted,
    Edited,
    Reacted,
    Deleted,
}

impl EventKind {
    /// As the log stores it (a number of the store's own, not the wire's).
    pub(crate) fn code(self) -> i64 {
        match self {
            EventKind::Posted => 1,
            EventKind::Edited => 2,
            EventKind::Reacted => 3,
            EventKind::Deleted => 4,
        }
    }

    pub(crate) fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            1 => EventKind::Posted,
            2 => EventKind::Edited,
            3 => EventKind::Reacted,
            4 => EventKind::Deleted,
            _ => return None,
        })
    }
}

/// A channel event as committed, built from the committed rows. The log
/// keeps only its number, kind and message: an event replayed later is
/// built from the rows as they are then (a message deleted since replays
/// as its deletion, so its text is never sent again).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub channel: ChannelId,
    pub seq: Seq,
    pub kind: EventKind,
    pub message_seq: Seq,
    /// The message as it stands (`None`: deleted).
    pub message: Option<Message>,
    /// For a reply (or a deleted one): its thread's parent as it stands.
    pub parent: Option<Message>,
    /// Who the event newly mentions (not its author): to be told.
    pub mentioned: Vec<IdentityId>,
}

impl Event {
    /// The thread summary this event carries: of the parent, for a reply
    /// posted or deleted.
    pub(crate) fn thread(&self) -> Option<ThreadSummary> {
        self.parent.as_ref().map(Message::thread_summary)
    }

    /// The reactions of the message, as committed.
    #[cfg(test)]
    pub(crate) fn reactions(&self) -> Vec<crate::model::Reaction> {
        self.message
            .as_ref()
            .map(|m| m.reactions.clone())
            .unwrap_or_default()
    }
}

/// An identity as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredIdentity {
    pub id: IdentityId,
    pub name: DisplayName,
    pub token_hash: TokenHash,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// A channel as the hub holds it: its recent messages and events.
#[derive(Debug, Clone)]
pub struct LoadedChannel {
    pub channel: StoredChannel,
    /// The number of its last event.
    pub last_seq: Seq,
    /// Its most recent messages that are not deleted (not replies),
    /// oldest first.
    pub recent: Vec<Message>,
    /// Its last events that can be replayed, oldest first, numbered
    /// without a gap up to `last_seq`.
    pub log: Vec<Event>,
}

/// What the server keeps in memory, as stored.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Names the history of this store; cursors of another epoch are not
    /// trusted. It changes only with a new store.
    pub epoch: String,
    pub channels: Vec<LoadedChannel>,
    pub identities: Vec<StoredIdentity>,
    /// Who has read which channel up to which event.
    pub reads: Vec<(IdentityId, ChannelId, Seq)>,
}

/// A message found by a search, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub channel: ChannelId,
    pub message: Message,
}

/// The durable state behind the hub: the contract every backend keeps,
/// and the contract tests check.
pub trait Store: Send + Sync + 'static {
    /// Reads what the hub holds in memory: every channel with its
    /// `recent` most recent messages and replayable events, every
    /// identity, every read mark.
    fn load(&self, recent: usize) -> Answer<Loaded>;
    /// Queues a write; `done` runs once it is decided and committed (or
    /// refused, or failed), after the completions of every write queued
    /// before it.
    fn write(&self, write: Write, done: Done);
    /// Up to `limit` messages of a channel (not replies) numbered below
    /// `before` that are not deleted, oldest first, and whether there are
    /// older ones.
    fn older(&self, channel: ChannelId, before: Seq, limit: usize) -> Answer<(Vec<Message>, bool)>;
    /// Up to `limit` messages of a channel (not replies) numbered above
    /// `after` that are not deleted, oldest first, and whether there are
    /// newer ones.
    fn newer(&self, channel: ChannelId, after: Seq, limit: usize) -> Answer<(Vec<Message>, bool)>;
    /// A stored message (or reply), unless it is deleted or never was.
    fn message(&self, channel: ChannelId, seq: Seq) -> Answer<Option<Message>>;
    /// The newest `limit` replies in the thread of message `parent`,
    /// oldest first.
    fn replies(&self, channel: ChannelId, parent: Seq, limit: usize) -> Answer<Vec<Message>>;
    /// The channel's events numbered above `after`, oldest first, from the
    /// stored log; `None` if the log no longer reaches back that far.
    fn events(&self, channel: ChannelId, after: Seq) -> Answer<Option<Vec<Event>>>;
    /// The newest `limit` messages (and replies) that `viewer` may see and
    /// that are not deleted whose text has every word of `words` (as word
    /// prefixes), newest first.
    fn search(
        &self,
        viewer: Option<IdentityId>,
        words: Vec<String>,
        limit: usize,
    ) -> Answer<Vec<Found>>;
    /// Whether the store answers: a read, and a write through the writer.
    fn health(&self) -> Answer<()>;
    /// Completes every queued write, then stops; later writes fail with
    /// [`StoreError::Unavailable`].
    fn close(&self);
    /// How many writes are queued and not yet answered.
    fn in_flight(&self) -> usize;
}

/// Queues `write` and waits for its answer.
pub(crate) async fn write(store: &dyn Store, write: Write) -> Result<Outcome, StoreError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    store.write(
        write,
        Box::new(move |outcome| {
            let _ = tx.send(outcome);
        }),
    );
    rx.await
        .unwrap_or_else(|_| Err(StoreError::Unavailable("the store stopped".into())))
}
