//! The outbox: what the user sends, one message at a time, in order, each
//! once the one before is acknowledged (see the module above). Each step
//! changes the outbox and returns the frame to send and the timers to set.

use super::{Chat, Command, Delivery, Outgoing, Outside, Timer};
use crate::client::socket::ACK_TIMEOUT_MS;
use crate::model::{ChannelName, ErrorCode, Seq};
use crate::protocol::ClientFrame;
use leptos::prelude::*;

/// How long a refusal for going too fast waits when the server does not
/// say, and the bounds of what it may say.
const RETRY_AFTER_MS: u64 = 1_000;
const RETRY_AFTER_BOUNDS_MS: (u64, u64) = (100, 60_000);

impl Chat {
    /// Queues a message as `client_id`; it is sent when its turn comes.
    pub(crate) fn queue(
        &self,
        client_id: String,
        channel: ChannelName,
        text: String,
        thread: Option<Seq>,
        outside: &Outside,
    ) -> Vec<Command> {
        self.outbox.update(|outbox| {
            outbox.push(Outgoing {
                client_id,
                channel,
                thread,
                text,
                delivery: Delivery::Pending,
                attempt: 0,
                in_flight: false,
            })
        });
        self.pump(outside)
    }

    /// Puts a failed message back in line (the Retry button).
    pub(crate) fn requeue(&self, client_id: &str, outside: &Outside) -> Vec<Command> {
        self.update_entry(client_id, |entry| {
            entry.delivery = Delivery::Pending;
            entry.in_flight = false;
        });
        self.pump(outside)
    }

    /// Takes back what was kept of the outbox (after a reload), after
    /// what is queued already, once each.
    pub(crate) fn restore(&self, kept: Vec<Outgoing>, outside: &Outside) -> Vec<Command> {
        if kept.is_empty() {
            return Vec::new();
        }
        self.outbox.update(|outbox| {
            for entry in kept {
                if !outbox.iter().any(|o| o.client_id == entry.client_id) {
                    outbox.push(entry);
                }
            }
        });
        self.pump(outside)
    }

    /// Sends the oldest pending message, unless one is already waiting for
    /// its answer or the socket is not open: one at a time, in order. The
    /// server has [`ACK_TIMEOUT_MS`] to acknowledge it.
    pub(crate) fn pump(&self, outside: &Outside) -> Vec<Command> {
        if !outside.link_open {
            return Vec::new();
        }
        let next = self.outbox.with_untracked(|outbox| {
            if outbox.iter().any(|o| o.in_flight) {
                return None;
            }
            outbox
                .iter()
                .find(|o| o.delivery == Delivery::Pending)
                .cloned()
        });
        let Some(entry) = next else {
            return Vec::new();
        };
        let attempt = entry.attempt + 1;
        self.update_entry(&entry.client_id, |o| {
            o.attempt = attempt;
            o.in_flight = true;
        });
        vec![
            Command::Send(ClientFrame::Send {
                channel: entry.channel.to_string(),
                text: entry.text,
                client_id: Some(entry.client_id.clone()),
                thread: entry.thread,
            }),
            Command::Later {
                after_ms: ACK_TIMEOUT_MS,
                then: Timer::GiveUp {
                    client_id: entry.client_id,
                    attempt,
                },
            },
        ]
    }

    /// The socket closed: nothing is in flight any more; what was sent
    /// goes again (the server stores a repeat once) when it is back.
    pub(crate) fn link_lost(&self) {
        self.outbox.update(|outbox| {
            for entry in outbox.iter_mut() {
                entry.in_flight = false;
            }
        });
    }

    /// Marks a message failed if `attempt` is still its latest and it is
    /// still unacknowledged; the next one goes.
    pub(super) fn give_up(&self, client_id: &str, attempt: u32, outside: &Outside) -> Vec<Command> {
        let current = self.outbox.with_untracked(|outbox| {
            outbox
                .iter()
                .any(|o| o.client_id == client_id && o.attempt == attempt && o.in_flight)
        });
        if !current {
            return Vec::new();
        }
        let reason = "The server did not confirm this message.".to_owned();
        self.update_entry(client_id, |o| {
            o.delivery = Delivery::Failed(reason);
            o.in_flight = false;
        });
        self.pump(outside)
    }

    fn update_entry(&self, client_id: &str, change: impl FnOnce(&mut Outgoing)) {
        self.outbox.update(|outbox| {
            if let Some(entry) = outbox.iter_mut().find(|o| o.client_id == client_id) {
                change(entry);
            }
        });
    }

    /// The server stored a send of ours: it leaves the outbox, and the
    /// next one goes.
    pub(super) fn acknowledged(&self, client_id: &str, outside: &Outside) -> Vec<Command> {
        self.outbox
            .update(|outbox| outbox.retain(|o| o.client_id != client_id));
        self.pump(outside)
    }

    /// The server refused a send of ours.
    pub(super) fn refused(
        &self,
        client_id: &str,
        code: ErrorCode,
        message: String,
        retry_after_ms: Option<u64>,
        outside: &Outside,
    ) -> Vec<Command> {
        match code {
            // Too fast: the same message again once the server allows.
            ErrorCode::RateLimited => {
                self.update_entry(client_id, |o| o.in_flight = false);
                let (least, most) = RETRY_AFTER_BOUNDS_MS;
                vec![Command::Later {
                    after_ms: retry_after_ms.unwrap_or(RETRY_AFTER_MS).clamp(least, most),
                    then: Timer::Pump,
                }]
            }
            // Not signed in: the name is being claimed again, after which
            // the socket reconnects and the outbox goes on.
            ErrorCode::NotSignedIn => {
                self.update_entry(client_id, |o| o.in_flight = false);
                Vec::new()
            }
            _ => {
                self.update_entry(client_id, |o| {
                    o.delivery = Delivery::Failed(message);
                    o.in_flight = false;
                });
                self.pump(outside)
            }
        }
    }
}
