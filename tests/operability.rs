//! Running Flack in production: its log lines (no colour codes off a
//! terminal, JSON on request, refusals logged in the span of the
//! connection or call that answered them, group commits at debug), a
//! settings error said on standard error, `/healthz`, and Prometheus
//! metrics on an address of their own.

#![cfg(feature = "ssr")]

mod common;

use common::{call, call_with, claim, create_channel, http, start, start_with, Client, PATIENCE};
use flack::model::ErrorCode;
use flack::protocol::ServerEvent;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use tokio_tungstenite::tungstenite::Message;

/// The real binary, started on port 0 with an empty database and no
/// settings file, its standard output piped.
struct Flack {
    child: Child,
    addr: SocketAddr,
}

impl Flack {
    async fn start(extra: &[&str], rust_log: &str) -> Flack {
        let addr_file: PathBuf = std::env::temp_dir().join(format!(
            "flack-ops-{}-{:x}.addr",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut command = Command::new(env!("CARGO_BIN_EXE_flack"));
        command
            .args(["--addr", "127.0.0.1:0", "--addr-file"])
            .arg(&addr_file)
            .args(["--database", ":memory:"])
            .args(["--config", "/nonexistent/Leptos.toml"])
            .args(["--claims-per-hour", "0"])
            .args(extra)
            .env("RUST_LOG", rust_log)
            // Nothing of the environment the tests run in decides the format.
            .env_remove("NO_COLOR")
            .env_remove("FLACK_LOG_FORMAT")
            .env_remove("FLACK_METRICS_ADDR")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let child = command.spawn().expect("the server binary starts");
        // The address file is written once the server accepts
        // connections, right after it logged that it listens.
        let addr = common::listening_at(&addr_file).await;
        Flack { child, addr }
    }

    /// Kills it; everything it wrote on standard output.
    fn output(mut self) -> String {
        self.child.kill().expect("the server is killed");
        let output = self.child.wait_with_output().expect("its output is read");
        String::from_utf8(output.stdout).expect("log lines are UTF-8")
    }
}

/// Each non-empty line, parsed as a JSON object.
fn json_lines(output: &str) -> Vec<serde_json::Map<String, Value>> {
    output
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| match serde_json::from_str(line) {
            Ok(Value::Object(object)) => object,
            other => panic!("not a JSON object ({other:?}): {line}"),
        })
        .collect()
}

#[tokio::test]
async fn log_lines_have_no_colour_codes_when_stdout_is_not_a_terminal() {
    let flack = Flack::start(&[], "info").await;
    let output = flack.output();
    assert!(output.contains("Flack is listening"), "{output}");
    for line in output.lines() {
        assert!(!line.contains('\x1b'), "a colour code in: {line:?}");
    }
}

#[tokio::test]
async fn json_log_lines_are_objects_with_a_level() {
    let flack = Flack::start(&["--log-format", "json"], "info").await;
    let output = flack.output();
    let lines = json_lines(&output);
    assert!(
        lines.iter().any(|line| line["fields"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("Flack is listening")),
        "{output}"
    );
    for line in &lines {
        assert!(line.get("level").is_some_and(Value::is_string), "{line:?}");
    }
}

/// The refusal lines logged, with their span.
fn refusals(lines: &[serde_json::Map<String, Value>], code: &str) -> Vec<Value> {
    lines
        .iter()
        .filter(|line| line["fields"]["message"] == "refused" && line["fields"]["code"] == code)
        .map(|line| {
            assert_eq!(line["level"], "INFO", "{line:?}");
            line.get("span").cloned().unwrap_or(Value::Null)
        })
        .collect()
}

#[tokio::test]
async fn refusals_are_logged_in_the_span_of_their_connection_or_call() {
    let flack = Flack::start(&["--log-format", "json"], "info").await;
    let addr = flack.addr;
    let ada = claim(addr, "ada").await;
    let id = call(addr, "claim_name", "name=ada", Some(&ada))
        .await
        .json()["id"]
        .as_u64()
        .expect("an identity id");
    create_channel(addr, &ada, "general").await;

    // Server functions refused: not signed in, and from another site.
    let reply = call(addr, "create_channel", "name=random", None).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    let elsewhere = "Origin: https://elsewhere.example\r\n";
    let reply = call_with(addr, "list_channels", "", None, elsewhere).await;
    assert_eq!(reply.status, 403, "{}", reply.body);

    // On a socket: a bad channel name before any join, then an empty
    // message in the channel followed.
    let mut client = Client::connect(addr, Some(&ada)).await;
    client
        .send_raw(Message::text(r#"{"type":"join","channel":"Bad Name!"}"#))
        .await;
    assert_eq!(client.expect_error().await.0, ErrorCode::InvalidChannelName);
    client.join("general").await;
    client.say("general", "").await;
    assert_eq!(client.expect_error().await.0, ErrorCode::InvalidMessage);
    // Anonymous: no identity in its span.
    let mut anonymous = Client::connect(addr, None).await;
    anonymous.say("general", "hello").await;
    assert_eq!(anonymous.expect_error().await.0, ErrorCode::NotSignedIn);

    let output = flack.output();
    let lines = json_lines(&output);

    let called = refusals(&lines, "not_signed_in");
    let call_span = called
        .iter()
        .find(|span| span["name"] == "server_fn")
        .unwrap_or_else(|| panic!("no refusal in a server_fn span: {output}"));
    assert_eq!(call_span["endpoint"], "create_channel", "{call_span}");

    let cross_site = lines
        .iter()
        .find(|line| line["fields"]["code"] == "cross_site")
        .unwrap_or_else(|| panic!("no cross-site refusal logged: {output}"));
    assert_eq!(cross_site["level"], "INFO", "{cross_site:?}");
    assert_eq!(cross_site["span"]["name"], "server_fn", "{cross_site:?}");
    assert_eq!(
        cross_site["span"]["endpoint"], "list_channels",
        "{cross_site:?}"
    );

    let bad_name = refusals(&lines, "invalid_channel_name");
    let [span] = bad_name.as_slice() else {
        panic!("one invalid_channel_name refusal expected: {output}");
    };
    assert_eq!(span["name"], "connection", "{span}");
    assert_eq!(span["identity"], id, "{span}");
    assert!(
        span["peer"]
            .as_str()
            .is_some_and(|p| p.starts_with("127.0.0.1:")),
        "{span}"
    );
    assert!(
        span.get("channel").is_none(),
        "no channel before a join: {span}"
    );

    let empty = refusals(&lines, "invalid_message");
    let [span] = empty.as_slice() else {
        panic!("one invalid_message refusal expected: {output}");
    };
    assert_eq!(span["name"], "connection", "{span}");
    assert_eq!(span["channel"], "general", "{span}");

    let anonymous = called
        .iter()
        .find(|span| span["name"] == "connection")
        .unwrap_or_else(|| panic!("no refusal in an anonymous connection's span: {output}"));
    assert!(anonymous.get("identity").is_none(), "{anonymous}");
}

#[tokio::test]
async fn group_commits_are_logged_at_debug_with_their_writes_and_duration() {
    let flack = Flack::start(&["--log-format", "json"], "info,flack::server::store=debug").await;
    let ada = claim(flack.addr, "ada").await;
    create_channel(flack.addr, &ada, "general").await;
    let output = flack.output();
    let commits: Vec<_> = json_lines(&output)
        .into_iter()
        .filter(|line| line["fields"]["message"] == "group committed")
        .collect();
    assert!(!commits.is_empty(), "{output}");
    for commit in &commits {
        assert_eq!(commit["level"], "DEBUG", "{commit:?}");
        assert!(
            commit["fields"]["writes"].as_u64().is_some_and(|n| n >= 1),
            "{commit:?}"
        );
        assert!(commit["fields"]["micros"].is_u64(), "{commit:?}");
    }
}

#[test]
fn a_bad_setting_is_said_on_stderr_with_a_failing_exit() {
    let output = Command::new(env!("CARGO_BIN_EXE_flack"))
        .args(["--addr", "127.0.0.1:0", "--database", ":memory:"])
        .args(["--config", "/nonexistent/Leptos.toml"])
        .args(["--metrics-addr", "localhost"])
        .env_remove("FLACK_LOG_FORMAT")
        .output()
        .expect("the server binary runs");
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("metrics_addr: \u{201c}localhost\u{201d} is not an address"),
        "{stderr}"
    );
}

async fn get(addr: SocketAddr, path: &str) -> common::Reply {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await
}

#[tokio::test]
async fn healthz_is_ok_while_the_store_answers_and_503_once_it_is_closed() {
    let server = start().await;
    let reply = get(server.addr, "/healthz").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, "ok");

    let store = server.store().clone();
    tokio::task::spawn_blocking(move || store.close())
        .await
        .unwrap();
    let reply = get(server.addr, "/healthz").await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.body.contains("closed"), "{}", reply.body);
    assert!(
        reply
            .head
            .to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{}",
        reply.head
    );
    server.shutdown().await;
}

/// The value of the sample `name` (with its labels) in an exposition.
fn sample(exposition: &str, name: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_and_never_on_the_public_one() {
    let server = start_with(|s| s.metrics_addr = "127.0.0.1:0".into()).await;
    let metrics = server.metrics_addr.expect("metrics are served");
    assert_ne!(metrics, server.addr);

    let ada = claim(server.addr, "ada").await;
    create_channel(server.addr, &ada, "general").await;
    let mut client = Client::connect(server.addr, Some(&ada)).await;
    client.join("general").await;
    client.say("general", "hello").await;
    match client.next_in_channel().await {
        ServerEvent::Message { message, .. } => assert_eq!(message.text.as_str(), "hello"),
        other => panic!("expected the message, got {other:?}"),
    }
    client
        .send_raw(Message::text(r#"{"type":"join","channel":"Bad Name!"}"#))
        .await;
    assert_eq!(client.expect_error().await.0, ErrorCode::InvalidChannelName);

    let reply = get(metrics, "/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let text = &reply.body;
    assert!(text.contains("flack_connections"), "{text}");
    assert!(text.contains("flack_commit_seconds"), "{text}");
    assert!(text.contains("flack_fanout_queued_max"), "{text}");
    // Counters are the process's: other servers of this test binary add
    // to them.
    let messages = sample(text, "flack_messages_total").expect("flack_messages_total");
    assert!(messages >= 1.0, "{text}");
    let refused = sample(text, r#"flack_refusals_total{code="invalid_channel_name"}"#)
        .expect("the refusal counted by code");
    assert!(refused >= 1.0, "{text}");

    // Only /metrics there; and never on the public address.
    assert_eq!(get(metrics, "/").await.status, 404);
    let public = get(server.addr, "/metrics").await;
    assert_eq!(public.status, 404, "{}", public.body);
    assert!(
        !public.body.contains("flack_connections"),
        "{}",
        public.body
    );

    client.close().await;
    tokio::time::timeout(PATIENCE, server.shutdown())
        .await
        .expect("the server stops");
    assert!(
        tokio::net::TcpStream::connect(metrics).await.is_err(),
        "the metrics listener is closed on shutdown"
    );
}

#[tokio::test]
async fn without_metrics_addr_no_metrics_are_served() {
    let server = start().await;
    assert_eq!(server.metrics_addr, None);
    assert_eq!(get(server.addr, "/metrics").await.status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn two_servers_in_one_process_both_serve_metrics() {
    let first = start_with(|s| s.metrics_addr = "127.0.0.1:0".into()).await;
    let second = start_with(|s| s.metrics_addr = "127.0.0.1:0".into()).await;
    for server in [&first, &second] {
        let metrics = server.metrics_addr.expect("metrics are served");
        let reply = get(metrics, "/metrics").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    first.shutdown().await;
    second.shutdown().await;
}

#[tokio::test]
async fn the_connection_gauge_counts_an_open_socket() {
    // Sockets of other tests of this binary come and go: a socket held
    // open is at least one.
    let server = start_with(|s| s.metrics_addr = "127.0.0.1:0".into()).await;
    let metrics = server.metrics_addr.expect("metrics are served");
    let client = Client::connect(server.addr, None).await;
    let text = get(metrics, "/metrics").await.body;
    let open = sample(&text, "flack_connections").expect("flack_connections");
    assert!(open >= 1.0, "{text}");
    client.close().await;
    server.shutdown().await;
}
