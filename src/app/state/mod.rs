//! The UI's state: signals that components read, and how server events
//! change them. Browser-only work (storage, the socket, notifications) is
//! in `crate::client`, which is inert on the server.
//!
//! Real time never loses, doubles or reorders a message: the open channel
//! is held with the `seq` of the last event applied (its cursor); an event
//! at or below the cursor is a repeat and is ignored, one beyond the next
//! means something was missed, and the socket joins again from the cursor
//! so the server replays exactly the gap. What the user sends goes through
//! an outbox: pending until the server acknowledges it, sent again (with
//! the same id, which the server stores once) after a reconnect, and
//! failed, with a retry, if the server refuses it or never answers. The
//! outbox sends one message at a time, in order, each once the one before
//! is acknowledged; a refusal for going too fast waits as long as the
//! server says and sends it again, so what was typed offline goes out at
//! the pace the server allows.
//!
//! The state decides and the driver acts: `reduce` (events) and
//! `outbox` (what the user sends) change the signals and return the
//! [`Command`]s that follow (frames to send, timers, loads, a
//! notification), and `driver` alone carries them out through
//! `crate::client`. What a decision needs from the browser (the clock,
//! whether the page is in sight, ...) comes in as an [`Outside`], so the
//! whole of it is unit-tested on plain values, without a socket.
//!
//! - `mod.rs`: the signals ([`Chat`]) and what components read of them.
//! - `commands.rs`: the effects the state asks for, and what it is told.
//! - `reduce.rs`: server events, timers and read marks.
//! - `outbox.rs`: what the user sends, one at a time, in order.
//! - `driver.rs`: the only I/O: carries commands out, and is the socket's
//!   [`crate::client::socket::Page`].

mod commands;
mod driver;
mod outbox;
mod reduce;
#[cfg(test)]
mod tests;

pub(crate) use commands::{Command, Outside, Timer};

use crate::model::{
    ChannelName, ChannelSummary, DisplayName, Identity, IdentityId, Member, Message, Seq,
    UnreadCount,
};
use crate::protocol::{ClientFrame, Cursor};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Who the user is, as far as this tab knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Me {
    /// Not known yet (outside a page, in tests).
    #[cfg(test)]
    Unknown,
    /// No name: the prompt shows, with the reason if a claim failed.
    Anonymous { problem: Option<String> },
    /// Signed in as this identity.
    Named(Identity),
}

pub(crate) use crate::protocol::Connection;

/// The open channel as the socket keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveChannel {
    pub channel: ChannelName,
    /// The last event applied.
    pub seq: Seq,
    pub messages: Vec<Message>,
}

/// Where a message in the outbox stands.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum Delivery {
    /// Waiting for the connection, or for the server's acknowledgement.
    Pending,
    /// Refused, or not acknowledged in time; the reason.
    Failed(String),
}

/// A message the user sent that the server has not acknowledged yet.
/// Kept in the tab's session storage (see [`Chat::keep_outbox`]), without
/// the attempt's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Outgoing {
    pub client_id: String,
    pub channel: ChannelName,
    /// For a reply: the thread's parent.
    pub thread: Option<Seq>,
    pub text: String,
    pub delivery: Delivery,
    /// Bumped by every attempt, so a stale timeout does nothing.
    #[serde(skip)]
    pub attempt: u32,
    /// Sent on the open socket, and not answered yet.
    #[serde(skip)]
    pub in_flight: bool,
}

/// The shared UI state, provided as context by [`crate::app::App`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chat {
    pub me: RwSignal<Me>,
    /// My identity while named, from `me`: what each message's view reads
    /// (is it mine, does it mention me), so those views rerun only when
    /// the identity changes, not whenever `me` is set.
    identity: Memo<Option<Identity>>,
    /// `false` during server rendering and hydration, `true` once the app
    /// runs in the browser: inputs are enabled only then.
    pub hydrated: RwSignal<bool>,
    /// The channel list as the socket keeps it, once it has said hello.
    pub channels: RwSignal<Option<Vec<ChannelSummary>>>,
    /// My direct conversations, as the socket keeps them.
    pub directs: RwSignal<Vec<ChannelSummary>>,
    /// The channel the user has open, which the socket follows.
    pub open: RwSignal<Option<ChannelName>>,
    /// The open channel as the socket keeps it, once joined.
    pub live: RwSignal<Option<LiveChannel>>,
    /// The server run the cursors belong to (from its hello).
    pub epoch: RwSignal<Option<String>>,
    /// Messages sent and not yet acknowledged, oldest first.
    pub outbox: RwSignal<Vec<Outgoing>>,
    pub connection: RwSignal<Connection>,
    /// A refusal the server sent over the socket, for the user to see.
    pub alert: RwSignal<Option<String>>,
    /// Whether this page load has already gone back to the remembered
    /// channel (it does so once).
    pub returned: RwSignal<bool>,
    /// Bumped when the open page's server-rendered history is stale (the
    /// server's store changed, or a channel it lacked was created): the
    /// page loads it again.
    pub reload: RwSignal<u64>,
    /// Stored messages older than the live ones, loaded on request, of
    /// the open channel; and whether there are more.
    pub older: RwSignal<Older>,
    /// The thread open beside the channel, once loaded.
    pub thread: RwSignal<Option<OpenThread>>,
    /// The message being edited, and where.
    pub editing: RwSignal<Option<(Place, Seq)>>,
    /// The message whose reaction picker is open, and where.
    pub picker: RwSignal<Option<(Place, Seq)>>,
    /// The message a link pointed at (`?m=`), highlighted.
    pub highlight: RwSignal<Option<Seq>>,
    /// My unread counts, by channel, as the server counts them.
    pub unread: RwSignal<Vec<UnreadCount>>,
    /// Where "New messages" goes in the open channel: after my read mark
    /// as it was when I opened it.
    pub divider: RwSignal<Option<(ChannelName, Seq)>>,
    /// Who is typing where, and until when (ms since the epoch).
    pub typing: RwSignal<Vec<Typist>>,
    /// The open channel's members, once loaded.
    pub members: RwSignal<Option<(ChannelName, Vec<Member>)>>,
    /// Whether the members panel is open.
    pub show_members: RwSignal<bool>,
    /// Per message, whether it is the one being edited, whose picker is
    /// open, or highlighted: each message's view follows its own answer,
    /// so a change reruns the views of the two messages concerned, not
    /// every message's. (A selector keeps an entry per message shown in
    /// this tab; it is not cleared when a message's view goes, as an
    /// edited message's new view follows the same entry.)
    editing_of: StoredValue<Selector<Option<(Place, Seq)>>>,
    picker_of: StoredValue<Selector<Option<(Place, Seq)>>>,
    highlight_of: StoredValue<Selector<Option<Seq>>>,
    /// A read mark is due to be sent shortly.
    read_scheduled: StoredValue<bool>,
}

/// Someone typing in a channel or a thread.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Typist {
    pub who: Identity,
    pub channel: ChannelName,
    pub thread: Option<Seq>,
    pub until: f64,
}

/// How long "is typing" shows after the last sign of it.
pub(crate) const TYPING_SHOWN_MS: f64 = 5_000.0;

/// Where a message is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Place {
    /// In the channel's log: it can open its thread.
    Channel,
    /// In a thread panel (the parent or a reply).
    Thread,
}

/// A thread open beside its channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenThread {
    pub channel: ChannelName,
    pub parent: Message,
    /// Oldest first.
    pub replies: Vec<Message>,
}

/// The open channel's older messages, loaded by "Load older messages".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Older {
    pub channel: Option<ChannelName>,
    /// Oldest first; all older than the live messages.
    pub messages: Vec<Message>,
    /// Whether the start of the channel has been reached.
    pub complete: bool,
    /// Whether messages between these and the live ones are not loaded
    /// (after opening an old message from a search).
    pub gap: bool,
}

impl Chat {
    pub(crate) fn new(me: Me) -> Self {
        let me = RwSignal::new(me);
        let editing = RwSignal::new(None);
        let picker = RwSignal::new(None);
        let highlight = RwSignal::new(None);
        Chat {
            me,
            identity: Memo::new(move |_| match &*me.read() {
                Me::Named(identity) => Some(identity.clone()),
                _ => None,
            }),
            hydrated: RwSignal::new(false),
            channels: RwSignal::new(None),
            directs: RwSignal::new(Vec::new()),
            open: RwSignal::new(None),
            live: RwSignal::new(None),
            epoch: RwSignal::new(None),
            outbox: RwSignal::new(Vec::new()),
            connection: RwSignal::new(Connection::Idle),
            alert: RwSignal::new(None),
            returned: RwSignal::new(false),
            reload: RwSignal::new(0),
            older: RwSignal::new(Older::default()),
            thread: RwSignal::new(None),
            editing,
            picker,
            highlight,
            unread: RwSignal::new(Vec::new()),
            divider: RwSignal::new(None),
            typing: RwSignal::new(Vec::new()),
            members: RwSignal::new(None),
            show_members: RwSignal::new(false),
            editing_of: StoredValue::new(Selector::new(move || editing.get())),
            picker_of: StoredValue::new(Selector::new(move || picker.get())),
            highlight_of: StoredValue::new(Selector::new(move || highlight.get())),
            read_scheduled: StoredValue::new(false),
        }
    }

    /// My unread messages and mentions in `channel` (tracked); none in
    /// the channel I have open.
    pub(crate) fn unread_in(&self, channel: &ChannelName) -> (u32, u32) {
        if self.open.with(|open| open.as_ref() == Some(channel)) {
            return (0, 0);
        }
        self.unread.with(|counts| {
            counts
                .iter()
                .find(|c| &c.channel == channel)
                .map_or((0, 0), |c| (c.unread, c.mentions))
        })
    }

    /// My read mark in `channel`, as last counted.
    fn read_mark(&self, channel: &ChannelName) -> Seq {
        self.unread.with_untracked(|counts| {
            counts
                .iter()
                .find(|c| &c.channel == channel)
                .map_or(0, |c| c.read)
        })
    }

    /// Takes the server's new counts.
    fn counted(&self, new: Vec<UnreadCount>) {
        self.unread.update(|counts| {
            for count in new {
                match counts.iter_mut().find(|c| c.channel == count.channel) {
                    Some(held) => *held = count,
                    None => counts.push(count),
                }
            }
        });
    }

    /// Places the "New messages" divider for `channel`, just opened: after
    /// my read mark, if anything by others is newer.
    pub(crate) fn place_divider(&self, channel: &ChannelName) {
        self.divider
            .set(Some((channel.clone(), self.read_mark(channel))));
    }

    /// Forgets what was counted for this person (on signing out).
    pub(crate) fn forget_counts(&self) {
        self.unread.set(Vec::new());
        self.divider.set(None);
        self.directs.set(Vec::new());
    }

    /// The people typing in `channel` (or a thread there), not me, oldest
    /// first (tracked).
    pub(crate) fn typists(&self, channel: &ChannelName, thread: Option<Seq>) -> Vec<DisplayName> {
        let me = self.my_id();
        self.typing.with(|typing| {
            typing
                .iter()
                .filter(|t| &t.channel == channel && t.thread == thread && Some(t.who.id) != me)
                .map(|t| t.who.name.clone())
                .collect()
        })
    }

    /// The signed-in identity's number, if any (untracked).
    pub(crate) fn my_id_untracked(&self) -> Option<IdentityId> {
        self.me.with_untracked(|me| match me {
            Me::Named(me) => Some(me.id),
            _ => None,
        })
    }

    /// The signed-in name, if any (tracked).
    pub(crate) fn name(&self) -> Option<DisplayName> {
        self.identity
            .with(|me| me.as_ref().map(|me| me.name.clone()))
    }

    /// My identity while named, not tracked.
    pub(crate) fn identity_untracked(&self) -> Option<Identity> {
        self.identity.get_untracked()
    }

    /// Whether message `seq` is being edited in `place` (tracked for it
    /// alone).
    pub(crate) fn is_editing(&self, place: Place, seq: Seq) -> bool {
        self.editing_of
            .with_value(|of| of.selected(&Some((place, seq))))
    }

    /// Whether the reaction picker of message `seq` in `place` is open
    /// (tracked for it alone).
    pub(crate) fn is_picking(&self, place: Place, seq: Seq) -> bool {
        self.picker_of
            .with_value(|of| of.selected(&Some((place, seq))))
    }

    /// Whether message `seq` of the open channel is highlighted (tracked
    /// for it alone).
    pub(crate) fn is_highlighted(&self, seq: Seq) -> bool {
        self.highlight_of.with_value(|of| of.selected(&Some(seq)))
    }

    /// The signed-in identity's number, if any (tracked).
    pub(crate) fn my_id(&self) -> Option<IdentityId> {
        self.identity.with(|me| me.as_ref().map(|me| me.id))
    }

    /// The join for the open channel: from the cursor if the channel is
    /// held live, so the server replays only what was missed.
    pub(crate) fn join_frame(&self) -> Option<ClientFrame> {
        let open = self.open.get_untracked()?;
        let since = self.live.with_untracked(|live| {
            let live = live.as_ref().filter(|l| l.channel == open)?;
            let epoch = self.epoch.get_untracked()?;
            Some(Cursor {
                epoch,
                seq: live.seq,
            })
        });
        Some(ClientFrame::Join {
            channel: open.to_string(),
            since,
        })
    }

    /// Adds a channel to the live list, once, in name order.
    pub(crate) fn add_channel(&self, channel: ChannelSummary) {
        self.channels.update(|list| {
            if let Some(list) = list {
                if let Err(at) = list.binary_search_by(|c| c.name.cmp(&channel.name)) {
                    list.insert(at, channel);
                }
            }
        });
    }

    /// Adds a direct conversation of mine, once.
    pub(crate) fn add_direct(&self, direct: ChannelSummary) {
        self.directs.update(|list| {
            if !list.iter().any(|d| d.name == direct.name) {
                list.push(direct);
            }
        });
    }
}
