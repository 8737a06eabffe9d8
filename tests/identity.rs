//! Identities that hold: deletion by identity, not name; identities and
//! tokens that survive a restart; limits on claims; refusal of requests
//! from other sites; connections that stop answering.

mod common;

use common::{call, call_with, claim, create_channel, http, start_with, Client, TempDb};
use flack::model::ErrorCode;
use flack::protocol::{ClientFrame, ServerEvent};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Posts a message and returns its number.
async fn post(client: &mut Client, text: &str) -> u64 {
    client.say("general", text).await;
    match client.next_in_channel().await {
        ServerEvent::Message { message, .. } => message.seq,
        other => panic!("expected the message, got {other:?}"),
    }
}

#[tokio::test]
async fn a_released_name_claimed_again_gives_no_power_over_the_old_messages() {
    let server = start_with(|_| {}).await;
    let ada = claim(server.addr, "ada").await;
    create_channel(server.addr, &ada, "general").await;
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    a.join("general").await;
    let first = post(&mut a, "mine, before renaming").await;

    // Ada renames: "ada" is free again, and someone else takes it.
    let renamed = call(server.addr, "claim_name", "name=ada2", Some(&ada)).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let mallory = claim(server.addr, "ada").await;
    let form = format!("channel=general&seq={first}");
    let reply = call(server.addr, "delete_message", &form, Some(&mallory)).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(reply.json()["code"], "not_author");
    let mut m = Client::connect(server.addr, Some(&mallory)).await;
    m.send(&ClientFrame::Delete {
        channel: "general".into(),
        seq: first,
    })
    .await;
    assert_eq!(m.expect_error().await.0, ErrorCode::NotAuthor);

    // Ada signs out: the name is free, her messages stay hers to nobody.
    let second = post(&mut a, "mine, as ada2").await;
    let out = call(server.addr, "sign_out", "", Some(&ada)).await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(out.head.contains("Max-Age=0"), "the cookie is cleared");
    let again = call(server.addr, "claim_name", "name=ada2", Some(&mallory)).await;
    assert_eq!(again.status, 200, "ada2 is free after signing out");
    let form = format!("channel=general&seq={second}");
    let reply = call(server.addr, "delete_message", &form, Some(&mallory)).await;
    assert_eq!(reply.status, 403);
    // The signed-out token writes nothing any more.
    let reply = call(server.addr, "delete_message", &form, Some(&ada)).await;
    assert_eq!(reply.status, 401);
    let history = call(server.addr, "channel_history", "channel=general", None).await;
    assert_eq!(history.json()["messages"].as_array().unwrap().len(), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn identities_and_their_messages_survive_a_restart() {
    let db = TempDb::new("identities");
    let settings = |s: &mut flack::server::settings::Settings| s.database = db.path();
    let server = start_with(settings).await;
    let ada = claim(server.addr, "Ada").await;
    create_channel(server.addr, &ada, "general").await;
    let (mut a, epoch) = Client::hello_epoch(server.addr, Some(&ada)).await;
    a.join("general").await;
    let seq = post(&mut a, "kept").await;
    a.close().await;
    server.shutdown().await;

    let server = start_with(settings).await;
    // The same cookie is the same identity: the hello knows it.
    let (mut a, epoch_after) = Client::hello_epoch(server.addr, Some(&ada)).await;
    assert_eq!(epoch_after, epoch, "the epoch belongs to the store");
    let taken = call(server.addr, "claim_name", "name=ada", None).await;
    assert_eq!(taken.status, 409, "the name is still held");
    let messages = a.join("general").await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text.as_str(), "kept");
    let form = format!("channel=general&seq={seq}");
    let reply = call(server.addr, "delete_message", &form, Some(&ada)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    server.shutdown().await;
}

#[tokio::test]
async fn only_a_hash_of_each_token_is_stored() {
    let db = TempDb::new("hash");
    let server = start_with(|s| s.database = db.path()).await;
    let cookie = claim(server.addr, "ada").await;
    server.shutdown().await;
    let token = cookie.trim_start_matches("flack_token=");
    let bytes = std::fs::read(&db.0).unwrap();
    let found = bytes.windows(token.len()).any(|w| w == token.as_bytes());
    assert!(!found, "the token itself is not in the file");
}

#[tokio::test]
async fn claims_are_limited_per_address_but_signing_in_again_is_not() {
    let server = start_with(|s| s.claims_per_hour = 2).await;
    let ada = claim(server.addr, "ada").await;
    claim(server.addr, "bob").await;
    let third = call(server.addr, "claim_name", "name=carol", None).await;
    assert_eq!(third.status, 429, "{}", third.body);
    assert_eq!(third.json()["code"], "too_many_claims");
    assert!(third.token_cookie().is_none(), "no identity was made");
    for _ in 0..5 {
        let again = call(server.addr, "claim_name", "name=ada", Some(&ada)).await;
        assert_eq!(again.status, 200, "a returning browser signs in again");
    }
    server.shutdown().await;
}

/// Claims `name` as if through a reverse proxy that says the client is
/// `ip`; the answer's status.
async fn claim_forwarded(addr: std::net::SocketAddr, name: &str, ip: &str) -> u16 {
    let form = format!("name={name}");
    let header = format!("X-Forwarded-For: {ip}\r\n");
    call_with(addr, "claim_name", &form, None, &header)
        .await
        .status
}

#[tokio::test]
async fn name_claims_are_counted_per_forwarded_address_only_from_trusted_proxies() {
    let server = start_with(|s| {
        s.claims_per_hour = 1;
        s.trusted_proxies = "127.0.0.1".parse().unwrap();
    })
    .await;
    assert_eq!(
        claim_forwarded(server.addr, "ada", "198.51.100.1").await,
        200
    );
    assert_eq!(
        claim_forwarded(server.addr, "bob", "198.51.100.1").await,
        429
    );
    // Another person behind the same proxy.
    assert_eq!(
        claim_forwarded(server.addr, "cy", "198.51.100.2").await,
        200
    );
    server.shutdown().await;

    // Not trusted: the header changes nothing.
    let server = start_with(|s| s.claims_per_hour = 1).await;
    assert_eq!(
        claim_forwarded(server.addr, "ada", "198.51.100.1").await,
        200
    );
    assert_eq!(
        claim_forwarded(server.addr, "bob", "198.51.100.2").await,
        429
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_number_of_identities_is_capped() {
    let server = start_with(|s| s.max_identities = 2).await;
    claim(server.addr, "ada").await;
    claim(server.addr, "bob").await;
    let third = call(server.addr, "claim_name", "name=carol", None).await;
    assert_eq!(third.status, 429);
    assert_eq!(third.json()["code"], "too_many_identities");
    server.shutdown().await;
}

#[tokio::test]
async fn requests_from_other_sites_are_refused_and_change_nothing() {
    let server = start_with(|_| {}).await;
    let ada = claim(server.addr, "ada").await;
    for headers in [
        "Origin: http://evil.example\r\n",
        "Sec-Fetch-Site: cross-site\r\n",
        "Origin: null\r\n",
    ] {
        let reply = call_with(server.addr, "claim_name", "name=eve", None, headers).await;
        assert_eq!(reply.status, 403, "{headers}: {}", reply.body);
        assert_eq!(reply.json()["code"], "cross_site");
        assert!(reply.token_cookie().is_none());
        let reply = call_with(server.addr, "sign_out", "", Some(&ada), headers).await;
        assert_eq!(reply.status, 403);
        let reply = call_with(server.addr, "create_channel", "name=x", Some(&ada), headers).await;
        assert_eq!(reply.status, 403);
    }
    // Ada is still signed in, nobody is "eve", nothing was created.
    let again = call(server.addr, "claim_name", "name=ada", Some(&ada)).await;
    assert_eq!(again.status, 200);
    claim(server.addr, "eve").await;
    assert!(server.hub.channels().is_empty());
    // The site's own pages, and tools without an Origin, are fine.
    let own = format!(
        "Origin: http://{}\r\nSec-Fetch-Site: same-origin\r\n",
        server.addr
    );
    let reply = call_with(server.addr, "create_channel", "name=ok", Some(&ada), &own).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    server.shutdown().await;
}

#[tokio::test]
async fn a_socket_that_never_answers_pings_is_closed_and_its_slot_freed() {
    let server = start_with(|s| {
        s.idle_timeout_secs = 3;
        s.connections_per_ip = 1;
    })
    .await;
    let mut silent = Client::connect(server.addr, None).await;
    // Never read, so never answer a ping: the server gives up on it at its
    // first heartbeat (every third of the timeout) after 3 s of silence,
    // so by 4 s. Reading earlier would answer its pings.
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let mut pinged = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, silent.ws_next()).await {
            Ok(Some(Ok(WsMessage::Ping(_)))) => pinged = true,
            Ok(Some(Ok(WsMessage::Close(frame)))) => {
                let frame = frame.expect("a close frame with a code");
                assert_eq!(u16::from(frame.code), 1001, "{frame:?}");
                break;
            }
            Ok(Some(Ok(_))) => {}
            // Closed by the server while this client's late pong was
            // still being written.
            Ok(Some(Err(_)) | None) => break,
            Err(_) => panic!("the silent socket was not closed"),
        }
    }
    assert!(pinged, "it was pinged first");
    // Its place in the address's count is free again.
    let mut next = Client::connect_when_admitted(server.addr, None).await;
    next.send(&ClientFrame::Ping).await;
    assert_eq!(next.next().await, ServerEvent::Pong);
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_answers_pings_stays_connected() {
    let server = start_with(|s| s.idle_timeout_secs = 3).await;
    let mut client = Client::connect(server.addr, None).await;
    // Reading answers the server's pings (tungstenite pongs by itself).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(7);
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout_at(deadline, client.ws_next()).await {
            Err(_) => break,
            Ok(Some(Ok(WsMessage::Close(frame)))) => panic!("closed: {frame:?}"),
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("the socket failed: {other:?}"),
        }
    }
    client.send(&ClientFrame::Ping).await;
    assert_eq!(client.next().await, ServerEvent::Pong);
    server.shutdown().await;
}

/// Markup in a URL must never reach the server-rendered HTML as markup:
/// not in the title, nor anywhere else.
#[tokio::test]
async fn markup_in_the_path_is_never_rendered_as_markup() {
    let server = start_with(|_| {}).await;
    let ada = claim(server.addr, "ada").await;
    create_channel(server.addr, &ada, "general").await;
    let payload = "%3C/title%3E%3Cmeta%20http-equiv=%22refresh%22%20content=%220;url=https://evil.example%22%3E";
    for path in [
        format!("/c/{payload}"),
        format!("/c/general?x={payload}"),
        format!("/{payload}"),
        format!("/c/{payload}/more"),
        format!("/?q={payload}"),
    ] {
        let page = http(
            server.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: flack\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(
            page.status == 200 || page.status == 404,
            "{path}: {}",
            page.status
        );
        let lower = page.body.to_ascii_lowercase();
        assert!(!lower.contains("http-equiv"), "{path}: {}", page.body);
        assert!(!lower.contains("</title><meta"), "{path}");
        assert!(!lower.contains("<meta http"), "{path}");
        assert!(!lower.contains("evil.example"), "{path}: echoed");
        let title = lower
            .split_once("<title>")
            .and_then(|(_, rest)| rest.split_once("</title>"))
            .map(|(title, _)| title.to_owned());
        assert!(
            title.as_deref().is_some_and(|t| t.ends_with("flack")),
            "{path}: {title:?}"
        );
    }
    server.shutdown().await;
}
