use super::*;
use crate::model::{DisplayName, Emoji, MessageText, HISTORY_LIMIT, MAX_REACTIONS};
use crate::protocol::Cursor;
use crate::server::store::SqliteStore;

fn limits() -> HubLimits {
    HubLimits {
        max_channels: 3,
        fanout_capacity: 16,
    }
}

/// A hub over a fresh store, and the store.
async fn hub() -> (Hub, Arc<SqliteStore>) {
    let store = SqliteStore::open(":memory:").unwrap();
    let loaded = store.load(HISTORY_LIMIT).await.unwrap();
    (Hub::open(store.clone(), limits(), &loaded), store)
}

/// A hub over the same store, as after a restart.
async fn reopen(store: &Arc<SqliteStore>) -> Hub {
    let loaded = store.load(HISTORY_LIMIT).await.unwrap();
    Hub::open(store.clone(), limits(), &loaded)
}

fn name(s: &str) -> ChannelName {
    ChannelName::parse(s).unwrap()
}

fn who(id: IdentityId, s: &str) -> Identity {
    Identity {
        id,
        name: DisplayName::parse(s).unwrap(),
    }
}

fn text(s: &str) -> MessageText {
    MessageText::parse(s).unwrap()
}

async fn create(hub: &Hub, channel: &str) -> ChannelName {
    hub.create_channel(name(channel)).await.unwrap();
    name(channel)
}

/// Posts without a client id; the number it was stored as.
async fn post(hub: &Hub, channel: &ChannelName, author: IdentityId, body: &str) -> Seq {
    hub.post(channel, &who(author, "someone"), Draft::text(text(body)))
        .await
        .unwrap()
}

fn events(sub: &mut Subscription) -> Vec<ServerEvent> {
    std::iter::from_fn(|| sub.events.try_recv().ok())
        .map(|frame| serde_json::from_str(frame.as_str()).unwrap())
        .collect()
}

fn cursor(hub: &Hub, seq: Seq) -> Cursor {
    Cursor {
        epoch: hub.epoch().to_owned(),
        seq,
    }
}

fn counts(hub: &Hub, me: IdentityId, channel: &ChannelName) -> (Seq, u32, u32) {
    let count = hub.unread(me, std::slice::from_ref(channel)).remove(0);
    (count.read, count.unread, count.mentions)
}

#[tokio::test]
async fn unread_counts_others_messages_after_my_mark() {
    let (hub, store) = hub().await;
    let general = create(&hub, "general").await;
    let ann = who(1, "ann");
    // Nothing read: every message by someone else counts, mine not.
    post(&hub, &general, 2, "one").await;
    post(&hub, &general, 1, "mine").await;
    let three = post(&hub, &general, 2, "three").await;
    assert_eq!(counts(&hub, 1, &general), (0, 2, 0));
    assert_eq!(counts(&hub, 2, &general), (0, 1, 0));
    // Reading up to "three" leaves nothing; later messages count again.
    hub.mark_read(&ann, &general, three).unwrap();
    assert_eq!(counts(&hub, 1, &general), (three, 0, 0));
    let four = post(&hub, &general, 2, "four").await;
    let mut draft = Draft::text(text("@ann five"));
    draft.mentions = vec![ann.clone()];
    let five = hub.post(&general, &who(3, "cy"), draft).await.unwrap();
    assert_eq!(counts(&hub, 1, &general), (three, 2, 1));
    // A deleted unread message no longer counts, nor its mention.
    hub.delete(&general, five, 3).await.unwrap();
    assert_eq!(counts(&hub, 1, &general), (three, 1, 0));
    // Replies are counted in their thread, not in the channel.
    let mut reply = Draft::text(text("a reply"));
    reply.thread = Some(four);
    hub.post(&general, &who(2, "bob"), reply).await.unwrap();
    assert_eq!(counts(&hub, 1, &general).1, 1);
    // A mark never moves back, and never past the last event.
    hub.mark_read(&ann, &general, 1).unwrap();
    assert_eq!(counts(&hub, 1, &general).0, three);
    hub.mark_read(&ann, &general, 10_000).unwrap();
    let (read, unread, _) = counts(&hub, 1, &general);
    assert_eq!(unread, 0);
    assert!(read < 10_000, "{read}");
    // Stored: the same after a restart (once the marks are written).
    let (tx, rx) = oneshot::channel();
    store.write(
        Write::Barrier,
        Box::new(move |_| {
            let _ = tx.send(());
        }),
    );
    rx.await.unwrap();
    let again = reopen(&store).await;
    assert_eq!(counts(&again, 1, &general), (read, 0, 0));
    assert_eq!(counts(&again, 2, &general).0, 0);
}

#[tokio::test]
async fn my_other_connections_hear_my_new_count_and_followers_a_new_member() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    let seq = post(&hub, &general, 2, "hello").await;
    let mut directory = hub.subscribe_directory();
    let mut followers = hub.join(&general, None, None).await.unwrap();
    let ann = who(1, "ann");
    hub.mark_read(&ann, &general, seq).unwrap();
    match directory.try_recv().unwrap() {
        Notice::To(ids, frame) => {
            assert_eq!(&*ids, &[1]);
            let event: ServerEvent = serde_json::from_str(frame.as_str()).unwrap();
            let ServerEvent::Unread { counts } = event else {
                panic!("{event:?}")
            };
            assert_eq!((counts[0].read, counts[0].unread), (seq, 0));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        &events(&mut followers)[..],
        [ServerEvent::Member { member, .. }] if member.identity == ann
    ));
    assert_eq!(hub.members(&general, None).unwrap(), vec![1]);
    // Reading again is no news to anyone.
    hub.mark_read(&ann, &general, seq).unwrap();
    assert!(directory.try_recv().is_err());
    assert!(events(&mut followers).is_empty());
    // An identity that is gone takes its marks with it.
    hub.forget(|id| id != 1);
    assert!(hub.members(&general, None).unwrap().is_empty());
}

#[tokio::test]
async fn presence_is_announced_per_tick_not_per_connection() {
    let (hub, _store) = hub().await;
    let mut directory = hub.subscribe_directory();
    let ann = who(1, "ann");
    // Two tabs, one closed: still online; announced once, on the tick.
    hub.connected(&ann);
    hub.connected(&ann);
    hub.disconnected(1);
    assert!(directory.try_recv().is_err());
    assert!(hub.is_online(1));
    hub.tick();
    let presence = |notice: Notice| match notice {
        Notice::All(frame) => serde_json::from_str::<ServerEvent>(frame.as_str()).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        presence(directory.try_recv().unwrap()),
        ServerEvent::Presence {
            online: vec![ann.clone()],
            offline: vec![]
        }
    );
    // Nothing new, nothing said.
    hub.tick();
    assert!(directory.try_recv().is_err());
    // A reload between two ticks is no blip.
    hub.disconnected(1);
    hub.connected(&ann);
    hub.tick();
    assert!(directory.try_recv().is_err());
    // The last tab closed: offline at the next tick.
    hub.disconnected(1);
    assert!(!hub.is_online(1));
    hub.tick();
    assert_eq!(
        presence(directory.try_recv().unwrap()),
        ServerEvent::Presence {
            online: vec![],
            offline: vec![1]
        }
    );
}

#[tokio::test]
async fn a_tick_names_the_channels_with_new_events_once() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    let quiet = create(&hub, "quiet").await;
    let mut directory = hub.subscribe_directory();
    post(&hub, &general, 2, "one").await;
    post(&hub, &general, 2, "two").await;
    hub.tick();
    match directory.try_recv().unwrap() {
        Notice::Activity(names) => assert_eq!(&*names, std::slice::from_ref(&general)),
        other => panic!("{other:?}"),
    }
    hub.tick();
    assert!(directory.try_recv().is_err());
    let _ = quiet;
}

#[tokio::test]
async fn typing_goes_to_followers_unnumbered_and_unstored() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    let mut followers = hub.join(&general, None, None).await.unwrap();
    hub.typing(&general, &who(1, "ann"), None, true).unwrap();
    assert!(matches!(
        &events(&mut followers)[..],
        [ServerEvent::Typing {
            on: true,
            thread: None,
            ..
        }]
    ));
    // Not in the replay log: a resumed join gets nothing.
    let resumed = hub
        .join(&general, None, Some(&cursor(&hub, 0)))
        .await
        .unwrap();
    assert!(matches!(resumed.catchup, Catchup::Replay { ref frames, seq: 0 } if frames.is_empty()));
    assert_eq!(
        hub.typing(&name("nowhere"), &who(1, "ann"), None, true)
            .unwrap_err()
            .code,
        ErrorCode::UnknownChannel
    );
}

#[tokio::test]
async fn duplicate_channel_names_are_refused_case_insensitively() {
    let (hub, _store) = hub().await;
    create(&hub, "general").await;
    let err = hub.create_channel(name("General")).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::ChannelTaken);
    assert_eq!(hub.channels().len(), 1);
}

#[tokio::test]
async fn the_channel_count_is_capped() {
    let (hub, _store) = hub().await;
    for n in ["a", "b", "c"] {
        create(&hub, n).await;
    }
    let err = hub.create_channel(name("d")).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::TooManyChannels);
    assert_eq!(hub.channels().len(), 3);
}

#[tokio::test]
async fn channels_are_listed_by_name() {
    let (hub, _store) = hub().await;
    create(&hub, "zebra").await;
    create(&hub, "apple").await;
    let names: Vec<_> = hub.channels().into_iter().map(|c| c.name).collect();
    assert_eq!(names, vec![name("apple"), name("zebra")]);
}

#[tokio::test]
async fn a_channel_keeps_only_its_last_hundred_messages_in_memory() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    for i in 1..=150 {
        post(&hub, &general, 1, &format!("m{i}")).await;
    }
    let history = hub.history(&general, None).unwrap().messages;
    assert_eq!(history.len(), HISTORY_LIMIT);
    assert_eq!(history.first().unwrap().seq, 51);
    assert_eq!(history.first().unwrap().text.as_str(), "m51");
    assert_eq!(history.last().unwrap().seq, 150);
    // The fifty before them are in the store, a page at a time.
    let page = hub.older(&general, None, 51).await.unwrap();
    assert_eq!(page.messages.len(), 50);
    assert_eq!(page.messages.first().unwrap().seq, 1);
    assert!(!page.more);
}

#[tokio::test]
async fn sequence_numbers_increase_per_channel() {
    let (hub, _store) = hub().await;
    let (a, b) = (create(&hub, "a").await, create(&hub, "b").await);
    let a1 = post(&hub, &a, 1, "1").await;
    let b1 = post(&hub, &b, 1, "1").await;
    let a2 = post(&hub, &a, 1, "2").await;
    assert_eq!((a1, a2, b1), (1, 2, 1));
}

#[tokio::test]
async fn subscribers_receive_events_in_sequence_order() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    post(&hub, &general, 1, "before").await;
    let mut sub = hub.join(&general, None, None).await.unwrap();
    assert!(
        matches!(sub.catchup, Catchup::Snapshot { ref messages, seq: 1 } if messages.len() == 1)
    );
    let sends: Vec<_> = (0..5)
        .map(|i| {
            hub.post(
                &general,
                &who(1, "ada"),
                Draft::text(text(&format!("after {i}"))),
            )
        })
        .collect();
    for send in sends {
        send.await.unwrap();
    }
    let seqs: Vec<_> = events(&mut sub)
        .into_iter()
        .map(|event| match event {
            ServerEvent::Message { message, .. } => message.seq,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(seqs, vec![2, 3, 4, 5, 6]);
}

#[tokio::test]
async fn authors_can_delete_their_own_messages() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    let m = post(&hub, &general, 7, "oops").await;
    let mut sub = hub.join(&general, None, None).await.unwrap();
    hub.delete(&general, m, 7).await.unwrap();
    assert!(hub.history(&general, None).unwrap().messages.is_empty());
    assert_eq!(
        events(&mut sub),
        vec![ServerEvent::Deleted {
            channel: general,
            seq: m + 1,
            message_seq: m,
            thread: None
        }]
    );
}

#[tokio::test]
async fn deleting_is_authorized_by_identity_not_by_name() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    let m = hub
        .post(&general, &who(1, "ada"), Draft::text(text("mine")))
        .await
        .unwrap();
    let mut sub = hub.join(&general, None, None).await.unwrap();
    // Another identity under the same name has no power over it.
    let err = hub.delete(&general, m, 2).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotAuthor);
    assert_eq!(hub.history(&general, None).unwrap().messages.len(), 1);
    assert!(events(&mut sub).is_empty(), "nothing was announced");
}

#[tokio::test]
async fn messages_older_than_the_window_can_be_deleted_by_their_author() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    let first = post(&hub, &general, 1, "old").await;
    for i in 0..HISTORY_LIMIT {
        post(&hub, &general, 2, &format!("m{i}")).await;
    }
    assert_eq!(
        hub.delete(&general, first, 2).await.unwrap_err().code,
        ErrorCode::NotAuthor
    );
    hub.delete(&general, first, 1).await.unwrap();
    assert!(hub
        .older(&general, None, 2)
        .await
        .unwrap()
        .messages
        .is_empty());
    assert_eq!(
        hub.delete(&general, first, 1).await.unwrap_err().code,
        ErrorCode::UnknownMessage
    );
}

#[tokio::test]
async fn deleting_an_unknown_message_or_channel_is_refused() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    assert_eq!(
        hub.delete(&general, 42, 1).await.unwrap_err().code,
        ErrorCode::UnknownMessage
    );
    assert_eq!(
        hub.post(&name("nowhere"), &who(1, "ada"), Draft::text(text("hi")))
            .await
            .unwrap_err()
            .code,
        ErrorCode::UnknownChannel
    );
}

#[tokio::test]
async fn new_channels_are_announced_once_stored() {
    let (hub, _store) = hub().await;
    let mut directory = hub.subscribe_directory();
    create(&hub, "general").await;
    let Notice::All(frame) = directory.try_recv().unwrap() else {
        panic!("expected an event for everyone");
    };
    assert!(matches!(
        serde_json::from_str::<ServerEvent>(frame.as_str()).unwrap(),
        ServerEvent::ChannelCreated { channel } if channel.name == name("general")
    ));
}

#[tokio::test]
async fn a_retried_send_is_stored_once_also_after_a_restart() {
    let (hub, store) = hub().await;
    let general = create(&hub, "general").await;
    let send = |hub: &Hub, author: IdentityId| {
        hub.post(
            &general,
            &who(author, "ada"),
            Draft {
                client_id: Some("c-1".into()),
                ..Draft::text(text("once"))
            },
        )
    };
    // The repeat comes before the first is even stored.
    let (first, repeat) = (send(&hub, 1), send(&hub, 1));
    let first = first.await.unwrap();
    assert_eq!(repeat.await.unwrap(), first);
    // The same id from someone else is their own message.
    assert_ne!(send(&hub, 2).await.unwrap(), first);
    assert_eq!(hub.history(&general, None).unwrap().messages.len(), 2);

    let hub = reopen(&store).await;
    assert_eq!(send(&hub, 1).await.unwrap(), first);
    assert_eq!(hub.history(&general, None).unwrap().messages.len(), 2);
}

#[tokio::test]
async fn a_join_with_a_recent_cursor_replays_exactly_the_missed_events() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    for i in 1..=10 {
        post(&hub, &general, 1, &format!("m{i}")).await;
    }
    hub.delete(&general, 9, 1).await.unwrap();
    let sub = hub
        .join(&general, None, Some(&cursor(&hub, 7)))
        .await
        .unwrap();
    let Catchup::Replay { frames, seq } = sub.catchup else {
        panic!("expected a replay");
    };
    assert_eq!(seq, 11);
    let replayed: Vec<ServerEvent> = frames
        .iter()
        .map(|f| serde_json::from_str(f.as_str()).unwrap())
        .collect();
    assert_eq!(replayed.len(), 4, "m8, m9, m10 and the deletion of m9");
    assert!(matches!(&replayed[0], ServerEvent::Message { message, .. } if message.seq == 8));
    assert!(matches!(
        &replayed[3],
        ServerEvent::Deleted {
            seq: 11,
            message_seq: 9,
            ..
        }
    ));

    let up_to_date = hub
        .join(&general, None, Some(&cursor(&hub, 11)))
        .await
        .unwrap();
    assert!(
        matches!(up_to_date.catchup, Catchup::Replay { ref frames, seq: 11 } if frames.is_empty())
    );
}

#[tokio::test]
async fn after_a_restart_cursors_resume_and_numbers_continue() {
    let (hub, store) = hub().await;
    let general = create(&hub, "general").await;
    for i in 1..=10 {
        post(&hub, &general, 1, &format!("m{i}")).await;
    }
    hub.delete(&general, 3, 1).await.unwrap();
    let epoch = hub.epoch().to_owned();
    drop(hub);

    let hub = reopen(&store).await;
    assert_eq!(hub.epoch(), epoch, "the epoch belongs to the store");
    let sub = hub
        .join(&general, None, Some(&cursor(&hub, 8)))
        .await
        .unwrap();
    let Catchup::Replay { frames, seq: 11 } = sub.catchup else {
        panic!("expected a replay up to 11");
    };
    let replayed: Vec<ServerEvent> = frames
        .iter()
        .map(|f| serde_json::from_str(f.as_str()).unwrap())
        .collect();
    assert!(matches!(&replayed[..], [
        ServerEvent::Message { message: m9, .. },
        ServerEvent::Message { message: m10, .. },
        ServerEvent::Deleted { seq: 11, message_seq: 3, .. },
    ] if m9.seq == 9 && m10.seq == 10 && m10.text.as_str() == "m10"));
    // From before the deleted message, its post replays as its deletion:
    // every number is there, its text never is.
    let old = hub
        .join(&general, None, Some(&cursor(&hub, 1)))
        .await
        .unwrap();
    let Catchup::Replay { frames, seq: 11 } = old.catchup else {
        panic!("expected a replay from the stored log");
    };
    let replayed: Vec<ServerEvent> = frames
        .iter()
        .map(|f| serde_json::from_str(f.as_str()).unwrap())
        .collect();
    assert_eq!(replayed.len(), 10);
    assert!(matches!(
        replayed[1],
        ServerEvent::Deleted {
            seq: 3,
            message_seq: 3,
            ..
        }
    ));
    assert!(frames.iter().all(|f| !f.as_str().contains("\"m3\"")));
    assert_eq!(post(&hub, &general, 1, "next").await, 12);
}

#[tokio::test]
async fn a_join_falls_back_to_a_snapshot_when_replay_cannot_be_exact() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    for i in 1..=300 {
        post(&hub, &general, 1, &format!("m{i}")).await;
    }
    // Event 50 is logged neither in memory nor in the store any more:
    // replaying from 49 would miss it.
    let old = hub
        .join(&general, None, Some(&cursor(&hub, 49)))
        .await
        .unwrap();
    assert!(
        matches!(old.catchup, Catchup::Snapshot { ref messages, seq: 300 } if messages.len() == 100)
    );
    // Event 201 is the oldest the hub holds: replay from 200 is exact.
    let edge = hub
        .join(&general, None, Some(&cursor(&hub, 200)))
        .await
        .unwrap();
    assert!(matches!(edge.catchup, Catchup::Replay { ref frames, .. } if frames.len() == 100));
    // Older than that, the store's log (which keeps at least 100) replays.
    let stored = hub
        .join(&general, None, Some(&cursor(&hub, 195)))
        .await
        .unwrap();
    assert!(
        matches!(stored.catchup, Catchup::Replay { ref frames, seq: 300 } if frames.len() == 105)
    );
    // A cursor of another store, or from the future, is not trusted.
    let other_store = Cursor {
        epoch: "other".into(),
        seq: 140,
    };
    let restarted = hub.join(&general, None, Some(&other_store)).await.unwrap();
    assert!(matches!(restarted.catchup, Catchup::Snapshot { .. }));
    let future = hub
        .join(&general, None, Some(&cursor(&hub, 999)))
        .await
        .unwrap();
    assert!(matches!(future.catchup, Catchup::Snapshot { .. }));
}

#[tokio::test]
async fn the_fanout_queue_is_capped_for_a_follower_that_never_reads() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    let mut sleeper = hub.join(&general, None, None).await.unwrap();
    for i in 0..100 {
        post(&hub, &general, 1, &format!("m{i}")).await;
    }
    assert_eq!(hub.queued(&general).unwrap(), 16, "the capacity, not 100");
    assert!(matches!(
        sleeper.events.try_recv(),
        Err(broadcast::error::TryRecvError::Lagged(84))
    ));
}

#[tokio::test]
async fn nothing_is_announced_or_acknowledged_when_the_store_fails() {
    let (hub, store) = hub().await;
    let general = create(&hub, "general").await;
    post(&hub, &general, 1, "kept").await;
    let mut sub = hub.join(&general, None, None).await.unwrap();
    store.close();
    let err = hub
        .post(&general, &who(1, "ada"), Draft::text(text("lost")))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Internal);
    assert!(events(&mut sub).is_empty());
    assert_eq!(hub.history(&general, None).unwrap().messages.len(), 1);
    assert_eq!(
        hub.create_channel(name("more")).await.unwrap_err().code,
        ErrorCode::Internal
    );
    assert_eq!(hub.channels().len(), 1, "the failed creation is undone");
}

fn emoji(s: &str) -> Emoji {
    Emoji::parse(s).unwrap()
}

/// A reply in the thread of `parent`.
async fn reply(hub: &Hub, channel: &ChannelName, parent: Seq, author: IdentityId) -> Seq {
    let draft = Draft {
        thread: Some(parent),
        ..Draft::text(text("a reply"))
    };
    hub.post(channel, &who(author, "someone"), draft)
        .await
        .unwrap()
}

#[tokio::test]
async fn only_the_author_can_edit_and_everyone_sees_the_edit() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    let m = post(&hub, &general, 1, "helo").await;
    let mut sub = hub.join(&general, None, None).await.unwrap();
    let err = hub
        .edit(&general, m, 2, text("hijacked"), vec![])
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotEditor);
    hub.edit(&general, m, 1, text("hello"), vec![])
        .await
        .unwrap();
    let shown = &hub.history(&general, None).unwrap().messages[0];
    assert_eq!(shown.text.as_str(), "hello");
    assert!(shown.edited_at.is_some());
    match &events(&mut sub)[..] {
        [ServerEvent::Edited {
            seq,
            message_seq,
            text,
            ..
        }] => {
            assert_eq!((*seq, *message_seq), (m + 1, m));
            assert_eq!(text.as_str(), "hello");
        }
        other => panic!("expected one edit event, got {other:?}"),
    }
    // The same text again is no event.
    hub.edit(&general, m, 1, text("hello"), vec![])
        .await
        .unwrap();
    assert!(events(&mut sub).is_empty());
    let err = hub
        .edit(&general, 99, 1, text("x"), vec![])
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::UnknownMessage);
}

#[tokio::test]
async fn reactions_toggle_per_person_and_are_capped() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    let m = post(&hub, &general, 1, "react to me").await;
    let mut sub = hub.join(&general, None, None).await.unwrap();
    let (ada, bob) = (who(1, "ada"), who(2, "bob"));
    hub.react(&general, m, &ada, emoji("👍"), true)
        .await
        .unwrap();
    hub.react(&general, m, &ada, emoji("👍"), true)
        .await
        .unwrap();
    hub.react(&general, m, &bob, emoji("👍"), true)
        .await
        .unwrap();
    let reactions = hub.history(&general, None).unwrap().messages[0]
        .reactions
        .clone();
    assert_eq!(reactions.len(), 1);
    assert_eq!(reactions[0].by, vec![ada.clone(), bob.clone()]);
    assert_eq!(events(&mut sub).len(), 2, "saying it twice is one event");
    hub.react(&general, m, &ada, emoji("👍"), false)
        .await
        .unwrap();
    hub.react(&general, m, &bob, emoji("👍"), false)
        .await
        .unwrap();
    assert!(hub.history(&general, None).unwrap().messages[0]
        .reactions
        .is_empty());
    // At most MAX_REACTIONS different emoji.
    let faces: Vec<String> = (0..=MAX_REACTIONS as u32)
        .map(|i| char::from_u32(0x1F600 + i).unwrap().to_string())
        .collect();
    for face in &faces[..MAX_REACTIONS] {
        hub.react(&general, m, &ada, emoji(face), true)
            .await
            .unwrap();
    }
    let err = hub
        .react(&general, m, &ada, emoji(&faces[MAX_REACTIONS]), true)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::TooManyReactions);
    // But one more person on an existing emoji is fine.
    hub.react(&general, m, &bob, emoji(&faces[0]), true)
        .await
        .unwrap();
    // Not to a deleted message.
    hub.delete(&general, m, 1).await.unwrap();
    let err = hub
        .react(&general, m, &bob, emoji("👍"), true)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::UnknownMessage);
}

#[tokio::test]
async fn quick_changes_to_one_message_build_on_each_other() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    let m = post(&hub, &general, 1, "busy").await;
    // Queued together, before any is committed: none is lost.
    let pending: Vec<_> = (1..=5)
        .map(|id| hub.react(&general, m, &who(id, "x"), emoji("🎉"), true))
        .collect();
    let replies: Vec<_> = (0..3)
        .map(|_| {
            hub.post(
                &general,
                &who(2, "bob"),
                Draft {
                    thread: Some(m),
                    ..Draft::text(text("quick"))
                },
            )
        })
        .collect();
    for p in pending {
        p.await.unwrap();
    }
    for r in replies {
        r.await.unwrap();
    }
    let shown = hub.history(&general, None).unwrap().messages[0].clone();
    assert_eq!(shown.reactions[0].by.len(), 5);
    assert_eq!(shown.replies, 3);
}

#[tokio::test]
async fn replies_stay_in_their_thread_and_count_on_the_parent() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    let parent = post(&hub, &general, 1, "topic").await;
    let mut sub = hub.join(&general, None, None).await.unwrap();
    let r1 = reply(&hub, &general, parent, 2).await;
    let r2 = reply(&hub, &general, parent, 3).await;
    let history = hub.history(&general, None).unwrap().messages;
    assert_eq!(history.len(), 1, "replies do not flood the channel");
    assert_eq!(history[0].replies, 2);
    assert!(history[0].last_reply_at.is_some());
    match &events(&mut sub)[0] {
        ServerEvent::Message {
            message,
            thread: Some(summary),
            ..
        } => {
            assert_eq!(message.thread, Some(parent));
            assert_eq!((summary.parent, summary.replies), (parent, 1));
        }
        other => panic!("expected a reply, got {other:?}"),
    }
    let thread = hub.thread(&general, None, parent).await.unwrap();
    let seqs: Vec<_> = thread.replies.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [r1, r2]);
    // No thread under a reply, and none under nothing.
    let draft = Draft {
        thread: Some(r1),
        ..Draft::text(text("deeper"))
    };
    let err = hub.post(&general, &who(2, "bob"), draft).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidThread);
    let draft = Draft {
        thread: Some(77),
        ..Draft::text(text("nowhere"))
    };
    let err = hub.post(&general, &who(2, "bob"), draft).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::UnknownMessage);
    // A parent with replies is kept; a deleted reply counts down.
    let err = hub.delete(&general, parent, 1).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::HasReplies);
    hub.delete(&general, r1, 2).await.unwrap();
    assert_eq!(hub.history(&general, None).unwrap().messages[0].replies, 1);
    let thread = hub.thread(&general, None, parent).await.unwrap();
    assert_eq!(thread.replies.len(), 1);
    assert_eq!(thread.parent.replies, 1);
}

#[tokio::test]
async fn a_thread_outlives_its_parents_place_in_the_window() {
    let (hub, store) = hub().await;
    let general = create(&hub, "general").await;
    let parent = post(&hub, &general, 1, "old topic").await;
    for i in 0..HISTORY_LIMIT {
        post(&hub, &general, 1, &format!("chatter {i}")).await;
    }
    assert!(hub
        .history(&general, None)
        .unwrap()
        .messages
        .iter()
        .all(|m| m.seq != parent));
    reply(&hub, &general, parent, 2).await;
    reply(&hub, &general, parent, 2).await;
    hub.react(&general, parent, &who(2, "bob"), emoji("👀"), true)
        .await
        .unwrap();
    let thread = hub.thread(&general, None, parent).await.unwrap();
    assert_eq!(thread.parent.replies, 2);
    assert_eq!(thread.replies.len(), 2);
    assert_eq!(thread.parent.reactions.len(), 1);
    // And after a restart.
    let hub = reopen(&store).await;
    let thread = hub.thread(&general, None, parent).await.unwrap();
    assert_eq!((thread.parent.replies, thread.replies.len()), (2, 2));
}

#[tokio::test]
async fn every_kind_of_event_replays_exactly_also_after_a_restart() {
    let (hub, store) = hub().await;
    let general = create(&hub, "general").await;
    let m = post(&hub, &general, 1, "first").await;
    let cursor_at = m;
    hub.edit(&general, m, 1, text("first, edited"), vec![])
        .await
        .unwrap();
    hub.react(&general, m, &who(2, "bob"), emoji("👍"), true)
        .await
        .unwrap();
    let r = reply(&hub, &general, m, 2).await;
    hub.delete(&general, r, 2).await.unwrap();
    /// The catch-up from `cursor_at`: the kinds of the replayed events,
    /// and the texts they carry.
    async fn replayed(hub: &Hub, general: &ChannelName, from: Seq) -> Vec<(String, String)> {
        match hub
            .join(general, None, Some(&cursor(hub, from)))
            .await
            .unwrap()
            .catchup
        {
            Catchup::Replay { frames, .. } => frames
                .iter()
                .map(|f| {
                    let event: serde_json::Value = serde_json::from_str(f.as_str()).unwrap();
                    let text = event["message"]["text"]
                        .as_str()
                        .or(event["text"].as_str())
                        .unwrap_or_default()
                        .to_owned();
                    (event["type"].as_str().unwrap().to_owned(), text)
                })
                .collect(),
            Catchup::Snapshot { .. } => panic!("expected a replay"),
        }
    }
    let live = replayed(&hub, &general, cursor_at).await;
    let kinds: Vec<&str> = live.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["edited", "reacted", "message", "deleted"]);
    // After a restart the hub holds no events: the catch-up is replayed
    // from the store's log, built from the rows as they are now, so the
    // deleted reply's post replays as its deletion and its text is gone.
    let hub = reopen(&store).await;
    let stored = replayed(&hub, &general, cursor_at).await;
    let kinds: Vec<&str> = stored.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["edited", "reacted", "deleted", "deleted"]);
    assert!(stored.iter().all(|(_, text)| !text.contains("reply")));
    assert_eq!(stored[0].1, "first, edited");
    // New events are then served from the hub's cache again.
    let later = post(&hub, &general, 1, "later").await;
    let cached = replayed(&hub, &general, later - 1).await;
    assert_eq!(cached, [("message".to_owned(), "later".to_owned())]);
    // A cursor beyond what the log keeps gets a snapshot.
    for i in 0..2 * HISTORY_LIMIT {
        post(&hub, &general, 1, &format!("n{i}")).await;
    }
    let hub = reopen(&store).await;
    match hub
        .join(&general, None, Some(&cursor(&hub, 1)))
        .await
        .unwrap()
        .catchup
    {
        Catchup::Snapshot { messages, .. } => assert_eq!(messages.len(), HISTORY_LIMIT),
        Catchup::Replay { .. } => panic!("expected a snapshot"),
    }
}

#[tokio::test]
async fn mentions_reach_the_people_named_once() {
    let (hub, _store) = hub().await;
    let general = create(&hub, "general").await;
    let mut notices = hub.subscribe_directory();
    let (bob, cy) = (who(2, "bob"), who(3, "cy"));
    let draft = Draft {
        mentions: vec![bob.clone(), who(1, "ada")],
        ..Draft::text(text("@bob and @ada"))
    };
    let m = hub.post(&general, &who(1, "ada"), draft).await.unwrap();
    match notices.try_recv().unwrap() {
        Notice::To(ids, frame) => {
            assert_eq!(&ids[..], [2], "not to the author herself");
            assert!(frame.as_str().contains(r#""type":"mention""#));
        }
        other => panic!("expected a mention, got {other:?}"),
    }
    hub.edit(&general, m, 1, text("@bob and @cy"), vec![bob, cy])
        .await
        .unwrap();
    match notices.try_recv().unwrap() {
        Notice::To(ids, _) => assert_eq!(&ids[..], [3], "only the newly mentioned"),
        other => panic!("expected a mention, got {other:?}"),
    }
    assert!(notices.try_recv().is_err());
    post(&hub, &general, 1, "nobody named").await;
    assert!(notices.try_recv().is_err());
}
