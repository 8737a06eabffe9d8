//! The embedded store: one SQLite file in WAL mode.
//!
//! - [`schema`]: the tables, and migrating an older file.
//! - `writes`: each write decided in SQL, in its own savepoint.
//! - `rows`: rows to messages, events and what the hub loads.
//! - `search`: full-text search, and indexing new rows.
//! - `writer`: the writer thread, its group commit and the checkpointer.
//!
//! Writes go through one writer thread that commits whatever is queued in
//! one transaction (group commit), each write isolated, so a write that is
//! refused changes nothing and fails no other. Then each write's
//! completion runs, in the order the writes were queued, on a task of the
//! async runtime the store was opened in (or on the writer thread without
//! one). Reads run on the runtime's blocking threads, each on a
//! connection of a small pool; WAL mode lets them run while the writer
//! commits.

pub(crate) mod schema;

mod rows;
mod search;
mod writer;
mod writes;

use super::{Answer, Done, Found, Loaded, Store, StoreError, Write};
use crate::model::{IdentityId, Message, Seq};
use crate::server::store::{ChannelId, Event};
use rusqlite::{params, Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Io(err.to_string())
    }
}

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
        // Checkpoints run on a thread of their own (see `writer::checkpoint_loop`),
        // not in the commit that happens to fill the WAL.
        writer.pragma_update(None, "wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES)?;
        writer.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?1)",
            [random_hex(8)],
        )?;
        let (queue, ops) = mpsc::channel();
        let completer = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<writer::Completions>();
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
            .spawn(move || writer::write_loop(writer, ops, completer, &counted))
            .map_err(|e| StoreError::Io(format!("cannot start the writer: {e}")))?;
        let checkpoints = connect(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let (stop, stopped) = mpsc::channel();
        let checkpointer = std::thread::Builder::new()
            .name("flack-checkpoint".into())
            .spawn(move || writer::checkpoint_loop(checkpoints, stopped))
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
mod tests;
