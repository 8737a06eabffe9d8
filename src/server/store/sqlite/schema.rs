//! The schema, and how an older file is brought up to date.
//!
//! The schema is versioned (`PRAGMA user_version`) and migrated at open:
//! an older file is upgraded step by step, a newer one is refused.

use crate::server::store::StoreError;
use rusqlite::Connection;

/// The schema, one step per version: step `n` takes a file from version
/// `n` to `n + 1`. Never edit a step that has shipped; add one.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 5: the store decides. Reactions are rows (one per person and emoji,
    // in the order given), the message's `reactions` column a copy the
    // writer rebuilds from them; a conversation's people are rows, so
    // that visibility is part of a query; a retried send is recognised by
    // a unique index; the replay log keeps each event's number, kind and
    // message only (never the wire's JSON: a protocol change needs no
    // data migration), and a deleted message's events replay as its
    // deletion.
    "CREATE TABLE reactions (
         channel_id INTEGER NOT NULL,
         message_seq INTEGER NOT NULL,
         emoji TEXT NOT NULL,
         identity_id INTEGER NOT NULL,
         identity_name TEXT NOT NULL,
         UNIQUE (channel_id, message_seq, emoji, identity_id)
     );
     INSERT INTO reactions (channel_id, message_seq, emoji, identity_id, identity_name)
         SELECT m.channel_id, m.seq, json_extract(r.value, '$.emoji'),
                json_extract(b.value, '$.id'), json_extract(b.value, '$.name')
         FROM messages m, json_each(m.reactions) r, json_each(r.value, '$.by') b
         WHERE m.reactions IS NOT NULL AND json_valid(m.reactions)
         ORDER BY m.channel_id, m.seq, r.key, b.key;
     CREATE TABLE members (
         channel_id INTEGER NOT NULL,
         identity_id INTEGER NOT NULL,
         PRIMARY KEY (identity_id, channel_id)
     ) WITHOUT ROWID;
     INSERT OR IGNORE INTO members (channel_id, identity_id)
         SELECT c.id, json_extract(p.value, '$.id')
         FROM channels c, json_each(c.people) p
         WHERE c.people IS NOT NULL AND json_valid(c.people);
     UPDATE messages SET client_id = NULL
         WHERE client_id IS NOT NULL AND rowid NOT IN (
             SELECT min(rowid) FROM messages WHERE client_id IS NOT NULL
             GROUP BY channel_id, author_id, client_id);
     CREATE UNIQUE INDEX messages_client_id ON messages (channel_id, author_id, client_id)
         WHERE client_id IS NOT NULL;
     CREATE TABLE log (
         channel_id INTEGER NOT NULL,
         seq INTEGER NOT NULL,
         kind INTEGER NOT NULL,
         message_seq INTEGER NOT NULL,
         PRIMARY KEY (channel_id, seq)
     ) WITHOUT ROWID;
     INSERT INTO log (channel_id, seq, kind, message_seq)
         SELECT channel_id, seq,
                CASE json_extract(json, '$.type') WHEN 'message' THEN 1 WHEN 'edited' THEN 2
                     WHEN 'reacted' THEN 3 ELSE 4 END,
                coalesce(message_seq, json_extract(json, '$.message_seq'), seq)
         FROM events
         WHERE json_valid(json)
             AND json_extract(json, '$.type') IN ('message', 'edited', 'reacted', 'deleted');
     DROP TABLE events;",
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings a file to [`SCHEMA_VERSION`], or refuses one that is newer.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Io(format!(
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
