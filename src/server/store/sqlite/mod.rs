//! The embedded store: one SQLite file in WAL mode.
//!
//! - [`schema`]: the tables, and migrating an older file.
//! - `writes`: each write decided in SQL, in its own savepoint.
//! - `rows`: rows to messages, events and what the hub loads.
//! - `search`: full-text search, and indexing new rows.
//!
//! Writes go through one writer thread that commits whatever is queued in
//! one transaction (group commit), each write in a savepoint of its own,
//! so a write that is refused rolls back alone. Then each write's
//! completion runs, in the order the writes were queued, on a task of the
//! async runtime the store was opened in (or on the writer thread without
//! one). Reads run on the runtime's blocking threads, each on a
//! connection of a small pool; WAL mode lets them run while the writer
//! commits.

pub(crate) mod schema;

mod rows;
mod search;
mod writes;

use super::{Answer, Done, Found, Loaded, Outcome, Store, StoreError, Write};
use crate::model::{IdentityId, Message, Seq};
use crate::server::store::{ChannelId, Event};
use rusqlite::{params, Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Io(err.to_string())
    }
}

/// Most writes committed in one transaction.
const MAX_GROUP: usize = 1024;
/// How often the checkpointer copies committed pages from the WAL into
/// the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// The WAL size (in pages) at which the writer checkpoints by itself, a
/// backstop should the checkpointer fall behind.
const BACKSTOP_CHECKPOINT_PAGES: u32 = 16_384;
/// Most read connections kept open (and reads run at once).
const READERS: usize = 4;
/// How long `health` waits for the writer to answer.
const HEALTH_PATIENCE: Duration = Duration::from_secs(2);

/// The embedded store: one SQLite file in WAL mode.
pub struct SqliteStore {
    path: PathBuf,
    /// Writes queued and not yet answered.
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    queue: Mutex<Option<mpsc::Sender<(Write, Done)>>>,
    readers: Arc<Readers>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Stops the checkpointer (by being dropped), and its thread.
    checkpointer: Mutex<Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>>,
    /// A file made for `:memory:`, removed on drop.
    scratch: bool,
}

/// Read connections, opened as needed, at most [`READERS`] at once.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: tokio::sync::Semaphore,
}

impl Readers {
    /// Runs `f` on a read connection, on a blocking thread.
    fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Answer<T> {
        let readers = Arc::clone(self);
        Box::pin(async move {
            let _permit = readers
                .permits
                .acquire()
                .await
                .map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
            let pool = Arc::clone(&readers);
            tokio::task::spawn_blocking(move || {
                let taken = pool.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
                let conn = match taken {
                    Some(conn) => conn,
                    None => connect(
                        &pool.path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?,
                };
                // One read transaction: every statement of the read sees
                // the same committed state (say, the search index and the
                // rows not yet in it).
                let result = conn
                    .unchecked_transaction()
                    .and_then(|tx| {
                        let value = f(&tx)?;
                        tx.commit()?;
                        Ok(value)
                    })
                    .map_err(StoreError::from);
                pool.idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(conn);
                result
            })
            .await
            .map_err(|err| StoreError::Unavailable(format!("a read stopped: {err}")))?
        })
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Opens a connection with the settings every connection uses.
fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    untracked_memory();
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Io(format!("cannot open the database {}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// Turns off SQLite's count of the memory it uses, once, before the first
/// connection: the count takes a global mutex at every allocation and
/// release, which cost the writer a few per cent of its time (a profile of
/// the `acks` benchmark, docs/benchmarks.md), and nothing reads it.
fn untracked_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config is called before SQLite is initialised
        // (this runs before the process opens its first connection); if
        // it was initialised already the call is refused with
        // SQLITE_MISUSE and changes nothing.
        let code =
            unsafe { rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0) };
        if code != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(code, "SQLite keeps counting its memory");
        }
    });
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
                .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", dir.display())))?;
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
            return Err(StoreError::Io(format!(
                "the database {} cannot use WAL mode (it is in {mode} mode)",
                path.display()
            )));
        }
        // Every commit reaches the disk before it is acknowledged.
        writer.pragma_update(None, "synchronous", "FULL")?;
        // A write's savepoint keeps what it would undo in memory, not in a
        // temporary file.
        writer.pragma_update(None, "temp_store", "MEMORY")?;
        schema::migrate(&mut writer)?;
        // Checkpoints run on a thread of their own (see `checkpoint_loop`),
        // not in the commit that happens to fill the WAL.
        writer.pragma_update(None, "wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES)?;
        writer.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?1)",
            [random_hex(8)],
        )?;
        let (queue, ops) = mpsc::channel();
        let completer = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Completions>();
            runtime.spawn(async move {
                while let Some(completions) = rx.recv().await {
                    for (done, outcome) in completions {
                        done(outcome);
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
            .map_err(|e| StoreError::Io(format!("cannot start the writer: {e}")))?;
        let checkpoints = connect(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let (stop, stopped) = mpsc::channel();
        let checkpointer = std::thread::Builder::new()
            .name("flack-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoints, stopped))
            .map_err(|e| StoreError::Io(format!("cannot start the checkpointer: {e}")))?;
        Ok(Arc::new(SqliteStore {
            readers: Arc::new(Readers {
                path: path.clone(),
                idle: Mutex::new(Vec::new()),
                permits: tokio::sync::Semaphore::new(READERS),
            }),
            path,
            in_flight,
            checkpointer: Mutex::new(Some((stop, checkpointer))),
            queue: Mutex::new(Some(queue)),
            writer: Mutex::new(Some(thread)),
            scratch,
        }))
    }

    /// The file the store lives in.
    pub(crate) fn path(&self) -> &Path {
        &self.path
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
        return Err(StoreError::Io(format!(
            "there is no database at {}",
            from.display()
        )));
    }
    if to.exists() {
        return Err(StoreError::Io(format!(
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
/// readers (a passive checkpoint); until `stop` is dropped.
fn checkpoint_loop(conn: Connection, stop: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(cause = %err, "a checkpoint failed");
        }
    }
}

/// A commit's completions, each with its write's outcome.
type Completions = Vec<(Done, Result<Outcome, StoreError>)>;

/// Where completions go to run: a task of the runtime.
type Completer = tokio::sync::mpsc::UnboundedSender<Completions>;

fn write_loop(
    mut conn: Connection,
    ops: mpsc::Receiver<(Write, Done)>,
    completer: Option<Completer>,
    in_flight: &std::sync::atomic::AtomicUsize,
) {
    let mut group: Vec<(Write, Done)> = Vec::with_capacity(64);
    let mut indexed_at = Instant::now();
    let mut behind = true;
    loop {
        // Indexing, one batch at a time, so that a write never waits
        // behind more than one: whenever no write is waiting, and at
        // least every INDEX_EVERY while writes keep coming. Each batch is
        // a transaction of its own.
        if behind && indexed_at.elapsed() >= search::INDEX_EVERY {
            behind = search::index_pending(&mut conn);
            indexed_at = Instant::now();
        }
        let first = match ops.try_recv() {
            Ok(first) => first,
            Err(mpsc::TryRecvError::Disconnected) => break,
            Err(mpsc::TryRecvError::Empty) if behind => {
                behind = search::index_pending(&mut conn);
                indexed_at = Instant::now();
                continue;
            }
            Err(mpsc::TryRecvError::Empty) => match ops.recv_timeout(search::INDEX_EVERY) {
                Ok(first) => first,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            },
        };
        group.push(first);
        while group.len() < MAX_GROUP {
            match ops.try_recv() {
                Ok(op) => group.push(op),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let outcomes = commit(&mut conn, group.iter().map(|(w, _)| w));
        let took = started.elapsed();
        tracing::debug!(
            writes = group.len(),
            micros = took.as_micros() as u64,
            "group committed"
        );
        metrics::histogram!(crate::server::telemetry::COMMIT_SECONDS).record(took.as_secs_f64());
        behind |= outcomes
            .iter()
            .any(|o| matches!(o, Ok(Outcome::Event(_)) | Ok(Outcome::Repeat(_))));
        let completions: Completions = group
            .drain(..)
            .map(|(_, done)| done)
            .zip(outcomes)
            .collect();
        in_flight.fetch_sub(completions.len(), std::sync::atomic::Ordering::SeqCst);
        // Without a runtime (or once it is gone), here.
        let unsent = match &completer {
            Some(completer) => completer.send(completions).err().map(|e| e.0),
            None => Some(completions),
        };
        for (done, outcome) in unsent.into_iter().flatten() {
            done(outcome);
        }
    }
    // Leave a tidy file: everything indexed, the WAL folded back in.
    while search::index_pending(&mut conn) {}
    let _ = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
}

/// Commits the writes in one transaction, each isolated: a write refused
/// (or failing) changes nothing and fails no other write. If the commit
/// itself fails, every write fails.
///
/// A write is first applied without a savepoint: every rule is checked
/// before a write changes anything, so a refusal leaves nothing to undo
/// (the count of changed rows proves it). Only if a write fails after
/// changing something (or otherwise than by a refusal) is the group done
/// again from the start with a savepoint per write, so that the failing
/// write rolls back alone. Savepoints cost about a sixth of the writer's
/// time when every write has one.
fn commit<'a>(
    conn: &mut Connection,
    writes: impl ExactSizeIterator<Item = &'a Write> + Clone,
) -> Vec<Result<Outcome, StoreError>> {
    let count = writes.len();
    let outcome = match group(conn, writes.clone(), false) {
        Err(Redo::WithSavepoints) => group(conn, writes, true),
        other => other,
    };
    outcome.unwrap_or_else(|redo| {
        let err = match redo {
            Redo::Failed(err) => err,
            Redo::WithSavepoints => StoreError::Io(redo.to_string()),
        };
        tracing::error!(cause = %err, writes = count, "a commit failed");
        (0..count).map(|_| Err(err.clone())).collect()
    })
}

/// Why a group was not committed.
enum Redo {
    /// A write failed after changing something: do the group again, each
    /// write in a savepoint.
    WithSavepoints,
    /// The transaction failed.
    Failed(StoreError),
}

impl std::fmt::Display for Redo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Redo::WithSavepoints => f.write_str("a write failed part way"),
            Redo::Failed(err) => err.fmt(f),
        }
    }
}

impl From<rusqlite::Error> for Redo {
    fn from(err: rusqlite::Error) -> Self {
        Redo::Failed(err.into())
    }
}

/// One transaction of the group's writes (see [`commit`]); rolled back
/// unless it commits.
fn group<'a>(
    conn: &mut Connection,
    writes: impl Iterator<Item = &'a Write>,
    savepoints: bool,
) -> Result<Vec<Result<Outcome, StoreError>>, Redo> {
    let mut tx = conn.transaction()?;
    let mut numbers = writes::Numbers::default();
    let mut outcomes = Vec::new();
    for write in writes {
        numbers.begin();
        if savepoints {
            let savepoint = tx.savepoint()?;
            match writes::apply(&savepoint, &mut numbers, write) {
                Ok(outcome) => {
                    savepoint.commit()?;
                    outcomes.push(Ok(outcome));
                }
                Err(err) => {
                    // Dropped: rolled back.
                    drop(savepoint);
                    numbers.undo();
                    if !matches!(err, StoreError::Conflict(_)) {
                        tracing::error!(cause = %err, "a write failed");
                    }
                    outcomes.push(Err(err));
                }
            }
        } else {
            let before = tx.total_changes();
            match writes::apply(&tx, &mut numbers, write) {
                Ok(outcome) => outcomes.push(Ok(outcome)),
                Err(err @ StoreError::Conflict(_)) if tx.total_changes() == before => {
                    numbers.undo();
                    outcomes.push(Err(err));
                }
                Err(_) => return Err(Redo::WithSavepoints),
            }
        }
    }
    numbers.write_back(&tx)?;
    tx.commit()?;
    Ok(outcomes)
}

impl Store for SqliteStore {
    fn load(&self, recent: usize) -> Answer<Loaded> {
        self.readers.run(move |conn| rows::load(conn, recent))
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
            std::thread::spawn(move || {
                done(Err(StoreError::Unavailable("the store is closed".into())))
            });
        }
    }

    fn older(&self, channel: ChannelId, before: Seq, limit: usize) -> Answer<(Vec<Message>, bool)> {
        self.readers.run(move |conn| {
            let mut messages = rows::messages(
                conn,
                &format!(
                    "SELECT {} WHERE channel_id = ?1 AND seq < ?2
                     AND deleted_seq IS NULL AND thread IS NULL ORDER BY seq DESC LIMIT ?3",
                    rows::MESSAGE_COLUMNS
                ),
                params![channel as i64, before as i64, limit as i64 + 1],
            )?;
            let more = messages.len() > limit;
            messages.truncate(limit);
            messages.reverse();
            Ok((messages, more))
        })
    }

    fn newer(&self, channel: ChannelId, after: Seq, limit: usize) -> Answer<(Vec<Message>, bool)> {
        self.readers.run(move |conn| {
            let mut messages = rows::messages(
                conn,
                &format!(
                    "SELECT {} WHERE channel_id = ?1 AND seq > ?2
                     AND deleted_seq IS NULL AND thread IS NULL ORDER BY seq LIMIT ?3",
                    rows::MESSAGE_COLUMNS
                ),
                params![channel as i64, after as i64, limit as i64 + 1],
            )?;
            let more = messages.len() > limit;
            messages.truncate(limit);
            Ok((messages, more))
        })
    }

    fn message(&self, channel: ChannelId, seq: Seq) -> Answer<Option<Message>> {
        self.readers
            .run(move |conn| rows::message(conn, channel, seq))
    }

    fn replies(&self, channel: ChannelId, parent: Seq, limit: usize) -> Answer<Vec<Message>> {
        self.readers.run(move |conn| {
            let mut replies = rows::messages(
                conn,
                &format!(
                    "SELECT {} WHERE channel_id = ?1 AND thread = ?2
                     AND deleted_seq IS NULL ORDER BY seq DESC LIMIT ?3",
                    rows::MESSAGE_COLUMNS
                ),
                params![channel as i64, parent as i64, limit as i64],
            )?;
            replies.reverse();
            Ok(replies)
        })
    }

    fn events(&self, channel: ChannelId, after: Seq) -> Answer<Option<Vec<Event>>> {
        self.readers
            .run(move |conn| rows::events_after(conn, channel, after))
    }

    fn search(
        &self,
        viewer: Option<IdentityId>,
        words: Vec<String>,
        limit: usize,
    ) -> Answer<Vec<Found>> {
        self.readers
            .run(move |conn| search::search(conn, viewer, &words, limit))
    }

    fn health(&self) -> Answer<()> {
        let read = self
            .readers
            .run(|conn| conn.query_row("SELECT 1", [], |_| Ok(())));
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.write(
            Write::Barrier,
            Box::new(move |outcome| {
                let _ = tx.send(outcome);
            }),
        );
        Box::pin(async move {
            read.await?;
            match tokio::time::timeout(HEALTH_PATIENCE, rx).await {
                Ok(Ok(outcome)) => outcome.map(|_| ()),
                Ok(Err(_)) => Err(StoreError::Unavailable("the writer stopped".into())),
                Err(_) => Err(StoreError::Unavailable(format!(
                    "the writer did not answer within {} s",
                    HEALTH_PATIENCE.as_secs()
                ))),
            }
        })
    }

    fn close(&self) {
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
        self.readers.permits.close();
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::contract;

    /// A fresh store on a file of its own (removed when dropped).
    fn fresh() -> Arc<dyn Store> {
        SqliteStore::open(":memory:").expect("a scratch store opens")
    }

    crate::store_contract_tests!(fresh);

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

    #[test]
    fn the_group_done_again_with_savepoints_isolates_each_write() {
        // The path taken when a write fails part way: each write in its
        // own savepoint, a refusal rolled back alone.
        let path = scratch_path("savepoints");
        let mut conn = Connection::open(&path).unwrap();
        schema::migrate(&mut conn).unwrap();
        let at = chrono::Utc::now();
        let create = |name: &str| Write::CreateChannel {
            name: crate::model::ChannelName::parse(name).unwrap(),
            at,
            max_channels: 10,
        };
        let writes = [create("general"), create("general"), create("random")];
        let outcomes = group(&mut conn, writes.iter(), true).unwrap_or_else(|_| panic!());
        assert!(matches!(outcomes[0], Ok(Outcome::Channel { .. })));
        assert!(matches!(outcomes[1], Err(StoreError::Conflict(_))));
        assert!(matches!(outcomes[2], Ok(Outcome::Channel { .. })));
        let held: i64 = conn
            .query_row("SELECT count(*) FROM channels", [], |r| r.get(0))
            .unwrap();
        assert_eq!(held, 2);
        drop(conn);
        remove(&path);
    }

    #[tokio::test]
    async fn a_newer_file_is_refused_with_a_clear_message() {
        let path = scratch_path("newer");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", schema::SCHEMA_VERSION + 1)
                .unwrap();
        }
        let err = SqliteStore::open(path.to_str().unwrap())
            .err()
            .expect("refused");
        assert!(err.to_string().contains("newer"), "{err}");
        remove(&path);
    }

    #[tokio::test]
    async fn a_file_of_the_previous_schema_is_upgraded_and_keeps_its_data() {
        let path = scratch_path("upgrade");
        {
            let mut conn = Connection::open(&path).unwrap();
            // The schema as version 4 left it, with a channel, a message
            // with a reaction, a conversation and its replay log.
            let tx = conn.transaction().unwrap();
            for step in &schema::MIGRATIONS[..4] {
                tx.execute_batch(step).unwrap();
            }
            tx.pragma_update(None, "user_version", 4).unwrap();
            tx.execute_batch(
                "INSERT INTO meta VALUES ('epoch', 'e1');
                 INSERT INTO channels (id, name, created_at, last_seq) VALUES (1, 'general', 0, 2);
                 INSERT INTO channels (id, name, created_at, last_seq, people)
                     VALUES (2, '@1-2', 0, 0, '[{\"id\":1,\"name\":\"ann\"},{\"id\":2,\"name\":\"bob\"}]');
                 INSERT INTO messages (channel_id, seq, author_id, author_name, text, sent_at,
                     client_id, reactions)
                     VALUES (1, 1, 1, 'ann', 'hello', 0, 'c1',
                     '[{\"emoji\":\"👍\",\"by\":[{\"id\":2,\"name\":\"bob\"},{\"id\":1,\"name\":\"ann\"}]}]');
                 INSERT INTO events (channel_id, seq, message_seq, json)
                     VALUES (1, 1, 1, '{\"type\":\"message\",\"channel\":\"general\"}');
                 INSERT INTO events (channel_id, seq, message_seq, json)
                     VALUES (1, 2, 1, '{\"type\":\"reacted\",\"message_seq\":1}');",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let store = SqliteStore::open(path.to_str().unwrap()).unwrap();
        let loaded = store.load(100).await.unwrap();
        assert_eq!(loaded.epoch, "e1");
        let general = &loaded.channels.iter().find(|c| c.channel.id == 1).unwrap();
        assert_eq!(general.recent.len(), 1);
        assert_eq!(general.recent[0].reactions[0].by.len(), 2);
        // The log came across as references: replayed from the rows.
        let kinds: Vec<_> = general.log.iter().map(|e| (e.seq, e.kind)).collect();
        assert_eq!(
            kinds,
            [
                (1, crate::server::store::EventKind::Posted),
                (2, crate::server::store::EventKind::Reacted)
            ]
        );
        // The conversation's people are members: visibility in the query.
        let hits = store
            .search(Some(3), vec!["hello".into()], 10)
            .await
            .unwrap();
        assert_eq!(hits.len(), 1, "a channel's message is found by anyone");
        // The reaction rows came across: Ann takes hers back.
        let ann = crate::model::Identity {
            id: 1,
            name: crate::model::DisplayName::parse("ann").unwrap(),
        };
        let outcome = crate::server::store::write(
            &*store,
            Write::React {
                channel: 1,
                seq: 1,
                who: ann,
                emoji: "👍".into(),
                on: false,
                max_emoji: 20,
            },
        )
        .await
        .unwrap();
        let Outcome::Event(event) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(event.seq, 3);
        assert_eq!(event.reactions()[0].by.len(), 1);
        // And a retried send of before the upgrade is still recognised.
        let outcome = crate::server::store::write(
            &*store,
            Write::Post {
                channel: 1,
                author: crate::model::Identity {
                    id: 1,
                    name: crate::model::DisplayName::parse("ann").unwrap(),
                },
                text: crate::model::MessageText::parse("hello").unwrap(),
                thread: None,
                mentions: Vec::new(),
                client_id: Some("c1".into()),
                at: chrono::Utc::now(),
            },
        )
        .await
        .unwrap();
        assert_eq!(outcome, Outcome::Repeat(1));
        drop(store);
        remove(&path);
    }

    #[tokio::test]
    async fn a_backup_of_a_live_store_opens_with_the_same_messages_and_a_new_epoch() {
        let path = scratch_path("live");
        let copy = scratch_path("copy");
        let store = SqliteStore::open(path.to_str().unwrap()).unwrap();
        let channel = contract::channel(&*store, "general").await;
        for i in 0..5 {
            contract::post(&*store, channel, 1, &format!("m{i}")).await;
        }
        backup(&path, &copy).unwrap();
        let restored = SqliteStore::open(copy.to_str().unwrap()).unwrap();
        let before = store.load(100).await.unwrap();
        let after = restored.load(100).await.unwrap();
        assert_eq!(before.channels[0].recent, after.channels[0].recent);
        assert_ne!(before.epoch, after.epoch);
        assert!(backup(&path, &copy).is_err(), "never over an existing file");
        drop((store, restored));
        remove(&path);
        remove(&copy);
    }
}
