//! A real server on 127.0.0.1:0, and clients that speak its protocols
//! over real sockets: plain HTTP/1.1 for server functions, WebSockets for
//! the documented frames.

#![allow(dead_code)]

use flack::host::Server;
use flack::protocol::{ClientFrame, ServerEvent};
use flack::server::settings::Settings;
use futures_util::{SinkExt, StreamExt};
use leptos::prelude::LeptosOptions;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for an event it expects.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub async fn start() -> Server {
    start_with(|_| {}).await
}

pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> Server {
    let mut settings = Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        database: ":memory:".into(),
        // Tests claim many names from one address.
        claims_per_hour: 0,
        ..Settings::default()
    };
    adjust(&mut settings);
    let options = LeptosOptions::builder().output_name("flack").build();
    Server::bind(settings, options)
        .await
        .expect("the server binds")
}

/// A response to a plain HTTP request.
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The `flack_token=...` pair of a Set-Cookie header.
    pub fn token_cookie(&self) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            if !name.eq_ignore_ascii_case("set-cookie") {
                return None;
            }
            let pair = value.trim().split(';').next()?.to_owned();
            pair.starts_with("flack_token=").then_some(pair)
        })
    }
}

/// Sends one HTTP/1.1 request and reads the whole response.
pub async fn http(addr: SocketAddr, request: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("the server answers")
        .unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Reply {
        status,
        head: head.to_owned(),
        body: if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        // A compressed body, read lossily as text, has no such boundaries.
        let (Some(chunk), Some(after)) = (rest.get(..size), rest.get(size..)) else {
            break;
        };
        if size == 0 {
            break;
        }
        out.push_str(chunk);
        body = after.trim_start_matches("\r\n");
    }
    out
}

/// Calls a server function with form-encoded arguments.
pub async fn call(addr: SocketAddr, endpoint: &str, form: &str, cookie: Option<&str>) -> Reply {
    call_with(addr, endpoint, form, cookie, "").await
}

/// Calls a server function, with more header lines (each ending in CRLF).
pub async fn call_with(
    addr: SocketAddr,
    endpoint: &str,
    form: &str,
    cookie: Option<&str>,
    headers: &str,
) -> Reply {
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST /api/{endpoint} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\n{cookie}{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    http(addr, &request).await
}

/// The address a server binary started with `--addr-file path` listens
/// on, once it has written it (then the file is removed).
pub async fn listening_at(path: impl AsRef<std::path::Path>) -> SocketAddr {
    let path = path.as_ref();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(addr) = std::fs::read_to_string(path) {
            let _ = std::fs::remove_file(path);
            return addr.parse().expect("an address");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A database file of the test's own, removed (with its WAL) on drop.
pub struct TempDb(pub std::path::PathBuf);

impl TempDb {
    pub fn new(tag: &str) -> Self {
        let random: u64 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        TempDb(
            std::env::temp_dir().join(format!("flack-{tag}-{}-{random:x}.db", std::process::id())),
        )
    }

    pub fn path(&self) -> String {
        self.0.to_str().unwrap().to_owned()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = self.0.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
}

/// Claims a display name; returns the cookie pair to send back.
pub async fn claim(addr: SocketAddr, name: &str) -> String {
    let reply = call(addr, "claim_name", &format!("name={name}"), None).await;
    assert_eq!(reply.status, 200, "claiming {name}: {}", reply.body);
    reply
        .token_cookie()
        .expect("claiming sets the token cookie")
}

/// Creates a channel as the holder of `cookie`.
pub async fn create_channel(addr: SocketAddr, cookie: &str, name: &str) {
    let reply = call(
        addr,
        "create_channel",
        &format!("name={name}"),
        Some(cookie),
    )
    .await;
    assert_eq!(reply.status, 200, "creating {name}: {}", reply.body);
}

/// Two people, `first` (who creates it) and `second`, both following the
/// channel "general".
pub async fn two_in_general(addr: SocketAddr, first: &str, second: &str) -> (Client, Client) {
    let first = claim(addr, first).await;
    let second = claim(addr, second).await;
    create_channel(addr, &first, "general").await;
    let mut a = Client::connect(addr, Some(&first)).await;
    let mut b = Client::connect(addr, Some(&second)).await;
    a.join("general").await;
    b.join("general").await;
    (a, b)
}

/// A WebSocket client speaking the documented protocol.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// Connects (with the identity cookie, if any) and reads the hello.
    pub async fn connect(addr: SocketAddr, cookie: Option<&str>) -> Client {
        Client::hello_epoch(addr, cookie).await.0
    }

    pub async fn send(&mut self, frame: &ClientFrame) {
        self.send_raw(Message::text(serde_json::to_string(frame).unwrap()))
            .await;
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.unwrap();
    }

    /// The next event but those about who is around (unread counts,
    /// presence, members), which come at their own pace; panics after
    /// [`PATIENCE`] or if the socket closed.
    pub async fn next(&mut self) -> ServerEvent {
        loop {
            match self.next_any().await {
                ServerEvent::Unread { .. }
                | ServerEvent::Presence { .. }
                | ServerEvent::Member { .. } => continue,
                other => return other,
            }
        }
    }

    /// The next event, whatever it is.
    pub async fn next_any(&mut self) -> ServerEvent {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("an event arrives in time")
                .expect("the socket is open")
                .expect("the socket works");
            match message {
                Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                Message::Close(frame) => panic!("the server closed the socket: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Connects once the server lets this address in: a refusal for too
    /// many connections (a closed one may not be counted out yet) is
    /// retried, as a client backing off would, for up to [`PATIENCE`].
    pub async fn connect_when_admitted(addr: SocketAddr, cookie: Option<&str>) -> Client {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let mut client = Client::open(addr, cookie).await;
            match client.next_any().await {
                ServerEvent::Hello { .. } => return client,
                ServerEvent::Error {
                    code: flack::model::ErrorCode::TooManyConnections,
                    ..
                } => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "a closed connection still counts against the address"
                    );
                    // The refused socket is closed by the server: wait for it.
                    while let Some(Ok(message)) = client.ws.next().await {
                        if message.is_close() {
                            break;
                        }
                    }
                }
                other => panic!("expected hello, got {other:?}"),
            }
        }
    }

    /// Opens a socket with the identity cookie, if any; nothing read yet.
    async fn open(addr: SocketAddr, cookie: Option<&str>) -> Client {
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        if let Some(cookie) = cookie {
            request
                .headers_mut()
                .insert("cookie", HeaderValue::from_str(cookie).unwrap());
        }
        let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Client { ws }
    }

    /// Connects like [`Client::connect`], also returning the server's epoch.
    pub async fn hello_epoch(addr: SocketAddr, cookie: Option<&str>) -> (Client, String) {
        let mut client = Client::open(addr, cookie).await;
        match client.next_any().await {
            ServerEvent::Hello { epoch, .. } => (client, epoch),
            other => panic!("expected hello, got {other:?}"),
        }
    }

    /// Joins from a cursor; every event up to and including the answer
    /// (`resumed` or `joined`).
    pub async fn resume(
        &mut self,
        channel: &str,
        since: flack::protocol::Cursor,
    ) -> Vec<ServerEvent> {
        self.send(&ClientFrame::Join {
            channel: channel.into(),
            since: Some(since),
        })
        .await;
        let mut events = Vec::new();
        loop {
            let event = self.next_in_channel().await;
            let done = matches!(
                event,
                ServerEvent::Resumed { .. } | ServerEvent::Joined { .. }
            );
            events.push(event);
            if done {
                return events;
            }
        }
    }

    /// How many TCP segments carrying data this client has received
    /// (Linux's `tcpi_data_segs_in`).
    pub fn data_segments_in(&self) -> u32 {
        use std::os::fd::AsRawFd;
        let MaybeTlsStream::Plain(tcp) = self.ws.get_ref() else {
            panic!("test clients do not use TLS");
        };
        // SAFETY: `info` is a plain C struct that getsockopt fills, and
        // `len` says how much room it has.
        unsafe {
            let mut info: libc::tcp_info = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
            let status = libc::getsockopt(
                tcp.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&raw mut info).cast(),
                &mut len,
            );
            assert_eq!(status, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
            info.tcpi_data_segs_in
        }
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// Joins a channel and returns its snapshot.
    pub async fn join(&mut self, channel: &str) -> Vec<flack::model::Message> {
        self.send(&ClientFrame::Join {
            channel: channel.into(),
            since: None,
        })
        .await;
        loop {
            match self.next().await {
                ServerEvent::Joined { messages, .. } => return messages,
                ServerEvent::ChannelCreated { .. } => continue,
                other => panic!("expected joined, got {other:?}"),
            }
        }
    }

    pub async fn say(&mut self, channel: &str, text: &str) {
        self.send(&ClientFrame::Send {
            channel: channel.into(),
            text: text.into(),
            client_id: None,
            thread: None,
        })
        .await;
    }

    /// The next event that is not a channel announcement.
    pub async fn next_in_channel(&mut self) -> ServerEvent {
        loop {
            match self.next().await {
                ServerEvent::ChannelCreated { .. } => continue,
                other => return other,
            }
        }
    }

    /// The next error event's code and message.
    pub async fn expect_error(&mut self) -> (flack::model::ErrorCode, String) {
        match self.next_in_channel().await {
            ServerEvent::Error { code, message, .. } => (code, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    /// The next raw WebSocket message.
    pub async fn ws_next(
        &mut self,
    ) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
        self.ws.next().await
    }

    /// Proves the connection still works: a join is answered.
    pub async fn still_works(&mut self, channel: &str) {
        self.join(channel).await;
    }
}
