//! Rows to values: messages, events as the log replays them, and what
//! the hub loads at start.

use crate::model::{
    ChannelName, ChannelSummary, DisplayName, Identity, IdentityId, Message, MessageText, Reaction,
    Seq,
};
use crate::server::store::{
    ChannelId, Event, EventKind, Loaded, LoadedChannel, StoredChannel, StoredIdentity, TokenHash,
};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension};

pub(super) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(super) fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// A list as a JSON column: NULL when empty.
pub(super) fn json_column<T: serde::Serialize>(items: &[T]) -> Option<String> {
    (!items.is_empty()).then(|| serde_json::to_string(items).unwrap_or_default())
}

/// A JSON list column; one that does not parse (it never should) reads
/// as empty rather than failing the whole read.
pub(super) fn json_list<T: serde::de::DeserializeOwned>(column: Option<String>) -> Vec<T> {
    column
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}

/// The columns [`message_from`] reads, in its order (as a macro, so that
/// queries are put together at compile time).
macro_rules! message_fields {
    ($prefix:literal) => {
        concat!(
            $prefix,
            "seq, ",
            $prefix,
            "author_id, ",
            $prefix,
            "author_name, ",
            $prefix,
            "text, ",
            $prefix,
            "sent_at, ",
            $prefix,
            "deleted_seq, ",
            $prefix,
            "client_id, ",
            $prefix,
            "thread, ",
            $prefix,
            "edited_at, ",
            $prefix,
            "mentions, ",
            $prefix,
            "reactions, ",
            $prefix,
            "replies, ",
            $prefix,
            "last_reply_at"
        )
    };
}
pub(super) use message_fields;

/// [`message_fields`] from the messages table.
pub(super) const MESSAGE_COLUMNS: &str = concat!(message_fields!(""), " FROM messages");

/// The message in the [`MESSAGE_COLUMNS`] of `row` from column `at` on;
/// `None` for a tombstone, or a row that no longer parses (it never
/// should: it is kept out of view rather than failing the whole read).
pub(super) fn message_from(
    row: &rusqlite::Row<'_>,
    at: usize,
) -> rusqlite::Result<Option<Message>> {
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

/// Messages by a query over [`MESSAGE_COLUMNS`] (tombstones left out).
pub(super) fn messages(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<Message>> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| message_from(row, 0))?;
    let mut found = Vec::new();
    for row in rows {
        found.extend(row?);
    }
    Ok(found)
}

/// One stored message or reply; `None` if deleted or never stored.
pub(super) fn message(
    conn: &Connection,
    channel: ChannelId,
    seq: Seq,
) -> rusqlite::Result<Option<Message>> {
    Ok(messages(
        conn,
        &format!("SELECT {MESSAGE_COLUMNS} WHERE channel_id = ?1 AND seq = ?2"),
        params![channel as i64, seq as i64],
    )?
    .pop())
}

/// The event `seq` of the log, of `kind` about `message_seq`, built from
/// the rows as they stand: a message deleted since is its deletion.
pub(super) fn event(
    conn: &Connection,
    channel: ChannelId,
    seq: Seq,
    kind: EventKind,
    message_seq: Seq,
    mentioned: Vec<IdentityId>,
) -> rusqlite::Result<Event> {
    let (thread, deleted): (Option<i64>, bool) = conn
        .prepare_cached(
            "SELECT thread, deleted_seq IS NOT NULL FROM messages
             WHERE channel_id = ?1 AND seq = ?2",
        )?
        .query_row(params![channel as i64, message_seq as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?
        .unwrap_or((None, true));
    let current = if deleted {
        None
    } else {
        message(conn, channel, message_seq)?
    };
    let kind = if current.is_none() {
        EventKind::Deleted
    } else {
        kind
    };
    let parent = match (kind, thread) {
        (EventKind::Posted | EventKind::Deleted, Some(parent)) => {
            message(conn, channel, parent as Seq)?
        }
        _ => None,
    };
    Ok(Event {
        channel,
        seq,
        kind,
        message_seq,
        message: current,
        parent,
        mentioned,
    })
}

/// The log's events of `channel` numbered above `after`, oldest first,
/// while they run without a gap from `after + 1` up to `last_seq`; `None`
/// if the log does not reach back to `after + 1`.
pub(super) fn events_after(
    conn: &Connection,
    channel: ChannelId,
    after: Seq,
) -> rusqlite::Result<Option<Vec<Event>>> {
    let last_seq: Option<i64> = conn
        .prepare_cached("SELECT last_seq FROM channels WHERE id = ?1")?
        .query_row([channel as i64], |r| r.get(0))
        .optional()?;
    let Some(last_seq) = last_seq else {
        return Ok(None);
    };
    let last_seq = last_seq as Seq;
    if after > last_seq {
        return Ok(None);
    }
    let entries: Vec<(Seq, i64, Seq)> = conn
        .prepare_cached(
            "SELECT seq, kind, message_seq FROM log WHERE channel_id = ?1 AND seq > ?2
             ORDER BY seq",
        )?
        .query_map(params![channel as i64, after as i64], |r| {
            Ok((
                r.get::<_, i64>(0)? as Seq,
                r.get(1)?,
                r.get::<_, i64>(2)? as Seq,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let complete = entries.len() as Seq == last_seq - after
        && entries
            .iter()
            .enumerate()
            .all(|(i, (seq, _, _))| *seq == after + 1 + i as Seq);
    if !complete {
        return Ok(None);
    }
    let mut events = Vec::with_capacity(entries.len());
    for (seq, kind, message_seq) in entries {
        let kind = EventKind::from_code(kind).unwrap_or(EventKind::Deleted);
        events.push(event(conn, channel, seq, kind, message_seq, Vec::new())?);
    }
    Ok(Some(events))
}

/// A channel's row, as stored.
pub(super) fn channel_from(
    id: i64,
    name: String,
    created_at: i64,
    people: Option<String>,
) -> Option<StoredChannel> {
    let name = ChannelName::parse(&name).ok()?;
    Some(StoredChannel {
        id: id as ChannelId,
        summary: ChannelSummary {
            name,
            created_at: from_millis(created_at),
            people: json_list::<Identity>(people),
        },
    })
}

fn load_channel(
    conn: &Connection,
    channel: StoredChannel,
    last_seq: Seq,
    recent: usize,
) -> rusqlite::Result<LoadedChannel> {
    let id = channel.id;
    // The live window: the most recent messages that are not deleted
    // (replies are in their threads, not in it).
    let mut window = messages(
        conn,
        &format!(
            "SELECT {MESSAGE_COLUMNS} WHERE channel_id = ?1 AND deleted_seq IS NULL
             AND thread IS NULL ORDER BY seq DESC LIMIT ?2"
        ),
        params![id as i64, recent as i64],
    )?;
    window.reverse();
    // The replay log: its last `recent` events, as long as they run
    // without a gap up to last_seq, built from the rows.
    let seqs: Vec<Seq> = conn
        .prepare_cached("SELECT seq FROM log WHERE channel_id = ?1 ORDER BY seq DESC LIMIT ?2")?
        .query_map(params![id as i64, recent as i64], |r| {
            Ok(r.get::<_, i64>(0)? as Seq)
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut first = last_seq + 1;
    for seq in seqs {
        if seq + 1 != first {
            break;
        }
        first = seq;
    }
    let log = if first <= last_seq {
        events_after(conn, id, first - 1)?.unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok(LoadedChannel {
        channel,
        last_seq,
        recent: window,
        log,
    })
}

/// Everything the hub holds in memory.
pub(super) fn load(conn: &Connection, recent: usize) -> rusqlite::Result<Loaded> {
    let epoch: String = conn.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
        r.get(0)
    })?;
    let heads: Vec<(i64, String, i64, i64, Option<String>)> = conn
        .prepare("SELECT id, name, created_at, last_seq, people FROM channels ORDER BY name")?
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut channels = Vec::with_capacity(heads.len());
    for (id, name, created_at, last_seq, people) in heads {
        let Some(channel) = channel_from(id, name.clone(), created_at, people) else {
            tracing::warn!(%name, "a stored channel name is not valid; skipped");
            continue;
        };
        channels.push(load_channel(conn, channel, last_seq as Seq, recent)?);
    }
    let identities = conn
        .prepare("SELECT id, name, token_hash, created_at, last_seen FROM identities")?
        .query_map([], identity_from)?
        .filter_map(|row| row.transpose())
        .collect::<rusqlite::Result<Vec<_>>>()?;
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
        reads,
    })
}

/// An identity from `id, name, token_hash, created_at, last_seen`; `None`
/// if it no longer parses (it never should).
pub(super) fn identity_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<StoredIdentity>> {
    let name: String = row.get(1)?;
    let hash: Vec<u8> = row.get(2)?;
    let (Ok(name), Ok(token_hash)) = (
        DisplayName::parse(&name),
        TokenHash::try_from(hash.as_slice()),
    ) else {
        return Ok(None);
    };
    Ok(Some(StoredIdentity {
        id: row.get::<_, i64>(0)? as IdentityId,
        name,
        token_hash,
        created_at: from_millis(row.get(3)?),
        last_seen: from_millis(row.get(4)?),
    }))
}
