//! The state's steps, fed plain events and an [`Outside`] written by
//! hand: what they change and the commands they return, with no socket,
//! clock or storage behind them.

use super::reduce::{add_members, push_in_order, Step};
use super::*;
use crate::model::{MessageText, ThreadSummary, HISTORY_LIMIT};
use crate::protocol::ServerEvent;
use chrono::Utc;

/// A page in sight, notifications allowed, a name remembered, the socket
/// open.
fn shown() -> Outside {
    Outside {
        now_ms: 1_000_000.0,
        hidden: false,
        notify_granted: true,
        name_stored: true,
        link_open: true,
    }
}

/// Applies an event to a page in sight.
fn apply(chat: &Chat, event: ServerEvent) -> Vec<Command> {
    chat.reduce(event, &shown())
}

fn ada() -> Identity {
    Identity {
        id: 1,
        name: DisplayName::parse("ada").unwrap(),
    }
}

#[test]
fn members_that_join_while_the_list_loads_are_kept() {
    let member = |id: IdentityId, name: &str| Member {
        identity: Identity {
            id,
            name: DisplayName::parse(name).unwrap(),
        },
        online: true,
    };
    let general = ChannelName::parse("general").unwrap();
    let mut held = None;
    // Cy's event comes before the list (fetched before she joined).
    add_members(&mut held, general.clone(), vec![member(3, "cy")]);
    add_members(
        &mut held,
        general.clone(),
        vec![member(1, "ann"), member(2, "bob")],
    );
    let names: Vec<String> = held
        .as_ref()
        .unwrap()
        .1
        .iter()
        .map(|m| m.identity.name.to_string())
        .collect();
    assert_eq!(names, ["ann", "bob", "cy"]);
    // Another channel's list starts afresh.
    add_members(
        &mut held,
        ChannelName::parse("random").unwrap(),
        vec![member(1, "ann")],
    );
    assert_eq!(held.unwrap().1.len(), 1);
}

#[test]
fn a_kept_outbox_entry_comes_back_ready_to_send_again() {
    let entry = |delivery| Outgoing {
        client_id: "c1".into(),
        channel: ChannelName::parse("general").unwrap(),
        thread: Some(7),
        text: "typed offline".into(),
        delivery,
        attempt: 3,
        in_flight: true,
    };
    for delivery in [Delivery::Pending, Delivery::Failed("refused".into())] {
        let json = serde_json::to_string(&entry(delivery.clone())).unwrap();
        assert!(
            !json.contains("attempt") && !json.contains("in_flight"),
            "{json}"
        );
        let back: Outgoing = serde_json::from_str(&json).unwrap();
        // Not in flight on a socket that is gone: the pump sends it.
        assert_eq!(
            back,
            Outgoing {
                attempt: 0,
                in_flight: false,
                ..entry(delivery)
            }
        );
    }
}

fn message(seq: u64) -> Message {
    Message::new(seq, &ada(), MessageText::parse("hi").unwrap(), Utc::now())
}

#[test]
fn messages_are_kept_in_sequence_order_once() {
    let mut list = vec![message(1), message(3)];
    push_in_order(&mut list, message(2));
    push_in_order(&mut list, message(3));
    let seqs: Vec<_> = list.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
}

#[test]
fn the_view_keeps_the_last_hundred() {
    let mut list: Vec<_> = (1..=100).map(message).collect();
    push_in_order(&mut list, message(101));
    assert_eq!(list.len(), HISTORY_LIMIT);
    assert_eq!(list[0].seq, 2);
}

#[test]
fn events_are_repeats_next_or_gaps() {
    assert_eq!(Step::of(5, 5), Step::Repeat);
    assert_eq!(Step::of(5, 3), Step::Repeat);
    assert_eq!(Step::of(5, 6), Step::Next);
    assert_eq!(Step::of(5, 8), Step::Gap);
}

#[tokio::test]
async fn applying_events_skips_repeats_and_follows_the_cursor() {
    let _ = any_spawner::Executor::init_tokio();
    let owner = Owner::new();
    owner.with(|| {
        let chat = Chat::new(Me::Unknown);
        let general = ChannelName::parse("general").unwrap();
        chat.open.set(Some(general.clone()));
        apply(
            &chat,
            ServerEvent::Joined {
                channel: general.clone(),
                seq: 2,
                messages: vec![message(1), message(2)],
            },
        );
        let event = |seq| ServerEvent::Message {
            channel: general.clone(),
            message: message(seq),
            thread: None,
        };
        apply(&chat, event(3));
        apply(&chat, event(3));
        apply(&chat, event(2));
        apply(
            &chat,
            ServerEvent::Deleted {
                channel: general.clone(),
                seq: 4,
                message_seq: 1,
                thread: None,
            },
        );
        let live = chat.live.get_untracked().unwrap();
        assert_eq!(live.seq, 4);
        let seqs: Vec<_> = live.messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, vec![2, 3]);
        // A gap is not applied (the socket is asked to resume instead).
        apply(&chat, event(9));
        assert_eq!(chat.live.get_untracked().unwrap().seq, 4);
    });
}

#[tokio::test]
async fn edits_reactions_and_replies_change_the_held_messages_once() {
    let _ = any_spawner::Executor::init_tokio();
    let owner = Owner::new();
    owner.with(|| {
        let chat = Chat::new(Me::Unknown);
        let general = ChannelName::parse("general").unwrap();
        chat.open.set(Some(general.clone()));
        apply(
            &chat,
            ServerEvent::Joined {
                channel: general.clone(),
                seq: 1,
                messages: vec![message(1)],
            },
        );
        apply(
            &chat,
            ServerEvent::Edited {
                channel: general.clone(),
                seq: 2,
                message_seq: 1,
                text: MessageText::parse("hi, edited").unwrap(),
                edited_at: Utc::now(),
                mentions: vec![],
            },
        );
        let bob = Identity {
            id: 2,
            name: DisplayName::parse("bob").unwrap(),
        };
        let reacted = ServerEvent::Reacted {
            channel: general.clone(),
            seq: 3,
            message_seq: 1,
            reactions: vec![crate::model::Reaction {
                emoji: "👍".into(),
                by: vec![bob],
            }],
        };
        apply(&chat, reacted.clone());
        apply(&chat, reacted);
        let mut reply = message(4);
        reply.thread = Some(1);
        apply(
            &chat,
            ServerEvent::Message {
                channel: general.clone(),
                message: reply,
                thread: Some(ThreadSummary {
                    parent: 1,
                    replies: 1,
                    last_reply_at: Some(Utc::now()),
                }),
            },
        );
        let live = chat.live.get_untracked().unwrap();
        assert_eq!(live.seq, 4);
        assert_eq!(live.messages.len(), 1, "a reply is not in the channel");
        let parent = &live.messages[0];
        assert_eq!(parent.text.as_str(), "hi, edited");
        assert!(parent.edited_at.is_some());
        assert_eq!(parent.reactions[0].by.len(), 1, "a repeat is ignored");
        assert_eq!(parent.replies, 1);
    });
}
