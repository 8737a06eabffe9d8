//! Each write decided in SQL, inside its own savepoint: the numbers and
//! ids are taken here, rules and constraints checked here, and the
//! answer built from the rows as committed.

use super::rows::{self, channel_from, json_column, millis, MESSAGE_COLUMNS};
use crate::model::{
    ChannelName, ChannelSummary, ErrorCode, Identity, IdentityId, Message, Reaction, Seq,
    HISTORY_LIMIT,
};
use crate::server::store::{
    ChannelId, Event, EventKind, Outcome, StoreError, StoredChannel, StoredIdentity, Write,
};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;

/// The event numbers taken by the open transaction, per channel. A
/// channel's row is read at the group's first write in it and written back
/// once, just before the commit, not at every write (an `UPDATE` a write
/// was a sixth of the writer's statements). The numbers are still taken in
/// the transaction that commits the writes: a group that fails takes none,
/// and a write refused gives its number back ([`Numbers::undo`]).
#[derive(Default)]
pub(super) struct Numbers {
    last: HashMap<ChannelId, Seq>,
    /// What the write being applied changed: its channel's last number
    /// before it.
    undo: Option<(ChannelId, Option<Seq>)>,
}

impl Numbers {
    /// The channel's next number.
    fn take(&mut self, conn: &Connection, channel: ChannelId) -> Result<Seq, StoreError> {
        let before = self.last.get(&channel).copied();
        let last = match before {
            Some(last) => last,
            None => conn
                .prepare_cached("SELECT last_seq FROM channels WHERE id = ?1")?
                .query_row([channel as i64], |r| r.get::<_, i64>(0))
                .optional()?
                .map(|s| s as Seq)
                .ok_or_else(|| {
                    StoreError::conflict(ErrorCode::UnknownChannel, "There is no such channel.")
                })?,
        };
        self.undo.get_or_insert((channel, before));
        self.last.insert(channel, last + 1);
        Ok(last + 1)
    }

    /// Starts a write: what it takes can be given back.
    pub(super) fn begin(&mut self) {
        self.undo = None;
    }

    /// Gives back what the write being applied took (it was refused).
    pub(super) fn undo(&mut self) {
        match self.undo.take() {
            Some((channel, Some(last))) => {
                self.last.insert(channel, last);
            }
            Some((channel, None)) => {
                self.last.remove(&channel);
            }
            None => {}
        }
    }

    /// Writes the channels' last numbers back to their rows (before the
    /// commit, or before a write reads them), and forgets them.
    pub(super) fn write_back(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        for (channel, last) in self.last.drain() {
            conn.prepare_cached("UPDATE channels SET last_seq = ?2 WHERE id = ?1")?
                .execute(params![channel as i64, last as i64])?;
        }
        self.undo = None;
        Ok(())
    }
}

/// Decides and applies one write, its numbers taken from `numbers`. On an
/// error nothing it did may stay: the caller rolls its savepoint back, or
/// proves that it changed nothing, and gives its numbers back.
pub(super) fn apply(
    conn: &Connection,
    numbers: &mut Numbers,
    write: &Write,
) -> Result<Outcome, StoreError> {
    match write {
        Write::CreateChannel {
            name,
            at,
            max_channels,
        } => create_channel(conn, name, *at, *max_channels),
        Write::OpenDirect {
            people,
            at,
            max_directs,
        } => open_direct(conn, people, *at, *max_directs),
        Write::Post {
            channel,
            author,
            text,
            thread,
            mentions,
            client_id,
            at,
        } => {
            if let Some(parent) = thread {
                let parent = live_message(conn, *channel, *parent)?;
                if parent.thread.is_some() {
                    return Err(StoreError::conflict(
                        ErrorCode::InvalidThread,
                        "A reply cannot have a thread of its own; reply in its parent's thread.",
                    ));
                }
            }
            let seq = numbers.take(conn, *channel)?;
            // A retried send (the same client id from the same author in
            // the channel) is stopped by the unique index, and answered
            // with the first; otherwise the row stored is the message of
            // the event, as the values it was stored with.
            let stored = conn
                .prepare_cached(
                    "INSERT INTO messages (channel_id, seq, author_id, author_name, text, sent_at,
                         client_id, thread, mentions)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![
                    *channel as i64,
                    seq as i64,
                    author.id as i64,
                    author.name.as_str(),
                    text.as_str(),
                    millis(*at),
                    client_id.as_deref(),
                    thread.map(|s| s as i64),
                    json_column(mentions),
                ])?;
            let stored = (stored == 1).then(|| {
                let mut message = Message::new(seq, author, text.clone(), *at);
                message.thread = *thread;
                message.mentions = mentions.clone();
                message
            });
            let Some(message) = stored else {
                // A repeat: the number taken goes back, and the answer is
                // the first one's.
                numbers.undo();
                let first: i64 = conn
                    .prepare_cached(
                        "SELECT seq FROM messages
                         WHERE channel_id = ?1 AND author_id = ?2 AND client_id = ?3",
                    )?
                    .query_row(
                        params![*channel as i64, author.id as i64, client_id.as_deref()],
                        |r| r.get(0),
                    )?;
                return Ok(Outcome::Repeat(first as Seq));
            };
            let parent = match thread {
                Some(parent) => {
                    let parent = conn
                        .prepare_cached(concat!(
                            "UPDATE messages SET replies = replies + 1, last_reply_at = ?3
                             WHERE channel_id = ?1 AND seq = ?2 RETURNING ",
                            rows::message_fields!("")
                        ))?
                        .query_row(
                            params![*channel as i64, *parent as i64, millis(*at)],
                            |row| rows::message_from(row, 0),
                        )?;
                    parent
                }
                None => None,
            };
            log(conn, *channel, seq, EventKind::Posted, seq)?;
            Ok(Outcome::Event(Box::new(Event {
                channel: *channel,
                seq,
                kind: EventKind::Posted,
                message_seq: seq,
                mentioned: newly_mentioned(mentions, &[], author.id),
                message: Some(message),
                parent,
            })))
        }
        Write::Edit {
            channel,
            seq,
            by,
            text,
            mentions,
            at,
        } => {
            let message = live_message(conn, *channel, *seq)?;
            if message.author_id != *by {
                return Err(StoreError::conflict(
                    ErrorCode::NotEditor,
                    "You can edit only your own messages.",
                ));
            }
            if message.text == *text {
                return Ok(Outcome::Unchanged);
            }
            let event_seq = numbers.take(conn, *channel)?;
            conn.prepare_cached(
                "UPDATE messages SET text = ?3, edited_at = ?4, mentions = ?5
                 WHERE channel_id = ?1 AND seq = ?2",
            )?
            .execute(params![
                *channel as i64,
                *seq as i64,
                text.as_str(),
                millis(*at),
                json_column(mentions),
            ])?;
            let mentioned = newly_mentioned(mentions, &message.mentions, message.author_id);
            event(
                conn,
                *channel,
                event_seq,
                EventKind::Edited,
                *seq,
                mentioned,
            )
        }
        Write::React {
            channel,
            seq,
            who,
            emoji,
            on,
            max_emoji,
        } => react(conn, numbers, (*channel, *seq), who, emoji, *on, *max_emoji),
        Write::Delete { channel, seq, by } => {
            let message = live_message(conn, *channel, *seq)?;
            if message.author_id != *by {
                return Err(StoreError::conflict(
                    ErrorCode::NotAuthor,
                    "You can delete only your own messages.",
                ));
            }
            if message.replies > 0 {
                return Err(StoreError::conflict(
                    ErrorCode::HasReplies,
                    "A message with replies cannot be deleted; you can edit it instead.",
                ));
            }
            let event_seq = numbers.take(conn, *channel)?;
            conn.prepare_cached(
                "UPDATE messages SET text = '', client_id = NULL, mentions = NULL,
                     reactions = NULL, deleted_seq = ?3
                 WHERE channel_id = ?1 AND seq = ?2",
            )?
            .execute(params![*channel as i64, *seq as i64, event_seq as i64])?;
            conn.prepare_cached(
                "DELETE FROM reactions WHERE channel_id = ?1 AND message_seq = ?2",
            )?
            .execute(params![*channel as i64, *seq as i64])?;
            if let Some(parent) = message.thread {
                // The count, and the time of the latest reply left.
                conn.prepare_cached(
                    "UPDATE messages SET replies = max(replies - 1, 0),
                         last_reply_at = (SELECT max(sent_at) FROM messages
                             WHERE channel_id = ?1 AND thread = ?2 AND deleted_seq IS NULL)
                     WHERE channel_id = ?1 AND seq = ?2",
                )?
                .execute(params![*channel as i64, parent as i64])?;
            }
            event(
                conn,
                *channel,
                event_seq,
                EventKind::Deleted,
                *seq,
                Vec::new(),
            )
        }
        Write::Claim {
            presented,
            name,
            new_token,
            at,
            max_identities,
        } => {
            let current = match presented {
                Some(hash) => identity_by(conn, "token_hash = ?1", params![&hash[..]])?,
                None => None,
            };
            let key = name.key();
            let holder = identity_by(conn, "name_key = ?1", params![key])?;
            if let Some(holder) = &holder {
                if current.as_ref().map(|c| c.id) != Some(holder.id) {
                    return Err(StoreError::conflict(
                        ErrorCode::NameTaken,
                        format!("The name \u{201c}{name}\u{201d} is taken; please choose another."),
                    ));
                }
            }
            if let Some(current) = current {
                if current.name == *name {
                    // Signing in again is a use.
                    conn.prepare_cached(
                        "UPDATE identities SET last_seen = max(last_seen, ?2) WHERE id = ?1",
                    )?
                    .execute(params![current.id as i64, millis(*at)])?;
                    let mut identity = current.clone();
                    identity.last_seen = identity.last_seen.max(*at);
                    return Ok(Outcome::Claimed {
                        identity,
                        previous: Some(current),
                    });
                }
                // A new name (or the same in another case): the unique
                // index on the lowered name decides.
                conn.prepare_cached(
                    "UPDATE identities SET name = ?2, name_key = ?3, last_seen = ?4 WHERE id = ?1",
                )?
                .execute(params![current.id as i64, name.as_str(), key, millis(*at)])
                .map_err(|err| name_conflict(err, name))?;
                let mut identity = current.clone();
                identity.name = name.clone();
                identity.last_seen = *at;
                return Ok(Outcome::Claimed {
                    identity,
                    previous: Some(current),
                });
            }
            let held: i64 = conn
                .prepare_cached("SELECT count(*) FROM identities")?
                .query_row([], |r| r.get(0))?;
            if held as usize >= *max_identities {
                return Err(StoreError::conflict(
                    ErrorCode::TooManyIdentities,
                    "This server holds as many people as it may; please try again later.",
                ));
            }
            conn.prepare_cached(
                "INSERT INTO identities (name, name_key, token_hash, created_at, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )?
            .execute(params![name.as_str(), key, &new_token[..], millis(*at)])
            .map_err(|err| name_conflict(err, name))?;
            Ok(Outcome::Claimed {
                identity: StoredIdentity {
                    id: conn.last_insert_rowid() as IdentityId,
                    name: name.clone(),
                    token_hash: *new_token,
                    created_at: *at,
                    last_seen: *at,
                },
                previous: None,
            })
        }
        Write::Touch { id, at } => {
            conn.prepare_cached(
                "UPDATE identities SET last_seen = max(last_seen, ?2) WHERE id = ?1",
            )?
            .execute(params![*id as i64, millis(*at)])?;
            Ok(Outcome::Done)
        }
        Write::SignOut { token } => {
            let id: Option<i64> = conn
                .prepare_cached("DELETE FROM identities WHERE token_hash = ?1 RETURNING id")?
                .query_row([&token[..]], |r| r.get(0))
                .optional()?;
            let Some(id) = id else {
                return Err(StoreError::conflict(
                    ErrorCode::NotSignedIn,
                    "You are not signed in.",
                ));
            };
            forget_identity(conn, id)?;
            Ok(Outcome::Removed(vec![id as IdentityId]))
        }
        Write::Expire { before } => {
            let ids: Vec<i64> = conn
                .prepare_cached("DELETE FROM identities WHERE last_seen < ?1 RETURNING id")?
                .query_map([millis(*before)], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for id in &ids {
                forget_identity(conn, *id)?;
            }
            Ok(Outcome::Removed(
                ids.into_iter().map(|id| id as IdentityId).collect(),
            ))
        }
        Write::Read {
            identity,
            channel,
            seq,
        } => {
            // The mark is held to the channel's last number.
            numbers.write_back(conn)?;
            conn.prepare_cached(
                "INSERT INTO reads (identity_id, channel_id, seq)
                 SELECT ?1, id, min(?3, last_seq) FROM channels WHERE id = ?2
                 ON CONFLICT (identity_id, channel_id) DO UPDATE SET seq = max(seq, excluded.seq)",
            )?
            .execute(params![*identity as i64, *channel as i64, *seq as i64])?;
            Ok(Outcome::Done)
        }
        Write::Sweep { messages_before } => {
            sweep(conn, millis(*messages_before))?;
            Ok(Outcome::Done)
        }
        Write::Barrier => Ok(Outcome::Done),
    }
}

/// Builds the event as committed, and logs it for replay (only the
/// channel's last [`HISTORY_LIMIT`] are kept).
fn event(
    conn: &Connection,
    channel: ChannelId,
    seq: Seq,
    kind: EventKind,
    message_seq: Seq,
    mentioned: Vec<IdentityId>,
) -> Result<Outcome, StoreError> {
    log(conn, channel, seq, kind, message_seq)?;
    let event: Event = rows::event(conn, channel, seq, kind, message_seq, mentioned)?;
    Ok(Outcome::Event(Box::new(event)))
}

/// How many events past [`HISTORY_LIMIT`] a channel's log may hold before
/// it is cut back: cutting every so often, not at every event.
const LOG_SLACK: Seq = 32;

/// Logs event `seq` for replay. The log keeps at least the channel's last
/// [`HISTORY_LIMIT`] events (and never more than [`LOG_SLACK`] beyond).
fn log(
    conn: &Connection,
    channel: ChannelId,
    seq: Seq,
    kind: EventKind,
    message_seq: Seq,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO log (channel_id, seq, kind, message_seq) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        channel as i64,
        seq as i64,
        kind.code(),
        message_seq as i64
    ])?;
    if seq.is_multiple_of(LOG_SLACK) {
        conn.prepare_cached("DELETE FROM log WHERE channel_id = ?1 AND seq <= ?2")?
            .execute(params![channel as i64, seq as i64 - HISTORY_LIMIT as i64])?;
    }
    Ok(())
}

/// Message `seq` of the channel, refused if it is deleted or never was.
fn live_message(conn: &Connection, channel: ChannelId, seq: Seq) -> Result<Message, StoreError> {
    rows::message(conn, channel, seq)?.ok_or_else(|| {
        StoreError::conflict(
            ErrorCode::UnknownMessage,
            format!("Message {seq} is not in this channel (any more)."),
        )
    })
}

/// The people `mentions` names that `before` did not, but not `author`.
fn newly_mentioned(
    mentions: &[Identity],
    before: &[Identity],
    author: IdentityId,
) -> Vec<IdentityId> {
    mentions
        .iter()
        .map(|m| m.id)
        .filter(|id| *id != author && !before.iter().any(|b| b.id == *id))
        .collect()
}

fn react(
    conn: &Connection,
    numbers: &mut Numbers,
    (channel, seq): (ChannelId, Seq),
    who: &Identity,
    emoji: &str,
    on: bool,
    max_emoji: usize,
) -> Result<Outcome, StoreError> {
    live_message(conn, channel, seq)?;
    let changed = if on {
        let known: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM reactions
                 WHERE channel_id = ?1 AND message_seq = ?2 AND emoji = ?3)",
            )?
            .query_row(params![channel as i64, seq as i64, emoji], |r| r.get(0))?;
        if !known {
            let kinds: i64 = conn
                .prepare_cached(
                    "SELECT count(DISTINCT emoji) FROM reactions
                     WHERE channel_id = ?1 AND message_seq = ?2",
                )?
                .query_row(params![channel as i64, seq as i64], |r| r.get(0))?;
            if kinds as usize >= max_emoji {
                return Err(StoreError::conflict(
                    ErrorCode::TooManyReactions,
                    format!("A message can have reactions of at most {max_emoji} different emoji."),
                ));
            }
        }
        conn.prepare_cached(
            "INSERT OR IGNORE INTO reactions
                 (channel_id, message_seq, emoji, identity_id, identity_name)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            channel as i64,
            seq as i64,
            emoji,
            who.id as i64,
            who.name.as_str()
        ])?
    } else {
        conn.prepare_cached(
            "DELETE FROM reactions
             WHERE channel_id = ?1 AND message_seq = ?2 AND emoji = ?3 AND identity_id = ?4",
        )?
        .execute(params![channel as i64, seq as i64, emoji, who.id as i64])?
    };
    if changed == 0 {
        return Ok(Outcome::Unchanged);
    }
    // The message's copy of its reactions, rebuilt from the rows: each
    // emoji in the order it was first used, its people in theirs.
    let given: Vec<(String, i64, String)> = conn
        .prepare_cached(
            "SELECT emoji, identity_id, identity_name FROM reactions
             WHERE channel_id = ?1 AND message_seq = ?2 ORDER BY rowid",
        )?
        .query_map(params![channel as i64, seq as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut reactions: Vec<Reaction> = Vec::new();
    for (emoji, id, name) in given {
        let Ok(name) = crate::model::DisplayName::parse(&name) else {
            continue;
        };
        let person = Identity {
            id: id as IdentityId,
            name,
        };
        match reactions.iter_mut().find(|r| r.emoji == emoji) {
            Some(reaction) => reaction.by.push(person),
            None => reactions.push(Reaction {
                emoji,
                by: vec![person],
            }),
        }
    }
    conn.prepare_cached("UPDATE messages SET reactions = ?3 WHERE channel_id = ?1 AND seq = ?2")?
        .execute(params![channel as i64, seq as i64, json_column(&reactions)])?;
    let event_seq = numbers.take(conn, channel)?;
    event(
        conn,
        channel,
        event_seq,
        EventKind::Reacted,
        seq,
        Vec::new(),
    )
}

fn create_channel(
    conn: &Connection,
    name: &ChannelName,
    at: chrono::DateTime<chrono::Utc>,
    max_channels: usize,
) -> Result<Outcome, StoreError> {
    let taken: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM channels WHERE name = ?1)")?
        .query_row([name.as_str()], |r| r.get(0))?;
    if taken {
        return Err(channel_taken(name));
    }
    let held: i64 = conn
        .prepare_cached("SELECT count(*) FROM channels WHERE people IS NULL")?
        .query_row([], |r| r.get(0))?;
    if held as usize >= max_channels {
        return Err(StoreError::conflict(
            ErrorCode::TooManyChannels,
            format!("This server holds its maximum of {max_channels} channels."),
        ));
    }
    conn.prepare_cached("INSERT INTO channels (name, created_at) VALUES (?1, ?2)")?
        .execute(params![name.as_str(), millis(at)])
        .map_err(|err| match unique_violation(&err) {
            true => channel_taken(name),
            false => err.into(),
        })?;
    Ok(Outcome::Channel {
        channel: StoredChannel {
            id: conn.last_insert_rowid() as ChannelId,
            summary: ChannelSummary {
                name: name.clone(),
                created_at: at,
                people: Vec::new(),
            },
        },
        created: true,
    })
}

fn open_direct(
    conn: &Connection,
    people: &[Identity; 2],
    at: chrono::DateTime<chrono::Utc>,
    max_directs: usize,
) -> Result<Outcome, StoreError> {
    if people[0].id == people[1].id {
        return Err(StoreError::conflict(
            ErrorCode::BadRequest,
            "A direct conversation is with someone else.",
        ));
    }
    let name = ChannelName::direct(people[0].id, people[1].id);
    let existing: Option<(i64, String, i64, Option<String>)> = conn
        .prepare_cached("SELECT id, name, created_at, people FROM channels WHERE name = ?1")?
        .query_row([name.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    if let Some((id, name, created_at, people)) = existing {
        let channel = channel_from(id, name, created_at, people)
            .ok_or_else(|| StoreError::Io("a stored conversation's name is not valid".into()))?;
        return Ok(Outcome::Channel {
            channel,
            created: false,
        });
    }
    let held: i64 = conn
        .prepare_cached("SELECT count(*) FROM channels WHERE people IS NOT NULL")?
        .query_row([], |r| r.get(0))?;
    if held as usize >= max_directs {
        return Err(StoreError::conflict(
            ErrorCode::TooManyChannels,
            format!("This server holds its maximum of {max_directs} direct conversations."),
        ));
    }
    let mut people = people.to_vec();
    people.sort_by_key(|p| p.id);
    conn.prepare_cached("INSERT INTO channels (name, created_at, people) VALUES (?1, ?2, ?3)")?
        .execute(params![name.as_str(), millis(at), json_column(&people)])?;
    let id = conn.last_insert_rowid();
    for person in &people {
        conn.prepare_cached("INSERT INTO members (channel_id, identity_id) VALUES (?1, ?2)")?
            .execute(params![id, person.id as i64])?;
    }
    Ok(Outcome::Channel {
        channel: StoredChannel {
            id: id as ChannelId,
            summary: ChannelSummary {
                name,
                created_at: at,
                people,
            },
        },
        created: true,
    })
}

fn channel_taken(name: &ChannelName) -> StoreError {
    StoreError::conflict(
        ErrorCode::ChannelTaken,
        format!("A channel named \u{201c}{name}\u{201d} already exists."),
    )
}

/// A name claim that a unique index refused, as the refusal it is.
fn name_conflict(err: rusqlite::Error, name: &crate::model::DisplayName) -> StoreError {
    if unique_violation(&err) {
        StoreError::conflict(
            ErrorCode::NameTaken,
            format!("The name \u{201c}{name}\u{201d} is taken; please choose another."),
        )
    } else {
        err.into()
    }
}

fn unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// The identity a condition on `identities` finds.
fn identity_by(
    conn: &Connection,
    condition: &str,
    params: impl rusqlite::Params,
) -> Result<Option<StoredIdentity>, StoreError> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT id, name, token_hash, created_at, last_seen FROM identities WHERE {condition}"
        ))?
        .query_row(params, rows::identity_from)
        .optional()?;
    Ok(found.flatten())
}

/// What an identity leaves behind when removed: its read marks.
fn forget_identity(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM reads WHERE identity_id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Removes old history behind each channel's last [`HISTORY_LIMIT`]
/// messages; a thread stays as long as its parent does.
fn sweep(conn: &Connection, before: i64) -> Result<(), StoreError> {
    let channels = conn
        .prepare_cached("SELECT id FROM channels")?
        .query_map([], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for channel in channels {
        let floor: Option<i64> = conn
            .prepare_cached(&format!(
                "SELECT seq FROM (SELECT {MESSAGE_COLUMNS} WHERE channel_id = ?1 AND thread IS NULL
                 ORDER BY seq DESC LIMIT 1 OFFSET ?2)"
            ))?
            .query_row(params![channel, HISTORY_LIMIT as i64 - 1], |r| r.get(0))
            .optional()?;
        if let Some(floor) = floor {
            conn.prepare_cached(
                "DELETE FROM reactions WHERE channel_id = ?1 AND message_seq IN
                 (SELECT seq FROM messages WHERE channel_id = ?1 AND sent_at < ?3
                  AND coalesce(thread, seq) < ?2)",
            )?
            .execute(params![channel, floor, before])?;
            conn.prepare_cached(
                "DELETE FROM messages WHERE channel_id = ?1 AND sent_at < ?3
                 AND coalesce(thread, seq) < ?2",
            )?
            .execute(params![channel, floor, before])?;
        }
    }
    Ok(())
}
