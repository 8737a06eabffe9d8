//! A client frame's handling: each kind of frame checked, passed to the
//! hub, and answered or refused.

use super::frames::{parse_frame, refusal_event};
use super::replies::Reply;
use super::{Connection, Gone};
use crate::model::{
    ChannelName, Emoji, ErrorCode, Identity, MessageText, Refusal, Seq, MAX_FRAME_BYTES,
};
use crate::protocol::{ClientFrame, Cursor, ServerEvent};
use crate::server::hub::{Catchup, Draft, Pending};
use axum::extract::ws::Message as WsMessage;

/// The longest `client_id` accepted.
const MAX_CLIENT_ID_BYTES: usize = 64;

impl Connection {
    async fn refuse(&mut self, refusal: Refusal, client_id: Option<String>) -> Result<(), Gone> {
        let event = refusal_event(refusal, client_id);
        self.send(event.to_json().into()).await
    }

    pub(super) async fn on_message(&mut self, message: WsMessage) -> Result<(), Gone> {
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
    pub(super) fn writer(&self) -> Result<Identity, Refusal> {
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
    pub(super) async fn follow(
        &mut self,
        channel: ChannelName,
        since: Option<&Cursor>,
    ) -> Result<(), Gone> {
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
