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

use super::hub::{Catchup, Draft, Frame, Notice, Pending};
use super::identity::Token;
use super::limits::{Admission, SendBudget};
use super::store::TokenHash;
use super::telemetry::Connected;
use super::AppState;
use crate::model::{
    ChannelName, Emoji, ErrorCode, Identity, MessageText, Refusal, Seq, MAX_FRAME_BYTES,
};
use crate::protocol::{ClientFrame, Cursor, ServerEvent, TYPING_EVERY_MS};
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::header::COOKIE;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Extension;
use futures_util::SinkExt;
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};
use tokio::time::Instant;
use tracing::field::{display, Empty};
use tracing::{Instrument, Span};

/// The read buffer each connection starts with (tungstenite's default is
/// 128 KiB). A client's frames are a few hundred bytes; a larger one grows
/// the buffer to its size. Idle connections are most of a chat server's:
/// this is most of what each one holds.
pub const READ_BUFFER_BYTES: usize = 1024;
/// Frames above [`MAX_FRAME_BYTES`] but below this get an error event;
/// above this, tungstenite closes the connection (1009, too big) without
/// buffering the rest.
pub const HARD_FRAME_LIMIT: usize = 2 * MAX_FRAME_BYTES;
/// Most queued channel events written in one batch.
const MAX_BATCH: usize = 64;
/// The longest `client_id` accepted.
const MAX_CLIENT_ID_BYTES: usize = 64;
/// Writes of one connection waiting for the disk; past this, its frames
/// are not read until one is answered.
const MAX_PENDING: usize = 32;

/// `GET /ws`: upgrades to a WebSocket. The identity is the token in the
/// request's cookie; without one the connection can read but not write.
///
/// A browser's upgrade must come from a page of this site (see
/// [`super::origin`]): other sites cannot use a visitor's cookie to write
/// as them.
pub async fn upgrade(
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

/// A write of this connection's, and how to answer it once stored.
enum Reply {
    Send {
        channel: ChannelName,
        client_id: Option<String>,
        pending: Pending<Seq>,
    },
    /// A delete, edit or reaction: answered only if refused.
    Change(Pending<()>),
}

impl Reply {
    /// The frame that answers it, if any.
    async fn answer(&mut self) -> Option<ServerEvent> {
        match self {
            Reply::Send {
                channel,
                client_id,
                pending,
            } => match (pending.await, client_id.take()) {
                (Ok(seq), Some(client_id)) => Some(ServerEvent::Ack {
                    channel: channel.clone(),
                    client_id,
                    seq,
                }),
                (Ok(_), None) => None,
                (Err(refusal), client_id) => Some(refusal_event(refusal, client_id)),
            },
            Reply::Change(pending) => pending
                .await
                .err()
                .map(|refusal| refusal_event(refusal, None)),
        }
    }
}

/// The answer to the oldest pending write, as it goes on the wire (a
/// frame is small in the connection's state; the event is not).
async fn next_reply(pending: &mut VecDeque<Reply>) -> Option<Frame> {
    match pending.front_mut() {
        Some(reply) => reply.answer().await.map(|event| event.to_json().into()),
        None => std::future::pending().await,
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

/// When a waiting `typing: on` is due; never without one.
async fn typing_due(later: Option<&TypingLater>) {
    match later {
        Some(later) => tokio::time::sleep_until(later.at).await,
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

    /// The hello, then, for a named person, counts them online and sends
    /// their unread counts.
    async fn greet(&mut self) -> Result<(), Gone> {
        self.send(self.hello()).await?;
        if let Some(me) = self.me() {
            self.state.hub.connected(&me);
            self.online = Some(Online {
                hub: self.state.hub.clone(),
                id: me.id,
            });
            let counts = self.state.hub.unread_all(me.id);
            self.send(ServerEvent::Unread { counts }.to_json().into())
                .await?;
        }
        Ok(())
    }

    /// Acts on a notice to every connection: a heartbeat, a frame for all
    /// or for some people, channels with new activity (unread counts).
    async fn on_notice(&mut self, notice: Notice) -> Result<(), Gone> {
        match notice {
            Notice::Beat => self.keep_alive().await,
            Notice::All(frame) => self.send(frame).await,
            Notice::To(ids, frame) => match self.me() {
                Some(me) if ids.contains(&me.id) => self.send(frame).await,
                _ => Ok(()),
            },
            Notice::Activity(channels) => self.unread_changed(&channels).await,
            Notice::Ended(ids) => match &self.online {
                Some(online) if ids.contains(&online.id) => {
                    tracing::info!("closing the connection of an identity that ended");
                    self.close_with(crate::protocol::CLOSE_SIGNED_OUT, "signed out")
                        .await;
                    Err(Gone)
                }
                _ => Ok(()),
            },
        }
    }

    /// The hello: the store's epoch, who the connection is, every channel.
    fn hello(&self) -> Frame {
        let me = self.me();
        let hello = ServerEvent::Hello {
            epoch: self.state.hub.epoch().to_owned(),
            directs: me
                .as_ref()
                .map(|me| self.state.hub.directs(me.id))
                .unwrap_or_default(),
            me,
            channels: self.state.hub.channels(),
            idle_timeout_ms: self.idle_timeout().as_millis() as u64,
        };
        hello.to_json().into()
    }

    /// Sends my unread counts in the active `channels`, but the one this
    /// connection follows (it is being read).
    async fn unread_changed(&mut self, channels: &[ChannelName]) -> Result<(), Gone> {
        let Some(me) = self.me() else {
            return Ok(());
        };
        let followed = self.joined.as_ref().map(|(name, _)| name);
        let others: Vec<ChannelName> = channels
            .iter()
            .filter(|name| Some(*name) != followed)
            .cloned()
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        let counts = self.state.hub.unread(me.id, &others);
        self.send(ServerEvent::Unread { counts }.to_json().into())
            .await
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

    /// Says goodbye: 1001, going away, with the reason.
    async fn close(&mut self, reason: &'static str) {
        self.close_with(1001, reason).await;
    }

    async fn close_with(&mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = self.socket.send(WsMessage::Close(Some(frame))).await;
    }

    /// Closes a connection silent for the idle timeout; pings the others.
    async fn keep_alive(&mut self) -> Result<(), Gone> {
        if self.heard.elapsed() >= self.idle_timeout() {
            tracing::info!(
                silent_ms = self.heard.elapsed().as_millis() as u64,
                "closing a connection that stopped answering"
            );
            self.close("no answer to pings").await;
            return Err(Gone);
        }
        self.socket
            .send(WsMessage::Ping(Default::default()))
            .await
            .map_err(|_| Gone)
    }

    async fn send(&mut self, frame: Frame) -> Result<(), Gone> {
        self.socket
            .send(WsMessage::Text(frame))
            .await
            .map_err(|_| Gone)
    }

    /// Sends the answer to the oldest pending write, and those of the
    /// writes after it that are already stored (a commit answers many at
    /// once), flushed once.
    async fn send_replies(&mut self, first: Option<Frame>) -> Result<(), Gone> {
        use futures_util::FutureExt;
        let mut answer = first;
        loop {
            self.pending.pop_front();
            if let Some(frame) = answer {
                self.socket
                    .feed(WsMessage::Text(frame))
                    .await
                    .map_err(|_| Gone)?;
            }
            match self
                .pending
                .front_mut()
                .and_then(|r| r.answer().now_or_never())
            {
                Some(next) => answer = next.map(|event| event.to_json().into()),
                None => break,
            }
        }
        self.socket.flush().await.map_err(|_| Gone)
    }

    /// Sends a channel event and whatever else is already queued behind
    /// it (up to [`MAX_BATCH`]), flushed once: a busy channel costs one
    /// write per batch rather than one per event. Falling behind while
    /// draining is handled like any lag: a fresh snapshot.
    async fn send_queued(&mut self, first: Frame) -> Result<(), Gone> {
        self.socket
            .feed(WsMessage::Text(first))
            .await
            .map_err(|_| Gone)?;
        let mut lagged = false;
        for _ in 1..MAX_BATCH {
            let Some((_, events)) = self.joined.as_mut() else {
                break;
            };
            match events.try_recv() {
                Ok(frame) => self
                    .socket
                    .feed(WsMessage::Text(frame))
                    .await
                    .map_err(|_| Gone)?,
                Err(TryRecvError::Lagged(_)) => {
                    lagged = true;
                    break;
                }
                Err(_) => break,
            }
        }
        self.socket.flush().await.map_err(|_| Gone)?;
        match (lagged, self.joined.take()) {
            (true, Some((channel, _))) => self.follow(channel, None).await,
            (_, joined) => {
                self.joined = joined;
                Ok(())
            }
        }
    }

    async fn refuse(&mut self, refusal: Refusal, client_id: Option<String>) -> Result<(), Gone> {
        let event = refusal_event(refusal, client_id);
        self.send(event.to_json().into()).await
    }

    async fn on_message(&mut self, message: WsMessage) -> Result<(), Gone> {
        let text = match message {
            WsMessage::Text(text) => text,
            WsMessage::Binary(_) => {
                return self
                    .refuse(
                        Refusal::new(ErrorCode::BadFrame, "Frames must be JSON text, not binary."),
                        None,
                    )
                    .await
            }
            WsMessage::Close(_) => return Err(Gone),
            // tungstenite answers pings itself.
            WsMessage::Ping(_) | WsMessage::Pong(_) => return Ok(()),
        };
        if text.len() > MAX_FRAME_BYTES {
            let refusal = Refusal::new(
                ErrorCode::FrameTooLarge,
                format!(
                    "That frame has {} bytes; the most a frame may have is {MAX_FRAME_BYTES}.",
                    text.len()
                ),
            );
            return self.refuse(refusal, None).await;
        }
        let frame = match parse_frame(text.as_str()) {
            Ok(frame) => frame,
            Err(refusal) => return self.refuse(refusal, None).await,
        };
        match frame {
            ClientFrame::Join { channel, since } => match ChannelName::parse(&channel) {
                Ok(channel) => {
                    let before = self.followed();
                    let followed = self.follow(channel, since.as_ref()).await;
                    self.record_channel(before);
                    followed
                }
                Err(refusal) => self.refuse(refusal, None).await,
            },
            ClientFrame::Leave => {
                let before = self.followed();
                self.joined = None;
                self.record_channel(before);
                Ok(())
            }
            ClientFrame::Send {
                channel,
                text,
                client_id,
                thread,
            } => match self.post(&channel, &text, client_id.as_deref(), thread) {
                Ok((channel, pending)) => {
                    // The message ends the typing, and its interval.
                    self.typing = false;
                    self.typed = None;
                    self.typing_later = None;
                    self.pending.push_back(Reply::Send {
                        channel,
                        client_id,
                        pending,
                    });
                    Ok(())
                }
                Err(refusal) => self.refuse(refusal, client_id).await,
            },
            ClientFrame::Delete { channel, seq } => {
                let deleting = self.writer().and_then(|me| {
                    let channel = ChannelName::parse(&channel)?;
                    Ok(self.state.hub.delete(&channel, seq, me.id))
                });
                self.change(deleting).await
            }
            ClientFrame::Edit { channel, seq, text } => {
                let editing = self.writer().and_then(|me| {
                    let channel = ChannelName::parse(&channel)?;
                    let text = MessageText::parse(&text)?;
                    let mentions = self.state.identities.mentioned(&text);
                    self.budget.take()?;
                    Ok(self.state.hub.edit(&channel, seq, me.id, text, mentions))
                });
                self.change(editing).await
            }
            ClientFrame::React {
                channel,
                seq,
                emoji,
                on,
            } => {
                let reacting = self.writer().and_then(|me| {
                    let channel = ChannelName::parse(&channel)?;
                    let emoji = Emoji::parse(&emoji)?;
                    self.budget.take()?;
                    Ok(self.state.hub.react(&channel, seq, &me, emoji, on))
                });
                self.change(reacting).await
            }
            ClientFrame::Read { channel, seq } => {
                let read = self.writer().and_then(|me| {
                    let channel = ChannelName::parse(&channel)?;
                    self.state.hub.mark_read(&me, &channel, seq)
                });
                match read {
                    Ok(()) => Ok(()),
                    Err(refusal) => self.refuse(refusal, None).await,
                }
            }
            ClientFrame::Typing {
                channel,
                thread,
                on,
            } => match self.typing(&channel, thread, on) {
                Ok(()) => Ok(()),
                Err(refusal) => self.refuse(refusal, None).await,
            },
            ClientFrame::Ping => self.send(ServerEvent::Pong.to_json().into()).await,
        }
    }

    /// Passes on a `typing` frame: at most one `on` per [`TYPING_EVERY_MS`]
    /// (repeats while typing are dropped: a client that types on is still
    /// typing; an `on` after a stop that comes too soon goes out when the
    /// interval ends), and an `off` only after an `on` that went out. So
    /// at most one of each per interval however they alternate, and
    /// nobody's typing is lost. A send ends the typing (followers see the
    /// message) and the interval, so the next line's first `on` goes out
    /// at once.
    fn typing(&mut self, channel: &str, thread: Option<Seq>, on: bool) -> Result<(), Refusal> {
        let me = self.writer()?;
        let channel = ChannelName::parse(channel)?;
        let now = Instant::now();
        self.typing_later = None;
        match typing_step(on, self.typing, self.typed, now) {
            TypingStep::Now => {
                self.state.hub.typing(&channel, &me, thread, on)?;
                if on {
                    self.typed = Some(now);
                }
                self.typing = on;
            }
            TypingStep::At(at) => {
                // Refused now if it would be refused then.
                self.state.hub.may_type(&channel, &me, thread)?;
                self.typing_later = Some(Box::new(TypingLater {
                    at,
                    channel,
                    thread,
                }));
            }
            TypingStep::Drop => {}
        }
        Ok(())
    }

    /// The interval ended: the `on` that waited for it goes out.
    fn typing_due(&mut self) {
        let (Some(later), Some(me)) = (self.typing_later.take(), self.me()) else {
            return;
        };
        if self
            .state
            .hub
            .typing(&later.channel, &me, later.thread, true)
            .is_ok()
        {
            self.typed = Some(Instant::now());
            self.typing = true;
        }
    }

    /// Waits for a change's commit in turn, or says why it was refused.
    async fn change(&mut self, started: Result<Pending<()>, Refusal>) -> Result<(), Gone> {
        match started {
            Ok(pending) => {
                self.pending.push_back(Reply::Change(pending));
                Ok(())
            }
            Err(refusal) => self.refuse(refusal, None).await,
        }
    }

    /// The identity this connection writes as, or a refusal.
    fn writer(&self) -> Result<Identity, Refusal> {
        self.me().ok_or_else(|| {
            Refusal::new(
                ErrorCode::NotSignedIn,
                "Claim a display name before writing (the flack_token cookie is missing or unknown).",
            )
        })
    }

    /// Follows `channel` with a fresh subscription and catches up: the
    /// events after `since` if the hub can replay them exactly, else a
    /// snapshot (also how a connection that fell behind catches up).
    async fn follow(&mut self, channel: ChannelName, since: Option<&Cursor>) -> Result<(), Gone> {
        let viewer = self.me().map(|me| me.id);
        let subscription = match self.state.hub.join(&channel, viewer, since).await {
            Ok(subscription) => subscription,
            Err(refusal) => {
                self.joined = None;
                return self.refuse(refusal, None).await;
            }
        };
        self.joined = Some((channel.clone(), subscription.events));
        match subscription.catchup {
            Catchup::Snapshot { messages, seq } => {
                let event = ServerEvent::Joined {
                    channel,
                    seq,
                    messages,
                };
                self.send(event.to_json().into()).await
            }
            Catchup::Replay { frames, seq } => {
                for frame in frames {
                    self.send(frame).await?;
                }
                let event = ServerEvent::Resumed { channel, seq };
                self.send(event.to_json().into()).await
            }
        }
    }

    /// Posts a message: its channel, and its number once stored.
    fn post(
        &self,
        channel: &str,
        text: &str,
        client_id: Option<&str>,
        thread: Option<Seq>,
    ) -> Result<(ChannelName, Pending<Seq>), Refusal> {
        if client_id.is_some_and(|id| id.len() > MAX_CLIENT_ID_BYTES) {
            return Err(Refusal::new(
                ErrorCode::BadFrame,
                format!("A client_id can be at most {MAX_CLIENT_ID_BYTES} bytes long."),
            ));
        }
        let me = self.writer()?;
        let channel = ChannelName::parse(channel)?;
        let text = MessageText::parse(text)?;
        self.budget.take()?;
        let draft = Draft {
            mentions: self.state.identities.mentioned(&text),
            text,
            client_id: client_id.map(str::to_owned),
            thread,
        };
        let pending = self.state.hub.post(&channel, &me, draft);
        Ok((channel, pending))
    }
}

/// The event that answers a refusal, which is counted and logged (in the
/// connection's span) on its way.
fn refusal_event(refusal: Refusal, client_id: Option<String>) -> ServerEvent {
    tracing::info!(code = %super::telemetry::code_name(refusal.code), "refused");
    super::telemetry::count_refusal(refusal.code);
    ServerEvent::refusal(refusal, client_id)
}

/// A `typing: on` waiting for its interval to end.
struct TypingLater {
    at: Instant,
    channel: ChannelName,
    thread: Option<Seq>,
}

/// What becomes of a `typing` frame.
#[derive(Debug, PartialEq, Eq)]
enum TypingStep {
    /// It goes out now.
    Now,
    /// It goes out at this time, unless something else comes first.
    At(Instant),
    /// Nothing new: dropped.
    Drop,
}

/// What becomes of a `typing` frame (`on`), given whether followers were
/// last told "typing" and when the last `on` went out.
fn typing_step(on: bool, typing: bool, last_on: Option<Instant>, now: Instant) -> TypingStep {
    let every = Duration::from_millis(TYPING_EVERY_MS);
    match (on, last_on) {
        (true, None) => TypingStep::Now,
        (true, Some(at)) if now.duration_since(at) >= every => TypingStep::Now,
        (true, Some(_)) if typing => TypingStep::Drop,
        (true, Some(at)) => TypingStep::At(at + every),
        (false, _) if typing => TypingStep::Now,
        (false, _) => TypingStep::Drop,
    }
}

/// The `type`s of [`ClientFrame`].
const KNOWN_FRAMES: [&str; 9] = [
    "join", "leave", "send", "edit", "react", "delete", "read", "typing", "ping",
];

/// Reads a client frame, telling malformed JSON from an unknown frame.
fn parse_frame(text: &str) -> Result<ClientFrame, Refusal> {
    serde_json::from_str::<ClientFrame>(text).map_err(|err| {
        match serde_json::from_str::<serde_json::Value>(text) {
            Err(_) => Refusal::new(
                ErrorCode::BadFrame,
                format!("That frame is not valid JSON: {err}."),
            ),
            Ok(value) => {
                let kind = value.get("type").and_then(|t| t.as_str());
                let message = match kind {
                    Some(kind) if !KNOWN_FRAMES.contains(&kind) => {
                        format!(
                            "Unknown frame type \u{201c}{kind}\u{201d}; expected one of {}.",
                            KNOWN_FRAMES.join(", ")
                        )
                    }
                    _ => format!("That frame is not a valid client frame: {err}."),
                };
                Refusal::new(ErrorCode::BadFrame, message)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_json_and_unknown_types_are_told_apart() {
        let err = parse_frame("{not json").unwrap_err();
        assert_eq!(err.code, ErrorCode::BadFrame);
        assert!(err.message.contains("not valid JSON"), "{}", err.message);

        let err = parse_frame(r#"{"type":"shout","text":"hi"}"#).unwrap_err();
        assert!(
            err.message.contains("Unknown frame type"),
            "{}",
            err.message
        );

        let err = parse_frame(r#"{"type":"send","channel":"general"}"#).unwrap_err();
        assert!(err.message.contains("text"), "{}", err.message);
    }

    #[test]
    fn typing_goes_out_once_an_interval_either_way() {
        use TypingStep::{At, Drop, Now};
        let every = Duration::from_millis(TYPING_EVERY_MS);
        let t0 = Instant::now();
        // A first `on` goes out; repeats within the interval do not.
        assert_eq!(typing_step(true, false, None, t0), Now);
        assert_eq!(typing_step(true, true, Some(t0), t0 + every / 2), Drop);
        assert_eq!(typing_step(true, true, Some(t0), t0 + every), Now);
        // An `off` goes out only after an `on` that did.
        assert_eq!(typing_step(false, true, Some(t0), t0), Now);
        assert_eq!(typing_step(false, false, Some(t0), t0), Drop);
        // Alternating does not reopen the interval: after on, off, the
        // next `on` waits for the interval's end, and is not lost.
        assert_eq!(
            typing_step(true, false, Some(t0), t0 + every / 2),
            At(t0 + every)
        );
        // After a send (no `on` since), the next line's first goes out.
        assert_eq!(typing_step(true, false, None, t0 + every / 2), Now);
    }
}
