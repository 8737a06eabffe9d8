//! What outlives the process: channels, identities and messages in one
//! SQLite file.
//!
//! [`Store`] is the one interface the rest of the server uses for durable
//! state (a cluster backend can later sit behind it); [`SqliteStore`] is
//! the embedded one. The hub keeps the live parts in memory (the
//! 100-message windows, the replay logs, the fan-out) and asks the store
//! for them once, at start ([`Store::load`]).
//!
//! Writes go through one writer thread that commits whatever is queued in
//! one transaction (group commit); then each write's completion runs, in
//! the order the writes were queued, on a task of the async runtime the
//! store was opened in (so the many tasks a fan-out wakes are woken from
//! inside it), or on the writer thread without one. The hub announces an
//! event only from there, so nothing is acknowledged or broadcast before
//! it is on disk.
//! Reads (older history, a stored message's author) use a connection of
//! their own; WAL mode lets them run while the writer commits.
//!
//! The schema is versioned (`PRAGMA user_version`) and migrated at open:
//! an older file is upgraded step by step, a newer one is refused.

use crate::model::{
    ChannelName, ChannelSummary, DisplayName, Identity, IdentityId, Message, MessageText, Reaction,
    Seq, HISTORY_LIMIT,
};
#[cfg(test)]
use chrono::SubsecRound;
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A channel's number in the store.
pub type ChannelId = u64;

/// A token's SHA-256 hash: all the store keeps of it.
pub type TokenHash = [u8; 32];

/// A store that failed: the file cannot be opened, read or written.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError(format!("database: {err}"))
    }
}

/// What a write's completion is told: committed, or why not.
pub type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// One change to the stored state.
#[derive(Debug, Clone)]
pub enum Write {
    CreateChannel {
        id: ChannelId,
        name: ChannelName,
        created_at: DateTime<Utc>,
        /// A direct conversation's two people (empty for a channel).
        people: Vec<Identity>,
    },
    /// A channel's event: the changes to its messages, and the event as
    /// sent, kept for replay (the channel's last [`HISTORY_LIMIT`]).
    Channel {
        channel: ChannelId,
        event: StoredEvent,
        changes: Vec<Change>,
    },
    /// A new identity, or one that took a new name.
    PutIdentity(StoredIdentity),
    /// The identity was used at `at`.
    Touch { id: IdentityId, at: DateTime<Utc> },
    /// Signed out or expired: the token is void and the name free.
    RemoveIdentity { id: IdentityId },
    /// Removes messages sent before `messages_before` that are not among
    /// their channel's most recent [`crate::model::HISTORY_LIMIT`].
    Sweep { messages_before: DateTime<Utc> },
    /// `identity` has read `channel` up to event `seq` (a mark only moves
    /// forward).
    Read {
        identity: IdentityId,
        channel: ChannelId,
        seq: Seq,
    },
    /// Changes nothing; completes once everything queued before it has.
    Barrier,
}

/// A channel event as sent, for the replay log.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: Seq,
    /// The message whose text (or reactions) the event carries: erased
    /// with it when it is deleted.
    pub message_seq: Option<Seq>,
    pub json: String,
}

/// One change to a channel's messages.
#[derive(Debug, Clone)]
pub enum Change {
    /// A new message (or reply).
    Insert {
        message: Message,
        client_id: Option<String>,
    },
    /// A message's new text, mentions, reactions or reply count.
    Update(Message),
    /// Message `seq` was deleted by the event: its text, mentions and
    /// reactions are erased, and so are the stored events carrying them.
    Delete { seq: Seq },
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

/// A channel as the hub needs it at start.
#[derive(Debug, Clone)]
pub struct LoadedChannel {
    pub id: ChannelId,
    pub summary: ChannelSummary,
    /// The number of its last event.
    pub last_seq: Seq,
    /// Its most recent messages that are not deleted, oldest first.
    pub recent: Vec<Message>,
    /// Its last events that can be replayed exactly, as sent (JSON),
    /// oldest first and numbered without a gap up to `last_seq`.
    pub log: Vec<(Seq, String)>,
    /// `(author, client_id)` of the recent messages sent with one, and
    /// the number they were stored as.
    pub client_ids: Vec<(IdentityId, String, Seq)>,
}

/// Everything the server keeps in memory, as stored.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Names the history of this store; cursors of another epoch are not
    /// trusted. It changes only with a new file.
    pub epoch: String,
    pub channels: Vec<LoadedChannel>,
    pub identities: Vec<StoredIdentity>,
    /// The number the next identity gets (never one used before).
    pub next_identity_id: IdentityId,
    /// Who has read which channel up to which event.
    pub reads: Vec<(IdentityId, ChannelId, Seq)>,
}

/// A message found by a search, and where it is.
#[derive(Debug, Clone)]
pub struct Found {
    pub channel: ChannelId,
    pub message: Message,
}

/// The durable state behind the hub.
pub trait Store: Send + Sync + 'static {
    /// Reads what the hub holds in memory: every channel with its
    /// `recent` most recent messages and replayable events, every
    /// identity.
    fn load(&self, recent: usize) -> Result<Loaded, StoreError>;
    /// Queues a write; `done` runs once it is committed (or failed), after
    /// the completions of every write queued before it.
    fn write(&self, write: Write, done: Done);
    /// Up to `limit` messages of a channel (not replies) numbered below
    /// `before` that are not deleted, oldest first, and whether there are
    /// older ones.
    fn older(
        &self,
        channel: ChannelId,
        before: Seq,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), StoreError>;
    /// A stored message (or reply), unless it is deleted or never was.
    fn message(&self, channel: ChannelId, seq: Seq) -> Result<Option<Message>, StoreError>;
    /// The newest `limit` replies in the thread of message `parent`,
    /// oldest first.
    fn replies(
        &self,
        channel: ChannelId,
        parent: Seq,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError>;
    /// Up to `limit` messages of a channel (not replies) numbered above
    /// `after` that are not deleted, oldest first, and whether there are
    /// newer ones.
    fn newer(
        &self,
        channel: ChannelId,
        after: Seq,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), StoreError>;
    /// The newest `limit` messages (and replies) that are not deleted
    /// whose text has every word of `words` (as word prefixes), in the
    /// channels `visible` allows, newest first.
    fn search(
        &self,
        words: &[String],
        visible: &(dyn Fn(ChannelId) -> bool + Send + Sync),
        limit: usize,
    ) -> Result<Vec<Found>, StoreError>;
}

/// The schema, one step per version: step `n` takes a file from version
/// `n` to `n + 1`. Never edit a step that has shipped; add one.
const MIGRATIONS: &[&str] = &[
    // 1: channels, identities, messages.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE channels (
         id INTEGER PRIMARY KEY,
         name TEXT NOT NULL UNIQUE,
         created_at INTEGER NOT NULL,
         last_seq INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE identities (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         name TEXT NOT NULL,
         name_key TEXT NOT NULL UNIQUE,
         token_hash BLOB NOT NULL UNIQUE,
         created_at INTEGER NOT NULL,
         last_seen INTEGER NOT NULL
     );
     CREATE TABLE messages (
         channel_id INTEGER NOT NULL,
         seq INTEGER NOT NULL,
         author_id INTEGER NOT NULL,
         author_name TEXT NOT NULL,
         text TEXT NOT NULL,
         sent_at INTEGER NOT NULL,
         deleted_seq INTEGER,
         UNIQUE (channel_id, seq)
     );",
    // 2: retried sends are recognised after a restart; deletions and idle
    // identities are found without a scan.
    "ALTER TABLE messages ADD COLUMN client_id TEXT;
     CREATE INDEX messages_deleted ON messages (channel_id, deleted_seq)
         WHERE deleted_seq IS NOT NULL;
     CREATE INDEX identities_last_seen ON identities (last_seen);",
    // 3: threads, edits, mentions and reactions; the replay log holds
    // every kind of event as sent.
    "ALTER TABLE messages ADD COLUMN thread INTEGER;
     ALTER TABLE messages ADD COLUMN edited_at INTEGER;
     ALTER TABLE messages ADD COLUMN mentions TEXT;
     ALTER TABLE messages ADD COLUMN reactions TEXT;
     ALTER TABLE messages ADD COLUMN replies INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE messages ADD COLUMN last_reply_at INTEGER;
     CREATE INDEX messages_thread ON messages (channel_id, thread, seq)
         WHERE thread IS NOT NULL;
     CREATE TABLE events (
         channel_id INTEGER NOT NULL,
         seq INTEGER NOT NULL,
         message_seq INTEGER,
         json TEXT NOT NULL,
         PRIMARY KEY (channel_id, seq)
     ) WITHOUT ROWID;",
    // 4: direct conversations (a channel with two people); what each
    // identity has read; full-text search over the messages that are not
    // deleted. New rows are indexed in batches by the writer (see
    // `index_pending`), up to the row `search_indexed`; triggers keep the
    // rows already indexed in step when they are edited, deleted or
    // removed.
    "ALTER TABLE channels ADD COLUMN people TEXT;
     CREATE TABLE reads (
         identity_id INTEGER NOT NULL,
         channel_id INTEGER NOT NULL,
         seq INTEGER NOT NULL,
         PRIMARY KEY (identity_id, channel_id)
     ) WITHOUT ROWID;
     CREATE VIRTUAL TABLE message_search USING fts5(
         text, content = 'messages', content_rowid = 'rowid',
         tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
     );
     INSERT INTO message_search (rowid, text)
         SELECT rowid, text FROM messages WHERE deleted_seq IS NULL;
     INSERT INTO meta (key, value)
         SELECT 'search_indexed', coalesce(max(rowid), 0) FROM messages;
     CREATE TRIGGER message_search_delete AFTER DELETE ON messages
         WHEN old.deleted_seq IS NULL AND old.rowid <=
             (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'search_indexed') BEGIN
         INSERT INTO message_search (message_search, rowid, text)
             VALUES ('delete', old.rowid, old.text);
     END;
     CREATE TRIGGER message_search_update AFTER UPDATE OF text, deleted_seq ON messages
         WHEN (old.text IS NOT new.text OR old.deleted_seq IS NOT new.deleted_seq)
             AND old.rowid <=
             (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'search_indexed') BEGIN
         INSERT INTO message_search (message_search, rowid, text)
             SELECT 'delete', old.rowid, old.text WHERE old.deleted_seq IS NULL;
         INSERT INTO message_search (rowid, text)
             SELECT new.rowid, new.text WHERE new.deleted_seq IS NULL;
     END;",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Most writes committed in one transaction.
const MAX_GROUP: usize = 1024;
/// How often the checkpointer copies committed pages from the WAL into
/// the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// The WAL size (in pages) at which the writer checkpoints by itself, a
/// backstop should the checkpointer fall behind.
const BACKSTOP_CHECKPOINT_PAGES: u32 = 16_384;

/// The embedded store: one SQLite file in WAL mode.
pub struct SqliteStore {
    path: PathBuf,
    /// Writes queued and not yet committed (their completions not yet
    /// handed on).
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    queue: Mutex<Option<mpsc::Sender<(Write, Done)>>>,
    reader: Mutex<Connection>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Stops the checkpointer (by being dropped), and its thread.
    checkpointer: Mutex<Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>>,
    /// A file made for `:memory:`, removed on drop.
    scratch: bool,
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Opens a connection with the settings every connection uses.
fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError(format!("cannot open the database {}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// Brings a file to [`SCHEMA_VERSION`], or refuses one that is newer.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError(format!(
            "the database has schema version {version}, newer than the {SCHEMA_VERSION} this \
             Flack knows; run the newer Flack that wrote it, or restore a backup"
        )));
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", step as u32 + 1)?;
        tx.commit()?;
        tracing::info!(version = step + 1, "database schema migrated");
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if need be) the database at `path`; `:memory:` is a
    /// temporary file, removed when the store is dropped.
    pub fn open(path: &str) -> Result<Arc<Self>, StoreError> {
        let scratch = path == ":memory:";
        let path = if scratch {
            std::env::temp_dir().join(format!("flack-scratch-{}.db", random_hex(8)))
        } else {
            PathBuf::from(path)
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut writer = connect(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let mode: String =
            writer.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError(format!(
                "the database {} cannot use WAL mode (it is in {mode} mode)",
                path.display()
            )));
        }
        // Every commit reaches the disk before it is acknowledged.
        writer.pragma_update(None, "synchronous", "FULL")?;
        migrate(&mut writer)?;
        // Checkpoints run on a thread of their own (see `checkpoint_loop`),
        // not in the commit that happens to fill the WAL.
        writer.pragma_update(None, "wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES)?;
        writer.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?1)",
            [random_hex(8)],
        )?;
        let reader = connect(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let (queue, ops) = mpsc::channel();
        let completer = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            let (tx, mut rx) =
                tokio::sync::mpsc::unbounded_channel::<(Vec<Done>, Result<(), StoreError>)>();
            runtime.spawn(async move {
                while let Some((dones, result)) = rx.recv().await {
                    for done in dones {
                        done(result.clone());
                    }
                }
            });
            tx
        });
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&in_flight);
        let thread = std::thread::Builder::new()
            .name("flack-store".into())
            .spawn(move || write_loop(writer, ops, completer, &counted))
            .map_err(|e| StoreError(format!("cannot start the writer: {e}")))?;
        let checkpoints = connect(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let (stop, stopped) = mpsc::channel();
        let checkpointer = std::thread::Builder::new()
            .name("flack-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoints, stopped))
            .map_err(|e| StoreError(format!("cannot start the checkpointer: {e}")))?;
        Ok(Arc::new(SqliteStore {
            path,
            in_flight,
            checkpointer: Mutex::new(Some((stop, checkpointer))),
            queue: Mutex::new(Some(queue)),
            reader: Mutex::new(reader),
            writer: Mutex::new(Some(thread)),
            scratch,
        }))
    }

    /// Completes every queued write, then stops the writer; later writes
    /// fail. For a graceful stop.
    pub fn close(&self) {
        let checkpointer = self
            .checkpointer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((stop, thread)) = checkpointer {
            drop(stop);
            let _ = thread.join();
        }
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(queue);
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }

    /// How many writes are queued and not yet committed.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The file the store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the read connection answers: a query on the file. (The
    /// writer is checked by a [`Write::Barrier`]; see `super::health`.)
    pub fn health(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT count(*) FROM meta", [], |row| row.get::<_, i64>(0))
        })
        .map(|_| ())
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&conn)?)
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
        if self.scratch {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = self.path.clone().into_os_string();
                name.push(suffix);
                let _ = std::fs::remove_file(name);
            }
        }
    }
}

/// Copies the database at `from` to `to` while it may be in use (SQLite's
/// online backup): the copy is consistent as of one moment, and has an
/// epoch of its own.
pub fn backup(from: &Path, to: &Path) -> Result<(), StoreError> {
    if !from.exists() {
        return Err(StoreError(format!(
            "there is no database at {}",
            from.display()
        )));
    }
    if to.exists() {
        return Err(StoreError(format!(
            "{} exists already; name a new file",
            to.display()
        )));
    }
    let source = connect(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut copy = connect(
        to,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    )?;
    let backup = rusqlite::backup::Backup::new(&source, &mut copy)?;
    backup.run_to_completion(256, Duration::from_millis(5), None)?;
    drop(backup);
    // A restored copy is another history than the live file went on to
    // have: a new epoch, so clients holding later cursors take a snapshot
    // rather than trust numbers that will be given out again.
    copy.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'epoch'",
        [random_hex(8)],
    )?;
    // The copy stands alone: no WAL beside it.
    let _: String = copy.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))?;
    Ok(())
}

/// Copies committed pages from the WAL into the database file every
/// [`CHECKPOINT_EVERY`], without waiting for or blocking the writer or
/// readers (a passive checkpoint), so that no commit waits for a
/// checkpoint; until `stop` is dropped.
fn checkpoint_loop(conn: Connection, stop: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(cause = %err, "a checkpoint failed");
        }
    }
}

/// Where completions go to run: a task of the runtime.
type Completer = tokio::sync::mpsc::UnboundedSender<(Vec<Done>, Result<(), StoreError>)>;

fn write_loop(
    mut conn: Connection,
    ops: mpsc::Receiver<(Write, Done)>,
    completer: Option<Completer>,
    in_flight: &std::sync::atomic::AtomicUsize,
) {
    let mut group: Vec<(Write, Done)> = Vec::with_capacity(64);
    let mut indexed_at = Instant::now();
    loop {
        if indexed_at.elapsed() >= INDEX_EVERY {
            index_pending(&mut conn);
            indexed_at = Instant::now();
        }
        let first = match ops.recv_timeout(INDEX_EVERY) {
            Ok(first) => first,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        group.push(first);
        while group.len() < MAX_GROUP {
            match ops.try_recv() {
                Ok(op) => group.push(op),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let result = commit(&mut conn, group.iter().map(|(w, _)| w)).map_err(|err| {
            tracing::error!(cause = %err, writes = group.len(), "a commit failed");
            err
        });
        let took = started.elapsed();
        tracing::debug!(
            writes = group.len(),
            micros = took.as_micros() as u64,
            "group committed"
        );
        metrics::histogram!(super::telemetry::COMMIT_SECONDS).record(took.as_secs_f64());
        let dones: Vec<Done> = group.drain(..).map(|(_, done)| done).collect();
        in_flight.fetch_sub(dones.len(), std::sync::atomic::Ordering::SeqCst);
        // Without a runtime (or once it is gone), here.
        let unsent = match &completer {
            Some(completer) => completer.send((dones, result)).err().map(|e| e.0),
            None => Some((dones, result)),
        };
        if let Some((dones, result)) = unsent {
            for done in dones {
                done(result.clone());
            }
        }
    }
    // Leave a tidy file: everything indexed, the WAL folded back in.
    index_pending(&mut conn);
    let _ = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
}

/// Adds the messages stored since the last time to the search index, in
/// one transaction: indexing in batches costs a fraction of indexing in
/// every commit (FTS5 writes and merges far fewer segments), which kept
/// posting at its old pace. A search looks through the few rows not yet
/// indexed itself (see `Store::search`). A failure is retried next time.
fn index_pending(conn: &mut Connection) {
    let run = |conn: &mut Connection| -> rusqlite::Result<()> {
        let tx = conn.transaction()?;
        let indexed = indexed_up_to(&tx)?;
        let newest: i64 = tx.query_row(
            "SELECT coalesce(max(rowid), 0) FROM messages WHERE rowid <= ?1",
            [indexed + INDEX_BATCH],
            |r| r.get(0),
        )?;
        if newest > indexed {
            tx.execute(
                "INSERT INTO message_search (rowid, text) SELECT rowid, text FROM messages
                 WHERE rowid > ?1 AND rowid <= ?2 AND deleted_seq IS NULL",
                [indexed, newest],
            )?;
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'search_indexed'",
                [newest.to_string()],
            )?;
        }
        tx.commit()
    };
    if let Err(err) = run(conn) {
        tracing::error!(cause = %err, "indexing new messages for search failed; will retry");
    }
}

/// The last row the search index holds.
fn indexed_up_to(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'search_indexed'",
        [],
        |r| r.get(0),
    )
}

fn commit<'a>(
    conn: &mut Connection,
    writes: impl Iterator<Item = &'a Write>,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    for write in writes {
        apply(&tx, write)?;
    }
    tx.commit()?;
    Ok(())
}

fn apply(tx: &rusqlite::Transaction<'_>, write: &Write) -> Result<(), StoreError> {
    match write {
        Write::CreateChannel {
            id,
            name,
            created_at,
            people,
        } => {
            tx.prepare_cached(
                "INSERT INTO channels (id, name, created_at, people) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                *id as i64,
                name.as_str(),
                millis(*created_at),
                json_column(people)
            ])?;
        }
        Write::Channel {
            channel,
            event,
            changes,
        } => {
            let channel = *channel as i64;
            for change in changes {
                apply_change(tx, channel, event.seq, change)?;
            }
            tx.prepare_cached(
                "INSERT INTO events (channel_id, seq, message_seq, json) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                channel,
                event.seq as i64,
                event.message_seq.map(|s| s as i64),
                event.json,
            ])?;
            // Only the last HISTORY_LIMIT events are replayed.
            tx.prepare_cached("DELETE FROM events WHERE channel_id = ?1 AND seq <= ?2")?
                .execute(params![channel, event.seq as i64 - HISTORY_LIMIT as i64])?;
            tx.prepare_cached("UPDATE channels SET last_seq = ?2 WHERE id = ?1")?
                .execute(params![channel, event.seq as i64])?;
        }
        Write::PutIdentity(identity) => {
            tx.prepare_cached(
                "INSERT INTO identities (id, name, name_key, token_hash, created_at, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET name = ?2, name_key = ?3, last_seen = ?6",
            )?
            .execute(params![
                identity.id as i64,
                identity.name.as_str(),
                identity.name.key(),
                &identity.token_hash[..],
                millis(identity.created_at),
                millis(identity.last_seen),
            ])?;
        }
        Write::Touch { id, at } => {
            tx.prepare_cached("UPDATE identities SET last_seen = ?2 WHERE id = ?1")?
                .execute(params![*id as i64, millis(*at)])?;
        }
        Write::RemoveIdentity { id } => {
            tx.prepare_cached("DELETE FROM identities WHERE id = ?1")?
                .execute([*id as i64])?;
            tx.prepare_cached("DELETE FROM reads WHERE identity_id = ?1")?
                .execute([*id as i64])?;
        }
        Write::Read {
            identity,
            channel,
            seq,
        } => {
            tx.prepare_cached(
                "INSERT INTO reads (identity_id, channel_id, seq) VALUES (?1, ?2, ?3)
                 ON CONFLICT (identity_id, channel_id) DO UPDATE SET seq = max(seq, ?3)",
            )?
            .execute(params![*identity as i64, *channel as i64, *seq as i64])?;
        }
        Write::Sweep { messages_before } => {
            {
                let before = messages_before;
                // Keep each channel's last HISTORY_LIMIT messages (the live
                // window and its replay log) whatever their age.
                // A thread stays as long as its parent does.
                let channels = tx
                    .prepare_cached("SELECT id FROM channels")?
                    .query_map([], |r| r.get::<_, i64>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                for channel in channels {
                    let floor: Option<i64> = tx
                        .prepare_cached(
                            "SELECT seq FROM messages WHERE channel_id = ?1 AND thread IS NULL
                             ORDER BY seq DESC LIMIT 1 OFFSET ?2",
                        )?
                        .query_row(
                            params![channel, crate::model::HISTORY_LIMIT as i64 - 1],
                            |r| r.get(0),
                        )
                        .optional()?;
                    if let Some(floor) = floor {
                        tx.prepare_cached(
                            "DELETE FROM messages WHERE channel_id = ?1 AND sent_at < ?3
                             AND coalesce(thread, seq) < ?2",
                        )?
                        .execute(params![
                            channel,
                            floor,
                            millis(*before)
                        ])?;
                    }
                }
            }
        }
        Write::Barrier => {}
    }
    Ok(())
}

/// A list as a JSON column: NULL when empty.
fn json_column<T: serde::Serialize>(items: &[T]) -> Option<String> {
    (!items.is_empty()).then(|| serde_json::to_string(items).unwrap_or_default())
}

fn apply_change(
    tx: &rusqlite::Transaction<'_>,
    channel: i64,
    event_seq: Seq,
    change: &Change,
) -> Result<(), StoreError> {
    match change {
        Change::Insert { message, client_id } => {
            tx.prepare_cached(
                "INSERT INTO messages (channel_id, seq, author_id, author_name, text, sent_at,
                     client_id, thread, mentions)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                channel,
                message.seq as i64,
                message.author_id as i64,
                message.author.as_str(),
                message.text.as_str(),
                millis(message.sent_at),
                client_id.as_deref(),
                message.thread.map(|s| s as i64),
                json_column(&message.mentions),
            ])?;
        }
        Change::Update(message) => {
            tx.prepare_cached(
                "UPDATE messages SET text = ?3, edited_at = ?4, mentions = ?5, reactions = ?6,
                     replies = ?7, last_reply_at = ?8
                 WHERE channel_id = ?1 AND seq = ?2",
            )?
            .execute(params![
                channel,
                message.seq as i64,
                message.text.as_str(),
                message.edited_at.map(millis),
                json_column(&message.mentions),
                json_column(&message.reactions),
                message.replies as i64,
                message.last_reply_at.map(millis),
            ])?;
        }
        Change::Delete { seq } => {
            tx.prepare_cached(
                "UPDATE messages SET text = '', client_id = NULL, mentions = NULL,
                     reactions = NULL, deleted_seq = ?3
                 WHERE channel_id = ?1 AND seq = ?2",
            )?
            .execute(params![channel, *seq as i64, event_seq as i64])?;
            tx.prepare_cached("DELETE FROM events WHERE channel_id = ?1 AND message_seq = ?2")?
                .execute(params![channel, *seq as i64])?;
        }
    }
    Ok(())
}

/// A stored message row, which may be a tombstone.
struct Row {
    message: Option<Message>,
    seq: Seq,
    client_id: Option<String>,
}

/// A JSON list column; one that does not parse (it never should) reads
/// as empty rather than failing the whole read.
fn json_list<T: serde::de::DeserializeOwned>(column: Option<String>) -> Vec<T> {
    column
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}

fn message_rows(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<Row>> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| {
        Ok(Row {
            message: message_from(row, 0)?,
            seq: row.get::<_, i64>(0)? as Seq,
            client_id: row.get(6)?,
        })
    })?;
    rows.collect()
}

/// The message in the [`MESSAGE_COLUMNS`] of `row` from column `at` on;
/// `None` for a tombstone, or a row that no longer parses (it never
/// should: it is kept out of view rather than failing the whole read).
fn message_from(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Option<Message>> {
    let deleted_seq = row.get::<_, Option<i64>>(at + 5)?;
    let author: String = row.get(at + 2)?;
    let text: String = row.get(at + 3)?;
    let (None, Ok(author), Ok(text)) = (
        deleted_seq,
        DisplayName::parse(&author),
        MessageText::parse(&text),
    ) else {
        return Ok(None);
    };
    Ok(Some(Message {
        seq: row.get::<_, i64>(at)? as Seq,
        author_id: row.get::<_, i64>(at + 1)? as IdentityId,
        author,
        text,
        sent_at: from_millis(row.get(at + 4)?),
        thread: row.get::<_, Option<i64>>(at + 7)?.map(|s| s as Seq),
        edited_at: row.get::<_, Option<i64>>(at + 8)?.map(from_millis),
        mentions: json_list::<Identity>(row.get(at + 9)?),
        reactions: json_list::<Reaction>(row.get(at + 10)?),
        replies: row.get::<_, i64>(at + 11)?.try_into().unwrap_or(0),
        last_reply_at: row.get::<_, Option<i64>>(at + 12)?.map(from_millis),
    }))
}

const MESSAGE_COLUMNS: &str = "seq, author_id, author_name, text, sent_at, deleted_seq,
     client_id, thread, edited_at, mentions, reactions, replies, last_reply_at FROM messages";

fn load_channel(
    conn: &Connection,
    id: ChannelId,
    summary: ChannelSummary,
    last_seq: Seq,
    recent: usize,
) -> rusqlite::Result<LoadedChannel> {
    // The live window: the most recent messages that are not deleted
    // (replies are in their threads, not in it).
    let rows = message_rows(
        conn,
        &format!(
            "SELECT {MESSAGE_COLUMNS} WHERE channel_id = ?1 AND deleted_seq IS NULL
             AND thread IS NULL ORDER BY seq DESC LIMIT ?2"
        ),
        params![id as i64, recent as i64],
    )?;
    let mut client_ids = Vec::new();
    let mut window = Vec::with_capacity(rows.len());
    for row in rows.into_iter().rev() {
        if let (Some(message), Some(client_id)) = (&row.message, row.client_id) {
            client_ids.push((message.author_id, client_id, row.seq));
        }
        window.extend(row.message);
    }
    // Replies sent lately, for recognising a retried one.
    let replies = message_rows(
        conn,
        &format!(
            "SELECT {MESSAGE_COLUMNS} WHERE channel_id = ?1 AND thread IS NOT NULL
             AND client_id IS NOT NULL AND seq > ?2"
        ),
        params![id as i64, last_seq.saturating_sub(recent as Seq) as i64],
    )?;
    for row in replies {
        if let (Some(message), Some(client_id)) = (&row.message, row.client_id) {
            client_ids.push((message.author_id, client_id, row.seq));
        }
    }
    // The replay log: the stored events, as long as they run without a
    // gap up to last_seq (a deleted message's events are erased with it,
    // and the log starts after them).
    let mut statement = conn.prepare_cached(
        "SELECT seq, json FROM events WHERE channel_id = ?1 ORDER BY seq DESC LIMIT ?2",
    )?;
    let mut log = Vec::new();
    let mut expected = last_seq;
    for event in statement.query_map(params![id as i64, recent as i64], |row| {
        Ok((row.get::<_, i64>(0)? as Seq, row.get::<_, String>(1)?))
    })? {
        let (seq, json) = event?;
        if seq != expected {
            break;
        }
        log.push((seq, json));
        expected -= 1;
    }
    log.reverse();
    Ok(LoadedChannel {
        id,
        summary,
        last_seq,
        recent: window,
        log,
        client_ids,
    })
}

impl Store for SqliteStore {
    fn load(&self, recent: usize) -> Result<Loaded, StoreError> {
        self.read(|conn| {
            let epoch: String =
                conn.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
                    r.get(0)
                })?;
            let mut statement = conn.prepare(
                "SELECT id, name, created_at, last_seq, people FROM channels ORDER BY name",
            )?;
            let heads = statement
                .query_map([], |row| {
                    Ok((
                        row.get::<_, i64>(0)? as ChannelId,
                        row.get::<_, String>(1)?,
                        from_millis(row.get(2)?),
                        row.get::<_, i64>(3)? as Seq,
                        json_list::<Identity>(row.get(4)?),
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut channels = Vec::with_capacity(heads.len());
            for (id, name, created_at, last_seq, people) in heads {
                let Ok(name) = ChannelName::parse(&name) else {
                    tracing::warn!(%name, "a stored channel name is not valid; skipped");
                    continue;
                };
                let summary = ChannelSummary {
                    name,
                    created_at,
                    people,
                };
                channels.push(load_channel(conn, id, summary, last_seq, recent)?);
            }
            let mut statement =
                conn.prepare("SELECT id, name, token_hash, created_at, last_seen FROM identities")?;
            let identities = statement
                .query_map([], |row| {
                    let hash: Vec<u8> = row.get(2)?;
                    Ok((
                        row.get::<_, i64>(0)? as IdentityId,
                        row.get::<_, String>(1)?,
                        hash,
                        from_millis(row.get(3)?),
                        from_millis(row.get(4)?),
                    ))
                })?
                .filter_map(|row| {
                    let (id, name, hash, created_at, last_seen) = match row {
                        Ok(row) => row,
                        Err(err) => return Some(Err(err)),
                    };
                    let name = DisplayName::parse(&name).ok()?;
                    let token_hash = TokenHash::try_from(hash.as_slice()).ok()?;
                    Some(Ok(StoredIdentity {
                        id,
                        name,
                        token_hash,
                        created_at,
                        last_seen,
                    }))
                })
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // AUTOINCREMENT remembers the highest id ever used, also of
            // identities since removed: ids are never reused.
            let highest: Option<i64> = conn
                .query_row(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'identities'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            let reads = conn
                .prepare("SELECT identity_id, channel_id, seq FROM reads")?
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)? as IdentityId,
                        r.get::<_, i64>(1)? as ChannelId,
                        r.get::<_, i64>(2)? as Seq,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Loaded {
                epoch,
                channels,
                identities,
                next_identity_id: highest.unwrap_or(0) as IdentityId + 1,
                reads,
            })
        })
    }

    fn write(&self, write: Write, done: Done) {
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        self.in_flight
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let refused = match queue.as_ref() {
            Some(queue) => queue.send((write, done)).err().map(|e| e.0 .1),
            None => Some(done),
        };
        if refused.is_some() {
            self.in_flight
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
        drop(queue);
        if let Some(done) = refused {
            // Not on the caller's thread: it may hold a lock the
            // completion takes.
            std::thread::spawn(move || done(Err(StoreError("the store is closed".into()))));
        }
    }

    fn older(
        &self,
        channel: ChannelId,
        before: Seq,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        self.read(|conn| {
            let rows = message_rows(
                conn,
                &format!(
                    "SELECT {MESSAGE_COLUMNS} WHERE channel_id = ?1 AND seq < ?2
                     AND deleted_seq IS NULL AND thread IS NULL ORDER BY seq DESC LIMIT ?3"
                ),
                params![channel as i64, before as i64, limit as i64 + 1],
            )?;
            let more = rows.len() > limit;
            let mut messages: Vec<Message> = rows
                .into_iter()
                .take(limit)
                .filter_map(|r| r.message)
                .collect();
            messages.reverse();
            Ok((messages, more))
        })
    }

    fn message(&self, channel: ChannelId, seq: Seq) -> Result<Option<Message>, StoreError> {
        self.read(|conn| {
            let rows = message_rows(
                conn,
                &format!("SELECT {MESSAGE_COLUMNS} WHERE channel_id = ?1 AND seq = ?2"),
                params![channel as i64, seq as i64],
            )?;
            Ok(rows.into_iter().next().and_then(|row| row.message))
        })
    }

    fn replies(
        &self,
        channel: ChannelId,
        parent: Seq,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        self.read(|conn| {
            let rows = message_rows(
                conn,
                &format!(
                    "SELECT {MESSAGE_COLUMNS} WHERE channel_id = ?1 AND thread = ?2
                     AND deleted_seq IS NULL ORDER BY seq DESC LIMIT ?3"
                ),
                params![channel as i64, parent as i64, limit as i64],
            )?;
            let mut replies: Vec<Message> = rows.into_iter().filter_map(|r| r.message).collect();
            replies.reverse();
            Ok(replies)
        })
    }

    fn newer(
        &self,
        channel: ChannelId,
        after: Seq,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        self.read(|conn| {
            let rows = message_rows(
                conn,
                &format!(
                    "SELECT {MESSAGE_COLUMNS} WHERE channel_id = ?1 AND seq > ?2
                     AND deleted_seq IS NULL AND thread IS NULL ORDER BY seq LIMIT ?3"
                ),
                params![channel as i64, after as i64, limit as i64 + 1],
            )?;
            let more = rows.len() > limit;
            let messages = rows
                .into_iter()
                .take(limit)
                .filter_map(|r| r.message)
                .collect();
            Ok((messages, more))
        })
    }

    fn search(
        &self,
        words: &[String],
        visible: &(dyn Fn(ChannelId) -> bool + Send + Sync),
        limit: usize,
    ) -> Result<Vec<Found>, StoreError> {
        let Some(query) = match_query(words) else {
            return Ok(Vec::new());
        };
        self.read(|conn| {
            let mut found = Vec::new();
            // A row's message, if the searcher may see it (and, for a row
            // the index does not hold yet, it has the words).
            let mut take = |row: &rusqlite::Row<'_>, check: bool| -> rusqlite::Result<bool> {
                let channel = row.get::<_, i64>(0)? as ChannelId;
                if visible(channel) {
                    if let Some(message) = message_from(row, 1)? {
                        if !check || words_match(words, message.text.as_str()) {
                            found.push(Found { channel, message });
                        }
                    }
                }
                Ok(found.len() == limit)
            };
            // First the newest rows, not indexed yet (at most half a
            // second's worth), matched here.
            let indexed = indexed_up_to(conn)?;
            let mut pending = conn.prepare_cached(&format!(
                "SELECT channel_id, {MESSAGE_COLUMNS} WHERE rowid > ?1 AND deleted_seq IS NULL
                 ORDER BY rowid DESC LIMIT ?2"
            ))?;
            let mut rows = pending.query(params![indexed, INDEX_BATCH])?;
            while let Some(row) = rows.next()? {
                if take(row, true)? {
                    return Ok(found);
                }
            }
            // Then the index, newest first by rowid (the order rows were
            // stored in), which FTS5 walks backwards without sorting; rows
            // in channels the searcher cannot see are skipped as they come.
            let mut statement = conn.prepare_cached(
                "SELECT m.channel_id, m.seq, m.author_id, m.author_name, m.text, m.sent_at,
                     m.deleted_seq, m.client_id, m.thread, m.edited_at, m.mentions, m.reactions,
                     m.replies, m.last_reply_at
                 FROM message_search s JOIN messages m ON m.rowid = s.rowid
                 WHERE message_search MATCH ?1 ORDER BY s.rowid DESC",
            )?;
            let mut rows = statement.query([query])?;
            while let Some(row) = rows.next()? {
                if take(row, false)? {
                    break;
                }
            }
            Ok(found)
        })
    }
}

/// How often the writer adds new messages to the search index.
const INDEX_EVERY: Duration = Duration::from_millis(500);
/// Most rows indexed in one transaction (more wait for the next round).
const INDEX_BATCH: i64 = 50_000;

/// Whether `text` has every one of `words` as the start of one of its
/// words (a single letter: as a whole word), as the index matches them.
fn words_match(words: &[String], text: &str) -> bool {
    let have = crate::model::search_words_all(text);
    words.iter().all(|w| {
        have.iter().any(|h| {
            if w.chars().count() < 2 {
                h == w
            } else {
                h.starts_with(w.as_str())
            }
        })
    })
}

/// The FTS5 query for `words`: each quoted (so no word can be taken for
/// query syntax) and all required; each the start of a word, but a single
/// letter, which is a whole word (prefixes of two and three letters have
/// an index of their own, so a short one is as quick as a word); `None`
/// without a word.
fn match_query(words: &[String]) -> Option<String> {
    let terms: Vec<String> = words
        .iter()
        .filter(|w| !w.is_empty())
        .map(|w| {
            let quoted = w.replace('"', "\"\"");
            if w.chars().count() < 2 {
                format!("\"{quoted}\"")
            } else {
                format!("\"{quoted}\"*")
            }
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_path(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("flack-test-{tag}-{}.db", random_hex(6)))
    }

    fn remove(path: &Path) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.to_path_buf().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }

    /// Writes and waits for the commit.
    fn write(store: &SqliteStore, write: Write) {
        let (tx, rx) = mpsc::channel();
        store.write(write, Box::new(move |r| tx.send(r).unwrap()));
        rx.recv().unwrap().unwrap();
    }

    fn message(seq: Seq, at: DateTime<Utc>) -> Message {
        let ada = Identity {
            id: 1,
            name: DisplayName::parse("ada").unwrap(),
        };
        Message::new(
            seq,
            &ada,
            MessageText::parse(&format!("m{seq}")).unwrap(),
            at,
        )
    }

    /// A new message as its event writes it.
    fn new_message(channel: ChannelId, message: Message, client_id: Option<String>) -> Write {
        Write::Channel {
            channel,
            event: StoredEvent {
                seq: message.seq,
                message_seq: Some(message.seq),
                json: format!("{{\"seq\":{}}}", message.seq),
            },
            changes: vec![Change::Insert { message, client_id }],
        }
    }

    fn channel(store: &SqliteStore, id: ChannelId, name: &str) {
        write(
            store,
            Write::CreateChannel {
                id,
                name: ChannelName::parse(name).unwrap(),
                created_at: Utc::now(),
                people: Vec::new(),
            },
        );
    }

    fn post(store: &SqliteStore, channel: ChannelId, seq: Seq, at: DateTime<Utc>) {
        write(store, new_message(channel, message(seq, at), None));
    }

    #[test]
    fn an_older_file_is_upgraded_and_keeps_its_data() {
        let path = scratch_path("v1");
        {
            // A file as the first schema version wrote it.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO meta VALUES ('epoch', 'old-epoch');
                 INSERT INTO channels VALUES (1, 'general', 0, 2);
                 INSERT INTO messages (channel_id, seq, author_id, author_name, text, sent_at)
                     VALUES (1, 1, 5, 'ada', 'hello', 0), (1, 2, 5, 'ada', 'again', 0);",
            )
            .unwrap();
        }
        let store = SqliteStore::open(path.to_str().unwrap()).unwrap();
        let loaded = store.load(HISTORY_LIMIT).unwrap();
        assert_eq!(loaded.epoch, "old-epoch");
        let general = &loaded.channels[0];
        assert_eq!(general.last_seq, 2);
        let texts: Vec<_> = general.recent.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["hello", "again"]);
        assert!(
            general.log.is_empty(),
            "events from before the replay log was stored are not replayed"
        );
        // The new columns work: a send with a client id is stored.
        write(
            &store,
            new_message(1, message(3, Utc::now()), Some("c-1".into())),
        );
        let loaded = store.load(HISTORY_LIMIT).unwrap();
        assert_eq!(loaded.channels[0].log.len(), 1, "new events are replayable");
        let version: u32 = store
            .read(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        drop(store);
        remove(&path);
    }

    #[test]
    fn a_newer_file_is_refused_with_a_clear_message() {
        let path = scratch_path("future");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let err = SqliteStore::open(path.to_str().unwrap())
            .err()
            .expect("a newer schema is refused");
        assert!(err.0.contains("newer"), "{err}");
        remove(&path);
    }

    #[test]
    fn retention_removes_only_old_history_behind_the_last_hundred() {
        let store = SqliteStore::open(":memory:").unwrap();
        channel(&store, 1, "general");
        let long_ago = Utc::now() - chrono::Duration::days(400);
        for seq in 1..=150 {
            post(&store, 1, seq, long_ago);
        }
        channel(&store, 2, "recent");
        for seq in 1..=150 {
            post(&store, 2, seq, Utc::now());
        }
        write(
            &store,
            Write::Sweep {
                messages_before: Utc::now() - chrono::Duration::days(30),
            },
        );
        // Old history behind the last 100 is gone, the last 100 stay
        // whatever their age; recent history stays whole.
        let (older, more) = store.older(1, 51, 50).unwrap();
        assert!(older.is_empty() && !more);
        let (older, _) = store.older(1, 151, 200).unwrap();
        assert_eq!(older.len(), 100);
        let (older, _) = store.older(2, 151, 200).unwrap();
        assert_eq!(older.len(), 150);
    }

    #[test]
    fn removed_identities_are_gone_and_their_numbers_never_reused() {
        let store = SqliteStore::open(":memory:").unwrap();
        let identity = |id: IdentityId, name: &str| StoredIdentity {
            id,
            name: DisplayName::parse(name).unwrap(),
            token_hash: [id as u8; 32],
            created_at: Utc::now(),
            last_seen: Utc::now(),
        };
        write(&store, Write::PutIdentity(identity(1, "old")));
        write(&store, Write::PutIdentity(identity(2, "new")));
        write(&store, Write::RemoveIdentity { id: 2 });
        let loaded = store.load(HISTORY_LIMIT).unwrap();
        let names: Vec<_> = loaded.identities.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["old"]);
        assert_eq!(loaded.next_identity_id, 3, "ids are never reused");
        // The name of a removed identity can be taken by a new one.
        write(&store, Write::PutIdentity(identity(3, "new")));
    }

    #[test]
    fn a_backup_of_a_live_store_opens_and_holds_the_same_messages() {
        let path = scratch_path("live");
        let copy = scratch_path("copy");
        let store = SqliteStore::open(path.to_str().unwrap()).unwrap();
        channel(&store, 1, "general");
        for seq in 1..=20 {
            post(&store, 1, seq, Utc::now());
        }
        // Writes keep coming while the copy is made.
        let (tx, rx) = mpsc::channel();
        for seq in 21..=200 {
            let tx = tx.clone();
            store.write(
                new_message(1, message(seq, Utc::now()), None),
                Box::new(move |r| tx.send(r).unwrap()),
            );
        }
        backup(&path, &copy).unwrap();
        for _ in 21..=200 {
            rx.recv().unwrap().unwrap();
        }
        let restored = SqliteStore::open(copy.to_str().unwrap()).unwrap();
        let loaded = restored.load(HISTORY_LIMIT).unwrap();
        let original = store.load(HISTORY_LIMIT).unwrap();
        assert_ne!(
            loaded.epoch, original.epoch,
            "a restored copy is a new epoch"
        );
        let last = loaded.channels[0].last_seq;
        assert!(last >= 20, "at least what was committed before the copy");
        let (messages, _) = restored.older(1, last + 1, 1000).unwrap();
        let seqs: Vec<_> = messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=last).collect::<Vec<_>>(), "a consistent copy");
        assert!(
            backup(&path, &copy).is_err(),
            "an existing file is not overwritten"
        );
        drop((store, restored));
        remove(&path);
        remove(&copy);
    }

    #[test]
    fn the_replay_log_keeps_the_last_hundred_events_and_loses_a_deleted_messages_text() {
        let store = SqliteStore::open(":memory:").unwrap();
        channel(&store, 1, "general");
        for seq in 1..=150 {
            post(&store, 1, seq, Utc::now());
        }
        let loaded = store.load(HISTORY_LIMIT).unwrap();
        let seqs: Vec<_> = loaded.channels[0].log.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, (51..=150).collect::<Vec<_>>());
        let stored: i64 = store
            .read(|c| c.query_row("SELECT count(*) FROM events", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(stored, 100, "older events are pruned as new ones come");
        write(
            &store,
            Write::Channel {
                channel: 1,
                event: StoredEvent {
                    seq: 151,
                    message_seq: None,
                    json: "{}".into(),
                },
                changes: vec![Change::Delete { seq: 140 }],
            },
        );
        let loaded = store.load(HISTORY_LIMIT).unwrap();
        let general = &loaded.channels[0];
        let seqs: Vec<_> = general.log.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            seqs,
            (141..=151).collect::<Vec<_>>(),
            "the log starts after the erased event"
        );
        assert!(general.recent.iter().all(|m| m.seq != 140));
        assert_eq!(store.message(1, 140).unwrap(), None);
    }

    #[test]
    fn search_finds_current_text_before_and_after_indexing_never_deleted() {
        let store = SqliteStore::open(":memory:").unwrap();
        channel(&store, 1, "general");
        let with = |seq: Seq, text: &str| {
            let mut m = message(seq, Utc::now());
            m.text = MessageText::parse(text).unwrap();
            m
        };
        let change = |seq: Seq, change: Change| Write::Channel {
            channel: 1,
            event: StoredEvent {
                seq,
                message_seq: None,
                json: "{}".into(),
            },
            changes: vec![change],
        };
        let find = |q: &str| -> Vec<Seq> {
            let words = crate::model::search_words(q);
            store
                .search(&words, &|_| true, 20)
                .unwrap()
                .into_iter()
                .map(|f| f.message.seq)
                .collect()
        };
        write(&store, new_message(1, with(1, "the old zebra"), None));
        write(&store, new_message(1, with(2, "a teh typo"), None));
        write(&store, new_message(1, with(3, "gone zebra"), None));
        // Not indexed yet: found all the same, newest first.
        assert_eq!(find("zeb"), vec![3, 1]);
        // Indexed (the writer does it every INDEX_EVERY).
        std::thread::sleep(INDEX_EVERY * 3);
        let indexed = store.read(indexed_up_to).unwrap();
        assert_eq!(indexed, 3);
        assert_eq!(find("ZEBRA"), vec![3, 1]);
        // Edited and deleted once indexed: by the new text only, and never.
        write(&store, change(4, Change::Update(with(2, "the fixed text"))));
        write(&store, change(5, Change::Delete { seq: 3 }));
        assert!(find("teh").is_empty());
        assert_eq!(find("fixed"), vec![2]);
        assert_eq!(find("zebra"), vec![1]);
        // Only words: no query syntax, nothing for nothing.
        assert!(find("\"zebra\" OR *").is_empty());
        assert!(find("*").is_empty());
        // A channel the searcher cannot see is never in the results.
        assert!(store
            .search(&crate::model::search_words("zebra"), &|c| c != 1, 20)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn replies_edits_and_reactions_are_stored_with_the_message() {
        let store = SqliteStore::open(":memory:").unwrap();
        channel(&store, 1, "general");
        post(&store, 1, 1, Utc::now());
        let mut reply = message(2, Utc::now().trunc_subsecs(3));
        reply.thread = Some(1);
        let mut parent = store.message(1, 1).unwrap().unwrap();
        parent.replies = 1;
        parent.last_reply_at = Some(reply.sent_at);
        parent.text = MessageText::parse("m1, edited").unwrap();
        parent.edited_at = Some(Utc::now().trunc_subsecs(3));
        parent.reactions = vec![Reaction {
            emoji: "👍".into(),
            by: vec![Identity {
                id: 2,
                name: DisplayName::parse("bob").unwrap(),
            }],
        }];
        write(
            &store,
            Write::Channel {
                channel: 1,
                event: StoredEvent {
                    seq: 2,
                    message_seq: Some(2),
                    json: "{}".into(),
                },
                changes: vec![
                    Change::Insert {
                        message: reply.clone(),
                        client_id: None,
                    },
                    Change::Update(parent.clone()),
                ],
            },
        );
        assert_eq!(store.message(1, 1).unwrap(), Some(parent));
        assert_eq!(store.replies(1, 1, 10).unwrap(), vec![reply]);
        let loaded = store.load(HISTORY_LIMIT).unwrap();
        let seqs: Vec<_> = loaded.channels[0].recent.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [1], "replies are not in the channel's window");
        let (older, _) = store.older(1, 3, 10).unwrap();
        assert_eq!(older.len(), 1, "nor in its older pages");
    }
}
