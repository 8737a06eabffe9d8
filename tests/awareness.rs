//! Who is around, over real sockets: unread counts shared by one
//! person's connections, typing throttled and never stored, presence.

#![cfg(feature = "ssr")]

mod common;

use common::{claim, create_channel, start, Client};
use flack::model::{ErrorCode, UnreadCount};
use flack::protocol::{ClientFrame, ServerEvent};

/// The next unread counts this client hears.
async fn next_counts(client: &mut Client) -> Vec<UnreadCount> {
    loop {
        if let ServerEvent::Unread { counts } = client.next_any().await {
            return counts;
        }
    }
}

/// Unread counts until one for `channel` says `unread`.
async fn counts_until(client: &mut Client, channel: &str, unread: u32) -> UnreadCount {
    loop {
        for count in next_counts(client).await {
            if count.channel.as_str() == channel && count.unread == unread {
                return count;
            }
        }
    }
}

#[tokio::test]
async fn unread_counts_follow_me_across_connections() {
    let server = start().await;
    let ada = claim(server.addr, "ada").await;
    let bob = claim(server.addr, "bob").await;
    create_channel(server.addr, &ada, "general").await;
    create_channel(server.addr, &ada, "random").await;
    let mut poster = Client::connect(server.addr, Some(&bob)).await;
    poster.join("general").await;
    poster.say("general", "one").await;
    poster.say("general", "two @ada").await;

    // A connection of mine elsewhere hears the new count live...
    let mut elsewhere = Client::connect(server.addr, Some(&ada)).await;
    let first = next_counts(&mut elsewhere).await;
    let general = first
        .iter()
        .find(|c| c.channel.as_str() == "general")
        .unwrap();
    assert!(general.unread <= 2);
    let general = counts_until(&mut elsewhere, "general", 2).await;
    assert_eq!((general.read, general.mentions), (0, 1));

    // ...and when I read it in another, hears that too.
    let mut reading = Client::connect(server.addr, Some(&ada)).await;
    reading.join("general").await;
    reading
        .send(&ClientFrame::Read {
            channel: "general".into(),
            seq: 2,
        })
        .await;
    let read = counts_until(&mut elsewhere, "general", 0).await;
    assert_eq!((read.read, read.mentions), (2, 0));
    // The author's own message never counted for the author.
    let mut bobs = Client::connect(server.addr, Some(&bob)).await;
    let theirs = next_counts(&mut bobs).await;
    assert!(theirs.iter().all(|c| c.unread == 0), "{theirs:?}");

    // Reading needs a name, and a channel that exists.
    let mut anonymous = Client::connect(server.addr, None).await;
    anonymous
        .send(&ClientFrame::Read {
            channel: "general".into(),
            seq: 1,
        })
        .await;
    assert_eq!(anonymous.expect_error().await.0, ErrorCode::NotSignedIn);
    reading
        .send(&ClientFrame::Read {
            channel: "nowhere".into(),
            seq: 1,
        })
        .await;
    assert_eq!(reading.expect_error().await.0, ErrorCode::UnknownChannel);
    server.shutdown().await;
}

/// The typing events `client` hears within a little over a second.
async fn typing_heard(client: &mut Client) -> Vec<bool> {
    let mut heard = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(1200);
    while let Ok(event) = tokio::time::timeout_at(deadline, client.next()).await {
        match event {
            ServerEvent::Typing { on, who, .. } => {
                assert_eq!(who.name.as_str(), "ada");
                heard.push(on);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    heard
}

#[tokio::test]
async fn typing_is_passed_on_at_most_once_per_interval_and_stop_once() {
    let server = start().await;
    let ada = claim(server.addr, "ada").await;
    let bob = claim(server.addr, "bob").await;
    create_channel(server.addr, &ada, "general").await;
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    let mut b = Client::connect(server.addr, Some(&bob)).await;
    a.join("general").await;
    b.join("general").await;
    let typing = |on| ClientFrame::Typing {
        channel: "general".into(),
        thread: None,
        on,
    };
    for _ in 0..5 {
        a.send(&typing(true)).await;
    }
    assert_eq!(typing_heard(&mut b).await, vec![true]);
    // Stopping is passed on once; a second stop is nothing new.
    a.send(&typing(false)).await;
    a.send(&typing(false)).await;
    assert_eq!(typing_heard(&mut b).await, vec![false]);
    // Typing never enters the history.
    assert!(b.join("general").await.is_empty());
    // Without a name it is refused.
    let mut anonymous = Client::connect(server.addr, None).await;
    anonymous.send(&typing(true)).await;
    assert_eq!(anonymous.expect_error().await.0, ErrorCode::NotSignedIn);
    server.shutdown().await;
}

#[tokio::test]
async fn people_go_online_with_a_first_connection_and_offline_with_the_last() {
    let server = start().await;
    let ada = claim(server.addr, "ada").await;
    let bob = claim(server.addr, "bob").await;
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    let b = Client::connect(server.addr, Some(&bob)).await;
    let bob_id = loop {
        if let ServerEvent::Presence { online, .. } = a.next_any().await {
            if let Some(bob) = online.iter().find(|o| o.name.as_str() == "bob") {
                break bob.id;
            }
        }
    };
    // A second tab, then the first closed: still online.
    let b2 = Client::connect(server.addr, Some(&bob)).await;
    b.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    b2.close().await;
    loop {
        if let ServerEvent::Presence { offline, online } = a.next_any().await {
            assert!(!online.iter().any(|o| o.id == bob_id));
            if offline.contains(&bob_id) {
                break;
            }
        }
    }
    server.shutdown().await;
}
