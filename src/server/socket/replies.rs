//! Writes on their way to the disk, and their answers, sent in the order
//! the writes came.

use super::frames::refusal_event;
use super::{Connection, Gone};
use crate::model::{ChannelName, Seq};
use crate::protocol::ServerEvent;
use crate::server::hub::{Frame, Pending};
use axum::extract::ws::Message as WsMessage;
use futures_util::SinkExt;
use std::collections::VecDeque;

/// A write of this connection's, and how to answer it once stored.
pub(super) enum Reply {
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
pub(super) async fn next_reply(pending: &mut VecDeque<Reply>) -> Option<Frame> {
    match pending.front_mut() {
        Some(reply) => reply.answer().await.map(|event| event.to_json().into()),
        None => std::future::pending().await,
    }
}

impl Connection {
    /// Sends the answer to the oldest pending write, and those of the
    /// writes after it that are already stored (a commit answers many at
    /// once), flushed once.
    pub(super) async fn send_replies(&mut self, first: Option<Frame>) -> Result<(), Gone> {
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
}
