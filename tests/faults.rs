//! Fault injection over real sockets: dropped connections, retried sends,
//! clients that stop reading, floods, and requests from other sites.

#![cfg(feature = "ssr")]

mod common;

use common::{call, claim, create_channel, http, start_with, Client, PATIENCE};
use flack::model::{ChannelName, ErrorCode, Message};
use flack::protocol::{ClientFrame, Cursor, ServerEvent};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// A server without the send limit, for tests that send a lot on purpose.
async fn unlimited() -> flack::host::Server {
    start_with(|s| s.send_per_second = 0).await
}

/// Applies events to a view as the browser does: by sequence, once.
fn apply(view: &mut Vec<Message>, cursor: &mut u64, events: Vec<ServerEvent>) {
    for event in events {
        match event {
            ServerEvent::Joined { messages, seq, .. } => {
                *view = messages;
                *cursor = seq;
            }
            ServerEvent::Message { message, .. } => {
                assert_eq!(
                    message.seq,
                    *cursor + 1,
                    "events arrive in order, none missing"
                );
                *cursor = message.seq;
                view.push(message);
                // The browser holds the last 100, as the server does.
                if view.len() > flack::model::HISTORY_LIMIT {
                    view.remove(0);
                }
            }
            ServerEvent::Deleted {
                seq, message_seq, ..
            } => {
                assert_eq!(seq, *cursor + 1);
                *cursor = seq;
                view.retain(|m| m.seq != message_seq);
            }
            ServerEvent::Resumed { seq, .. } => assert_eq!(seq, *cursor),
            other => panic!("unexpected {}", kind(&other)),
        }
    }
}

/// An event's type, for failure messages that stay short.
fn kind(event: &ServerEvent) -> String {
    serde_json::to_value(event).unwrap()["type"].to_string()
}

/// Bob follows "general", holds `before` messages, drops; Ada sends `missed`
/// more; Bob comes back with his cursor. Returns Bob's view and the
/// server's history afterwards.
async fn drop_and_resume(before: usize, missed: usize) -> (Vec<Message>, Vec<Message>, bool) {
    let server = unlimited().await;
    let ada = claim(server.addr, "ada").await;
    let bob = claim(server.addr, "bob").await;
    create_channel(server.addr, &ada, "general").await;
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    a.join("general").await;
    for i in 0..before {
        a.say("general", &format!("before {i}")).await;
    }
    // Ada saw all of her messages: the server has stored them.
    for _ in 0..before {
        a.next_in_channel().await;
    }

    let (mut b, epoch) = Client::hello_epoch(server.addr, Some(&bob)).await;
    let mut view = b.join("general").await;
    let mut cursor = view.last().map_or(0, |m| m.seq);
    assert_eq!(view.len(), before);
    b.close().await;

    for i in 0..missed {
        a.say("general", &format!("missed {i}")).await;
    }
    for _ in 0..missed {
        a.next_in_channel().await;
    }

    let mut b = Client::connect(server.addr, Some(&bob)).await;
    let events = b.resume("general", Cursor { epoch, seq: cursor }).await;
    let snapshot = matches!(events.last(), Some(ServerEvent::Joined { .. }));
    apply(&mut view, &mut cursor, events);

    // Live again: the next message arrives once, in order.
    a.say("general", "after").await;
    let next = b.next_in_channel().await;
    apply(&mut view, &mut cursor, vec![next]);

    let history = server
        .hub
        .history(&ChannelName::parse("general").unwrap(), None)
        .unwrap()
        .messages;
    server.shutdown().await;
    (view, history, snapshot)
}

#[tokio::test]
async fn a_reconnecting_client_gets_the_fifty_it_missed_exactly_once_in_order() {
    let (view, history, snapshot) = drop_and_resume(5, 50).await;
    assert!(!snapshot, "50 missed events are replayed, not a snapshot");
    assert_eq!(view.len(), 56);
    assert_eq!(
        view, history,
        "the client holds exactly what the server holds"
    );
    let texts: Vec<_> = view.iter().map(|m| m.text.as_str().to_owned()).collect();
    assert_eq!(texts[5], "missed 0");
    assert_eq!(texts[54], "missed 49");
    assert_eq!(texts[55], "after");
}

#[tokio::test]
async fn a_reconnecting_client_that_missed_a_hundred_and_fifty_gets_a_snapshot() {
    let (view, history, snapshot) = drop_and_resume(5, 150).await;
    assert!(snapshot, "150 missed events are beyond the log: a snapshot");
    assert_eq!(view.len(), 100);
    assert_eq!(view, history);
    assert_eq!(view[0].text.as_str(), "missed 51");
    assert_eq!(view[99].text.as_str(), "after");
}

#[tokio::test]
async fn deletions_missed_while_away_are_replayed() {
    let server = unlimited().await;
    let ada = claim(server.addr, "ada").await;
    create_channel(server.addr, &ada, "general").await;
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    let (mut b, epoch) = Client::hello_epoch(server.addr, None).await;
    a.join("general").await;
    b.join("general").await;
    for text in ["one", "two", "three"] {
        a.say("general", text).await;
    }
    let mut view = Vec::new();
    let mut cursor = 0;
    for _ in 0..3 {
        let event = b.next_in_channel().await;
        apply(&mut view, &mut cursor, vec![event]);
    }
    b.close().await;
    a.send(&ClientFrame::Delete {
        channel: "general".into(),
        seq: 2,
    })
    .await;
    a.say("general", "four").await;
    for _ in 0..5 {
        a.next_in_channel().await;
    }
    let mut b = Client::connect(server.addr, None).await;
    let events = b.resume("general", Cursor { epoch, seq: cursor }).await;
    assert!(matches!(
        events.last(),
        Some(ServerEvent::Resumed { seq: 5, .. })
    ));
    apply(&mut view, &mut cursor, events);
    let texts: Vec<_> = view.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["one", "three", "four"]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_cursor_from_before_a_restart_gets_a_snapshot() {
    let server = unlimited().await;
    let ada = claim(server.addr, "ada").await;
    create_channel(server.addr, &ada, "general").await;
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    a.join("general").await;
    a.say("general", "hello").await;
    a.next_in_channel().await;
    let stale = Cursor {
        epoch: "an-earlier-run".into(),
        seq: 0,
    };
    let events = a.resume("general", stale).await;
    assert!(
        matches!(&events[..], [ServerEvent::Joined { messages, seq: 1, .. }] if messages.len() == 1),
        "{events:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_send_retried_with_the_same_client_id_makes_one_message() {
    let server = unlimited().await;
    let ada = claim(server.addr, "ada").await;
    create_channel(server.addr, &ada, "general").await;
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    let mut watcher = Client::connect(server.addr, None).await;
    watcher.join("general").await;

    let send = ClientFrame::Send {
        channel: "general".into(),
        text: "only once".into(),
        client_id: Some("retry-me".into()),
        thread: None,
    };
    a.send(&send).await;
    let first = a.next_in_channel().await;
    // The first attempt's ack is "lost": the client reconnects and retries.
    drop(a);
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    a.send(&send).await;
    let second = a.next_in_channel().await;
    match (&first, &second) {
        (
            ServerEvent::Ack {
                client_id: c1,
                seq: s1,
                ..
            },
            ServerEvent::Ack {
                client_id: c2,
                seq: s2,
                ..
            },
        ) => {
            assert_eq!((c1.as_str(), c2.as_str()), ("retry-me", "retry-me"));
            assert_eq!(s1, s2, "the retry is acknowledged as the same message");
        }
        other => panic!("expected two acks, got {other:?}"),
    }
    let stored = server
        .hub
        .history(&ChannelName::parse("general").unwrap(), None)
        .unwrap()
        .messages;
    assert_eq!(stored.len(), 1);
    // Others get the message once, without the sender's client_id (it
    // goes to the sender only).
    match watcher.next_in_channel().await {
        ServerEvent::Message { message, .. } => assert_eq!(message.text.as_str(), "only once"),
        other => panic!("unexpected {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_hold_up_others_and_its_queue_is_capped() {
    let capacity = 64;
    let server = start_with(|s| {
        s.send_per_second = 0;
        s.fanout_capacity = capacity;
    })
    .await;
    let ada = claim(server.addr, "ada").await;
    create_channel(server.addr, &ada, "general").await;
    let general = ChannelName::parse("general").unwrap();

    let mut sleeper = Client::connect(server.addr, None).await;
    sleeper.join("general").await; // ...and then never reads again.
    let mut reader = Client::connect(server.addr, None).await;
    reader.join("general").await;
    let mut a = Client::connect(server.addr, Some(&ada)).await;

    // Large messages, so the sleeper's socket buffers fill up and its
    // connection task blocks: far more than its queue can hold. Ada waits
    // for each acknowledgement, so the reader can keep up.
    let text = "z".repeat(4000);
    let total: u64 = 5000;
    let sender = tokio::spawn(async move {
        for i in 0..total {
            a.send(&ClientFrame::Send {
                channel: "general".into(),
                text: text.clone(),
                client_id: Some(format!("s{i}")),
                thread: None,
            })
            .await;
            loop {
                if let ServerEvent::Ack { .. } = a.next_in_channel().await {
                    break;
                }
            }
        }
    });
    for expected in 1..=total {
        match reader.next_in_channel().await {
            ServerEvent::Message { message, .. } => assert_eq!(message.seq, expected),
            other => panic!("the reader got {} at {expected}", kind(&other)),
        }
    }
    sender.await.unwrap();
    assert_eq!(
        server.hub.queued(&general).unwrap(),
        capacity,
        "the sleeper's queue is full, and no larger"
    );

    // When the sleeper wakes, it is told to resync (a snapshot) rather
    // than handed the backlog.
    let mut saw_snapshot = false;
    let deadline = tokio::time::Instant::now() + PATIENCE * 4;
    while tokio::time::Instant::now() < deadline {
        match sleeper.next_in_channel().await {
            ServerEvent::Joined { seq, .. } => {
                saw_snapshot = true;
                if seq == total {
                    break;
                }
            }
            ServerEvent::Message { message, .. } if message.seq == total => break,
            _ => {}
        }
    }
    assert!(saw_snapshot, "the slow client was resynchronised");
    server.shutdown().await;
}

#[tokio::test]
async fn a_flood_is_limited_without_disconnecting_and_others_still_get_their_messages() {
    let server = start_with(|s| {
        s.send_burst = 10;
        s.send_per_second = 5;
    })
    .await;
    let ada = claim(server.addr, "ada").await;
    let bob = claim(server.addr, "bob").await;
    create_channel(server.addr, &ada, "general").await;
    let mut flooder = Client::connect(server.addr, Some(&ada)).await;
    let mut b = Client::connect(server.addr, Some(&bob)).await;
    let mut watcher = Client::connect(server.addr, None).await;
    watcher.join("general").await;

    for i in 0..40 {
        flooder
            .send(&ClientFrame::Send {
                channel: "general".into(),
                text: format!("flood {i}"),
                client_id: Some(format!("f{i}")),
                thread: None,
            })
            .await;
    }
    let mut accepted = 0;
    let mut limited = 0;
    for _ in 0..40 {
        match flooder.next_in_channel().await {
            ServerEvent::Ack { .. } => accepted += 1,
            ServerEvent::Error {
                code,
                message,
                client_id,
                retry_after_ms,
            } => {
                assert_eq!(code, ErrorCode::RateLimited);
                assert!(message.contains("too fast"), "{message}");
                assert!(client_id.is_some());
                assert!(retry_after_ms.is_some_and(|ms| ms > 0 && ms <= 1000));
                limited += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        (10..=12).contains(&accepted),
        "the burst got through: {accepted}"
    );
    assert_eq!(accepted + limited, 40);

    // Bob is not limited by Ada's flood, and the watcher gets his message.
    b.say("general", "I can still talk").await;
    let mut got = false;
    for _ in 0..=accepted {
        if let ServerEvent::Message { message, .. } = watcher.next_in_channel().await {
            if message.text.as_str() == "I can still talk" {
                got = true;
                break;
            }
        }
    }
    assert!(got);
    // The flooder's connection still works.
    flooder.still_works("general").await;
    server.shutdown().await;
}

#[tokio::test]
async fn channel_creation_is_capped_per_identity_per_minute() {
    let server = start_with(|s| s.channels_per_minute = 2).await;
    let ada = claim(server.addr, "ada").await;
    let bob = claim(server.addr, "bob").await;
    create_channel(server.addr, &ada, "one").await;
    create_channel(server.addr, &ada, "two").await;
    let reply = call(server.addr, "create_channel", "name=three", Some(&ada)).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.json()["code"], "rate_limited");
    create_channel(server.addr, &bob, "three").await;
    server.shutdown().await;
}

#[tokio::test]
async fn connections_per_address_are_capped_with_an_error_frame() {
    let server = start_with(|s| s.connections_per_ip = 2).await;
    let _one = Client::connect(server.addr, None).await;
    let _two = Client::connect(server.addr, None).await;
    let request = format!("ws://{}/ws", server.addr)
        .into_client_request()
        .unwrap();
    let (mut third, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    use futures_util::StreamExt;
    let frame = third.next().await.unwrap().unwrap();
    let event: ServerEvent = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert!(matches!(
        event,
        ServerEvent::Error {
            code: ErrorCode::TooManyConnections,
            ..
        }
    ));
    // Once the server has seen the first one go, a new one is let in.
    _one.close().await;
    let _again = Client::connect_when_admitted(server.addr, None).await;
    server.shutdown().await;
}

#[tokio::test]
async fn websocket_upgrades_from_other_sites_are_refused() {
    let server = start_with(|_| {}).await;
    let mut request = format!("ws://{}/ws", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_static("http://evil.example"));
    let refused = tokio_tungstenite::connect_async(request).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected a 403, got {:?}", other.map(|_| ())),
    }
    let mut request = format!("ws://{}/ws", server.addr)
        .into_client_request()
        .unwrap();
    let origin = format!("http://{}", server.addr);
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(&origin).unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    server.shutdown().await;
}

#[tokio::test]
async fn pages_carry_security_headers_and_a_nonce_csp() {
    let server = start_with(|_| {}).await;
    let reply = http(
        server.addr,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 200);
    let head = reply.head.to_ascii_lowercase();
    assert!(head.contains("x-content-type-options: nosniff"));
    assert!(head.contains("referrer-policy: same-origin"));
    let csp = reply
        .head
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("content-security-policy:")
        })
        .expect("a CSP header");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the CSP");
    assert!(
        reply.body.contains(&format!("nonce=\"{nonce}\"")),
        "the page's inline script carries the CSP's nonce"
    );
    // Every inline script carries it.
    let scripts = reply.body.matches("<script").count();
    let with_nonce = reply
        .body
        .matches(&format!("<script nonce=\"{nonce}\""))
        .count()
        + reply.body.matches(&format!("nonce=\"{nonce}\">")).count();
    assert!(
        scripts > 0 && with_nonce >= scripts,
        "{scripts} scripts, {with_nonce} with the nonce"
    );
    server.shutdown().await;
}

/// A WebSocket opened as if through a reverse proxy that says the client
/// is `forwarded_for`; its first event.
async fn connect_forwarded(
    addr: std::net::SocketAddr,
    forwarded_for: &str,
) -> (
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    ServerEvent,
) {
    use futures_util::StreamExt;
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request.headers_mut().insert(
        "x-forwarded-for",
        HeaderValue::from_str(forwarded_for).unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let frame = tokio::time::timeout(PATIENCE, socket.next())
        .await
        .expect("a first event")
        .unwrap()
        .unwrap();
    let event = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    (socket, event)
}

fn refused_as_too_many(event: &ServerEvent) -> bool {
    matches!(
        event,
        ServerEvent::Error {
            code: ErrorCode::TooManyConnections,
            ..
        }
    )
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_cap() {
    let server = start_with(|s| {
        s.connections_per_ip = 1;
        s.trusted_proxies = "127.0.0.0/8".parse().unwrap();
    })
    .await;
    let (_ann, first) = connect_forwarded(server.addr, "198.51.100.1").await;
    assert!(!refused_as_too_many(&first), "{first:?}");
    // Another person behind the same proxy.
    let (_bob, first) = connect_forwarded(server.addr, "198.51.100.2").await;
    assert!(!refused_as_too_many(&first), "{first:?}");
    // Ann's second connection is over her cap, whatever she wrote herself
    // before the proxy's entry.
    let (_again, first) = connect_forwarded(server.addr, "203.0.113.7, 198.51.100.1").await;
    assert!(refused_as_too_many(&first), "{first:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_address_is_ignored() {
    let server = start_with(|s| s.connections_per_ip = 1).await;
    let (_one, first) = connect_forwarded(server.addr, "198.51.100.1").await;
    assert!(!refused_as_too_many(&first), "{first:?}");
    // Claiming another address does not get around the cap.
    let (_two, first) = connect_forwarded(server.addr, "198.51.100.2").await;
    assert!(refused_as_too_many(&first), "{first:?}");
    server.shutdown().await;
}
