//! The only part of the state that does I/O: it reads the browser into
//! an [`Outside`], hands events, timers and the user's sends to the pure
//! steps of the state, and carries out the [`Command`]s they return
//! through `crate::client` (inert on the server). It is also the app as
//! the socket sees it (the [`Page`]).

use super::{Chat, Command, Connection, Outgoing, Outside};
use crate::client::socket::{self, Page};
use crate::client::{notify, storage};
use crate::model::{ChannelName, IdentityId, Seq};
use crate::protocol::{ClientFrame, ServerEvent};
use leptos::prelude::*;

impl Outside {
    /// What the browser says now.
    pub(crate) fn read() -> Outside {
        Outside {
            now_ms: crate::client::now_ms(),
            hidden: notify::hidden(),
            notify_granted: notify::granted(),
            name_stored: storage::name().is_some(),
            link_open: socket::is_open(),
        }
    }
}

/// Carries out `commands`, in order. A timer, when it fires, and an
/// answer to a load, when it comes, go back to `chat`, and what they
/// return is carried out in turn.
pub(crate) fn run(chat: Chat, commands: Vec<Command>) {
    for command in commands {
        match command {
            Command::Send(frame) => {
                // Not open: what must go is asked for again on the next
                // open (the join, the outbox), or is not worth it later
                // (a read mark, typing).
                socket::send(&frame);
            }
            Command::Later { after_ms, then } => socket::later(
                move || run(chat, chat.fire(then, &Outside::read())),
                after_ms,
            ),
            Command::SetIdleTimeout(ms) => socket::set_idle_timeout(ms),
            Command::LoadMembers(channel) => load_members(chat, channel),
            Command::Notify {
                title,
                body,
                tag,
                channel,
                message,
            } => {
                let href = format!("/c/{channel}?m={message}");
                notify::show(&title, &body, &tag, move || {
                    let _ = window().location().set_href(&href);
                });
            }
            Command::Reclaim(name) => leptos::task::spawn_local(async move {
                let outcome = crate::api::claim_name(name.to_string())
                    .await
                    .map_err(|refusal| refusal.message);
                run(chat, chat.reclaimed(outcome));
            }),
            Command::Reconnect => socket::reconnect(),
        }
    }
}

/// Loads who is in `channel` (and online), for the members panel (in the
/// browser only: events never reach the server's copy of the app).
fn load_members(chat: Chat, channel: ChannelName) {
    if cfg!(not(feature = "hydrate")) {
        return;
    }
    leptos::task::spawn_local(async move {
        if let Ok(list) = crate::api::channel_members(channel.to_string()).await {
            chat.members_loaded(channel, list);
        }
    });
}

/// A fresh id for a send: random, so a retry after a reload could not
/// collide with another message.
fn new_client_id() -> String {
    let random = crate::client::random_u64();
    format!("{random:016x}")
}

/// What components ask of the state that involves the browser.
impl Chat {
    /// Sends a frame on the socket; `false` if it is not open.
    pub(crate) fn send(&self, frame: ClientFrame) -> bool {
        socket::send(&frame)
    }

    /// I am reading the open channel (see [`Chat::mark_read`]).
    pub(crate) fn read_open(&self) {
        run(*self, self.mark_read(&Outside::read()));
    }

    /// Queues a message; it is sent when its turn comes. Returns its
    /// client id.
    pub(crate) fn submit(&self, channel: ChannelName, text: String, thread: Option<Seq>) -> String {
        let client_id = new_client_id();
        let commands = self.queue(client_id.clone(), channel, text, thread, &Outside::read());
        run(*self, commands);
        client_id
    }

    /// Puts a failed message back in line (the Retry button).
    pub(crate) fn retry(&self, client_id: &str) {
        run(*self, self.requeue(client_id, &Outside::read()));
    }

    /// Keeps the outbox in this tab's session storage, so that reloading
    /// the page (or its crash) loses nothing typed and not yet
    /// acknowledged: once the page runs and knows who I am, what was kept
    /// for me comes back, pending messages are sent again (the server
    /// stores a repeat once) and failed ones wait for their Retry.
    /// Session storage is the tab's own: another tab does not send them
    /// twice.
    pub(crate) fn keep_outbox(self) {
        Effect::new(move |restored: Option<Option<IdentityId>>| {
            let me = self.my_id()?;
            if restored.flatten() != Some(me) {
                let kept: Vec<Outgoing> = storage::outbox(me);
                run(self, self.restore(kept, &Outside::read()));
            }
            self.outbox.with(|outbox| storage::set_outbox(me, outbox));
            Some(me)
        });
    }
}

/// The app as the socket sees it: events in, the link's state, and what
/// to follow.
impl Page for Chat {
    fn event(&self, event: ServerEvent) {
        run(*self, self.reduce(event, &Outside::read()));
    }

    fn state(&self, state: Connection) {
        self.connection.update(|c| {
            // "Connecting" is only said of a first connection; after a
            // loss the status stays "reconnecting" or "offline".
            if state != Connection::Connecting || *c == Connection::Idle {
                *c = state;
            }
        });
    }

    fn follow(&self) -> Option<ClientFrame> {
        self.open.get()?;
        self.join_frame()
    }

    fn opened(&self) -> Option<ClientFrame> {
        self.join_frame()
    }

    fn lost(&self) {
        self.link_lost();
    }
}
