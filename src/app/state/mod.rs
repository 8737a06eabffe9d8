//! The UI's state: signals that components read, and how server events
//! change them. Browser-only work (storage, the socket) is in
//! `crate::client`, which is inert on the server.
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

use crate::model::{
    ChannelName, ChannelSummary, DisplayName, ErrorCode, Identity, IdentityId, Member, Message,
    Seq, ThreadSummary, UnreadCount, HISTORY_LIMIT,
};
use crate::protocol::{ClientFrame, Cursor, ServerEvent};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Who the user is, as far as this tab knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Me {
    /// Not known yet (outside a page, in tests).
    Unknown,
    /// No name: the prompt shows, with the reason if a claim failed.
    Anonymous { problem: Option<String> },
    /// Signed in as this identity.
    Named(Identity),
}

pub use crate::protocol::Connection;

/// The open channel as the socket keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveChannel {
    pub channel: ChannelName,
    /// The last event applied.
    pub seq: Seq,
    pub messages: Vec<Message>,
}

/// Where a message in the outbox stands.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Delivery {
    /// Waiting for the connection, or for the server's acknowledgement.
    Pending,
    /// Refused, or not acknowledged in time; the reason.
    Failed(String),
}

/// A message the user sent that the server has not acknowledged yet.
/// Kept in the tab's session storage (see [`Chat::keep_outbox`]), without
/// the attempt's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
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
pub struct Chat {
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
pub struct Typist {
    pub who: Identity,
    pub channel: ChannelName,
    pub thread: Option<Seq>,
    pub until: f64,
}

/// How long "is typing" shows after the last sign of it.
pub const TYPING_SHOWN_MS: f64 = 5_000.0;

/// Where a message is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    /// In the channel's log: it can open its thread.
    Channel,
    /// In a thread panel (the parent or a reply).
    Thread,
}

/// A thread open beside its channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenThread {
    pub channel: ChannelName,
    pub parent: Message,
    /// Oldest first.
    pub replies: Vec<Message>,
}

/// The open channel's older messages, loaded by "Load older messages".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Older {
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
    pub fn new(me: Me) -> Self {
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
    pub fn unread_in(&self, channel: &ChannelName) -> (u32, u32) {
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

    /// I am reading the open channel: up to its last event, if the page
    /// is in sight. The server stores the mark (and tells my other tabs).
    pub fn read_open(&self) {
        if crate::client::notify::hidden() || self.my_id_untracked().is_none() {
            return;
        }
        let Some((channel, seq)) = self
            .live
            .with_untracked(|live| live.as_ref().map(|l| (l.channel.clone(), l.seq)))
        else {
            return;
        };
        if self.read_mark(&channel) >= seq && seq > 0 {
            return;
        }
        self.counted(vec![UnreadCount {
            channel: channel.clone(),
            read: seq,
            unread: 0,
            mentions: 0,
        }]);
        self.send(ClientFrame::Read {
            channel: channel.to_string(),
            seq,
        });
    }

    /// Places the "New messages" divider for `channel`, just opened: after
    /// my read mark, if anything by others is newer.
    pub fn place_divider(&self, channel: &ChannelName) {
        self.divider
            .set(Some((channel.clone(), self.read_mark(channel))));
    }

    /// Forgets what was counted for this person (on signing out).
    pub fn forget_counts(&self) {
        self.unread.set(Vec::new());
        self.divider.set(None);
        self.directs.set(Vec::new());
    }

    /// The people typing in `channel` (or a thread there), not me, oldest
    /// first (tracked).
    pub fn typists(&self, channel: &ChannelName, thread: Option<Seq>) -> Vec<DisplayName> {
        let me = self.my_id();
        self.typing.with(|typing| {
            typing
                .iter()
                .filter(|t| &t.channel == channel && t.thread == thread && Some(t.who.id) != me)
                .map(|t| t.who.name.clone())
                .collect()
        })
    }

    /// Someone typed (or stopped): shown for [`TYPING_SHOWN_MS`] unless
    /// they type on.
    fn typed(&self, typist: Typist, on: bool) {
        self.typing.update(|typing| {
            typing.retain(|t| {
                !(t.who.id == typist.who.id
                    && t.channel == typist.channel
                    && t.thread == typist.thread)
            });
            if on {
                typing.push(typist);
            }
        });
        if on {
            let chat = *self;
            crate::client::socket::later(
                move || {
                    let now = crate::client::now_ms();
                    chat.typing
                        .update(|typing| typing.retain(|t| t.until > now));
                },
                TYPING_SHOWN_MS as u64 + 100,
            );
        }
    }

    /// Someone's message arrived: they are no longer typing it.
    fn stopped_typing(&self, channel: &ChannelName, message: &Message) {
        let held = self.typing.with_untracked(|typing| {
            typing.iter().any(|t| {
                &t.channel == channel && t.who.id == message.author_id && t.thread == message.thread
            })
        });
        if held {
            self.typing.update(|typing| {
                typing.retain(|t| {
                    !(&t.channel == channel
                        && t.who.id == message.author_id
                        && t.thread == message.thread)
                })
            });
        }
    }

    /// Changes who is online among the members shown.
    fn presence(&self, online: &[Identity], offline: &[IdentityId]) {
        self.members.update(|members| {
            if let Some((_, members)) = members {
                for member in members.iter_mut() {
                    if online.iter().any(|o| o.id == member.identity.id) {
                        member.online = true;
                    } else if offline.contains(&member.identity.id) {
                        member.online = false;
                    }
                }
            }
        });
    }

    /// The signed-in identity's number, if any (untracked).
    pub fn my_id_untracked(&self) -> Option<IdentityId> {
        self.me.with_untracked(|me| match me {
            Me::Named(me) => Some(me.id),
            _ => None,
        })
    }

    /// Someone mentioned me: a notification if the page is out of sight
    /// and I allowed them (the count comes with the unread counts).
    fn mentioned(&self, channel: ChannelName, message: Message) {
        let hidden = crate::client::notify::hidden();
        if hidden && crate::client::notify::granted() {
            let names: Vec<&str> = message.mentions.iter().map(|m| m.name.as_str()).collect();
            let body = crate::markup::plain(&crate::markup::parse(message.text.as_str(), &names));
            let title = format!("{} mentioned you in #{channel}", message.author);
            let href = format!("/c/{channel}?m={}", message.seq);
            crate::client::notify::show(
                &title,
                &body,
                &format!("{channel}-{}", message.seq),
                move || {
                    let _ = leptos::prelude::window().location().set_href(&href);
                },
            );
        }
    }

    /// Applies event `seq`, a change to message `message_seq`, wherever
    /// the message is held.
    fn change_message(
        &self,
        channel: &ChannelName,
        seq: Seq,
        message_seq: Seq,
        change: impl Fn(&mut Message),
    ) {
        self.change_elsewhere(channel, message_seq, &change);
        self.on_event(channel, seq, |messages| {
            messages
                .iter_mut()
                .filter(|m| m.seq == message_seq)
                .for_each(&change)
        });
    }

    /// Changes the copies of message `seq` held outside the live channel
    /// (older messages, the open thread).
    fn change_elsewhere(&self, channel: &ChannelName, seq: Seq, change: impl Fn(&mut Message)) {
        self.older.update(|older| {
            if older.channel.as_ref() == Some(channel) {
                older
                    .messages
                    .iter_mut()
                    .filter(|m| m.seq == seq)
                    .for_each(&change);
            }
        });
        self.thread.update(|thread| {
            if let Some(thread) = thread.as_mut().filter(|t| &t.channel == channel) {
                if thread.parent.seq == seq {
                    change(&mut thread.parent);
                }
                thread
                    .replies
                    .iter_mut()
                    .filter(|m| m.seq == seq)
                    .for_each(&change);
            }
        });
    }

    /// The signed-in name, if any (tracked).
    pub fn name(&self) -> Option<DisplayName> {
        self.identity
            .with(|me| me.as_ref().map(|me| me.name.clone()))
    }

    /// My identity while named, not tracked.
    pub fn identity_untracked(&self) -> Option<Identity> {
        self.identity.get_untracked()
    }

    /// Whether message `seq` is being edited in `place` (tracked for it
    /// alone).
    pub fn is_editing(&self, place: Place, seq: Seq) -> bool {
        self.editing_of
            .with_value(|of| of.selected(&Some((place, seq))))
    }

    /// Whether the reaction picker of message `seq` in `place` is open
    /// (tracked for it alone).
    pub fn is_picking(&self, place: Place, seq: Seq) -> bool {
        self.picker_of
            .with_value(|of| of.selected(&Some((place, seq))))
    }

    /// Whether message `seq` of the open channel is highlighted (tracked
    /// for it alone).
    pub fn is_highlighted(&self, seq: Seq) -> bool {
        self.highlight_of.with_value(|of| of.selected(&Some(seq)))
    }

    /// The signed-in identity's number, if any (tracked).
    pub fn my_id(&self) -> Option<IdentityId> {
        self.identity.with(|me| me.as_ref().map(|me| me.id))
    }

    /// Sends a frame on the socket; `false` if it is not open.
    pub fn send(&self, frame: ClientFrame) -> bool {
        crate::client::socket::send(&frame)
    }

    /// The join for the open channel: from the cursor if the channel is
    /// held live, so the server replays only what was missed.
    pub fn join_frame(&self) -> Option<ClientFrame> {
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
    pub fn add_channel(&self, channel: ChannelSummary) {
        self.channels.update(|list| {
            if let Some(list) = list {
                if let Err(at) = list.binary_search_by(|c| c.name.cmp(&channel.name)) {
                    list.insert(at, channel);
                }
            }
        });
    }

    /// Adds a direct conversation of mine, once.
    pub fn add_direct(&self, direct: ChannelSummary) {
        self.directs.update(|list| {
            if !list.iter().any(|d| d.name == direct.name) {
                list.push(direct);
            }
        });
    }

    /// Queues a message; it is sent when its turn comes. Returns its
    /// client id.
    pub fn submit(&self, channel: ChannelName, text: String, thread: Option<Seq>) -> String {
        let client_id = new_client_id();
        self.outbox.update(|outbox| {
            outbox.push(Outgoing {
                client_id: client_id.clone(),
                channel,
                thread,
                text,
                delivery: Delivery::Pending,
                attempt: 0,
                in_flight: false,
            })
        });
        self.pump();
        client_id
    }

    /// Keeps the outbox in this tab's session storage, so that reloading
    /// the page (or its crash) loses nothing typed and not yet
    /// acknowledged: once the page runs and knows who I am, what was kept
    /// for me comes back, pending messages are sent again (the server
    /// stores a repeat once) and failed ones wait for their Retry.
    /// Session storage is the tab's own: another tab does not send them
    /// twice.
    pub fn keep_outbox(self) {
        use crate::client::storage;
        Effect::new(move |restored: Option<Option<IdentityId>>| {
            let me = self.my_id()?;
            if restored.flatten() != Some(me) {
                let kept: Vec<Outgoing> = storage::outbox(me);
                if !kept.is_empty() {
                    self.outbox.update(|outbox| {
                        for entry in kept {
                            if !outbox.iter().any(|o| o.client_id == entry.client_id) {
                                outbox.push(entry);
                            }
                        }
                    });
                    self.pump();
                }
            }
            self.outbox.with(|outbox| storage::set_outbox(me, outbox));
            Some(me)
        });
    }

    /// Puts a failed message back in line (the Retry button).
    pub fn retry(&self, client_id: &str) {
        self.update_entry(client_id, |entry| {
            entry.delivery = Delivery::Pending;
            entry.in_flight = false;
        });
        self.pump();
    }

    /// Sends the oldest pending message, unless one is already waiting for
    /// its answer or the socket is not open: one at a time, in order.
    pub fn pump(&self) {
        let next = self.outbox.with_untracked(|outbox| {
            if outbox.iter().any(|o| o.in_flight) {
                return None;
            }
            outbox
                .iter()
                .find(|o| o.delivery == Delivery::Pending)
                .cloned()
        });
        let Some(entry) = next else { return };
        let frame = ClientFrame::Send {
            channel: entry.channel.to_string(),
            text: entry.text.clone(),
            client_id: Some(entry.client_id.clone()),
            thread: entry.thread,
        };
        if self.send(frame) {
            let attempt = entry.attempt + 1;
            self.update_entry(&entry.client_id, |o| {
                o.attempt = attempt;
                o.in_flight = true;
            });
            let chat = *self;
            let client_id = entry.client_id;
            crate::client::socket::later(
                move || chat.give_up(&client_id, attempt),
                crate::client::socket::ACK_TIMEOUT_MS,
            );
        }
    }

    /// The socket closed: nothing is in flight any more; what was sent
    /// goes again (the server stores a repeat once) when it is back.
    pub fn link_lost(&self) {
        self.outbox.update(|outbox| {
            for entry in outbox.iter_mut() {
                entry.in_flight = false;
            }
        });
    }

    /// Marks a message failed if `attempt` is still its latest and it is
    /// still unacknowledged; the next one goes.
    pub fn give_up(&self, client_id: &str, attempt: u32) {
        let current = self.outbox.with_untracked(|outbox| {
            outbox
                .iter()
                .any(|o| o.client_id == client_id && o.attempt == attempt && o.in_flight)
        });
        if current {
            let reason = "The server did not confirm this message.".to_owned();
            self.update_entry(client_id, |o| {
                o.delivery = Delivery::Failed(reason);
                o.in_flight = false;
            });
            self.pump();
        }
    }

    fn update_entry(&self, client_id: &str, change: impl FnOnce(&mut Outgoing)) {
        self.outbox.update(|outbox| {
            if let Some(entry) = outbox.iter_mut().find(|o| o.client_id == client_id) {
                change(entry);
            }
        });
    }

    fn acknowledged(&self, client_id: &str) {
        self.outbox
            .update(|outbox| outbox.retain(|o| o.client_id != client_id));
        self.pump();
    }

    /// The server refused a send of ours.
    fn refused(
        &self,
        client_id: &str,
        code: ErrorCode,
        message: String,
        retry_after_ms: Option<u64>,
    ) {
        match code {
            // Too fast: the same message again once the server allows.
            ErrorCode::RateLimited => {
                self.update_entry(client_id, |o| o.in_flight = false);
                let chat = *self;
                let wait = retry_after_ms.unwrap_or(1000).clamp(100, 60_000);
                crate::client::socket::later(move || chat.pump(), wait);
            }
            // Not signed in: the name is being claimed again, after which
            // the socket reconnects and the outbox goes on.
            ErrorCode::NotSignedIn => self.update_entry(client_id, |o| o.in_flight = false),
            _ => {
                self.update_entry(client_id, |o| {
                    o.delivery = Delivery::Failed(message);
                    o.in_flight = false;
                });
                self.pump();
            }
        }
    }

    /// Applies one event from the server to the signals.
    pub fn apply(&self, event: ServerEvent) {
        match event {
            ServerEvent::Hello {
                channels,
                directs,
                epoch,
                me,
                idle_timeout_ms,
            } => {
                crate::client::socket::set_idle_timeout(idle_timeout_ms);
                self.channels.set(Some(channels));
                self.directs.set(directs);
                let new_store = self
                    .epoch
                    .get_untracked()
                    .is_some_and(|known| known != epoch);
                self.epoch.set(Some(epoch));
                if new_store {
                    // Nothing held is known to the new store: load afresh.
                    self.live.set(None);
                    self.older.set(Older::default());
                    self.reload.update(|n| *n += 1);
                }
                if me.is_none() && matches!(self.me.get_untracked(), Me::Named(_)) {
                    if crate::client::storage::name().is_some() {
                        // The server does not know us (a new store, or we
                        // were idle too long): claim the name again, then
                        // reconnect as its holder.
                        self.reclaim();
                    } else {
                        // Signed out in another tab: so is this one.
                        self.me.set(Me::Anonymous { problem: None });
                    }
                }
            }
            ServerEvent::ChannelCreated { channel } if !channel.people.is_empty() => {
                self.add_direct(channel);
            }
            ServerEvent::ChannelCreated { channel } => {
                self.add_channel(channel);
                if self.open.get_untracked().is_none() {
                    // The open page may be this channel's "not found".
                    self.reload.update(|n| *n += 1);
                }
            }
            ServerEvent::Joined {
                channel,
                seq,
                messages,
            } => {
                if self.open.get_untracked().as_ref() == Some(&channel) {
                    self.live.set(Some(LiveChannel {
                        channel: channel.clone(),
                        seq,
                        messages,
                    }));
                    if self
                        .divider
                        .with_untracked(|d| d.as_ref().is_none_or(|(c, _)| c != &channel))
                    {
                        self.place_divider(&channel);
                    }
                    self.read_open();
                    self.load_members(channel);
                }
                self.pump();
            }
            ServerEvent::Resumed { channel, .. } => {
                self.read_open();
                self.load_members(channel);
                self.pump()
            }
            ServerEvent::Message {
                channel,
                message,
                thread,
            } => {
                let seq = message.seq;
                self.stopped_typing(&channel, &message);
                if self.open.get_untracked().as_ref() == Some(&channel) {
                    self.read_soon();
                }
                match thread {
                    Some(summary) => {
                        self.thread.update(|open| {
                            if let Some(open) = open
                                .as_mut()
                                .filter(|t| t.channel == channel && t.parent.seq == summary.parent)
                            {
                                if let Err(at) = open.replies.binary_search_by_key(&seq, |m| m.seq)
                                {
                                    open.replies.insert(at, message);
                                }
                            }
                        });
                        self.change_elsewhere(&channel, summary.parent, |m| {
                            set_summary(m, &summary)
                        });
                        self.on_event(&channel, seq, |messages| {
                            for m in messages.iter_mut().filter(|m| m.seq == summary.parent) {
                                set_summary(m, &summary);
                            }
                        });
                    }
                    None => {
                        self.on_event(&channel, seq, |messages| push_in_order(messages, message))
                    }
                }
            }
            ServerEvent::Edited {
                channel,
                seq,
                message_seq,
                text,
                edited_at,
                mentions,
            } => {
                self.change_message(&channel, seq, message_seq, |m| {
                    m.text = text.clone();
                    m.edited_at = Some(edited_at);
                    m.mentions = mentions.clone();
                });
            }
            ServerEvent::Reacted {
                channel,
                seq,
                message_seq,
                reactions,
            } => {
                self.change_message(&channel, seq, message_seq, |m| {
                    m.reactions = reactions.clone()
                });
            }
            ServerEvent::Deleted {
                channel,
                seq,
                message_seq,
                thread,
            } => {
                self.older
                    .update(|older| older.messages.retain(|m| m.seq != message_seq));
                self.thread.update(|open| {
                    if let Some(open) = open.as_mut().filter(|t| t.channel == channel) {
                        open.replies.retain(|m| m.seq != message_seq);
                    }
                });
                if let Some(summary) = &thread {
                    self.change_elsewhere(&channel, summary.parent, |m| set_summary(m, summary));
                }
                self.on_event(&channel, seq, |messages| {
                    messages.retain(|m| m.seq != message_seq);
                    if let Some(summary) = &thread {
                        for m in messages.iter_mut().filter(|m| m.seq == summary.parent) {
                            set_summary(m, summary);
                        }
                    }
                })
            }
            ServerEvent::Mention { channel, message } => self.mentioned(channel, message),
            ServerEvent::Ack { client_id, .. } => self.acknowledged(&client_id),
            ServerEvent::Error {
                code,
                message,
                client_id: Some(client_id),
                retry_after_ms,
            } => self.refused(&client_id, code, message, retry_after_ms),
            ServerEvent::Error { message, .. } => self.alert.set(Some(message)),
            ServerEvent::Pong => {}
            ServerEvent::Unread { counts } => self.counted(counts),
            ServerEvent::Typing {
                channel,
                thread,
                who,
                on,
            } => self.typed(
                Typist {
                    who,
                    channel,
                    thread,
                    until: crate::client::now_ms() + TYPING_SHOWN_MS,
                },
                on,
            ),
            ServerEvent::Presence { online, offline } => self.presence(&online, &offline),
            ServerEvent::Member { channel, member } => {
                if self.open.get_untracked().as_ref() == Some(&channel) {
                    // Kept even before the list has loaded: the load
                    // merges, so a member who came meanwhile is not lost.
                    self.members
                        .update(|members| add_members(members, channel, vec![member]));
                }
            }
        }
    }

    /// Marks the open channel read in a second (once for a burst of
    /// messages), so a busy channel costs one mark a second, not one per
    /// message.
    fn read_soon(&self) {
        if self.read_scheduled.get_value() {
            return;
        }
        self.read_scheduled.set_value(true);
        let chat = *self;
        crate::client::socket::later(
            move || {
                chat.read_scheduled.set_value(false);
                chat.read_open();
            },
            1_000,
        );
    }

    /// Loads who is in `channel` (and online), for the members panel (in
    /// the browser; events never reach the server's copy of the app).
    fn load_members(&self, channel: ChannelName) {
        if cfg!(not(feature = "hydrate")) {
            return;
        }
        let chat = *self;
        leptos::task::spawn_local(async move {
            if let Ok(mut list) = crate::api::channel_members(channel.to_string()).await {
                sort_members(&mut list);
                if chat.open.get_untracked().as_ref() == Some(&channel) {
                    chat.members
                        .update(|members| add_members(members, channel, list));
                }
            }
        });
    }

    /// Applies the channel event numbered `seq` if it is the next one.
    fn on_event(&self, channel: &ChannelName, seq: Seq, change: impl FnOnce(&mut Vec<Message>)) {
        let mut gap = false;
        self.live.update(|live| {
            let Some(live) = live.as_mut().filter(|l| &l.channel == channel) else {
                return;
            };
            match Step::of(live.seq, seq) {
                Step::Repeat => {}
                Step::Next => {
                    change(&mut live.messages);
                    live.seq = seq;
                }
                Step::Gap => gap = true,
            }
        });
        if gap {
            // Missed something: join again from the cursor to get it.
            if let Some(frame) = self.join_frame() {
                self.send(frame);
            }
        }
    }
}

/// How an event's number relates to the cursor.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Repeat,
    Next,
    Gap,
}

impl Step {
    fn of(cursor: Seq, seq: Seq) -> Step {
        if seq <= cursor {
            Step::Repeat
        } else if seq == cursor + 1 {
            Step::Next
        } else {
            Step::Gap
        }
    }
}

/// A fresh id for a send: random, so a retry after a reload could not
/// collide with another message.
fn new_client_id() -> String {
    let random = crate::client::random_u64();
    format!("{random:016x}")
}

/// Adds `more` to the members held for `channel` (starting afresh if
/// another channel's are held). Members only ever join, so a list loaded
/// and the events that came while it loaded are merged, never replaced.
fn add_members(
    held: &mut Option<(ChannelName, Vec<Member>)>,
    channel: ChannelName,
    more: Vec<Member>,
) {
    if held.as_ref().is_none_or(|(c, _)| *c != channel) {
        *held = Some((channel, Vec::new()));
    }
    if let Some((_, list)) = held.as_mut() {
        for member in more {
            match list
                .iter_mut()
                .find(|m| m.identity.id == member.identity.id)
            {
                // The newer word on a member (a load) wins.
                Some(known) => *known = member,
                None => list.push(member),
            }
        }
        sort_members(list);
    }
}

/// Members by name.
pub fn sort_members(list: &mut [Member]) {
    list.sort_by_key(|m| m.identity.name.key());
}

/// Gives a thread's parent its new reply count.
fn set_summary(parent: &mut Message, summary: &ThreadSummary) {
    parent.replies = summary.replies;
    parent.last_reply_at = summary.last_reply_at;
}

/// Adds a message in sequence order, ignoring one already held, keeping
/// the last [`HISTORY_LIMIT`].
fn push_in_order(messages: &mut Vec<Message>, message: Message) {
    if let Err(at) = messages.binary_search_by_key(&message.seq, |m| m.seq) {
        messages.insert(at, message);
        if messages.len() > HISTORY_LIMIT {
            let excess = messages.len() - HISTORY_LIMIT;
            messages.drain(..excess);
        }
    }
}

/// Claims the current name again after the server forgot it (a new store,
/// or it expired), then reconnects the socket so it writes as that name.
fn reclaim_name(chat: Chat) {
    let Me::Named(me) = chat.me.get_untracked() else {
        return;
    };
    leptos::task::spawn_local(async move {
        match crate::api::claim_name(me.name.to_string()).await {
            Ok(me) => {
                chat.me.set(Me::Named(me));
                crate::client::socket::reconnect();
            }
            Err(refusal) => chat.me.set(Me::Anonymous {
                problem: Some(refusal.message),
            }),
        }
    });
}

impl Chat {
    /// See [`reclaim_name`].
    fn reclaim(&self) {
        reclaim_name(*self);
    }
}

/// The app as the socket sees it: events in, the link's state, and what
/// to follow.
impl crate::client::socket::Page for Chat {
    fn event(&self, event: ServerEvent) {
        self.apply(event);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MessageText;
    use chrono::Utc;

    #[test]
    fn members_that_join_while_the_list_loads_are_kept() {
        let member = |id: IdentityId, name: &str| Member {
            identity: Identity {
                id,
                name: DisplayName::parse(name).unwrap(),
            },
            online: true,
        };
        let general = ChannelName::parse("general").unwrap();
        let mut held = None;
        // Cy's event comes before the list (fetched before she joined).
        add_members(&mut held, general.clone(), vec![member(3, "cy")]);
        add_members(
            &mut held,
            general.clone(),
            vec![member(1, "ann"), member(2, "bob")],
        );
        let names: Vec<String> = held
            .as_ref()
            .unwrap()
            .1
            .iter()
            .map(|m| m.identity.name.to_string())
            .collect();
        assert_eq!(names, ["ann", "bob", "cy"]);
        // Another channel's list starts afresh.
        add_members(
            &mut held,
            ChannelName::parse("random").unwrap(),
            vec![member(1, "ann")],
        );
        assert_eq!(held.unwrap().1.len(), 1);
    }

    #[test]
    fn a_kept_outbox_entry_comes_back_ready_to_send_again() {
        let entry = |delivery| Outgoing {
            client_id: "c1".into(),
            channel: ChannelName::parse("general").unwrap(),
            thread: Some(7),
            text: "typed offline".into(),
            delivery,
            attempt: 3,
            in_flight: true,
        };
        for delivery in [Delivery::Pending, Delivery::Failed("refused".into())] {
            let json = serde_json::to_string(&entry(delivery.clone())).unwrap();
            assert!(
                !json.contains("attempt") && !json.contains("in_flight"),
                "{json}"
            );
            let back: Outgoing = serde_json::from_str(&json).unwrap();
            // Not in flight on a socket that is gone: the pump sends it.
            assert_eq!(
                back,
                Outgoing {
                    attempt: 0,
                    in_flight: false,
                    ..entry(delivery)
                }
            );
        }
    }

    fn message(seq: u64) -> Message {
        let ada = Identity {
            id: 1,
            name: DisplayName::parse("ada").unwrap(),
        };
        Message::new(seq, &ada, MessageText::parse("hi").unwrap(), Utc::now())
    }

    #[test]
    fn messages_are_kept_in_sequence_order_once() {
        let mut list = vec![message(1), message(3)];
        push_in_order(&mut list, message(2));
        push_in_order(&mut list, message(3));
        let seqs: Vec<_> = list.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
    }

    #[test]
    fn the_view_keeps_the_last_hundred() {
        let mut list: Vec<_> = (1..=100).map(message).collect();
        push_in_order(&mut list, message(101));
        assert_eq!(list.len(), HISTORY_LIMIT);
        assert_eq!(list[0].seq, 2);
    }

    #[test]
    fn events_are_repeats_next_or_gaps() {
        assert_eq!(Step::of(5, 5), Step::Repeat);
        assert_eq!(Step::of(5, 3), Step::Repeat);
        assert_eq!(Step::of(5, 6), Step::Next);
        assert_eq!(Step::of(5, 8), Step::Gap);
    }

    #[tokio::test]
    async fn applying_events_skips_repeats_and_follows_the_cursor() {
        let _ = any_spawner::Executor::init_tokio();
        let owner = Owner::new();
        owner.with(|| {
            let chat = Chat::new(Me::Unknown);
            let general = ChannelName::parse("general").unwrap();
            chat.open.set(Some(general.clone()));
            chat.apply(ServerEvent::Joined {
                channel: general.clone(),
                seq: 2,
                messages: vec![message(1), message(2)],
            });
            let event = |seq| ServerEvent::Message {
                channel: general.clone(),
                message: message(seq),
                thread: None,
            };
            chat.apply(event(3));
            chat.apply(event(3));
            chat.apply(event(2));
            chat.apply(ServerEvent::Deleted {
                channel: general.clone(),
                seq: 4,
                message_seq: 1,
                thread: None,
            });
            let live = chat.live.get_untracked().unwrap();
            assert_eq!(live.seq, 4);
            let seqs: Vec<_> = live.messages.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, vec![2, 3]);
            // A gap is not applied (the socket is asked to resume instead).
            chat.apply(event(9));
            assert_eq!(chat.live.get_untracked().unwrap().seq, 4);
        });
    }

    #[tokio::test]
    async fn edits_reactions_and_replies_change_the_held_messages_once() {
        let _ = any_spawner::Executor::init_tokio();
        let owner = Owner::new();
        owner.with(|| {
            let chat = Chat::new(Me::Unknown);
            let general = ChannelName::parse("general").unwrap();
            chat.open.set(Some(general.clone()));
            chat.apply(ServerEvent::Joined {
                channel: general.clone(),
                seq: 1,
                messages: vec![message(1)],
            });
            chat.apply(ServerEvent::Edited {
                channel: general.clone(),
                seq: 2,
                message_seq: 1,
                text: MessageText::parse("hi, edited").unwrap(),
                edited_at: Utc::now(),
                mentions: vec![],
            });
            let bob = Identity {
                id: 2,
                name: DisplayName::parse("bob").unwrap(),
            };
            let reacted = ServerEvent::Reacted {
                channel: general.clone(),
                seq: 3,
                message_seq: 1,
                reactions: vec![crate::model::Reaction {
                    emoji: "👍".into(),
                    by: vec![bob],
                }],
            };
            chat.apply(reacted.clone());
            chat.apply(reacted);
            let mut reply = message(4);
            reply.thread = Some(1);
            chat.apply(ServerEvent::Message {
                channel: general.clone(),
                message: reply,
                thread: Some(ThreadSummary {
                    parent: 1,
                    replies: 1,
                    last_reply_at: Some(Utc::now()),
                }),
            });
            let live = chat.live.get_untracked().unwrap();
            assert_eq!(live.seq, 4);
            assert_eq!(live.messages.len(), 1, "a reply is not in the channel");
            let parent = &live.messages[0];
            assert_eq!(parent.text.as_str(), "hi, edited");
            assert!(parent.edited_at.is_some());
            assert_eq!(parent.reactions[0].by.len(), 1, "a repeat is ignored");
            assert_eq!(parent.replies, 1);
        });
    }
}
