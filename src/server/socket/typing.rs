//! Typing indicators: when a `typing` frame is passed on, held back until
//! its interval ends, or dropped.

use super::Connection;
use crate::model::{ChannelName, Refusal, Seq};
use crate::protocol::TYPING_EVERY_MS;
use std::time::Duration;
use tokio::time::Instant;

/// A `typing: on` waiting for its interval to end.
pub(super) struct TypingLater {
    at: Instant,
    channel: ChannelName,
    thread: Option<Seq>,
}

/// What becomes of a `typing` frame.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TypingStep {
    /// It goes out now.
    Now,
    /// It goes out at this time, unless something else comes first.
    At(Instant),
    /// Nothing new: dropped.
    Drop,
}

/// What becomes of a `typing` frame (`on`), given whether followers were
/// last told "typing" and when the last `on` went out.
pub(super) fn typing_step(
    on: bool,
    typing: bool,
    last_on: Option<Instant>,
    now: Instant,
) -> TypingStep {
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

/// When a waiting `typing: on` is due; never without one.
pub(super) async fn typing_due(later: Option<&TypingLater>) {
    match later {
        Some(later) => tokio::time::sleep_until(later.at).await,
        None => std::future::pending().await,
    }
}

impl Connection {
    /// Passes on a `typing` frame: at most one `on` per [`TYPING_EVERY_MS`]
    /// (repeats while typing are dropped: a client that types on is still
    /// typing; an `on` after a stop that comes too soon goes out when the
    /// interval ends), and an `off` only after an `on` that went out. So
    /// at most one of each per interval however they alternate, and
    /// nobody's typing is lost. A send ends the typing (followers see the
    /// message) and the interval, so the next line's first `on` goes out
    /// at once.
    pub(super) fn typing(
        &mut self,
        channel: &str,
        thread: Option<Seq>,
        on: bool,
    ) -> Result<(), Refusal> {
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
    pub(super) fn typing_due(&mut self) {
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
}
