//! The writer thread: it commits whatever is queued in one transaction
//! (group commit), each write isolated, indexes new messages for search
//! between groups, and hands the completions to the runtime; and the
//! checkpointer beside it.

use super::{search, writes};
use crate::server::store::{Done, Outcome, StoreError, Write};
use rusqlite::Connection;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How often the checkpointer copies committed pages from the WAL into
/// the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// Most writes committed in one transaction.
const MAX_GROUP: usize = 1024;
/// Copies committed pages from the WAL into the database file every
/// [`CHECKPOINT_EVERY`], without waiting for or blocking the writer or
/// readers (a passive checkpoint); until `stop` is dropped.
pub(super) fn checkpoint_loop(conn: Connection, stop: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(cause = %err, "a checkpoint failed");
        }
    }
}

/// A commit's completions, each with its write's outcome.
pub(super) type Completions = Vec<(Done, Result<Outcome, StoreError>)>;

/// Where completions go to run: a task of the runtime.
type Completer = tokio::sync::mpsc::UnboundedSender<Completions>;

pub(super) fn write_loop(
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
pub(super) enum Redo {
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
pub(super) fn group<'a>(
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
