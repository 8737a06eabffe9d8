//! Full-text search (SQLite FTS5) over the messages that are not deleted,
//! with what the searcher may see decided in the query; and the writer's
//! indexing of new rows, in small batches.

use super::rows::message_from;
use crate::model::IdentityId;
use crate::server::store::{ChannelId, Found};
use rusqlite::{params, Connection};
use std::time::Duration;

/// How often, at least, the writer adds a batch of new messages to the
/// search index while writes keep coming (it also does whenever no write
/// is waiting).
pub(super) const INDEX_EVERY: Duration = Duration::from_millis(100);
/// Most rows indexed in one transaction: a write waits behind one batch
/// at most, about 2 ms for 2,000 rows (docs/benchmarks.md). Much smaller
/// batches make more index segments for FTS5 to merge, and its merges
/// stalled commits (500 rows: a p99 of 227 ms at 1,000 messages/s right
/// after a burst).
pub(super) const INDEX_BATCH: i64 = 2_000;
/// Most rows not yet indexed that a search looks through itself.
const PENDING_SCAN: i64 = 100_000;

/// Adds up to [`INDEX_BATCH`] messages stored since the last time to the
/// search index, in one transaction; whether more are waiting. A search
/// looks through the rows not yet indexed itself. A failure is retried
/// next time.
pub(super) fn index_pending(conn: &mut Connection) -> bool {
    let started = std::time::Instant::now();
    let run = |conn: &mut Connection| -> rusqlite::Result<bool> {
        let tx = conn.transaction()?;
        let indexed = indexed_up_to(&tx)?;
        let (newest, last): (i64, i64) = tx.query_row(
            "SELECT coalesce((SELECT max(rowid) FROM messages WHERE rowid <= ?1), 0),
                    coalesce((SELECT max(rowid) FROM messages), 0)",
            [indexed + INDEX_BATCH],
            |r| Ok((r.get(0)?, r.get(1)?)),
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
        tx.commit()?;
        tracing::debug!(
            rows = newest - indexed,
            micros = started.elapsed().as_micros() as u64,
            "messages indexed for search"
        );
        Ok(last > newest)
    };
    // The index is made again from the rows if a batch is lost (its
    // watermark commits with it), so a batch does not wait for the disk:
    // the next write's commit takes it there. That halves what a batch
    // costs the writer.
    let relaxed = conn.pragma_update(None, "synchronous", "NORMAL");
    let outcome = relaxed.and_then(|()| run(conn));
    if let Err(err) = conn.pragma_update(None, "synchronous", "FULL") {
        tracing::error!(cause = %err, "writes could not be made durable again");
    }
    outcome.unwrap_or_else(|err| {
        tracing::error!(cause = %err, "indexing new messages for search failed; will retry");
        false
    })
}

/// The last row the search index holds.
fn indexed_up_to(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'search_indexed'",
        [],
        |r| r.get(0),
    )
}

/// The channels `viewer` may see, as a condition on `m.channel_id`
/// (parameter `?2` is the viewer, -1 for nobody).
const VISIBLE: &str = "m.channel_id IN (SELECT id FROM channels WHERE people IS NULL
     UNION ALL SELECT channel_id FROM members WHERE identity_id = ?2)";

/// The newest `limit` messages that `viewer` may see with every one of
/// `words`, newest first.
pub(super) fn search(
    conn: &Connection,
    viewer: Option<IdentityId>,
    words: &[String],
    limit: usize,
) -> rusqlite::Result<Vec<Found>> {
    let Some(query) = match_query(words) else {
        return Ok(Vec::new());
    };
    let viewer = viewer.map_or(-1, |v| v as i64);
    let mut found = Vec::new();
    let columns = super::rows::message_fields!("m.");
    // First the newest rows, not indexed yet, matched here.
    let indexed = indexed_up_to(conn)?;
    let mut pending = conn.prepare_cached(&format!(
        "SELECT m.channel_id, {columns} FROM messages m
         WHERE m.rowid > ?1 AND m.deleted_seq IS NULL AND {VISIBLE}
         ORDER BY m.rowid DESC LIMIT ?3"
    ))?;
    let mut rows = pending.query(params![indexed, viewer, PENDING_SCAN])?;
    while let Some(row) = rows.next()? {
        let channel = row.get::<_, i64>(0)? as ChannelId;
        if let Some(message) = message_from(row, 1)? {
            if words_match(words, message.text.as_str()) {
                found.push(Found { channel, message });
                if found.len() == limit {
                    return Ok(found);
                }
            }
        }
    }
    // Then the index, newest first by rowid (the order rows were stored
    // in), which FTS5 walks backwards without sorting.
    let mut statement = conn.prepare_cached(&format!(
        "SELECT m.channel_id, {columns}
         FROM message_search s JOIN messages m ON m.rowid = s.rowid
         WHERE message_search MATCH ?1 AND {VISIBLE}
         ORDER BY s.rowid DESC LIMIT ?3"
    ))?;
    let mut rows = statement.query(params![query, viewer, (limit - found.len()) as i64])?;
    while let Some(row) = rows.next()? {
        let channel = row.get::<_, i64>(0)? as ChannelId;
        if let Some(message) = message_from(row, 1)? {
            found.push(Found { channel, message });
        }
    }
    Ok(found)
}

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
