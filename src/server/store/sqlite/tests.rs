//! The SQLite store: the contract suite, and what only this backend does
//! (its file, its schema's upgrades, its backups).

use super::*;
use crate::server::store::{contract, Outcome};

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
    let outcomes = writer::group(&mut conn, writes.iter(), true).unwrap_or_else(|_| panic!());
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
