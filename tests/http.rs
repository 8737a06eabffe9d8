//! Server functions over plain HTTP: identity, refusals with proper 4xx
//! statuses, and request limits.

#![cfg(feature = "ssr")]

mod common;

use common::{call, claim, create_channel, http, start, Client};
use flack::protocol::ServerEvent;

#[tokio::test]
async fn claiming_a_name_sets_an_http_only_cookie() {
    let server = start().await;
    let reply = call(server.addr, "claim_name", "name=%20Ada%20", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["name"], "Ada", "the name is trimmed");
    assert!(
        reply.json()["id"].as_u64().is_some(),
        "the identity has a number"
    );
    let header = reply
        .head
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: flack_token=")
        })
        .expect("a token cookie");
    assert!(header.contains("HttpOnly"), "{header}");
    assert!(header.contains("SameSite=Lax"), "{header}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_taken_name_is_refused_with_409() {
    let server = start().await;
    claim(server.addr, "Ada").await;
    let reply = call(server.addr, "claim_name", "name=aDA", None).await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.json()["code"], "name_taken");
    assert!(reply.json()["message"].as_str().unwrap().contains("taken"));
    assert!(reply.token_cookie().is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn the_holder_of_a_name_can_claim_it_again() {
    let server = start().await;
    let cookie = claim(server.addr, "ada").await;
    let reply = call(server.addr, "claim_name", "name=ada", Some(&cookie)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.token_cookie().as_deref(), Some(cookie.as_str()));
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_names_are_refused_with_400() {
    let server = start().await;
    for form in ["name=", "name=%20%20", &format!("name={}", "x".repeat(33))] {
        let reply = call(server.addr, "claim_name", form, None).await;
        assert_eq!(reply.status, 400, "{form}");
        assert_eq!(reply.json()["code"], "invalid_display_name");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn channel_creation_needs_a_name_and_a_free_valid_channel_name() {
    let server = start().await;
    let reply = call(server.addr, "create_channel", "name=general", None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["code"], "not_signed_in");

    let ada = claim(server.addr, "ada").await;
    let reply = call(server.addr, "create_channel", "name=General", Some(&ada)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["name"], "general", "names are lowered");

    let reply = call(server.addr, "create_channel", "name=GENERAL", Some(&ada)).await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.json()["code"], "channel_taken");

    let reply = call(server.addr, "create_channel", "name=no+spaces", Some(&ada)).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "invalid_channel_name");

    let list = call(server.addr, "list_channels", "", None).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.json().as_array().unwrap().len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn the_channel_cap_answers_429() {
    let server = common::start_with(|s| s.max_channels = 1).await;
    let ada = claim(server.addr, "ada").await;
    create_channel(server.addr, &ada, "one").await;
    let reply = call(server.addr, "create_channel", "name=two", Some(&ada)).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.json()["code"], "too_many_channels");
    server.shutdown().await;
}

#[tokio::test]
async fn deleting_someone_elses_message_through_a_server_function_is_refused() {
    let server = start().await;
    let ada = claim(server.addr, "ada").await;
    let mallory = claim(server.addr, "mallory").await;
    create_channel(server.addr, &ada, "general").await;
    let mut a = Client::connect(server.addr, Some(&ada)).await;
    a.join("general").await;
    a.say("general", "mine").await;
    let seq = match a.next_in_channel().await {
        ServerEvent::Message { message, .. } => message.seq,
        other => panic!("unexpected {other:?}"),
    };

    let form = format!("channel=general&seq={seq}");
    let reply = call(server.addr, "delete_message", &form, Some(&mallory)).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["code"], "not_author");
    let reply = call(server.addr, "delete_message", &form, None).await;
    assert_eq!(reply.status, 401);
    let history = call(server.addr, "channel_history", "channel=general", None).await;
    assert_eq!(history.json()["messages"].as_array().unwrap().len(), 1);

    let reply = call(server.addr, "delete_message", &form, Some(&ada)).await;
    assert_eq!(reply.status, 200);
    assert!(matches!(
        a.next_in_channel().await,
        ServerEvent::Deleted { .. }
    ));
    let reply = call(server.addr, "delete_message", &form, Some(&ada)).await;
    assert_eq!(reply.status, 404, "already gone");
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_server_function_calls_are_400_not_500() {
    let server = start().await;
    let ada = claim(server.addr, "ada").await;
    let reply = call(
        server.addr,
        "delete_message",
        "channel=general&seq=abc",
        Some(&ada),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.json()["code"], "bad_request");
    let reply = call(server.addr, "channel_history", "", None).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let reply = call(server.addr, "channel_history", "channel=nowhere", None).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["code"], "unknown_channel");
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_bodies_and_urls_are_refused() {
    let server = start().await;
    let big = format!("name={}", "x".repeat(64 * 1024));
    let reply = call(server.addr, "claim_name", &big, None).await;
    assert_eq!(reply.status, 413, "{}", reply.head);
    assert_eq!(reply.json()["code"], "request_too_large");

    let long = format!(
        "GET /c/{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    let reply = http(server.addr, &long).await;
    assert!(
        reply.status == 414 || reply.status == 431,
        "status {}",
        reply.status
    );
    server.shutdown().await;
}

#[tokio::test]
async fn pages_link_the_site_files_and_unknown_paths_are_a_404_page() {
    let server = start().await;
    let page = http(
        server.addr,
        "GET / HTTP/1.1\r\nHost: flack\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(page.status, 200);
    for link in [
        r#"rel="stylesheet" id="leptos" href="/pkg/flack."#,
        // The code is started from an inline script, once the page is drawn.
        r#"import("/pkg/flack.js")"#,
        r#"module_or_path: "/pkg/flack.wasm""#,
        r#"addEventListener("load", later)"#,
    ] {
        assert!(page.body.contains(link), "{link} in {}", page.body);
    }
    let icon = http(
        server.addr,
        "GET /favicon.svg HTTP/1.1\r\nHost: flack\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(icon.status, 200);
    assert!(
        icon.head
            .to_ascii_lowercase()
            .contains("content-type: image/svg+xml"),
        "{}",
        icon.head
    );
    let missing = http(
        server.addr,
        "GET /no/such/page HTTP/1.1\r\nHost: flack\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Page not found"), "{}", missing.body);
    server.shutdown().await;
}

/// Leptos keeps every resource in the process pending while it lists an
/// app's routes; starting a server (which lists them) must not stall the
/// pages another server in the same process is rendering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_while_another_server_starts() {
    let server = start().await;
    let starting = tokio::spawn(async {
        for _ in 0..50 {
            start().await.shutdown().await;
        }
    });
    for _ in 0..50 {
        let page = http(
            server.addr,
            "GET / HTTP/1.1\r\nHost: flack\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(page.status, 200);
    }
    starting.await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn pages_are_compressed_for_browsers_that_accept_it() {
    let server = start().await;
    let page = |encoding: &'static str| {
        format!("GET / HTTP/1.1\r\nHost: x\r\n{encoding}Connection: close\r\n\r\n")
    };
    for (accepts, encoding) in [
        ("Accept-Encoding: br\r\n", Some("br")),
        ("Accept-Encoding: gzip\r\n", Some("gzip")),
        ("", None),
    ] {
        let reply = http(server.addr, &page(accepts)).await;
        assert_eq!(reply.status, 200, "{accepts:?}");
        let head = reply.head.to_ascii_lowercase();
        let got = head
            .lines()
            .find_map(|l| l.strip_prefix("content-encoding: "))
            .map(str::trim);
        assert_eq!(got, encoding, "{accepts:?}: {head}");
        if encoding.is_none() {
            assert!(reply.body.contains("<html"), "plain HTML without one");
        }
    }
    server.shutdown().await;
}
