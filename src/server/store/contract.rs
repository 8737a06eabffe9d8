//! The store contract's test suite: every write and read, against any
//! backend. A backend runs it with [`crate::store_contract_tests!`] and a
//! function that makes a fresh, empty store.

use super::{write, ChannelId, Event, EventKind, Outcome, Store, StoreError, Write};
use crate::model::{
    ChannelName, DisplayName, ErrorCode, Identity, IdentityId, MessageText, Seq, HISTORY_LIMIT,
};
use chrono::{Duration, SubsecRound, Utc};
use std::sync::Arc;

/// Generates one `#[tokio::test]` per contract check, each on a store
/// made by `$fresh()`.
#[macro_export]
macro_rules! store_contract_tests {
    ($fresh:path) => {
        $crate::store_contract_tests!(@each $fresh;
            posts_are_numbered_by_the_store_and_a_refusal_leaves_no_hole,
            a_write_refused_by_a_rule_fails_alone_and_its_group_commits,
            a_retried_send_is_stored_once,
            edits_are_the_authors_and_mention_only_the_newly_named,
            reaction_sets_change_in_the_store_and_are_bounded,
            deletes_are_the_authors_and_keep_threads_whole,
            threads_are_one_level_deep_and_counted_by_the_store,
            channels_are_unique_and_bounded_and_conversations_found_again,
            names_are_claimed_renamed_and_freed_by_the_store,
            read_marks_only_move_forward_and_never_past_the_last_event,
            pages_of_history_and_threads_read_what_is_committed,
            the_stored_log_replays_events_and_never_a_deleted_text,
            search_finds_only_what_the_viewer_may_see,
            load_returns_windows_logs_identities_and_marks,
            old_history_is_swept_behind_the_last_hundred,
            health_answers_while_open_and_not_once_closed,
        );
    };
    (@each $fresh:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                $crate::server::store::contract::$name($fresh()).await;
            }
        )*
    };
}

fn person(id: IdentityId, name: &str) -> Identity {
    Identity {
        id,
        name: DisplayName::parse(name).unwrap(),
    }
}

fn text(s: &str) -> MessageText {
    MessageText::parse(s).unwrap()
}

/// Creates a channel; its id.
pub(crate) async fn channel(store: &dyn Store, name: &str) -> ChannelId {
    match write(
        store,
        Write::CreateChannel {
            name: ChannelName::parse(name).unwrap(),
            at: Utc::now().trunc_subsecs(3),
            max_channels: 10,
        },
    )
    .await
    {
        Ok(Outcome::Channel { channel, created }) => {
            assert!(created);
            channel.id
        }
        other => panic!("creating {name}: {other:?}"),
    }
}

fn post_write(channel: ChannelId, author: IdentityId, body: &str) -> Write {
    Write::Post {
        channel,
        author: person(author, &format!("p{author}")),
        text: text(body),
        thread: None,
        mentions: Vec::new(),
        client_id: None,
        at: Utc::now().trunc_subsecs(3),
    }
}

/// Posts as identity `author`; the event as committed.
pub(crate) async fn post(
    store: &dyn Store,
    channel: ChannelId,
    author: IdentityId,
    body: &str,
) -> Event {
    event(write(store, post_write(channel, author, body)).await)
}

fn event(outcome: Result<Outcome, StoreError>) -> Event {
    match outcome {
        Ok(Outcome::Event(event)) => *event,
        other => panic!("expected an event, got {other:?}"),
    }
}

fn refused(outcome: Result<Outcome, StoreError>) -> ErrorCode {
    match outcome {
        Err(StoreError::Conflict(refusal)) => refusal.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn reply(
    store: &dyn Store,
    channel: ChannelId,
    parent: Seq,
    body: &str,
) -> Result<Outcome, StoreError> {
    let Write::Post {
        channel,
        author,
        text,
        client_id,
        at,
        ..
    } = post_write(channel, 2, body)
    else {
        unreachable!()
    };
    write(
        store,
        Write::Post {
            channel,
            author,
            text,
            thread: Some(parent),
            mentions: Vec::new(),
            client_id,
            at,
        },
    )
    .await
}

/// Queues all the writes at once (so they share a group commit, as far
/// as the backend groups), then waits for every answer, in order.
async fn together(store: &dyn Store, writes: Vec<Write>) -> Vec<Result<Outcome, StoreError>> {
    let mut answers = Vec::new();
    for w in writes {
        let (tx, rx) = tokio::sync::oneshot::channel();
        store.write(
            w,
            Box::new(move |outcome| {
                let _ = tx.send(outcome);
            }),
        );
        answers.push(rx);
    }
    let mut outcomes = Vec::new();
    for rx in answers {
        outcomes.push(rx.await.unwrap());
    }
    outcomes
}

pub(crate) async fn posts_are_numbered_by_the_store_and_a_refusal_leaves_no_hole(
    store: Arc<dyn Store>,
) {
    let general = channel(&*store, "general").await;
    let first = post(&*store, general, 1, "one").await;
    assert_eq!(
        (first.seq, first.kind, first.message_seq),
        (1, EventKind::Posted, 1)
    );
    let message = first.message.as_ref().unwrap();
    assert_eq!(message.text.as_str(), "one");
    assert_eq!(message.author_id, 1);
    // Refused (a reply to nothing): no number is used up.
    assert_eq!(
        refused(reply(&*store, general, 99, "lost").await),
        ErrorCode::UnknownMessage
    );
    assert_eq!(post(&*store, general, 1, "two").await.seq, 2);
    // Another channel numbers on its own.
    let random = channel(&*store, "random").await;
    assert_eq!(post(&*store, random, 1, "elsewhere").await.seq, 1);
    // A channel that does not exist.
    assert_eq!(
        refused(write(&*store, post_write(999, 1, "x")).await),
        ErrorCode::UnknownChannel
    );
}

pub(crate) async fn a_write_refused_by_a_rule_fails_alone_and_its_group_commits(
    store: Arc<dyn Store>,
) {
    let general = channel(&*store, "general").await;
    let mine = post(&*store, general, 1, "mine").await;
    let outcomes = together(
        &*store,
        vec![
            post_write(general, 1, "before"),
            // Not the author: refused.
            Write::Delete {
                channel: general,
                seq: mine.seq,
                by: 2,
            },
            post_write(general, 1, "after"),
        ],
    )
    .await;
    assert_eq!(event(outcomes[0].clone()).seq, 2);
    assert_eq!(refused(outcomes[1].clone()), ErrorCode::NotAuthor);
    assert_eq!(
        event(outcomes[2].clone()).seq,
        3,
        "no hole where the refusal was"
    );
    let (page, _) = store.older(general, 100, 10).await.unwrap();
    let texts: Vec<&str> = page.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["mine", "before", "after"]);
}

pub(crate) async fn a_retried_send_is_stored_once(store: Arc<dyn Store>) {
    let general = channel(&*store, "general").await;
    let with_id = |body: &str, author: IdentityId, id: &str| Write::Post {
        channel: general,
        author: person(author, &format!("p{author}")),
        text: text(body),
        thread: None,
        mentions: Vec::new(),
        client_id: Some(id.into()),
        at: Utc::now(),
    };
    // Twice in one group, and again later: one message. The repeat takes
    // no number: the next post in its group has the next one.
    let outcomes = together(
        &*store,
        vec![
            with_id("hi", 1, "c1"),
            with_id("hi", 1, "c1"),
            with_id("next", 1, "c2"),
        ],
    )
    .await;
    let seq = event(outcomes[0].clone()).seq;
    assert_eq!(outcomes[1], Ok(Outcome::Repeat(seq)));
    assert_eq!(event(outcomes[2].clone()).seq, seq + 1, "no hole");
    assert_eq!(
        write(&*store, with_id("hi", 1, "c1")).await,
        Ok(Outcome::Repeat(seq))
    );
    // The same id from someone else is theirs.
    assert_eq!(
        event(write(&*store, with_id("hi", 2, "c1")).await).seq,
        seq + 2
    );
    let (page, _) = store.older(general, 100, 10).await.unwrap();
    assert_eq!(page.len(), 3);
}

pub(crate) async fn edits_are_the_authors_and_mention_only_the_newly_named(store: Arc<dyn Store>) {
    let general = channel(&*store, "general").await;
    let ann = person(1, "ann");
    let bob = person(2, "bob");
    let cy = person(3, "cy");
    let posted = event(
        write(
            &*store,
            Write::Post {
                channel: general,
                author: ann.clone(),
                text: text("hi @bob"),
                thread: None,
                mentions: vec![bob.clone(), ann.clone()],
                client_id: None,
                at: Utc::now(),
            },
        )
        .await,
    );
    assert_eq!(posted.mentioned, [2], "not the author");
    let edit = |by: IdentityId, body: &str, mentions: Vec<Identity>| Write::Edit {
        channel: general,
        seq: posted.seq,
        by,
        text: text(body),
        mentions,
        at: Utc::now().trunc_subsecs(3),
    };
    assert_eq!(
        refused(write(&*store, edit(2, "mine now", vec![])).await),
        ErrorCode::NotEditor
    );
    let edited = event(
        write(
            &*store,
            edit(1, "hi @bob @cy", vec![bob.clone(), cy.clone()]),
        )
        .await,
    );
    assert_eq!(
        (edited.seq, edited.kind, edited.message_seq),
        (2, EventKind::Edited, 1)
    );
    assert_eq!(edited.mentioned, [3]);
    let message = edited.message.unwrap();
    assert_eq!(message.text.as_str(), "hi @bob @cy");
    assert!(message.edited_at.is_some());
    // The same text again changes nothing and takes no number.
    assert_eq!(
        write(&*store, edit(1, "hi @bob @cy", vec![bob, cy])).await,
        Ok(Outcome::Unchanged)
    );
    assert_eq!(post(&*store, general, 1, "next").await.seq, 3);
    assert_eq!(
        refused(
            write(
                &*store,
                Write::Edit {
                    channel: general,
                    seq: 77,
                    by: 1,
                    text: text("x"),
                    mentions: vec![],
                    at: Utc::now()
                }
            )
            .await
        ),
        ErrorCode::UnknownMessage
    );
}

pub(crate) async fn reaction_sets_change_in_the_store_and_are_bounded(store: Arc<dyn Store>) {
    let general = channel(&*store, "general").await;
    let seq = post(&*store, general, 1, "react to me").await.seq;
    let react = |who: Identity, emoji: &str, on: bool| Write::React {
        channel: general,
        seq,
        who,
        emoji: emoji.into(),
        on,
        max_emoji: 2,
    };
    // Two quick reactions in one group both count.
    let outcomes = together(
        &*store,
        vec![
            react(person(2, "bob"), "👍", true),
            react(person(3, "cy"), "👍", true),
        ],
    )
    .await;
    let second = event(outcomes[1].clone());
    assert_eq!(second.kind, EventKind::Reacted);
    let reactions = second.reactions();
    assert_eq!(reactions.len(), 1);
    let by: Vec<IdentityId> = reactions[0].by.iter().map(|p| p.id).collect();
    assert_eq!(by, [2, 3], "in the order given");
    // Already so: nothing happens.
    assert_eq!(
        write(&*store, react(person(2, "bob"), "👍", true)).await,
        Ok(Outcome::Unchanged)
    );
    assert_eq!(
        write(&*store, react(person(4, "dee"), "🎉", false)).await,
        Ok(Outcome::Unchanged)
    );
    let party = event(write(&*store, react(person(4, "dee"), "🎉", true)).await);
    let reactions = party.reactions();
    let emoji: Vec<&str> = reactions.iter().map(|r| r.emoji.as_str()).collect();
    assert_eq!(emoji, ["👍", "🎉"], "each emoji where it was first used");
    assert_eq!(
        refused(write(&*store, react(person(5, "eve"), "🔥", true)).await),
        ErrorCode::TooManyReactions
    );
    // Taken back, down to none.
    let back = event(write(&*store, react(person(2, "bob"), "👍", false)).await);
    assert_eq!(back.reactions()[0].by.len(), 1);
    let stored = store.message(general, seq).await.unwrap().unwrap();
    assert_eq!(stored.reactions, back.reactions());
    let numbers: Vec<Seq> = vec![second.seq, party.seq, back.seq];
    assert_eq!(numbers, [3, 4, 5], "numbered in order, no holes");
}

pub(crate) async fn deletes_are_the_authors_and_keep_threads_whole(store: Arc<dyn Store>) {
    let general = channel(&*store, "general").await;
    let parent = post(&*store, general, 1, "parent").await.seq;
    let reply_seq = event(reply(&*store, general, parent, "a reply").await).seq;
    let delete = |seq: Seq, by: IdentityId| Write::Delete {
        channel: general,
        seq,
        by,
    };
    assert_eq!(
        refused(write(&*store, delete(parent, 2)).await),
        ErrorCode::NotAuthor
    );
    assert_eq!(
        refused(write(&*store, delete(parent, 1)).await),
        ErrorCode::HasReplies
    );
    // The reply goes (its author is 2), and the parent's count with it.
    let gone = event(write(&*store, delete(reply_seq, 2)).await);
    assert_eq!(
        (gone.kind, gone.message_seq),
        (EventKind::Deleted, reply_seq)
    );
    assert!(gone.message.is_none());
    let thread = gone.thread().unwrap();
    assert_eq!(
        (thread.parent, thread.replies, thread.last_reply_at),
        (parent, 0, None)
    );
    assert_eq!(store.message(general, reply_seq).await.unwrap(), None);
    // Now the parent can go; twice is refused.
    event(write(&*store, delete(parent, 1)).await);
    assert_eq!(
        refused(write(&*store, delete(parent, 1)).await),
        ErrorCode::UnknownMessage
    );
}

pub(crate) async fn threads_are_one_level_deep_and_counted_by_the_store(store: Arc<dyn Store>) {
    let general = channel(&*store, "general").await;
    let parent = post(&*store, general, 1, "parent").await.seq;
    let outcomes = together(&*store, vec![post_write(general, 3, "between")]).await;
    event(outcomes[0].clone());
    let first = event(reply(&*store, general, parent, "one").await);
    let second = event(reply(&*store, general, parent, "two").await);
    let summary = second.thread().unwrap();
    assert_eq!((summary.parent, summary.replies), (parent, 2));
    assert_eq!(
        summary.last_reply_at,
        second.message.as_ref().map(|m| m.sent_at)
    );
    assert_eq!(first.message.unwrap().thread, Some(parent));
    // A reply to a reply is refused.
    assert_eq!(
        refused(reply(&*store, general, second.message_seq, "deeper").await),
        ErrorCode::InvalidThread
    );
    let replies = store.replies(general, parent, 10).await.unwrap();
    let texts: Vec<&str> = replies.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["one", "two"]);
    // Replies are not in the channel's own pages.
    let (page, _) = store.older(general, 100, 10).await.unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(
        store
            .message(general, parent)
            .await
            .unwrap()
            .unwrap()
            .replies,
        2
    );
}

pub(crate) async fn channels_are_unique_and_bounded_and_conversations_found_again(
    store: Arc<dyn Store>,
) {
    let create = |name: &str, max: usize| Write::CreateChannel {
        name: ChannelName::parse(name).unwrap(),
        at: Utc::now().trunc_subsecs(3),
        max_channels: max,
    };
    let outcomes = together(&*store, vec![create("general", 2), create("general", 2)]).await;
    let Ok(Outcome::Channel { channel: first, .. }) = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    assert_eq!(refused(outcomes[1].clone()), ErrorCode::ChannelTaken);
    let Ok(Outcome::Channel {
        channel: second, ..
    }) = write(&*store, create("random", 2)).await
    else {
        panic!()
    };
    assert_ne!(first.id, second.id, "the store assigns ids");
    assert_eq!(
        refused(write(&*store, create("more", 2)).await),
        ErrorCode::TooManyChannels
    );
    // A conversation: made once, found again from either side.
    let open = |a: Identity, b: Identity| Write::OpenDirect {
        people: [a, b],
        at: Utc::now().trunc_subsecs(3),
        max_directs: 10,
    };
    let Ok(Outcome::Channel {
        channel: dm,
        created: true,
    }) = write(&*store, open(person(2, "bob"), person(1, "ann"))).await
    else {
        panic!()
    };
    assert_eq!(dm.summary.name, ChannelName::direct(1, 2));
    let ids: Vec<IdentityId> = dm.summary.people.iter().map(|p| p.id).collect();
    assert_eq!(ids, [1, 2]);
    assert_eq!(
        write(&*store, open(person(1, "ann"), person(2, "bob"))).await,
        Ok(Outcome::Channel {
            channel: dm,
            created: false
        })
    );
    assert_eq!(
        refused(write(&*store, open(person(1, "ann"), person(1, "ann"))).await),
        ErrorCode::BadRequest
    );
    // Conversations are not counted as channels.
    assert_eq!(
        refused(write(&*store, create("more", 2)).await),
        ErrorCode::TooManyChannels
    );
}

pub(crate) async fn names_are_claimed_renamed_and_freed_by_the_store(store: Arc<dyn Store>) {
    let now = Utc::now().trunc_subsecs(3);
    let claim = |presented: Option<[u8; 32]>, name: &str, token: u8, max: usize| Write::Claim {
        presented,
        name: DisplayName::parse(name).unwrap(),
        new_token: [token; 32],
        at: now,
        max_identities: max,
    };
    let claimed = |outcome: Result<Outcome, StoreError>| match outcome {
        Ok(Outcome::Claimed { identity, previous }) => (identity, previous),
        other => panic!("expected a claim, got {other:?}"),
    };
    let outcomes = together(
        &*store,
        vec![claim(None, "Ada", 1, 3), claim(None, "ada", 2, 3)],
    )
    .await;
    let (ada, previous) = claimed(outcomes[0].clone());
    assert_eq!(previous, None);
    assert_eq!(ada.token_hash, [1; 32]);
    assert_eq!(
        refused(outcomes[1].clone()),
        ErrorCode::NameTaken,
        "any case"
    );
    let (bob, _) = claimed(write(&*store, claim(None, "bob", 3, 3)).await);
    assert!(bob.id > ada.id, "the store assigns ids");
    // The holder again: nothing changes.
    let (again, previous) = claimed(write(&*store, claim(Some([1; 32]), "Ada", 9, 3)).await);
    assert_eq!(previous.as_ref(), Some(&again));
    // A rename, and another case of one's own name.
    let (renamed, previous) = claimed(write(&*store, claim(Some([1; 32]), "ADA", 9, 3)).await);
    assert_eq!((renamed.id, renamed.name.as_str()), (ada.id, "ADA"));
    assert_eq!(previous.unwrap().name.as_str(), "Ada");
    assert_eq!(
        refused(write(&*store, claim(Some([1; 32]), "BOB", 9, 3)).await),
        ErrorCode::NameTaken
    );
    let (cy, _) = claimed(write(&*store, claim(None, "cy", 4, 3)).await);
    assert_eq!(
        refused(write(&*store, claim(None, "dee", 5, 3)).await),
        ErrorCode::TooManyIdentities
    );
    // Signing out frees the name; a number is never given again.
    assert_eq!(
        write(&*store, Write::SignOut { token: [3; 32] }).await,
        Ok(Outcome::Removed(vec![bob.id]))
    );
    assert_eq!(
        refused(write(&*store, Write::SignOut { token: [3; 32] }).await),
        ErrorCode::NotSignedIn
    );
    let (new_bob, _) = claimed(write(&*store, claim(None, "bob", 6, 3)).await);
    assert!(new_bob.id > cy.id);
    // Idle identities expire; a touch keeps one.
    write(
        &*store,
        Write::Touch {
            id: new_bob.id,
            at: now + Duration::hours(2),
        },
    )
    .await
    .unwrap();
    let Ok(Outcome::Removed(mut gone)) = write(
        &*store,
        Write::Expire {
            before: now + Duration::hours(1),
        },
    )
    .await
    else {
        panic!()
    };
    gone.sort_unstable();
    assert_eq!(gone, [ada.id, cy.id]);
    let loaded = store.load(HISTORY_LIMIT).await.unwrap();
    let left: Vec<IdentityId> = loaded.identities.iter().map(|i| i.id).collect();
    assert_eq!(left, [new_bob.id]);
}

pub(crate) async fn read_marks_only_move_forward_and_never_past_the_last_event(
    store: Arc<dyn Store>,
) {
    let general = channel(&*store, "general").await;
    for i in 0..3 {
        post(&*store, general, 2, &format!("m{i}")).await;
    }
    let read = |seq: Seq| Write::Read {
        identity: 1,
        channel: general,
        seq,
    };
    for seq in [2, 1, 99] {
        write(&*store, read(seq)).await.unwrap();
    }
    let loaded = store.load(HISTORY_LIMIT).await.unwrap();
    assert_eq!(loaded.reads, [(1, general, 3)]);
    // Held to the last event even when it was posted in the same group.
    let outcomes = together(&*store, vec![post_write(general, 2, "m3"), read(99)]).await;
    assert_eq!(event(outcomes[0].clone()).seq, 4);
    let loaded = store.load(HISTORY_LIMIT).await.unwrap();
    assert_eq!(loaded.reads, [(1, general, 4)]);
    // Signing out forgets the marks.
    let Ok(Outcome::Claimed { identity, .. }) = write(
        &*store,
        Write::Claim {
            presented: None,
            name: DisplayName::parse("reader").unwrap(),
            new_token: [7; 32],
            at: Utc::now(),
            max_identities: 10,
        },
    )
    .await
    else {
        panic!()
    };
    write(
        &*store,
        Write::Read {
            identity: identity.id,
            channel: general,
            seq: 1,
        },
    )
    .await
    .unwrap();
    write(&*store, Write::SignOut { token: [7; 32] })
        .await
        .unwrap();
    let loaded = store.load(HISTORY_LIMIT).await.unwrap();
    assert!(loaded.reads.iter().all(|(id, _, _)| *id != identity.id));
}

pub(crate) async fn pages_of_history_and_threads_read_what_is_committed(store: Arc<dyn Store>) {
    let general = channel(&*store, "general").await;
    for i in 1..=7 {
        post(&*store, general, 1, &format!("m{i}")).await;
    }
    let (older, more) = store.older(general, 5, 2).await.unwrap();
    let seqs: Vec<Seq> = older.iter().map(|m| m.seq).collect();
    assert_eq!((seqs, more), (vec![3, 4], true));
    let (older, more) = store.older(general, 3, 5).await.unwrap();
    assert_eq!((older.len(), more), (2, false));
    let (newer, more) = store.newer(general, 4, 2).await.unwrap();
    let seqs: Vec<Seq> = newer.iter().map(|m| m.seq).collect();
    assert_eq!((seqs, more), (vec![5, 6], true));
    let (newer, more) = store.newer(general, 6, 5).await.unwrap();
    assert_eq!((newer.len(), more), (1, false));
    assert_eq!(
        store
            .message(general, 4)
            .await
            .unwrap()
            .unwrap()
            .text
            .as_str(),
        "m4"
    );
    assert_eq!(store.message(general, 40).await.unwrap(), None);
    assert!(store.replies(general, 4, 10).await.unwrap().is_empty());
}

pub(crate) async fn the_stored_log_replays_events_and_never_a_deleted_text(store: Arc<dyn Store>) {
    let general = channel(&*store, "general").await;
    let kept = post(&*store, general, 1, "kept").await.seq;
    let secret = post(&*store, general, 1, "secret").await.seq;
    event(
        write(
            &*store,
            Write::Edit {
                channel: general,
                seq: kept,
                by: 1,
                text: text("kept, edited"),
                mentions: vec![],
                at: Utc::now(),
            },
        )
        .await,
    );
    event(
        write(
            &*store,
            Write::Delete {
                channel: general,
                seq: secret,
                by: 1,
            },
        )
        .await,
    );
    let replay = store.events(general, 0).await.unwrap().unwrap();
    let seqs: Vec<Seq> = replay.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4], "every number, none missing");
    // The deleted message's post replays as its deletion: no text.
    assert_eq!(
        (replay[1].kind, replay[1].message_seq),
        (EventKind::Deleted, secret)
    );
    assert!(replay[1].message.is_none());
    assert_eq!(replay[2].kind, EventKind::Edited);
    assert_eq!(
        replay[0].message.as_ref().unwrap().text.as_str(),
        "kept, edited"
    );
    assert_eq!(store.events(general, 3).await.unwrap().unwrap().len(), 1);
    assert_eq!(store.events(general, 4).await.unwrap().unwrap().len(), 0);
    // Beyond the last event, or a channel that is not there: no replay.
    assert_eq!(store.events(general, 5).await.unwrap(), None);
    assert_eq!(store.events(999, 0).await.unwrap(), None);
    // At least the last HISTORY_LIMIT events are kept, and not all.
    for i in 0..2 * HISTORY_LIMIT {
        post(&*store, general, 1, &format!("n{i}")).await;
    }
    assert_eq!(store.events(general, 0).await.unwrap(), None);
    let last = 4 + 2 * HISTORY_LIMIT as Seq;
    let tail = store
        .events(general, last - HISTORY_LIMIT as Seq)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tail.len(), HISTORY_LIMIT);
}

pub(crate) async fn search_finds_only_what_the_viewer_may_see(store: Arc<dyn Store>) {
    let general = channel(&*store, "general").await;
    let Ok(Outcome::Channel { channel: dm, .. }) = write(
        &*store,
        Write::OpenDirect {
            people: [person(1, "ann"), person(2, "bob")],
            at: Utc::now(),
            max_directs: 10,
        },
    )
    .await
    else {
        panic!()
    };
    post(&*store, general, 1, "Planning the launch").await;
    post(&*store, dm.id, 1, "secret launch date").await;
    let gone = post(&*store, general, 1, "launch cancelled").await.seq;
    event(
        write(
            &*store,
            Write::Delete {
                channel: general,
                seq: gone,
                by: 1,
            },
        )
        .await,
    );
    let edited = post(&*store, general, 2, "old words").await.seq;
    event(
        write(
            &*store,
            Write::Edit {
                channel: general,
                seq: edited,
                by: 2,
                text: text("LAUNCHED at last"),
                mentions: vec![],
                at: Utc::now(),
            },
        )
        .await,
    );
    let words = |w: &str| vec![w.to_owned()];
    let found = |hits: Vec<super::Found>| -> Vec<(ChannelId, String)> {
        hits.into_iter()
            .map(|f| (f.channel, f.message.text.as_str().to_owned()))
            .collect()
    };
    // Newest first; by word prefix, any case; deleted never, edited by
    // the new text; the conversation only to its people.
    assert_eq!(
        found(store.search(Some(1), words("laun"), 10).await.unwrap()),
        [
            (general, "LAUNCHED at last".to_owned()),
            (dm.id, "secret launch date".to_owned()),
            (general, "Planning the launch".to_owned()),
        ]
    );
    for viewer in [Some(3), None] {
        assert_eq!(
            found(store.search(viewer, words("launch"), 10).await.unwrap()),
            [
                (general, "LAUNCHED at last".to_owned()),
                (general, "Planning the launch".to_owned())
            ]
        );
    }
    assert!(store
        .search(Some(1), words("old"), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store.search(Some(1), vec![], 10).await.unwrap().is_empty());
    assert_eq!(
        store
            .search(Some(1), words("launch"), 1)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub(crate) async fn load_returns_windows_logs_identities_and_marks(store: Arc<dyn Store>) {
    let general = channel(&*store, "general").await;
    for i in 0..(HISTORY_LIMIT + 5) {
        post(&*store, general, 1, &format!("m{i}")).await;
    }
    let parent = post(&*store, general, 1, "parent").await.seq;
    event(reply(&*store, general, parent, "reply").await);
    let loaded = store.load(HISTORY_LIMIT).await.unwrap();
    assert_eq!(loaded.epoch.len(), 16);
    let channel = &loaded.channels[0];
    assert_eq!(channel.channel.summary.name.as_str(), "general");
    assert_eq!(channel.last_seq, HISTORY_LIMIT as Seq + 7);
    assert_eq!(
        channel.recent.len(),
        HISTORY_LIMIT,
        "the window, without replies"
    );
    assert_eq!(channel.recent.last().unwrap().replies, 1);
    assert_eq!(channel.log.len(), HISTORY_LIMIT);
    assert_eq!(channel.log.last().unwrap().seq, channel.last_seq);
    assert_eq!(channel.log.last().unwrap().thread().unwrap().parent, parent);
}

pub(crate) async fn old_history_is_swept_behind_the_last_hundred(store: Arc<dyn Store>) {
    let general = channel(&*store, "general").await;
    for i in 0..(HISTORY_LIMIT + 10) {
        post(&*store, general, 1, &format!("m{i}")).await;
    }
    write(
        &*store,
        Write::Sweep {
            messages_before: Utc::now() + Duration::days(1),
        },
    )
    .await
    .unwrap();
    let (all, _) = store.older(general, 10_000, 1000).await.unwrap();
    assert_eq!(all.len(), HISTORY_LIMIT);
    assert_eq!(all[0].seq, 11);
    // Nothing newer than the cut goes.
    write(
        &*store,
        Write::Sweep {
            messages_before: Utc::now() - Duration::days(1),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        store.older(general, 10_000, 1000).await.unwrap().0.len(),
        HISTORY_LIMIT
    );
}

pub(crate) async fn health_answers_while_open_and_not_once_closed(store: Arc<dyn Store>) {
    store.health().await.unwrap();
    store.close();
    assert!(store.health().await.is_err());
    assert!(matches!(
        write(&*store, Write::Barrier).await,
        Err(StoreError::Unavailable(_))
    ));
}
