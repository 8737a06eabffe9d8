//! One WebSocket connection at `/ws`, from upgrade to close.
//!
//! One task per connection: it reads client frames, and forwards the
//! events of the channel it follows and of the channel list. Its queues are
//! the hub's bounded `broadcast` buffers: a connection that falls behind
//! gets a fresh snapshot instead of an unbounded backlog, and never slows
//! anyone else. Every refusal is an `error` event on this connection only.
//! A send with a `client_id` is acknowledged to its sender (`ack`), also
//! when it repeats one already stored, so retries are safe.

use super::hub::{Catchup, Frame};
use super::identity::Token;
use super::limits::{Admission, SendBudget};
use super::AppState;
use crate::model::{ChannelName, DisplayName, ErrorCode, MessageText, Refusal, MAX_FRAME_BYTES};
use crate::protocol::{ClientFrame, Cursor, ServerEvent};
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::SinkExt;
use std::net::SocketAddr;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

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

/// `GET /ws`: upgrades to a WebSocket. The identity is the token in the
/// request's cookie; without one the connection can read but not write.
///
/// A browser's upgrade must come from a page of this site: an `Origin`
/// header naming another host is refused (403), so other sites cannot use
/// a visitor's cookie to write as them. Clients that send no `Origin`
/// (bots, tools) are not browsers and carry their own cookie.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    if !same_origin(&headers) {
        return (
            StatusCode::FORBIDDEN,
            "WebSocket connections are accepted only from this site's own pages.",
        )
            .into_response();
    }
    let token = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(Token::from_cookie_header);
    let admission = match peer {
        Some(Extension(ConnectInfo(peer))) => state.limits.admit(peer.ip()).map(Some),
        None => Ok(None),
    };
    // Writes are buffered until flushed (tungstenite's default), so a batch
    // of events goes out in one write.
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .on_upgrade(move |mut socket| async move {
            let admission = match admission {
                Ok(admission) => admission,
                Err(refusal) => {
                    // Told why, then closed: 1008, policy violation.
                    let event = ServerEvent::refusal(refusal, None);
                    let _ = socket.send(WsMessage::Text(event.to_json().into())).await;
                    let _ = socket
                        .send(WsMessage::Close(Some(CloseFrame {
                            code: 1008,
                            reason: "too many connections".into(),
                        })))
                        .await;
                    return;
                }
            };
            let budget = state.limits.send_budget();
            let connection = Connection {
                socket,
                state,
                token,
                budget,
                joined: None,
                _admission: admission,
            };
            // Boxed, and so are the larger steps inside it (a message's
            // handling, a batch of events, a resync): an idle connection
            // then holds ~5.5 KiB in all rather than ~10 (docs/benchmarks.md).
            Box::pin(connection.run()).await
        })
}

/// Whether the `Origin` header, if any, names the host the request was
/// sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, host)| host.trim_end_matches('/'));
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

struct Connection {
    socket: WebSocket,
    state: AppState,
    token: Option<Token>,
    budget: SendBudget,
    /// The channel followed, and its events.
    joined: Option<(ChannelName, broadcast::Receiver<Frame>)>,
    /// Holds this connection's place in its address's count.
    _admission: Option<Admission>,
}

/// What woke the connection's loop.
enum Wake {
    Shutdown,
    Incoming(Option<Result<WsMessage, axum::Error>>),
    Channel(Result<Frame, RecvError>),
    Directory(Result<Frame, RecvError>),
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
    async fn run(mut self) {
        // Subscribe before listing, so no channel created in between is
        // missed (one may be seen twice; clients ignore the repeat).
        let mut directory = self.state.hub.subscribe_directory();
        if self.send(self.hello()).await.is_err() {
            return;
        }
        let stopping = super::stopping(self.state.shutdown.clone());
        tokio::pin!(stopping);
        loop {
            let wake = tokio::select! {
                () = &mut stopping => Wake::Shutdown,
                incoming = self.socket.recv() => Wake::Incoming(incoming),
                event = next_event(&mut self.joined) => Wake::Channel(event),
                event = directory.recv() => Wake::Directory(event),
            };
            let step = match wake {
                Wake::Shutdown => {
                    let _ = self
                        .socket
                        .send(WsMessage::Close(Some(CloseFrame {
                            code: 1001,
                            reason: "server shutting down".into(),
                        })))
                        .await;
                    return;
                }
                Wake::Incoming(Some(Ok(message))) => Box::pin(self.on_message(message)).await,
                Wake::Incoming(_) => return,
                Wake::Channel(Ok(frame)) => Box::pin(self.send_queued(frame)).await,
                Wake::Directory(Ok(frame)) => self.send(frame).await,
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
                    self.send(self.hello()).await
                }
            };
            if step.is_err() {
                return;
            }
        }
    }

    /// The hello: this run's epoch, who the connection is, every channel.
    fn hello(&self) -> Frame {
        let hello = ServerEvent::Hello {
            epoch: self.state.hub.epoch().to_owned(),
            name: self.name(),
            channels: self.state.hub.channels(),
        };
        hello.to_json().into()
    }

    fn name(&self) -> Option<DisplayName> {
        self.token
            .as_ref()
            .and_then(|t| self.state.identities.name_of(t))
    }

    async fn send(&mut self, frame: Frame) -> Result<(), Gone> {
        self.socket
            .send(WsMessage::Text(frame))
            .await
            .map_err(|_| Gone)
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
        let event = ServerEvent::refusal(refusal, client_id);
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
                Ok(channel) => self.follow(channel, since.as_ref()).await,
                Err(refusal) => self.refuse(refusal, None).await,
            },
            ClientFrame::Leave => {
                self.joined = None;
                Ok(())
            }
            ClientFrame::Send {
                channel,
                text,
                client_id,
            } => match self.post(&channel, &text, client_id.as_deref()) {
                Ok((channel, seq)) => match client_id {
                    Some(client_id) => {
                        let ack = ServerEvent::Ack {
                            channel,
                            client_id,
                            seq,
                        };
                        self.send(ack.to_json().into()).await
                    }
                    None => Ok(()),
                },
                Err(refusal) => self.refuse(refusal, client_id).await,
            },
            ClientFrame::Delete { channel, seq } => {
                let deleted = self.writer().and_then(|me| {
                    let channel = ChannelName::parse(&channel)?;
                    self.state.hub.delete(&channel, seq, &me)
                });
                match deleted {
                    Ok(()) => Ok(()),
                    Err(refusal) => self.refuse(refusal, None).await,
                }
            }
        }
    }

    /// The name this connection writes as, or a refusal.
    fn writer(&self) -> Result<DisplayName, Refusal> {
        self.name().ok_or_else(|| {
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
        let subscription = match self.state.hub.join(&channel, since) {
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

    /// Posts a message; its channel and number.
    fn post(
        &self,
        channel: &str,
        text: &str,
        client_id: Option<&str>,
    ) -> Result<(ChannelName, crate::model::Seq), Refusal> {
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
        let posted = self
            .state
            .hub
            .post(&channel, me, text, client_id.map(str::to_owned))?;
        Ok((channel, posted.seq()))
    }
}

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
                    Some(kind) if !["join", "leave", "send", "delete"].contains(&kind) => {
                        format!("Unknown frame type \u{201c}{kind}\u{201d}; expected join, leave, send or delete.")
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
}
