//! One WebSocket connection at `/ws`, from upgrade to close.
//!
//! One task per connection: it reads client frames, and forwards the
//! events of the channel it follows and of the channel list. Its queues are
//! the hub's bounded `broadcast` buffers: a connection that falls behind
//! gets a fresh snapshot instead of an unbounded backlog, and never slows
//! anyone else. Every refusal is an `error` event on this connection only.
//! A send with a `client_id` is acknowledged to its sender only (`ack`),
//! once stored, also when it repeats one already stored, so retries are
//! safe; sends are answered in the order they came.
//!
//! A connection that goes silent is noticed: the server pings it every
//! third of the idle timeout and closes it once it has heard nothing for
//! the whole timeout, which frees its place in its address's count.

mod events;
mod frames;
mod handle;
mod replies;
#[cfg(test)]
mod tests;
mod typing;

use super::hub::{Frame, Notice};
use super::identity::Token;
use super::limits::{Admission, SendBudget};
use super::store::TokenHash;
use super::telemetry::Connected;
use super::AppState;
use crate::model::{ChannelName, Identity, Refusal, MAX_FRAME_BYTES};
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::header::COOKIE;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Extension;
use frames::refusal_event;
use replies::{next_reply, Reply};
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;
use tracing::field::{display, Empty};
use tracing::{Instrument, Span};
use typing::{typing_due, TypingLater};

/// The read buffer each connection starts with (tungstenite's default is
/// 128 KiB). A client's frames are a few hundred bytes; a larger one grows
/// the buffer to its size. Idle connections are most of a chat server's:
/// this is most of what each one holds.
pub(crate) const READ_BUFFER_BYTES: usize = 1024;
/// Frames above [`MAX_FRAME_BYTES`] but below this get an error event;
/// above this, tungstenite closes the connection (1009, too big) without
/// buffering the rest.
pub(crate) const HARD_FRAME_LIMIT: usize = 2 * MAX_FRAME_BYTES;
/// Writes of one connection waiting for the disk; past this, its frames
/// are not read until one is answered.
const MAX_PENDING: usize = 32;

/// `GET /ws`: upgrades to a WebSocket. The identity is the token in the
/// request's cookie; without one the connection can read but not write.
///
/// A browser's upgrade must come from a page of this site (see
/// [`super::origin`]): other sites cannot use a visitor's cookie to write
/// as them.
pub(crate) async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    if super::origin::cross_site(&headers) {
        return super::origin::forbidden("/ws");
    }
    let token = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(Token::from_cookie_header)
        .map(|token| token.hash());
    let admission = match peer {
        Some(Extension(ConnectInfo(peer))) => state.limits.admit(peer.ip()).map(Some),
        None => Ok(None),
    };
    // Every line the connection logs says whose it is: the client's
    // address, its identity (none when anonymous) and the channel it
    // follows (recorded on each join).
    let span = tracing::info_span!(
        "connection",
        peer = Empty,
        identity = Empty,
        channel = Empty
    );
    if let Some(Extension(ConnectInfo(peer))) = peer {
        span.record("peer", display(peer));
    }
    if let Some(me) = token.as_ref().and_then(|t| state.identities.resolve(t)) {
        span.record("identity", me.id);
    }
    // Writes are buffered until flushed (tungstenite's default), so a batch
    // of events goes out in one write.
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .on_upgrade(move |socket| start(socket, state, token, admission).instrument(span))
}

/// The connection's task: everything it owns goes into one box, made
/// here outside any `async` block, so that the task holds a pointer to
/// it rather than a second copy (captured values stay in an `async`
/// block's state even once moved out). The steps of its loop but the
/// wait are boxed too (a message's handling, a batch of events, a
/// resync, a notice, the greeting), so the wait is the largest state: an
/// idle connection then holds ~4 KiB in all (docs/benchmarks.md).
fn start(
    socket: WebSocket,
    state: AppState,
    token: Option<TokenHash>,
    admission: Result<Option<Admission>, Refusal>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    let admission = match admission {
        Ok(admission) => admission,
        Err(refusal) => return Box::pin(turn_away(socket, refusal)),
    };
    let budget = state.limits.send_budget();
    let mut connection = Connection {
        socket,
        state,
        token,
        budget,
        joined: None,
        pending: VecDeque::new(),
        heard: Instant::now(),
        typed: None,
        typing: false,
        typing_later: None,
        _admission: admission,
        _connected: Connected::new(),
        online: None,
    };
    // `run` borrows: an `async fn` that takes its receiver by value keeps
    // two copies of it in its state (the argument and the binding).
    Box::pin(async move { connection.run().await })
}

/// Tells a connection over its address's limit why, then closes it
/// (1008, policy violation).
async fn turn_away(mut socket: WebSocket, refusal: Refusal) {
    let event = refusal_event(refusal, None);
    let _ = socket.send(WsMessage::Text(event.to_json().into())).await;
    let _ = socket
        .send(WsMessage::Close(Some(CloseFrame {
            code: 1008,
            reason: "too many connections".into(),
        })))
        .await;
}

struct Connection {
    socket: WebSocket,
    state: AppState,
    /// The hash of the identity token the connection presented.
    token: Option<TokenHash>,
    budget: SendBudget,
    /// The channel followed, and its events.
    joined: Option<(ChannelName, broadcast::Receiver<Frame>)>,
    /// Writes on their way to the disk, oldest first.
    pending: VecDeque<Reply>,
    /// When the client was last heard from.
    heard: Instant,
    /// Typing as passed on: when the last `on` went out (none since the
    /// last send), and whether followers were last told "typing".
    typed: Option<Instant>,
    typing: bool,
    /// A `typing: on` that came too soon after the last one went out and
    /// goes out when the interval ends (unless a stop or a send comes
    /// first). Boxed: most connections never have one.
    typing_later: Option<Box<TypingLater>>,
    /// Holds this connection's place in its address's count.
    _admission: Option<Admission>,
    /// Counts it in `flack_connections` while it lives.
    _connected: Connected,
    /// Counts this connection's person as online while it lives.
    online: Option<Online>,
}

/// A person's connection, counted online until dropped (however the
/// connection ends).
struct Online {
    hub: std::sync::Arc<super::hub::Hub>,
    id: crate::model::IdentityId,
}

impl Drop for Online {
    fn drop(&mut self) {
        self.hub.disconnected(self.id);
    }
}

/// What woke the connection's loop.
enum Wake {
    Shutdown,
    Incoming(Option<Result<WsMessage, axum::Error>>),
    Channel(Result<Frame, RecvError>),
    Directory(Result<Notice, RecvError>),
    Reply(Option<Frame>),
    TypingDue,
}

/// The socket is gone: stop.
struct Gone;

async fn next_event(
    joined: &mut Option<(ChannelName, broadcast::Receiver<Frame>)>,
) -> Result<Frame, RecvError> {
    match joined {
        Some((_, events)) => events.recv().await,
        None => std::future::pending().await,
    }
}

impl Connection {
    async fn run(&mut self) {
        // Subscribe before listing, so no channel created in between is
        // missed (one may be seen twice; clients ignore the repeat).
        let mut directory = self.state.hub.subscribe_directory();
        if Box::pin(self.greet()).await.is_err() {
            return;
        }
        let stopping = super::stopping(self.state.shutdown.clone());
        tokio::pin!(stopping);
        loop {
            let reading = self.pending.len() < MAX_PENDING;
            let wake = tokio::select! {
                () = &mut stopping => Wake::Shutdown,
                reply = next_reply(&mut self.pending) => Wake::Reply(reply),
                incoming = self.socket.recv(), if reading => Wake::Incoming(incoming),
                event = next_event(&mut self.joined) => Wake::Channel(event),
                event = directory.recv() => Wake::Directory(event),
                () = typing_due(self.typing_later.as_deref()) => Wake::TypingDue,
            };
            let step = match wake {
                Wake::Shutdown => {
                    Box::pin(self.close("server shutting down")).await;
                    return;
                }
                Wake::Incoming(Some(Ok(message))) => {
                    self.heard = Instant::now();
                    Box::pin(self.on_message(message)).await
                }
                Wake::Incoming(_) => return,
                Wake::Reply(answer) => Box::pin(self.send_replies(answer)).await,
                Wake::TypingDue => {
                    self.typing_due();
                    Ok(())
                }
                Wake::Directory(Ok(notice)) => Box::pin(self.on_notice(notice)).await,
                Wake::Channel(Ok(frame)) => Box::pin(self.send_queued(frame)).await,
                Wake::Channel(Err(RecvError::Lagged(missed))) => {
                    tracing::debug!(missed, "connection fell behind its channel; resyncing");
                    match self.joined.take() {
                        Some((channel, _)) => Box::pin(self.follow(channel, None)).await,
                        None => Ok(()),
                    }
                }
                Wake::Channel(Err(RecvError::Closed)) => {
                    self.joined = None;
                    Ok(())
                }
                Wake::Directory(Err(_)) => {
                    // Fell behind on channel creations: send the whole list.
                    directory = directory.resubscribe();
                    Box::pin(self.send(self.hello())).await
                }
            };
            if step.is_err() {
                return;
            }
        }
    }

    /// The channel the connection follows.
    fn followed(&self) -> Option<ChannelName> {
        self.joined.as_ref().map(|(name, _)| name.clone())
    }

    /// Records the channel followed now in the connection's span, if it
    /// is not the one `before` (a text log line carries each value
    /// recorded, so an unchanged one is not recorded again).
    fn record_channel(&self, before: Option<ChannelName>) {
        let now = self.joined.as_ref().map(|(name, _)| name);
        if now != before.as_ref() {
            let name = now.map_or("", |name| name.as_str());
            Span::current().record("channel", name);
        }
    }

    /// Who the connection writes as, now (a sign-out ends it at once).
    fn me(&self) -> Option<Identity> {
        self.token
            .as_ref()
            .and_then(|t| self.state.identities.resolve(t))
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.state.settings.idle_timeout_secs)
    }
}
