//! What the state asks the driver to do, and what it needs to know of
//! the browser to decide: plain data both ways, so that a test can feed
//! the reducer and read its answer without a socket, a clock or storage.

use crate::model::{ChannelName, DisplayName, Seq};
use crate::protocol::ClientFrame;

/// An effect the state asks for, carried out by [`super::driver::run`]
/// in the order given (frames go out in that order).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    /// Send this frame if the socket is open (a read mark, a join from
    /// the cursor after a gap, an outbox entry, ...). An outbox entry is
    /// only asked for when the socket was open (see [`Outside::link_open`]).
    Send(ClientFrame),
    /// Do `then` after `after_ms` milliseconds.
    Later { after_ms: u64, then: Timer },
    /// The server's idle timeout, from its hello, for the socket's
    /// keep-alive.
    SetIdleTimeout(u64),
    /// Load who is in this channel, for the members panel (the answer
    /// goes to [`super::Chat::members_loaded`]).
    LoadMembers(ChannelName),
    /// Show a notification; a click on it opens `message` in `channel`.
    Notify {
        title: String,
        body: String,
        /// One notification per message: a repeat replaces it.
        tag: String,
        channel: ChannelName,
        message: Seq,
    },
    /// The server forgot who we are: claim this name again (the answer
    /// goes to [`super::Chat::reclaimed`]).
    Reclaim(DisplayName),
    /// Replace the socket, so that it writes as the identity just
    /// claimed.
    Reconnect,
}

/// What to do when a [`Command::Later`] comes due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Send the next outbox entry (after a refusal for going too fast).
    Pump,
    /// Mark the entry failed if this attempt is still unanswered.
    GiveUp { client_id: String, attempt: u32 },
    /// Send the read mark of the open channel (once a second at most).
    MarkRead,
    /// Stop showing whoever has not typed for a while.
    ExpireTyping,
}

/// What the state needs to know of the browser to decide, read by the
/// driver just before it asks (in tests, written by hand).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Outside {
    /// Now, in ms since the epoch.
    pub now_ms: f64,
    /// The page is out of sight (another tab, minimised): nothing is
    /// read, and mentions may notify.
    pub hidden: bool,
    /// Notifications are allowed.
    pub notify_granted: bool,
    /// A name is remembered in this browser (it is forgotten when this
    /// tab, or another, signs out).
    pub name_stored: bool,
    /// The socket is open: an outbox entry sent now is in flight.
    pub link_open: bool,
}
