//! Edits, reactions, threads and mentions over the real server: every path
//! (socket and server function) authorizes by identity and validates, the
//! people in the channel see each change live, and it survives a restart.

mod common;

use common::{call, claim, create_channel, start, start_with, two_in_general, Client, TempDb};
use flack::model::ErrorCode;
use flack::protocol::{ClientFrame, ServerEvent};

/// The next event, which must be a message; its number.
async fn posted(client: &mut Client) -> u64 {
    match client.next_in_channel().await {
        ServerEvent::Message { message, .. } => message.seq,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn edit(seq: u64, text: &str) -> ClientFrame {
    ClientFrame::Edit {
        channel: "general".into(),
        seq,
        text: text.into(),
    }
}

fn react(seq: u64, emoji: &str, on: bool) -> ClientFrame {
    ClientFrame::React {
        channel: "general".into(),
        seq,
        emoji: emoji.into(),
        on,
    }
}

#[tokio::test]
async fn edits_and_reactions_are_authorized_validated_and_live() {
    let server = start().await;
    let (mut a, mut m) = two_in_general(server.addr, "ada", "mallory").await;
    a.say("general", "mine").await;
    let seq = posted(&mut a).await;
    assert_eq!(posted(&mut m).await, seq);

    // Someone else's edit, on the socket and by server function.
    m.send(&edit(seq, "forged")).await;
    assert_eq!(m.expect_error().await.0, ErrorCode::NotEditor);
    let mallory = claim(server.addr, "mallory2").await;
    let reply = call(
        server.addr,
        "edit_message",
        &format!("channel=general&seq={seq}&text=forged"),
        Some(&mallory),
    )
    .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["code"], "not_editor");

    // Bad input: each gets its code, and nothing changes.
    m.send(&react(seq, &"👍".repeat(2500), true)).await;
    assert_eq!(m.expect_error().await.0, ErrorCode::InvalidEmoji);
    m.send(&react(seq, "<img src=x>", true)).await;
    assert_eq!(m.expect_error().await.0, ErrorCode::InvalidEmoji);
    m.send(&react(seq + 40, "👍", true)).await;
    assert_eq!(m.expect_error().await.0, ErrorCode::UnknownMessage);
    a.send(&edit(seq, "")).await;
    assert_eq!(a.expect_error().await.0, ErrorCode::InvalidMessage);
    a.send(&edit(seq, &"x".repeat(4001))).await;
    assert_eq!(a.expect_error().await.0, ErrorCode::MessageTooLong);

    // A reaction and an edit, seen by both, numbered next.
    m.send(&react(seq, "👍", true)).await;
    for client in [&mut a, &mut m] {
        match client.next_in_channel().await {
            ServerEvent::Reacted {
                seq: event,
                message_seq,
                reactions,
                ..
            } => {
                assert_eq!((event, message_seq), (seq + 1, seq));
                assert_eq!(reactions[0].by[0].name.as_str(), "mallory");
            }
            other => panic!("expected a reaction, got {other:?}"),
        }
    }
    a.send(&edit(seq, "mine, edited")).await;
    for client in [&mut a, &mut m] {
        match client.next_in_channel().await {
            ServerEvent::Edited {
                seq: event, text, ..
            } => {
                assert_eq!(event, seq + 2);
                assert_eq!(text.as_str(), "mine, edited");
            }
            other => panic!("expected an edit, got {other:?}"),
        }
    }
    let history = m.join("general").await;
    assert_eq!(history[0].text.as_str(), "mine, edited");
    assert_eq!(history[0].reactions.len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn replies_are_threaded_one_level_deep() {
    let server = start().await;
    let (mut a, mut b) = two_in_general(server.addr, "ada", "bob").await;
    a.say("general", "topic").await;
    let parent = posted(&mut a).await;
    posted(&mut b).await;
    b.send(&ClientFrame::Send {
        channel: "general".into(),
        text: "a reply".into(),
        client_id: Some("r1".into()),
        thread: Some(parent),
    })
    .await;
    let mut reply = 0;
    for _ in 0..2 {
        match b.next_in_channel().await {
            ServerEvent::Message {
                message,
                thread: Some(summary),
                ..
            } => {
                assert_eq!(message.thread, Some(parent));
                assert_eq!((summary.parent, summary.replies), (parent, 1));
                reply = message.seq;
            }
            ServerEvent::Ack { .. } => {}
            other => panic!("expected the reply, got {other:?}"),
        }
    }
    b.send(&ClientFrame::Send {
        channel: "general".into(),
        text: "deeper".into(),
        client_id: None,
        thread: Some(reply),
    })
    .await;
    assert_eq!(b.expect_error().await.0, ErrorCode::InvalidThread);
    let snapshot = b.join("general").await;
    assert_eq!(snapshot.len(), 1, "the reply is not in the channel");
    assert_eq!(snapshot[0].replies, 1);
    let thread = call(
        server.addr,
        "thread",
        &format!("channel=general&parent={parent}"),
        None,
    )
    .await;
    assert_eq!(thread.status, 200, "{}", thread.body);
    assert_eq!(thread.json()["replies"][0]["text"], "a reply");
    // A reply's link leads to its parent's thread.
    let from_reply = call(
        server.addr,
        "thread",
        &format!("channel=general&parent={reply}"),
        None,
    )
    .await;
    assert_eq!(from_reply.json()["parent"]["seq"], parent);
    let nowhere = call(
        server.addr,
        "thread",
        &format!("channel=general&parent={}", reply + 50),
        None,
    )
    .await;
    assert_eq!(nowhere.status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn a_mention_reaches_the_person_named_wherever_they_are() {
    let server = start().await;
    let ada = claim(server.addr, "Ada").await;
    let bob = claim(server.addr, "Bob Stone").await;
    create_channel(server.addr, &ada, "general").await;
    create_channel(server.addr, &ada, "random").await;
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    let mut b = Client::connect(server.addr, Some(&bob)).await;
    a.join("general").await;
    b.join("random").await;

    // Named inside code only: not a mention.
    a.say("general", "the `@Bob Stone` handle").await;
    posted(&mut a).await;
    a.say("general", "hi @bob stone, look").await;
    match a.next_in_channel().await {
        ServerEvent::Message { message, .. } => {
            let names: Vec<_> = message.mentions.iter().map(|m| m.name.as_str()).collect();
            assert_eq!(names, ["Bob Stone"], "the longest name, any case");
        }
        other => panic!("expected the message, got {other:?}"),
    }
    match b.next_in_channel().await {
        ServerEvent::Mention { channel, message } => {
            assert_eq!(channel.as_str(), "general");
            assert_eq!(message.text.as_str(), "hi @bob stone, look");
        }
        other => panic!("expected a mention, got {other:?}"),
    }
    // Ada, who is mentioned by nobody, hears nothing but her channel.
    a.say("general", "plain").await;
    posted(&mut a).await;
    server.shutdown().await;
}

#[tokio::test]
async fn edits_reactions_and_threads_survive_a_restart() {
    let db = TempDb::new("conversation");
    let settings = |s: &mut flack::server::settings::Settings| s.database = db.path();
    let server = start_with(settings).await;
    let (mut a, mut b) = two_in_general(server.addr, "ada", "bob").await;
    a.say("general", "before").await;
    let seq = posted(&mut a).await;
    a.send(&edit(seq, "after")).await;
    b.send(&react(seq, "🎉", true)).await;
    b.send(&ClientFrame::Send {
        channel: "general".into(),
        text: "in the thread".into(),
        client_id: None,
        thread: Some(seq),
    })
    .await;
    // Wait for all three to be announced.
    for _ in 0..4 {
        b.next_in_channel().await;
    }
    a.close().await;
    b.close().await;
    server.shutdown().await;

    let server = start_with(settings).await;
    let mut c = Client::connect(server.addr, None).await;
    let history = c.join("general").await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].text.as_str(), "after");
    assert!(history[0].edited_at.is_some());
    assert_eq!(history[0].reactions[0].emoji, "🎉");
    assert_eq!(history[0].replies, 1);
    let thread = call(
        server.addr,
        "thread",
        &format!("channel=general&parent={seq}"),
        None,
    )
    .await;
    assert_eq!(thread.json()["replies"][0]["text"], "in the thread");
    server.shutdown().await;
}

#[tokio::test]
async fn numbers_beyond_what_the_store_holds_are_refused_not_wrapped() {
    let server = start().await;
    let (mut a, _b) = two_in_general(server.addr, "ada", "bob").await;
    for i in 0..3 {
        a.say("general", &format!("m{i}")).await;
        posted(&mut a).await;
    }
    let ada = claim(server.addr, "cy").await;
    let huge = [1u64 << 63, u64::MAX];
    for n in huge {
        for (endpoint, form) in [
            ("newer_messages", format!("channel=general&after={n}")),
            ("older_messages", format!("channel=general&before={n}")),
            ("context", format!("channel=general&seq={n}")),
            ("thread", format!("channel=general&parent={n}")),
        ] {
            let reply = call(server.addr, endpoint, &form, Some(&ada)).await;
            assert_eq!(reply.status, 400, "{endpoint} {n}: {}", reply.body);
            assert_eq!(reply.json()["code"], "bad_request", "{endpoint}");
        }
        // On the socket too, and the socket lives on.
        a.send(&ClientFrame::Delete {
            channel: "general".into(),
            seq: n,
        })
        .await;
        assert_eq!(a.expect_error().await.0, ErrorCode::BadRequest);
    }
    // The largest number there can be is asked about like any other.
    let last = call(
        server.addr,
        "newer_messages",
        &format!("channel=general&after={}", flack::model::MAX_SEQ),
        Some(&ada),
    )
    .await;
    assert_eq!(last.status, 200, "{}", last.body);
    assert_eq!(last.json()["messages"].as_array().unwrap().len(), 0);
    a.still_works("general").await;
    server.shutdown().await;
}
