//! Who is around, over real sockets: unread counts shared by one
//! person's connections, typing throttled and never stored, presence.

#![cfg(feature = "ssr")]

mod common;

use common::{claim, create_channel, start, Client};
use flack::model::{ErrorCode, UnreadCount};
use flack::protocol::{ClientFrame, ServerEvent, TYPING_EVERY_MS};

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

/// Waits until the server has handled every frame `client` sent before:
/// frames are handled in order, and a ping is answered at once.
async fn handled(client: &mut Client) {
    client.send(&ClientFrame::Ping).await;
    while !matches!(client.next().await, ServerEvent::Pong) {}
}

/// Ada's typing events that `follower` hears before the marker that
/// `marker` (a third person in the channel) posts once Ada's connection
/// has handled all she sent: an exact list, with no waiting window.
async fn typing_heard(ada: &mut Client, marker: &mut Client, follower: &mut Client) -> Vec<bool> {
    handled(ada).await;
    marker.say("general", "marker").await;
    let mut heard = Vec::new();
    loop {
        match follower.next().await {
            ServerEvent::Typing { on, who, .. } => {
                assert_eq!(who.name.as_str(), "ada");
                heard.push(on);
            }
            ServerEvent::Message { message, .. } if message.text.as_str() == "marker" => {
                return heard;
            }
            ServerEvent::Message { .. } | ServerEvent::Ack { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn typing(on: bool) -> ClientFrame {
    ClientFrame::Typing {
        channel: "general".into(),
        thread: None,
        on,
    }
}

/// Ada, Bob (who follows) and Cy (who posts the markers), in "general".
async fn three_in_general(addr: std::net::SocketAddr) -> (Client, Client, Client) {
    let ada = claim(addr, "ada").await;
    let bob = claim(addr, "bob").await;
    let cy = claim(addr, "cy").await;
    create_channel(addr, &ada, "general").await;
    let mut a = Client::connect(addr, Some(&ada)).await;
    let mut b = Client::connect(addr, Some(&bob)).await;
    let mut c = Client::connect(addr, Some(&cy)).await;
    a.join("general").await;
    b.join("general").await;
    c.join("general").await;
    (a, b, c)
}

#[tokio::test]
async fn typing_is_passed_on_at_most_once_per_interval_and_stop_once() {
    let server = start().await;
    let (mut a, mut b, mut c) = three_in_general(server.addr).await;
    for _ in 0..5 {
        a.send(&typing(true)).await;
    }
    assert_eq!(typing_heard(&mut a, &mut c, &mut b).await, vec![true]);
    // Stopping is passed on once; a second stop is nothing new.
    a.send(&typing(false)).await;
    a.send(&typing(false)).await;
    assert_eq!(typing_heard(&mut a, &mut c, &mut b).await, vec![false]);
    // Typing never enters the history.
    assert!(b
        .join("general")
        .await
        .iter()
        .all(|m| m.text.as_str() == "marker"));
    // Without a name it is refused.
    let mut anonymous = Client::connect(server.addr, None).await;
    anonymous.send(&typing(true)).await;
    assert_eq!(anonymous.expect_error().await.0, ErrorCode::NotSignedIn);
    server.shutdown().await;
}

#[tokio::test]
async fn typing_on_and_off_in_turns_is_passed_on_once_each_per_interval() {
    let server = start().await;
    let (mut a, mut b, mut c) = three_in_general(server.addr).await;
    let started = std::time::Instant::now();
    for _ in 0..1000 {
        a.send(&typing(true)).await;
        a.send(&typing(false)).await;
    }
    handled(&mut a).await;
    let intervals = started.elapsed().as_millis() as usize / TYPING_EVERY_MS as usize + 1;
    // One "typing" and one "stopped" per interval, not a thousand of each
    // (which overflowed the follower's queue).
    let heard = typing_heard(&mut a, &mut c, &mut b).await;
    assert_eq!(heard[..2], [true, false]);
    let ons = heard.iter().filter(|on| **on).count();
    assert!(ons <= intervals, "{ons} in {intervals} intervals");
    assert_eq!(heard.len(), 2 * ons, "each stop follows a start: {heard:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn typing_again_soon_after_stopping_is_passed_on_when_the_interval_ends() {
    let server = start().await;
    let (mut a, mut b, mut c) = three_in_general(server.addr).await;
    a.send(&typing(true)).await;
    a.send(&typing(false)).await;
    a.send(&typing(true)).await;
    let mut heard = typing_heard(&mut a, &mut c, &mut b).await;
    assert_eq!(heard[..2], [true, false]);
    if heard.len() == 2 {
        // Not lost: it goes out when the interval ends.
        match b.next().await {
            ServerEvent::Typing { on, .. } => heard.push(on),
            other => panic!("expected typing, got {other:?}"),
        }
    }
    assert_eq!(heard, [true, false, true]);
    server.shutdown().await;
}

#[tokio::test]
async fn typing_right_after_a_send_is_passed_on() {
    let server = start().await;
    let (mut a, mut b, mut c) = three_in_general(server.addr).await;
    a.send(&typing(true)).await;
    a.say("general", "first line").await;
    // Her next line: the browser says "typing" at once, and so must the
    // server, though the last "typing" went out a moment ago.
    a.send(&typing(true)).await;
    assert_eq!(typing_heard(&mut a, &mut c, &mut b).await, vec![true, true]);
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
    while server.hub.connections(bob_id) < 2 {
        tokio::task::yield_now().await;
    }
    b.close().await;
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while server.hub.connections(bob_id) > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the close was never seen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Someone else comes online after that close was handled: the tick
    // that announces them has seen it, and Bob is still online.
    let cy = claim(server.addr, "cy").await;
    let c = Client::connect(server.addr, Some(&cy)).await;
    loop {
        if let ServerEvent::Presence { offline, online } = a.next_any().await {
            assert!(!offline.contains(&bob_id), "a second tab keeps Bob online");
            if online.iter().any(|o| o.name.as_str() == "cy") {
                break;
            }
        }
    }
    assert!(server.hub.is_online(bob_id));
    b2.close().await;
    loop {
        if let ServerEvent::Presence { offline, online } = a.next_any().await {
            assert!(!online.iter().any(|o| o.id == bob_id));
            if offline.contains(&bob_id) {
                break;
            }
        }
    }
    c.close().await;
    server.shutdown().await;
}
