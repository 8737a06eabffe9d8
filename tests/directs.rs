//! Direct conversations and search over the real server: only the two
//! people of a conversation can reach anything of it, on every path
//! (socket, server functions, search), and a third person learns nothing,
//! not even that it exists; search finds what one may see, by current
//! text, never a deleted message, and beyond the last hundred.

#![cfg(feature = "ssr")]

mod common;

use common::{call, claim, create_channel, start, Client};
use flack::model::{ErrorCode, MessageContext, SearchHit};
use flack::protocol::{ClientFrame, ServerEvent};

/// The next message event's number.
async fn posted(client: &mut Client) -> u64 {
    match client.next_in_channel().await {
        ServerEvent::Message { message, .. } => message.seq,
        other => panic!("expected a message, got {other:?}"),
    }
}

async fn search(addr: std::net::SocketAddr, cookie: &str, query: &str) -> Vec<SearchHit> {
    let reply = call(addr, "search", &format!("query={query}"), Some(cookie)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

#[tokio::test]
async fn only_the_two_people_reach_a_direct_conversation_on_every_path() {
    let server = start().await;
    let ada = claim(server.addr, "ada").await;
    let bob = claim(server.addr, "bob").await;
    let cy = claim(server.addr, "cy").await;
    // Ada starts it by Bob's name; asking again gives the same one.
    let opened = call(server.addr, "open_direct", "name=bob", Some(&ada)).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    let key = opened.json()["name"].as_str().unwrap().to_owned();
    let again = call(server.addr, "open_direct", "name=ada", Some(&bob)).await;
    assert_eq!(again.json()["name"], key.as_str());
    let encoded = key.replace('@', "%40");
    // Nobody else's, and not a channel.
    let listed = call(server.addr, "list_channels", "", Some(&cy)).await;
    assert!(!listed.body.contains(&key), "{}", listed.body);
    assert_eq!(
        call(server.addr, "open_direct", "name=nobody", Some(&ada))
            .await
            .json()["code"],
        "unknown_person"
    );

    let mut a = Client::connect(server.addr, Some(&ada)).await;
    let mut b = Client::connect(server.addr, Some(&bob)).await;
    a.join(&key).await;
    b.join(&key).await;
    a.say(&key, "secret plans @cy").await;
    let seq = posted(&mut a).await;
    assert_eq!(posted(&mut b).await, seq);

    // Cy, on the socket: every frame is refused as if nothing were there.
    let mut c = Client::connect(server.addr, Some(&cy)).await;
    let frames = [
        ClientFrame::Join {
            channel: key.clone(),
            since: None,
        },
        ClientFrame::Send {
            channel: key.clone(),
            text: "let me in".into(),
            client_id: None,
            thread: None,
        },
        ClientFrame::Send {
            channel: key.clone(),
            text: "a reply".into(),
            client_id: None,
            thread: Some(seq),
        },
        ClientFrame::Edit {
            channel: key.clone(),
            seq,
            text: "forged".into(),
        },
        ClientFrame::React {
            channel: key.clone(),
            seq,
            emoji: "👍".into(),
            on: true,
        },
        ClientFrame::Delete {
            channel: key.clone(),
            seq,
        },
        ClientFrame::Read {
            channel: key.clone(),
            seq,
        },
        ClientFrame::Typing {
            channel: key.clone(),
            thread: None,
            on: true,
        },
    ];
    for frame in &frames {
        c.send(frame).await;
        let (code, message) = c.expect_error().await;
        assert_eq!(code, ErrorCode::UnknownChannel, "{frame:?}");
        // The same words as for a conversation that does not exist.
        assert!(message.contains(&key), "{message}");
    }
    // A made-up conversation of Cy's and Ada's that was never started
    // answers exactly the same.
    let never = flack::model::ChannelName::direct(1, 3).to_string();
    c.send(&ClientFrame::Join {
        channel: never.clone(),
        since: None,
    })
    .await;
    assert_eq!(c.expect_error().await.0, ErrorCode::UnknownChannel);

    // Cy, and someone without a name, by server function.
    let calls = [
        ("channel_history", format!("channel={encoded}")),
        ("older_messages", format!("channel={encoded}&before=100")),
        ("newer_messages", format!("channel={encoded}&after=0")),
        ("context", format!("channel={encoded}&seq={seq}")),
        ("thread", format!("channel={encoded}&parent={seq}")),
        ("members", format!("channel={encoded}")),
        (
            "edit_message",
            format!("channel={encoded}&seq={seq}&text=forged"),
        ),
        (
            "react",
            format!("channel={encoded}&seq={seq}&emoji=%F0%9F%91%8D&on=true"),
        ),
        ("delete_message", format!("channel={encoded}&seq={seq}")),
    ];
    for (endpoint, form) in &calls {
        let reply = call(server.addr, endpoint, form, Some(&cy)).await;
        assert_eq!(reply.status, 404, "{endpoint}: {}", reply.body);
        assert_eq!(reply.json()["code"], "unknown_channel", "{endpoint}");
        assert!(!reply.body.contains("secret"), "{endpoint}: {}", reply.body);
        let anonymous = call(server.addr, endpoint, form, None).await;
        assert!(anonymous.status >= 400, "{endpoint}: {}", anonymous.body);
        assert!(!anonymous.body.contains("secret"), "{endpoint}");
    }
    // The two of them can.
    let history = call(
        server.addr,
        "channel_history",
        &format!("channel={encoded}"),
        Some(&bob),
    )
    .await;
    assert!(history.body.contains("secret plans"), "{}", history.body);
    // Search: Ada and Bob find it, Cy does not.
    assert_eq!(search(server.addr, &ada, "secret").await.len(), 1);
    assert_eq!(search(server.addr, &bob, "plans").await.len(), 1);
    assert!(search(server.addr, &cy, "secret").await.is_empty());
    // Cy was named, but is not in it: no mention reaches Cy.
    c.send(&ClientFrame::Ping).await;
    assert_eq!(c.next_in_channel().await, ServerEvent::Pong);
    // Nothing changed: one message, as Ada wrote it.
    let messages = b.join(&key).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text.as_str(), "secret plans @cy");
    assert!(messages[0].mentions.is_empty());
    assert!(messages[0].reactions.is_empty());
    // Only its two people hear it exists.
    let hello = Client::connect(server.addr, Some(&cy)).await;
    drop(hello);
    server.shutdown().await;
}

#[tokio::test]
async fn search_finds_what_i_may_see_by_its_current_text_newest_first() {
    let server = common::start_with(|s| s.send_per_second = 0).await;
    let ada = claim(server.addr, "ada").await;
    create_channel(server.addr, &ada, "general").await;
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    a.join("general").await;
    a.say("general", "the Zebra crossing").await;
    let first = posted(&mut a).await;
    for i in 0..150 {
        a.say("general", &format!("filler {i}")).await;
        posted(&mut a).await;
    }
    a.say("general", "a zebra again").await;
    let last = posted(&mut a).await;
    a.say("general", "teh typo").await;
    let edited = posted(&mut a).await;
    a.say("general", "gone soon").await;
    let deleted = posted(&mut a).await;
    a.send(&ClientFrame::Edit {
        channel: "general".into(),
        seq: edited,
        text: "the fixed text".into(),
    })
    .await;
    a.send(&ClientFrame::Delete {
        channel: "general".into(),
        seq: deleted,
    })
    .await;
    a.say("general", "barrier").await;
    loop {
        if let ServerEvent::Message { message, .. } = a.next_in_channel().await {
            if message.text.as_str() == "barrier" {
                break;
            }
        }
    }

    // Newest first, beyond the last hundred, by word prefix, any case.
    let hits = search(server.addr, &ada, "ZEB").await;
    let seqs: Vec<u64> = hits.iter().map(|h| h.message.seq).collect();
    assert_eq!(seqs, vec![last, first]);
    assert!(hits.iter().all(|h| h.channel.as_str() == "general"));
    // Every word must be there.
    assert_eq!(search(server.addr, &ada, "zebra crossing").await.len(), 1);
    // Edited: found by the new text only. Deleted: never.
    assert!(search(server.addr, &ada, "teh").await.is_empty());
    assert_eq!(
        search(server.addr, &ada, "fixed").await[0].message.seq,
        edited
    );
    assert!(search(server.addr, &ada, "gone").await.is_empty());
    // Query syntax is only words: quotes, stars and operators are
    // nothing special, and nothing to search is no result, not an error.
    assert_eq!(search(server.addr, &ada, "%22zebra%22+OR+*").await.len(), 0);
    assert!(search(server.addr, &ada, "%22%28%29*").await.is_empty());
    // The first message is older than the window: its context opens the
    // channel there.
    let context = call(
        server.addr,
        "context",
        &format!("channel=general&seq={first}"),
        Some(&ada),
    )
    .await;
    let context: MessageContext = serde_json::from_str(&context.body).unwrap();
    assert_eq!(context.messages[0].seq, first);
    assert!(!context.more_before);
    assert!(context.more_after);
    assert_eq!(context.messages.len(), 26);
    server.shutdown().await;
}

#[tokio::test]
async fn a_socket_hears_nothing_more_of_a_conversation_once_its_identity_signs_out() {
    let server = start().await;
    let ada = claim(server.addr, "ada").await;
    let bob = claim(server.addr, "bob").await;
    let opened = call(server.addr, "open_direct", "name=bob", Some(&ada)).await;
    let key = opened.json()["name"].as_str().unwrap().to_owned();
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    let mut b = Client::connect(server.addr, Some(&bob)).await;
    a.join(&key).await;
    b.join(&key).await;

    // Bob signs out (in another tab, by the server function): his socket
    // is closed with the signed-out code, so what Ada says next cannot
    // reach it.
    let out = call(server.addr, "sign_out", "", Some(&bob)).await;
    assert_eq!(out.status, 200, "{}", out.body);
    let closed = loop {
        match tokio::time::timeout(common::PATIENCE, b.ws_next()).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let code: u16 = closed.expect("a close code").code.into();
    assert_eq!(code, flack::protocol::CLOSE_SIGNED_OUT);
    a.say(&key, "after he left").await;
    posted(&mut a).await;
    // Nothing but the end of the socket follows.
    while let Ok(Some(Ok(message))) = tokio::time::timeout(common::PATIENCE, b.ws_next()).await {
        assert!(
            !message.to_string().contains("after he left"),
            "a signed-out socket heard {message:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_page_load_from_another_sites_link_never_starts_a_conversation() {
    let server = start().await;
    let ada = claim(server.addr, "ada").await;
    claim(server.addr, "bob").await;
    let ada_id = server
        .identities
        .named(&flack::model::DisplayName::parse("ada").unwrap())
        .unwrap()
        .id;
    let load = |site: &'static str| {
        format!(
            "GET /dm/bob HTTP/1.1\r\nHost: {}\r\nCookie: {ada}\r\nSec-Fetch-Site: {site}\r\nSec-Fetch-Mode: navigate\r\nConnection: close\r\n\r\n",
            server.addr
        )
    };
    // Another site's link, followed with Ada's cookie: the page says how
    // to start it, and nothing was started.
    let page = common::http(server.addr, &load("cross-site")).await;
    assert_eq!(page.status, 403, "{}", page.head);
    assert!(
        page.body.contains("Start the conversation"),
        "{}",
        page.body
    );
    assert!(server.hub.directs(ada_id).is_empty());
    // Her own click (or the address typed in) starts it.
    let page = common::http(server.addr, &load("same-origin")).await;
    assert_eq!(page.status, 200, "{}", page.head);
    assert_eq!(server.hub.directs(ada_id).len(), 1);
    // Once it exists, any link shows it.
    let page = common::http(server.addr, &load("cross-site")).await;
    assert_eq!(page.status, 200, "{}", page.head);
    server.shutdown().await;
}
