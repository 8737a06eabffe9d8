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
    ChannelName, ChannelSummary, DisplayName, IdentityId, Message, MessageText, Seq,
};
use crate::protocol::ServerEvent;
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    },
    Message {
        channel: ChannelId,
        message: Message,
        client_id: Option<String>,
    },
    /// Message `seq` was deleted by the event numbered `event_seq`: its
    /// text is erased, the tombstone stays for the replay log.
    Delete {
        channel: ChannelId,
        seq: Seq,
        event_seq: Seq,
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
    /// Changes nothing; completes once everything queued before it has.
    Barrier,
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
    /// Its last events that can be replayed exactly, oldest first and
    /// numbered without a gap up to `last_seq`.
    pub log: Vec<(Seq, ServerEvent)>,
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
}

/// Who wrote a stored message, and whether it is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredAuthor {
    pub author_id: IdentityId,
    pub deleted: bool,
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
    /// Up to `limit` messages of a channel numbered below `before` that are
    /// not deleted, oldest first, and whether there are older ones.
    fn older(
        &self,
        channel: ChannelId,
        before: Seq,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), StoreError>;
    /// The author of a stored message, if it exists.
    fn author(&self, channel: ChannelId, seq: Seq) -> Result<Option<StoredAuthor>, StoreError>;
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
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Most writes committed in one transaction.
const MAX_GROUP: usize = 1024;

/// The embedded store: one SQLite file in WAL mode.
pub struct SqliteStore {
    path: PathBuf,
    /// Writes queued and not yet committed (their completions not yet
    /// handed on).
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    queue: Mutex<Option<mpsc::Sender<(Write, Done)>>>,
    reader: Mutex<Connection>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
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
        Ok(Arc::new(SqliteStore {
            path,
            in_flight,
            queue: Mutex::new(Some(queue)),
            reader: Mutex::new(reader),
            writer: Mutex::new(Some(thread)),
            scratch,
        }))
    }

    /// Completes every queued write, then stops the writer; later writes
    /// fail. For a graceful stop.
    pub fn close(&self) {
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

/// Where completions go to run: a task of the runtime.
type Completer = tokio::sync::mpsc::UnboundedSender<(Vec<Done>, Result<(), StoreError>)>;

fn write_loop(
    mut conn: Connection,
    ops: mpsc::Receiver<(Write, Done)>,
    completer: Option<Completer>,
    in_flight: &std::sync::atomic::AtomicUsize,
) {
    let mut group: Vec<(Write, Done)> = Vec::with_capacity(64);
    while let Ok(first) = ops.recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match ops.try_recv() {
                Ok(op) => group.push(op),
                Err(_) => break,
            }
        }
        let result = commit(&mut conn, group.iter().map(|(w, _)| w)).map_err(|err| {
            tracing::error!(cause = %err, writes = group.len(), "a commit failed");
            err
        });
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
    // Leave a tidy file: fold the WAL back in.
    let _ = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
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
        } => {
            tx.prepare_cached("INSERT INTO channels (id, name, created_at) VALUES (?1, ?2, ?3)")?
                .execute(params![*id as i64, name.as_str(), millis(*created_at)])?;
        }
        Write::Message {
            channel,
            message,
            client_id,
        } => {
            tx.prepare_cached(
                "INSERT INTO messages (channel_id, seq, author_id, author_name, text, sent_at, client_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                *channel as i64,
                message.seq as i64,
                message.author_id as i64,
                message.author.as_str(),
                message.text.as_str(),
                millis(message.sent_at),
                client_id.as_deref(),
            ])?;
            set_last_seq(tx, *channel, message.seq)?;
        }
        Write::Delete {
            channel,
            seq,
            event_seq,
        } => {
            tx.prepare_cached(
                "UPDATE messages SET text = '', client_id = NULL, deleted_seq = ?3
                 WHERE channel_id = ?1 AND seq = ?2",
            )?
            .execute(params![*channel as i64, *seq as i64, *event_seq as i64])?;
            set_last_seq(tx, *channel, *event_seq)?;
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
        }
        Write::Sweep { messages_before } => {
            {
                let before = messages_before;
                // Keep each channel's last HISTORY_LIMIT messages (the live
                // window and its replay log) whatever their age.
                let channels = tx
                    .prepare_cached("SELECT id FROM channels")?
                    .query_map([], |r| r.get::<_, i64>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                for channel in channels {
                    let floor: Option<i64> = tx
                        .prepare_cached(
                            "SELECT seq FROM messages WHERE channel_id = ?1
                             ORDER BY seq DESC LIMIT 1 OFFSET ?2",
                        )?
                        .query_row(
                            params![channel, crate::model::HISTORY_LIMIT as i64 - 1],
                            |r| r.get(0),
                        )
                        .optional()?;
                    if let Some(floor) = floor {
                        tx.prepare_cached(
                            "DELETE FROM messages WHERE channel_id = ?1 AND seq < ?2 AND sent_at < ?3",
                        )?
                        .execute(params![channel, floor, millis(*before)])?;
                    }
                }
            }
        }
        Write::Barrier => {}
    }
    Ok(())
}

fn set_last_seq(
    tx: &rusqlite::Transaction<'_>,
    channel: ChannelId,
    seq: Seq,
) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE channels SET last_seq = ?2 WHERE id = ?1")?
        .execute(params![channel as i64, seq as i64])?;
    Ok(())
}

/// A stored message row, which may be a tombstone.
struct Row {
    message: Option<Message>,
    seq: Seq,
    deleted_seq: Option<Seq>,
    client_id: Option<String>,
}

fn message_rows(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<Row>> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| {
        let seq = row.get::<_, i64>(0)? as Seq;
        let deleted_seq = row.get::<_, Option<i64>>(5)?.map(|s| s as Seq);
        let author: String = row.get(2)?;
        let text: String = row.get(3)?;
        // A row that no longer parses (it never should) is kept out of
        // view rather than failing the whole load.
        let message = match (
            deleted_seq,
            DisplayName::parse(&author),
            MessageText::parse(&text),
        ) {
            (None, Ok(author), Ok(text)) => Some(Message {
                seq,
                author_id: row.get::<_, i64>(1)? as IdentityId,
                author,
                text,
                sent_at: from_millis(row.get(4)?),
            }),
            _ => None,
        };
        Ok(Row {
            message,
            seq,
            deleted_seq,
            client_id: row.get(6)?,
        })
    })?;
    rows.collect()
}

const MESSAGE_COLUMNS: &str =
    "seq, author_id, author_name, text, sent_at, deleted_seq, client_id FROM messages";

fn load_channel(
    conn: &Connection,
    id: ChannelId,
    summary: ChannelSummary,
    last_seq: Seq,
    recent: usize,
) -> rusqlite::Result<LoadedChannel> {
    let window_start = last_seq.saturating_sub(recent as Seq) + 1;
    // The live window: the most recent messages that are not deleted.
    let mut window: Vec<Message> = message_rows(
        conn,
        &format!(
            "SELECT {MESSAGE_COLUMNS} WHERE channel_id = ?1 AND deleted_seq IS NULL
             ORDER BY seq DESC LIMIT ?2"
        ),
        params![id as i64, recent as i64],
    )?
    .into_iter()
    .filter_map(|row| row.message)
    .collect();
    window.reverse();
    // The replay log: every event numbered in the last `recent`.
    let mut events: BTreeMap<Seq, Option<ServerEvent>> = BTreeMap::new();
    let mut client_ids = Vec::new();
    let rows = message_rows(
        conn,
        &format!("SELECT {MESSAGE_COLUMNS} WHERE channel_id = ?1 AND seq >= ?2"),
        params![id as i64, window_start as i64],
    )?;
    let deletions = message_rows(
        conn,
        &format!(
            "SELECT {MESSAGE_COLUMNS} WHERE channel_id = ?1 AND deleted_seq >= ?2
             AND deleted_seq IS NOT NULL"
        ),
        params![id as i64, window_start as i64],
    )?;
    for row in rows {
        if let (Some(message), Some(client_id)) = (&row.message, &row.client_id) {
            client_ids.push((message.author_id, client_id.clone(), row.seq));
        }
        // A deleted message's own event can no longer be replayed as it
        // was (its text is gone): the log starts after it.
        let event = row.message.map(|message| ServerEvent::Message {
            channel: summary.name.clone(),
            message,
        });
        events.insert(row.seq, event);
    }
    for row in deletions {
        if let Some(event_seq) = row.deleted_seq {
            events.insert(
                event_seq,
                Some(ServerEvent::Deleted {
                    channel: summary.name.clone(),
                    seq: event_seq,
                    message_seq: row.seq,
                }),
            );
        }
    }
    // Keep the unbroken run of replayable events that ends at last_seq.
    let mut log = Vec::new();
    let mut expected = last_seq;
    for (seq, event) in events.into_iter().rev() {
        match event {
            Some(event) if seq == expected && seq >= window_start => {
                log.push((seq, event));
                expected -= 1;
            }
            _ => break,
        }
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
            let mut statement =
                conn.prepare("SELECT id, name, created_at, last_seq FROM channels ORDER BY name")?;
            let heads = statement
                .query_map([], |row| {
                    Ok((
                        row.get::<_, i64>(0)? as ChannelId,
                        row.get::<_, String>(1)?,
                        from_millis(row.get(2)?),
                        row.get::<_, i64>(3)? as Seq,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut channels = Vec::with_capacity(heads.len());
            for (id, name, created_at, last_seq) in heads {
                let Ok(name) = ChannelName::parse(&name) else {
                    tracing::warn!(%name, "a stored channel name is not valid; skipped");
                    continue;
                };
                let summary = ChannelSummary { name, created_at };
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
            Ok(Loaded {
                epoch,
                channels,
                identities,
                next_identity_id: highest.unwrap_or(0) as IdentityId + 1,
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
                     AND deleted_seq IS NULL ORDER BY seq DESC LIMIT ?3"
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

    fn author(&self, channel: ChannelId, seq: Seq) -> Result<Option<StoredAuthor>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT author_id, deleted_seq IS NOT NULL FROM messages
                 WHERE channel_id = ?1 AND seq = ?2",
            )?
            .query_row(params![channel as i64, seq as i64], |row| {
                Ok(StoredAuthor {
                    author_id: row.get::<_, i64>(0)? as IdentityId,
                    deleted: row.get(1)?,
                })
            })
            .optional()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HISTORY_LIMIT;

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
        Message {
            seq,
            author_id: 1,
            author: DisplayName::parse("ada").unwrap(),
            text: MessageText::parse(&format!("m{seq}")).unwrap(),
            sent_at: at,
        }
    }

    fn channel(store: &SqliteStore, id: ChannelId, name: &str) {
        write(
            store,
            Write::CreateChannel {
                id,
                name: ChannelName::parse(name).unwrap(),
                created_at: Utc::now(),
            },
        );
    }

    fn post(store: &SqliteStore, channel: ChannelId, seq: Seq, at: DateTime<Utc>) {
        write(
            store,
            Write::Message {
                channel,
                message: message(seq, at),
                client_id: None,
            },
        );
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
        assert_eq!(general.log.len(), 2, "both events can be replayed");
        // The new column works: a send with a client id is stored.
        write(
            &store,
            Write::Message {
                channel: 1,
                message: message(3, Utc::now()),
                client_id: Some("c-1".into()),
            },
        );
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
                Write::Message {
                    channel: 1,
                    message: message(seq, Utc::now()),
                    client_id: None,
                },
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
}
