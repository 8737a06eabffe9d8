//! The WebSocket protocol of docs/protocol.md, over real sockets against a
//! real server.

#![cfg(feature = "ssr")]

mod common;

use common::{claim, create_channel, start, two_in_general, Client};
use flack::model::{ErrorCode, MAX_FRAME_BYTES, MAX_MESSAGE_CHARS};
use flack::protocol::{ClientFrame, ServerEvent};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn two_clients_see_each_others_messages_in_order() {
    let server = start().await;
    let ada = claim(server.addr, "ada").await;
    let bob = claim(server.addr, "bob").await;
    create_channel(server.addr, &ada, "general").await;

    let mut a = Client::connect(server.addr, Some(&ada)).await;
    let mut b = Client::connect(server.addr, Some(&bob)).await;
    assert!(a.join("general").await.is_empty());
    assert!(b.join("general").await.is_empty());

    // Both write at once; the server orders them.
    for i in 0..5 {
        a.say("general", &format!("ada {i}")).await;
        b.say("general", &format!("bob {i}")).await;
    }
    let mut views = Vec::new();
    for client in [&mut a, &mut b] {
        let mut seen = Vec::new();
        while seen.len() < 10 {
            match client.next_in_channel().await {
                ServerEvent::Message { message, .. } => seen.push(message),
                other => panic!("unexpected {other:?}"),
            }
        }
        views.push(seen);
    }
    // Everyone sees the same messages, in sequence order 1..=10...
    assert_eq!(views[0], views[1]);
    let seqs: Vec<_> = views[0].iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    // ...and each author's messages in the order they were written.
    for author in ["ada", "bob"] {
        let texts: Vec<_> = views[0]
            .iter()
            .filter(|m| m.author.as_str() == author)
            .map(|m| m.text.as_str().to_owned())
            .collect();
        let expected: Vec<_> = (0..5).map(|i| format!("{author} {i}")).collect();
        assert_eq!(texts, expected);
    }
    // A late joiner gets the same history.
    assert_eq!(a.join("general").await, views[0]);
    server.shutdown().await;
}

#[tokio::test]
async fn every_message_carries_author_and_server_time() {
    let server = start().await;
    let ada = claim(server.addr, "Ada").await;
    create_channel(server.addr, &ada, "general").await;
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    a.join("general").await;
    let before = chrono::Utc::now();
    a.say("general", "hello").await;
    match a.next_in_channel().await {
        ServerEvent::Message {
            channel, message, ..
        } => {
            assert_eq!(channel.as_str(), "general");
            assert_eq!(message.author.as_str(), "Ada");
            assert_eq!(message.seq, 1);
            assert!(message.sent_at >= before - chrono::Duration::seconds(1));
        }
        other => panic!("unexpected {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_forged_delete_is_refused_and_changes_nothing() {
    let server = start().await;
    let (mut a, mut m) = two_in_general(server.addr, "ada", "mallory").await;
    a.say("general", "mine").await;
    let seq = match m.next_in_channel().await {
        ServerEvent::Message { message, .. } => message.seq,
        other => panic!("unexpected {other:?}"),
    };

    m.send(&ClientFrame::Delete {
        channel: "general".into(),
        seq,
    })
    .await;
    let (code, message) = m.expect_error().await;
    assert_eq!(code, ErrorCode::NotAuthor);
    assert!(message.contains("only your own"), "{message}");
    let history = m.join("general").await;
    assert_eq!(history.len(), 1, "the message is still there");

    // The author can.
    a.next_in_channel().await; // its own echo
    a.send(&ClientFrame::Delete {
        channel: "general".into(),
        seq,
    })
    .await;
    assert_eq!(
        m.next_in_channel().await,
        ServerEvent::Deleted {
            channel: flack::model::ChannelName::parse("general").unwrap(),
            seq: seq + 1,
            message_seq: seq,
            thread: None
        }
    );
    server.shutdown().await;
}

#[tokio::test]
async fn writing_without_a_name_is_refused() {
    let server = start().await;
    let ada = claim(server.addr, "ada").await;
    create_channel(server.addr, &ada, "general").await;
    let mut anon = Client::connect(server.addr, None).await;
    anon.join("general").await;
    anon.say("general", "who am I").await;
    assert_eq!(anon.expect_error().await.0, ErrorCode::NotSignedIn);
    let mut forged = Client::connect(
        server.addr,
        Some(&format!("flack_token={}", "0".repeat(64))),
    )
    .await;
    forged.say("general", "me neither").await;
    assert_eq!(forged.expect_error().await.0, ErrorCode::NotSignedIn);
    assert!(anon.join("general").await.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn bad_frames_get_errors_and_the_connection_keeps_working() {
    let server = start().await;
    let (mut a, mut b) = two_in_general(server.addr, "ada", "bob").await;

    a.send_raw(Message::text("{this is not json")).await;
    let (code, message) = a.expect_error().await;
    assert_eq!(code, ErrorCode::BadFrame);
    assert!(message.contains("not valid JSON"), "{message}");

    a.send_raw(Message::text(r#"{"type":"shout","text":"hi"}"#))
        .await;
    let (code, message) = a.expect_error().await;
    assert_eq!(code, ErrorCode::BadFrame);
    assert!(message.contains("Unknown frame type"), "{message}");

    a.send_raw(Message::binary(vec![1, 2, 3])).await;
    assert_eq!(a.expect_error().await.0, ErrorCode::BadFrame);

    let oversized = format!(
        r#"{{"type":"send","channel":"general","text":"{}"}}"#,
        "x".repeat(MAX_FRAME_BYTES + 10)
    );
    a.send_raw(Message::text(oversized)).await;
    assert_eq!(a.expect_error().await.0, ErrorCode::FrameTooLarge);

    a.say("general", &"y".repeat(MAX_MESSAGE_CHARS + 1)).await;
    assert_eq!(a.expect_error().await.0, ErrorCode::MessageTooLong);

    a.say("general", "   ").await;
    assert_eq!(a.expect_error().await.0, ErrorCode::InvalidMessage);

    a.say("general", "bell\u{7}").await;
    assert_eq!(a.expect_error().await.0, ErrorCode::InvalidMessage);

    a.say("nowhere", "hello?").await;
    assert_eq!(a.expect_error().await.0, ErrorCode::UnknownChannel);

    a.send(&ClientFrame::Join {
        channel: "nowhere".into(),
        since: None,
    })
    .await;
    assert_eq!(a.expect_error().await.0, ErrorCode::UnknownChannel);

    a.send(&ClientFrame::Join {
        channel: "Not Valid!".into(),
        since: None,
    })
    .await;
    assert_eq!(a.expect_error().await.0, ErrorCode::InvalidChannelName);

    // Nothing of that reached anyone else, and both connections still work.
    a.still_works("general").await;
    a.say("general", "still here").await;
    match b.next_in_channel().await {
        ServerEvent::Message { message, .. } => {
            assert_eq!(message.text.as_str(), "still here");
            assert_eq!(message.seq, 1, "no refused message took a number");
        }
        other => panic!("unexpected {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_message_of_the_maximum_length_goes_through() {
    let server = start().await;
    let ada = claim(server.addr, "ada").await;
    create_channel(server.addr, &ada, "general").await;
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    a.join("general").await;
    // Four-byte characters, and quotes that JSON escapes: the worst case.
    let text: String = "\u{1F600}\"".repeat(MAX_MESSAGE_CHARS / 2);
    a.say("general", &text).await;
    match a.next_in_channel().await {
        ServerEvent::Message { message, .. } => assert_eq!(message.text.as_str(), text),
        other => panic!("unexpected {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn new_channels_reach_every_connection() {
    let server = start().await;
    let ada = claim(server.addr, "ada").await;
    let mut watcher = Client::connect(server.addr, None).await;
    create_channel(server.addr, &ada, "fresh").await;
    match watcher.next().await {
        ServerEvent::ChannelCreated { channel } => assert_eq!(channel.name.as_str(), "fresh"),
        other => panic!("unexpected {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_history_keeps_the_last_hundred_of_a_hundred_and_fifty() {
    let server = common::start_with(|s| s.send_per_second = 0).await;
    let ada = claim(server.addr, "ada").await;
    create_channel(server.addr, &ada, "busy").await;
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    a.join("busy").await;
    for i in 1..=150 {
        a.say("busy", &format!("message {i}")).await;
    }
    for _ in 1..=150 {
        a.next_in_channel().await;
    }
    let history = a.join("busy").await;
    assert_eq!(history.len(), 100);
    assert_eq!(history[0].text.as_str(), "message 51");
    assert_eq!(history[99].text.as_str(), "message 150");
    server.shutdown().await;
}

/// Events queued for a connection while it was busy go out together: one
/// write, so one TCP segment, rather than one per event.
#[tokio::test]
async fn a_backlog_of_events_goes_out_in_one_write() {
    use flack::model::{ChannelName, DisplayName, Identity, MessageText};
    // No heartbeat pings during the test.
    let server = common::start_with(|s| s.idle_timeout_secs = 3600).await;
    let (_ada, mut bob) = two_in_general(server.addr, "ada", "bob").await;
    let general = ChannelName::parse("general").unwrap();
    // Bob's own arrival announced: every presence change so far is out,
    // and none is to come, so nothing but the twenty events can land.
    loop {
        if let ServerEvent::Presence { online, .. } = bob.next_any().await {
            if online.iter().any(|o| o.name.as_str() == "bob") {
                break;
            }
        }
    }
    let before = bob.data_segments_in();
    // Posted and stored without yielding: the twenty completions wait,
    // together, for the runtime, and Bob's connection (on this same
    // thread) then finds all twenty queued when it next runs.
    let author = Identity {
        id: 1,
        name: DisplayName::parse("ada").unwrap(),
    };
    let stored: Vec<_> = (1..=20)
        .map(|i| {
            let text = MessageText::parse(&format!("message {i}")).unwrap();
            server
                .hub
                .post(&general, &author, flack::server::hub::Draft::text(text))
        })
        .collect();
    while server.store().in_flight() > 0 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    for pending in stored {
        pending.await.unwrap();
    }
    for i in 1..=20 {
        match bob.next_in_channel().await {
            ServerEvent::Message { message, .. } => {
                assert_eq!(message.text.as_str(), format!("message {i}"));
            }
            other => panic!("expected message {i}, got {other:?}"),
        }
    }
    assert_eq!(bob.data_segments_in() - before, 1, "segments for 20 events");
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_sockets_as_going_away() {
    let server = start().await;
    let mut client = Client::connect(server.addr, None).await;
    let stopping = tokio::spawn(server.shutdown());
    let closed = tokio::time::timeout(common::PATIENCE, async {
        loop {
            match client.ws_next().await {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(_)) => continue,
                _ => return 0,
            }
        }
    })
    .await
    .expect("the socket is closed in time");
    assert_eq!(closed, 1001);
    stopping.await.unwrap();
}
