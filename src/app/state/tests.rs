//! The state's steps, fed plain events and an [`Outside`] written by
//! hand: what they change and the commands they return, with no socket,
//! clock or storage behind them.

use super::reduce::{add_members, push_in_order, Step};
use super::*;
use crate::client::socket::ACK_TIMEOUT_MS;
use crate::model::{ErrorCode, MessageText, ThreadSummary, HISTORY_LIMIT};
use crate::protocol::Cursor;
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

/// Runs `test` on a fresh chat, signed in as ada, under a reactive owner.
fn with_chat(test: impl FnOnce(Chat)) {
    let _ = any_spawner::Executor::init_tokio();
    let owner = Owner::new();
    owner.with(|| test(Chat::new(Me::Named(ada()))));
}

fn ada() -> Identity {
    Identity {
        id: 1,
        name: DisplayName::parse("ada").unwrap(),
    }
}

fn general() -> ChannelName {
    ChannelName::parse("general").unwrap()
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

/// A chat that has said hello (store `e1`) and joined #general at event
/// `seq`, holding messages 1 to `seq`.
fn joined(chat: Chat, seq: Seq) {
    chat.open.set(Some(general()));
    apply(&chat, hello(Some(ada())));
    apply(
        &chat,
        ServerEvent::Joined {
            channel: general(),
            seq,
            messages: (1..=seq).map(message).collect(),
        },
    );
}

fn hello(me: Option<Identity>) -> ServerEvent {
    ServerEvent::Hello {
        epoch: "e1".into(),
        me,
        channels: Vec::new(),
        directs: Vec::new(),
        idle_timeout_ms: 20_000,
    }
}

/// The frame that sends outbox entry `client_id`.
fn send_of(client_id: &str, text: &str) -> Command {
    Command::Send(ClientFrame::Send {
        channel: "general".into(),
        text: text.into(),
        client_id: Some(client_id.into()),
        thread: None,
    })
}

fn give_up(client_id: &str, attempt: u32) -> Command {
    Command::Later {
        after_ms: ACK_TIMEOUT_MS,
        then: Timer::GiveUp {
            client_id: client_id.into(),
            attempt,
        },
    }
}

/// The outbox as (client id, pending, in flight).
fn outbox_of(chat: Chat) -> Vec<(String, bool, bool)> {
    chat.outbox.with_untracked(|outbox| {
        outbox
            .iter()
            .map(|o| {
                (
                    o.client_id.clone(),
                    o.delivery == Delivery::Pending,
                    o.in_flight,
                )
            })
            .collect()
    })
}

fn queue(chat: Chat, client_id: &str, text: &str) -> Vec<Command> {
    chat.queue(client_id.into(), general(), text.into(), None, &shown())
}

#[tokio::test]
async fn a_gap_rejoins_from_the_cursor_and_changes_nothing_else() {
    with_chat(|chat| {
        joined(chat, 4);
        // A first message schedules the read mark; the gap adds nothing
        // but the join.
        assert_eq!(
            apply(
                &chat,
                ServerEvent::Message {
                    channel: general(),
                    message: message(5),
                    thread: None,
                },
            ),
            [Command::Later {
                after_ms: 1_000,
                then: Timer::MarkRead
            }]
        );
        let before = chat.live.get_untracked();
        let commands = apply(
            &chat,
            ServerEvent::Message {
                channel: general(),
                message: message(9),
                thread: None,
            },
        );
        assert_eq!(
            commands,
            [Command::Send(ClientFrame::Join {
                channel: "general".into(),
                since: Some(Cursor {
                    epoch: "e1".into(),
                    seq: 5
                }),
            })]
        );
        assert_eq!(chat.live.get_untracked(), before);
        // The same for a change to a message.
        let commands = apply(
            &chat,
            ServerEvent::Reacted {
                channel: general(),
                seq: 7,
                message_seq: 1,
                reactions: Vec::new(),
            },
        );
        assert!(matches!(
            &commands[..],
            [Command::Send(ClientFrame::Join {
                since: Some(Cursor { seq: 5, .. }),
                ..
            })]
        ));
        assert_eq!(chat.live.get_untracked(), before);
        // A repeat is ignored, quietly.
        assert_eq!(
            apply(
                &chat,
                ServerEvent::Deleted {
                    channel: general(),
                    seq: 5,
                    message_seq: 1,
                    thread: None,
                },
            ),
            []
        );
        assert_eq!(chat.live.get_untracked(), before);
    });
}

#[tokio::test]
async fn the_outbox_sends_one_at_a_time_each_after_the_ack_of_the_one_before() {
    with_chat(|chat| {
        joined(chat, 1);
        assert_eq!(
            queue(chat, "a", "one"),
            [send_of("a", "one"), give_up("a", 1)]
        );
        // Queued behind the one in flight.
        assert_eq!(queue(chat, "b", "two"), []);
        assert_eq!(queue(chat, "c", "three"), []);
        assert_eq!(
            outbox_of(chat),
            [
                ("a".into(), true, true),
                ("b".into(), true, false),
                ("c".into(), true, false)
            ]
        );
        let ack = |client_id: &str, seq| ServerEvent::Ack {
            channel: general(),
            client_id: client_id.into(),
            seq,
        };
        assert_eq!(
            apply(&chat, ack("a", 2)),
            [send_of("b", "two"), give_up("b", 1)]
        );
        assert_eq!(
            outbox_of(chat),
            [("b".into(), true, true), ("c".into(), true, false)]
        );
        // A repeated ack sends nothing more while "b" waits.
        assert_eq!(apply(&chat, ack("a", 2)), []);
        assert_eq!(
            apply(&chat, ack("b", 3)),
            [send_of("c", "three"), give_up("c", 1)]
        );
        assert_eq!(apply(&chat, ack("c", 4)), []);
        assert!(chat.outbox.get_untracked().is_empty());
    });
}

#[tokio::test]
async fn what_is_typed_offline_goes_once_the_link_is_back() {
    with_chat(|chat| {
        joined(chat, 1);
        let offline = Outside {
            link_open: false,
            ..shown()
        };
        let queued = chat.queue("a".into(), general(), "one".into(), None, &offline);
        assert_eq!(queued, []);
        assert_eq!(outbox_of(chat), [("a".into(), true, false)]);
        // Back, and joined again from the cursor: it goes.
        let commands = apply(
            &chat,
            ServerEvent::Resumed {
                channel: general(),
                seq: 1,
            },
        );
        assert!(commands.contains(&send_of("a", "one")), "{commands:?}");
        assert!(commands.contains(&give_up("a", 1)), "{commands:?}");
        // The link drops before the ack: it goes again, a new attempt.
        chat.link_lost();
        assert_eq!(outbox_of(chat), [("a".into(), true, false)]);
        assert_eq!(chat.pump(&shown()), [send_of("a", "one"), give_up("a", 2)]);
        // The first attempt's timeout is stale: nothing happens.
        let stale = Timer::GiveUp {
            client_id: "a".into(),
            attempt: 1,
        };
        assert_eq!(chat.fire(stale, &shown()), []);
        assert_eq!(outbox_of(chat), [("a".into(), true, true)]);
    });
}

#[tokio::test]
async fn an_unacknowledged_send_fails_in_time_and_the_next_goes() {
    with_chat(|chat| {
        joined(chat, 1);
        queue(chat, "a", "one");
        queue(chat, "b", "two");
        let due = Timer::GiveUp {
            client_id: "a".into(),
            attempt: 1,
        };
        assert_eq!(
            chat.fire(due, &shown()),
            [send_of("b", "two"), give_up("b", 1)]
        );
        assert_eq!(
            outbox_of(chat),
            [("a".into(), false, false), ("b".into(), true, true)]
        );
        // Retry puts it back in line, behind the one in flight.
        assert_eq!(chat.requeue("a", &shown()), []);
        assert_eq!(
            outbox_of(chat),
            [("a".into(), true, false), ("b".into(), true, true)]
        );
    });
}

#[tokio::test]
async fn too_fast_waits_as_the_server_says_and_sends_the_same_again() {
    with_chat(|chat| {
        joined(chat, 1);
        queue(chat, "a", "one");
        queue(chat, "b", "two");
        let refusal = |retry_after_ms| ServerEvent::Error {
            code: ErrorCode::RateLimited,
            message: "Slow down.".into(),
            client_id: Some("a".into()),
            retry_after_ms,
        };
        assert_eq!(
            apply(&chat, refusal(Some(2_500))),
            [Command::Later {
                after_ms: 2_500,
                then: Timer::Pump
            }]
        );
        // Still pending, first in line, not in flight: nothing else goes.
        assert_eq!(
            outbox_of(chat),
            [("a".into(), true, false), ("b".into(), true, false)]
        );
        assert_eq!(
            chat.fire(Timer::Pump, &shown()),
            [send_of("a", "one"), give_up("a", 2)]
        );
        // Without a word on how long, a second; never beyond a minute.
        assert!(matches!(
            &apply(&chat, refusal(None))[..],
            [Command::Later {
                after_ms: 1_000,
                then: Timer::Pump
            }]
        ));
        assert!(matches!(
            &apply(&chat, refusal(Some(3_600_000)))[..],
            [Command::Later {
                after_ms: 60_000,
                then: Timer::Pump
            }]
        ));
    });
}

#[tokio::test]
async fn another_refusal_fails_the_send_and_the_next_goes() {
    with_chat(|chat| {
        joined(chat, 1);
        queue(chat, "a", "one");
        queue(chat, "b", "two");
        let commands = apply(
            &chat,
            ServerEvent::Error {
                code: ErrorCode::BadRequest,
                message: "No.".into(),
                client_id: Some("a".into()),
                retry_after_ms: None,
            },
        );
        assert_eq!(commands, [send_of("b", "two"), give_up("b", 1)]);
        assert_eq!(
            chat.outbox.get_untracked()[0].delivery,
            Delivery::Failed("No.".into())
        );
    });
}

#[tokio::test]
async fn a_hello_that_forgot_me_reclaims_the_stored_name() {
    with_chat(|chat| {
        assert_eq!(
            apply(&chat, hello(None)),
            [
                Command::SetIdleTimeout(20_000),
                Command::Reclaim(DisplayName::parse("ada").unwrap())
            ]
        );
        assert_eq!(chat.me.get_untracked(), Me::Named(ada()));
        // Claimed again: the socket reconnects as its holder.
        let again = Identity { id: 7, ..ada() };
        assert_eq!(chat.reclaimed(Ok(again.clone())), [Command::Reconnect]);
        assert_eq!(chat.me.get_untracked(), Me::Named(again));
        // Or taken meanwhile: the prompt shows why.
        assert_eq!(chat.reclaimed(Err("Taken.".into())), []);
        assert_eq!(
            chat.me.get_untracked(),
            Me::Anonymous {
                problem: Some("Taken.".into())
            }
        );
    });
}

#[tokio::test]
async fn a_hello_that_forgot_me_signs_out_a_tab_whose_name_is_gone() {
    with_chat(|chat| {
        let signed_out = Outside {
            name_stored: false,
            ..shown()
        };
        assert_eq!(
            chat.reduce(hello(None), &signed_out),
            [Command::SetIdleTimeout(20_000)]
        );
        assert_eq!(chat.me.get_untracked(), Me::Anonymous { problem: None });
        // A hello that knows me changes nothing of who I am.
        let chat = Chat::new(Me::Named(ada()));
        assert_eq!(
            chat.reduce(hello(Some(ada())), &signed_out),
            [Command::SetIdleTimeout(20_000)]
        );
        assert_eq!(chat.me.get_untracked(), Me::Named(ada()));
    });
}

#[tokio::test]
async fn a_mention_notifies_only_out_of_sight_and_when_allowed() {
    with_chat(|chat| {
        let mention = || ServerEvent::Mention {
            channel: general(),
            message: message(5),
        };
        let hidden = Outside {
            hidden: true,
            ..shown()
        };
        assert_eq!(
            chat.reduce(mention(), &hidden),
            [Command::Notify {
                title: "ada mentioned you in #general".into(),
                body: "hi".into(),
                tag: "general-5".into(),
                channel: general(),
                message: 5,
            }]
        );
        assert_eq!(chat.reduce(mention(), &shown()), []);
        let refused = Outside {
            notify_granted: false,
            ..hidden
        };
        assert_eq!(chat.reduce(mention(), &refused), []);
    });
}

#[tokio::test]
async fn joining_the_open_channel_marks_it_read_and_loads_its_members() {
    with_chat(|chat| {
        chat.open.set(Some(general()));
        apply(&chat, hello(Some(ada())));
        let joined = |seq| ServerEvent::Joined {
            channel: general(),
            seq,
            messages: (1..=seq).map(message).collect(),
        };
        assert_eq!(
            apply(&chat, joined(3)),
            [
                Command::Send(ClientFrame::Read {
                    channel: "general".into(),
                    seq: 3
                }),
                Command::LoadMembers(general())
            ]
        );
        assert_eq!(chat.read_mark(&general()), 3);
        // Already read that far: only the members.
        assert_eq!(apply(&chat, joined(3)), [Command::LoadMembers(general())]);
        // Out of sight, nothing is read.
        let hidden = Outside {
            hidden: true,
            ..shown()
        };
        assert_eq!(
            chat.reduce(joined(4), &hidden),
            [Command::LoadMembers(general())]
        );
        // Another channel's snapshot is not for this page.
        let random = ServerEvent::Joined {
            channel: ChannelName::parse("random").unwrap(),
            seq: 1,
            messages: vec![message(1)],
        };
        assert_eq!(apply(&chat, random), []);
        assert_eq!(chat.live.get_untracked().unwrap().channel, general());
    });
}

#[tokio::test]
async fn a_burst_of_messages_is_marked_read_once_a_second() {
    with_chat(|chat| {
        joined(chat, 1);
        let arrive = |seq| ServerEvent::Message {
            channel: general(),
            message: message(seq),
            thread: None,
        };
        let mark_soon = Command::Later {
            after_ms: 1_000,
            then: Timer::MarkRead,
        };
        assert_eq!(apply(&chat, arrive(2)), std::slice::from_ref(&mark_soon));
        assert_eq!(apply(&chat, arrive(3)), []);
        assert_eq!(
            chat.fire(Timer::MarkRead, &shown()),
            [Command::Send(ClientFrame::Read {
                channel: "general".into(),
                seq: 3
            })]
        );
        assert_eq!(apply(&chat, arrive(4)), [mark_soon]);
    });
}

#[tokio::test]
async fn typing_shows_for_a_while_then_expires() {
    with_chat(|chat| {
        let bob = Identity {
            id: 2,
            name: DisplayName::parse("bob").unwrap(),
        };
        let typing = |on| ServerEvent::Typing {
            channel: general(),
            thread: None,
            who: bob.clone(),
            on,
        };
        assert_eq!(
            apply(&chat, typing(true)),
            [Command::Later {
                after_ms: TYPING_SHOWN_MS as u64 + 100,
                then: Timer::ExpireTyping
            }]
        );
        let names = || chat.typists(&general(), None);
        assert_eq!(names(), std::slice::from_ref(&bob.name));
        // Not yet due: still shown.
        let later = Outside {
            now_ms: shown().now_ms + TYPING_SHOWN_MS - 1.0,
            ..shown()
        };
        assert_eq!(chat.fire(Timer::ExpireTyping, &later), []);
        assert_eq!(names(), std::slice::from_ref(&bob.name));
        let expired = Outside {
            now_ms: shown().now_ms + TYPING_SHOWN_MS,
            ..shown()
        };
        chat.fire(Timer::ExpireTyping, &expired);
        assert!(names().is_empty());
        // Stopping says so at once, with nothing to expire.
        apply(&chat, typing(true));
        assert_eq!(apply(&chat, typing(false)), []);
        assert!(names().is_empty());
    });
}
