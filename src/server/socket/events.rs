//! What goes down to the client besides answers: the greeting, the hub's
//! notices to every connection, channel events in batches, pings and
//! goodbyes.

use super::{Connection, Gone, Online};
use crate::model::ChannelName;
use crate::protocol::ServerEvent;
use crate::server::hub::{Frame, Notice};
use axum::extract::ws::{CloseFrame, Message as WsMessage};
use futures_util::SinkExt;
use tokio::sync::broadcast::error::TryRecvError;

/// Most queued channel events written in one batch.
const MAX_BATCH: usize = 64;

impl Connection {
    /// The hello, then, for a named person, counts them online and sends
    /// their unread counts.
    pub(super) async fn greet(&mut self) -> Result<(), Gone> {
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
    pub(super) async fn on_notice(&mut self, notice: Notice) -> Result<(), Gone> {
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
    pub(super) fn hello(&self) -> Frame {
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

    /// Says goodbye: 1001, going away, with the reason.
    pub(super) async fn close(&mut self, reason: &'static str) {
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

    pub(super) async fn send(&mut self, frame: Frame) -> Result<(), Gone> {
        self.socket
            .send(WsMessage::Text(frame))
            .await
            .map_err(|_| Gone)
    }

    /// Sends a channel event and whatever else is already queued behind
    /// it (up to [`MAX_BATCH`]), flushed once: a busy channel costs one
    /// write per batch rather than one per event. Falling behind while
    /// draining is handled like any lag: a fresh snapshot.
    pub(super) async fn send_queued(&mut self, first: Frame) -> Result<(), Gone> {
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
}
