//! How server events, timers and reading change the signals: each step
//! changes them and returns what must follow as [`Command`]s, without
//! doing it (the driver, `driver.rs`, does).

use super::{Chat, Command, LiveChannel, Me, Older, Outside, Timer, Typist, TYPING_SHOWN_MS};
use crate::model::{
    ChannelName, Identity, IdentityId, Member, Message, Seq, ThreadSummary, UnreadCount,
    HISTORY_LIMIT,
};
use crate::protocol::{ClientFrame, ServerEvent};
use leptos::prelude::*;

/// How long a burst of messages waits for its one read mark.
const READ_EVERY_MS: u64 = 1_000;

impl Chat {
    /// Applies one event from the server to the signals; returns what
    /// follows from it.
    pub(crate) fn reduce(&self, event: ServerEvent, outside: &Outside) -> Vec<Command> {
        let mut out = Vec::new();
        match event {
            ServerEvent::Hello {
                channels,
                directs,
                epoch,
                me,
                idle_timeout_ms,
            } => {
                out.push(Command::SetIdleTimeout(idle_timeout_ms));
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
                if me.is_none() {
                    if let Me::Named(me) = self.me.get_untracked() {
                        if outside.name_stored {
                            // The server does not know us (a new store, or
                            // we were idle too long): claim the name again,
                            // then reconnect as its holder.
                            out.push(Command::Reclaim(me.name));
                        } else {
                            // Signed out in another tab: so is this one.
                            self.me.set(Me::Anonymous { problem: None });
                        }
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
                    out.extend(self.mark_read(outside));
                    out.push(Command::LoadMembers(channel));
                }
                out.extend(self.pump(outside));
            }
            ServerEvent::Resumed { channel, .. } => {
                out.extend(self.mark_read(outside));
                out.push(Command::LoadMembers(channel));
                out.extend(self.pump(outside));
            }
            ServerEvent::Message {
                channel,
                message,
                thread,
            } => {
                let seq = message.seq;
                self.stopped_typing(&channel, &message);
                if self.open.get_untracked().as_ref() == Some(&channel) {
                    out.extend(self.read_soon());
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
                        out.extend(self.on_event(&channel, seq, |messages| {
                            for m in messages.iter_mut().filter(|m| m.seq == summary.parent) {
                                set_summary(m, &summary);
                            }
                        }));
                    }
                    None => out.extend(
                        self.on_event(&channel, seq, |messages| push_in_order(messages, message)),
                    ),
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
                out.extend(self.change_message(&channel, seq, message_seq, |m| {
                    m.text = text.clone();
                    m.edited_at = Some(edited_at);
                    m.mentions = mentions.clone();
                }));
            }
            ServerEvent::Reacted {
                channel,
                seq,
                message_seq,
                reactions,
            } => {
                out.extend(self.change_message(&channel, seq, message_seq, |m| {
                    m.reactions = reactions.clone()
                }));
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
                out.extend(self.on_event(&channel, seq, |messages| {
                    messages.retain(|m| m.seq != message_seq);
                    if let Some(summary) = &thread {
                        for m in messages.iter_mut().filter(|m| m.seq == summary.parent) {
                            set_summary(m, summary);
                        }
                    }
                }));
            }
            ServerEvent::Mention { channel, message } => {
                out.extend(self.mentioned(channel, message, outside));
            }
            ServerEvent::Ack { client_id, .. } => {
                out.extend(self.acknowledged(&client_id, outside))
            }
            ServerEvent::Error {
                code,
                message,
                client_id: Some(client_id),
                retry_after_ms,
            } => out.extend(self.refused(&client_id, code, message, retry_after_ms, outside)),
            ServerEvent::Error { message, .. } => self.alert.set(Some(message)),
            ServerEvent::Pong => {}
            ServerEvent::Unread { counts } => self.counted(counts),
            ServerEvent::Typing {
                channel,
                thread,
                who,
                on,
            } => out.extend(self.typed(
                Typist {
                    who,
                    channel,
                    thread,
                    until: outside.now_ms + TYPING_SHOWN_MS,
                },
                on,
            )),
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
        out
    }

    /// A [`Command::Later`] came due.
    pub(crate) fn fire(&self, timer: Timer, outside: &Outside) -> Vec<Command> {
        match timer {
            Timer::Pump => self.pump(outside),
            Timer::GiveUp { client_id, attempt } => self.give_up(&client_id, attempt, outside),
            Timer::MarkRead => {
                self.read_scheduled.set_value(false);
                self.mark_read(outside)
            }
            Timer::ExpireTyping => {
                let now = outside.now_ms;
                self.typing
                    .update(|typing| typing.retain(|t| t.until > now));
                Vec::new()
            }
        }
    }

    /// I am reading the open channel: up to its last event, if the page
    /// is in sight. The server stores the mark (and tells my other tabs).
    pub(crate) fn mark_read(&self, outside: &Outside) -> Vec<Command> {
        if outside.hidden || self.my_id_untracked().is_none() {
            return Vec::new();
        }
        let Some((channel, seq)) = self
            .live
            .with_untracked(|live| live.as_ref().map(|l| (l.channel.clone(), l.seq)))
        else {
            return Vec::new();
        };
        if self.read_mark(&channel) >= seq && seq > 0 {
            return Vec::new();
        }
        self.counted(vec![UnreadCount {
            channel: channel.clone(),
            read: seq,
            unread: 0,
            mentions: 0,
        }]);
        vec![Command::Send(ClientFrame::Read {
            channel: channel.to_string(),
            seq,
        })]
    }

    /// Marks the open channel read in a second (once for a burst of
    /// messages), so a busy channel costs one mark a second, not one per
    /// message.
    fn read_soon(&self) -> Option<Command> {
        if self.read_scheduled.get_value() {
            return None;
        }
        self.read_scheduled.set_value(true);
        Some(Command::Later {
            after_ms: READ_EVERY_MS,
            then: Timer::MarkRead,
        })
    }

    /// Someone typed (or stopped): shown for [`TYPING_SHOWN_MS`] unless
    /// they type on.
    fn typed(&self, typist: Typist, on: bool) -> Option<Command> {
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
        on.then_some(Command::Later {
            after_ms: TYPING_SHOWN_MS as u64 + 100,
            then: Timer::ExpireTyping,
        })
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

    /// Someone mentioned me: a notification if the page is out of sight
    /// and I allowed them (the count comes with the unread counts).
    fn mentioned(
        &self,
        channel: ChannelName,
        message: Message,
        outside: &Outside,
    ) -> Option<Command> {
        if !(outside.hidden && outside.notify_granted) {
            return None;
        }
        let names: Vec<&str> = message.mentions.iter().map(|m| m.name.as_str()).collect();
        let body = crate::markup::plain(&crate::markup::parse(message.text.as_str(), &names));
        Some(Command::Notify {
            title: format!("{} mentioned you in #{channel}", message.author),
            body,
            tag: format!("{channel}-{}", message.seq),
            channel,
            message: message.seq,
        })
    }

    /// Applies event `seq`, a change to message `message_seq`, wherever
    /// the message is held.
    fn change_message(
        &self,
        channel: &ChannelName,
        seq: Seq,
        message_seq: Seq,
        change: impl Fn(&mut Message),
    ) -> Option<Command> {
        self.change_elsewhere(channel, message_seq, &change);
        self.on_event(channel, seq, |messages| {
            messages
                .iter_mut()
                .filter(|m| m.seq == message_seq)
                .for_each(&change)
        })
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

    /// Applies the channel event numbered `seq` if it is the next one;
    /// after a gap, the join that fetches what was missed.
    fn on_event(
        &self,
        channel: &ChannelName,
        seq: Seq,
        change: impl FnOnce(&mut Vec<Message>),
    ) -> Option<Command> {
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
        // Missed something: join again from the cursor to get it.
        gap.then(|| self.join_frame()).flatten().map(Command::Send)
    }

    /// The answer to [`Command::LoadMembers`]: who is in `channel`,
    /// kept if it is still open (merged with members who joined while it
    /// loaded).
    pub(crate) fn members_loaded(&self, channel: ChannelName, mut list: Vec<Member>) {
        sort_members(&mut list);
        if self.open.get_untracked().as_ref() == Some(&channel) {
            self.members
                .update(|members| add_members(members, channel, list));
        }
    }

    /// The answer to [`Command::Reclaim`]: the name is mine again (the
    /// socket then reconnects to write as it), or why not.
    pub(crate) fn reclaimed(&self, outcome: Result<Identity, String>) -> Vec<Command> {
        match outcome {
            Ok(me) => {
                self.me.set(Me::Named(me));
                vec![Command::Reconnect]
            }
            Err(problem) => {
                self.me.set(Me::Anonymous {
                    problem: Some(problem),
                });
                Vec::new()
            }
        }
    }
}

/// How an event's number relates to the cursor.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    Repeat,
    Next,
    Gap,
}

impl Step {
    pub(super) fn of(cursor: Seq, seq: Seq) -> Step {
        if seq <= cursor {
            Step::Repeat
        } else if seq == cursor + 1 {
            Step::Next
        } else {
            Step::Gap
        }
    }
}

/// Adds `more` to the members held for `channel` (starting afresh if
/// another channel's are held). Members only ever join, so a list loaded
/// and the events that came while it loaded are merged, never replaced.
pub(super) fn add_members(
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
fn sort_members(list: &mut [Member]) {
    list.sort_by_key(|m| m.identity.name.key());
}

/// Gives a thread's parent its new reply count.
fn set_summary(parent: &mut Message, summary: &ThreadSummary) {
    parent.replies = summary.replies;
    parent.last_reply_at = summary.last_reply_at;
}

/// Adds a message in sequence order, ignoring one already held, keeping
/// the last [`HISTORY_LIMIT`].
pub(super) fn push_in_order(messages: &mut Vec<Message>, message: Message) {
    if let Err(at) = messages.binary_search_by_key(&message.seq, |m| m.seq) {
        messages.insert(at, message);
        if messages.len() > HISTORY_LIMIT {
            let excess = messages.len() - HISTORY_LIMIT;
            messages.drain(..excess);
        }
    }
}
