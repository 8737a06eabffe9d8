//! Writes: each states what a person did to the store, which numbers and
//! decides it; the committed event is then announced.

use super::{lock, refusal, wire, Channel, Frame, Hub, Notice, Pending};
use crate::model::{
    check_seq, ChannelName, Emoji, Identity, IdentityId, MessageText, Seq, HISTORY_LIMIT,
    MAX_REACTIONS,
};
use crate::protocol::ServerEvent;
use crate::server::store::{Event, EventKind, Outcome, StoreError, Write};
use chrono::{SubsecRound, Utc};
use std::sync::Arc;
use tokio::sync::broadcast;

/// A message to post: its text, and what the server worked out about it.
#[derive(Debug, Clone)]
pub struct Draft {
    pub text: MessageText,
    /// The sender's id for it, to recognise a retried send.
    pub client_id: Option<String>,
    /// The message whose thread it is a reply in.
    pub thread: Option<Seq>,
    /// Whom the text mentions.
    pub mentions: Vec<Identity>,
}

impl Draft {
    /// A plain message: no client id, thread or mentions.
    pub fn text(text: MessageText) -> Self {
        Draft {
            text,
            client_id: None,
            thread: None,
            mentions: Vec::new(),
        }
    }
}

/// What a committed write answers its writer with.
trait Answer: Send + 'static {
    fn of(outcome: &Outcome) -> Option<Self>
    where
        Self: Sized;
}

impl Answer for () {
    fn of(_: &Outcome) -> Option<Self> {
        Some(())
    }
}

/// A post answers with the number it was stored as.
impl Answer for Seq {
    fn of(outcome: &Outcome) -> Option<Self> {
        match outcome {
            Outcome::Event(event) => Some(event.seq),
            Outcome::Repeat(seq) => Some(*seq),
            _ => None,
        }
    }
}

impl Hub {
    /// Stores a message (or a reply in a thread) as the channel's next
    /// event and, once committed, fans it out; the answer is its number.
    /// The oldest message leaves the window once the channel holds more
    /// than [`HISTORY_LIMIT`]; replies stay in their threads. A repeat of
    /// a `client_id` this author already used (a retried send) is not
    /// stored again: its answer is the first one's number.
    pub fn post(&self, name: &ChannelName, author: &Identity, draft: Draft) -> Pending<Seq> {
        let start = || -> Result<Pending<Seq>, crate::model::Refusal> {
            if let Some(thread) = draft.thread {
                check_seq(thread)?;
            }
            let channel = self.visible_channel(name, Some(author.id))?;
            let mut mentions = draft.mentions;
            only_people_of(name, &mut mentions);
            let write = Write::Post {
                channel: channel.id,
                author: author.clone(),
                text: draft.text,
                thread: draft.thread,
                mentions,
                client_id: draft.client_id,
                at: Utc::now().trunc_subsecs(3),
            };
            Ok(self.write_event(&channel, write))
        };
        start().unwrap_or_else(|refusal| Pending::ready(Err(refusal)))
    }

    /// Replaces the text of message `seq` on behalf of identity `by`, who
    /// must be its author. The same text again changes nothing.
    pub(crate) fn edit(
        &self,
        name: &ChannelName,
        seq: Seq,
        by: IdentityId,
        text: MessageText,
        mentions: Vec<Identity>,
    ) -> Pending<()> {
        let start = || -> Result<Pending<()>, crate::model::Refusal> {
            check_seq(seq)?;
            let channel = self.visible_channel(name, Some(by))?;
            let mut mentions = mentions;
            only_people_of(name, &mut mentions);
            let write = Write::Edit {
                channel: channel.id,
                seq,
                by,
                text,
                mentions,
                at: Utc::now().trunc_subsecs(3),
            };
            Ok(self.write_event(&channel, write))
        };
        start().unwrap_or_else(|refusal| Pending::ready(Err(refusal)))
    }

    /// Adds (`on`) or removes `who`'s reaction `emoji` to message `seq`.
    /// What is already so changes nothing; a message takes reactions of
    /// at most [`MAX_REACTIONS`] different emoji.
    pub(crate) fn react(
        &self,
        name: &ChannelName,
        seq: Seq,
        who: &Identity,
        emoji: Emoji,
        on: bool,
    ) -> Pending<()> {
        let start = || -> Result<Pending<()>, crate::model::Refusal> {
            check_seq(seq)?;
            let channel = self.visible_channel(name, Some(who.id))?;
            let write = Write::React {
                channel: channel.id,
                seq,
                who: who.clone(),
                emoji: emoji.as_str().to_owned(),
                on,
                max_emoji: MAX_REACTIONS,
            };
            Ok(self.write_event(&channel, write))
        };
        start().unwrap_or_else(|refusal| Pending::ready(Err(refusal)))
    }

    /// Deletes a message on behalf of identity `by`, who must be its
    /// author. A message with replies is not deleted: its thread would be
    /// lost to the people who replied.
    pub(crate) fn delete(&self, name: &ChannelName, seq: Seq, by: IdentityId) -> Pending<()> {
        let start = || -> Result<Pending<()>, crate::model::Refusal> {
            check_seq(seq)?;
            let channel = self.visible_channel(name, Some(by))?;
            let write = Write::Delete {
                channel: channel.id,
                seq,
                by,
            };
            Ok(self.write_event(&channel, write))
        };
        start().unwrap_or_else(|refusal| Pending::ready(Err(refusal)))
    }

    /// Queues a channel write; once the store has decided it, announces
    /// the event it committed (if any) and answers.
    fn write_event<T: Answer>(&self, channel: &Arc<Channel>, write: Write) -> Pending<T> {
        let (answer, pending) = Pending::channel();
        let channel = Arc::clone(channel);
        let directory = self.directory.clone();
        self.store.write(
            write,
            Box::new(move |outcome| {
                let answered = match outcome {
                    Ok(outcome) => {
                        if let Outcome::Event(event) = &outcome {
                            if event.kind == EventKind::Posted {
                                metrics::counter!(crate::server::telemetry::MESSAGES).increment(1);
                            }
                            announce(&channel, event, &directory);
                        }
                        T::of(&outcome).ok_or_else(|| {
                            refusal(StoreError::Io(format!("unexpected answer {outcome:?}")))
                        })
                    }
                    Err(err) => Err(refusal(err)),
                };
                // Answered last: whoever awaits it finds the hub already
                // showing the change.
                let _ = answer.send(answered);
            }),
        );
        pending
    }
}

/// Announces an event the store committed: the channel's window and event
/// cache take it, its followers hear it, and so do the people it newly
/// mentions, wherever they are.
fn announce(channel: &Channel, event: &Event, directory: &broadcast::Sender<Notice>) {
    let name = &channel.summary.name;
    let frame = Frame::from(wire(name, event).to_json());
    let mut state = lock(&channel.state);
    if let Some(message) = &event.message {
        if event.kind == EventKind::Posted && message.thread.is_none() {
            if state.ring.len() == HISTORY_LIMIT {
                state.ring.pop_front();
            }
            state.ring.push_back(message.clone());
        } else if let Ok(at) = state.ring.binary_search_by_key(&message.seq, |m| m.seq) {
            state.ring[at] = message.clone();
        }
    } else if let Ok(at) = state
        .ring
        .binary_search_by_key(&event.message_seq, |m| m.seq)
    {
        state.ring.remove(at);
    }
    if let Some(parent) = &event.parent {
        if let Ok(at) = state.ring.binary_search_by_key(&parent.seq, |m| m.seq) {
            state.ring[at] = parent.clone();
        }
    }
    state.last_seq = event.seq;
    if state.log.len() == HISTORY_LIMIT {
        state.log.pop_front();
    }
    state.log.push_back((event.seq, frame.clone()));
    // No receivers is fine: nobody is following the channel.
    let _ = channel.fanout.send(frame);
    drop(state);
    channel
        .active
        .store(true, std::sync::atomic::Ordering::Relaxed);
    if let (false, Some(message)) = (event.mentioned.is_empty(), &event.message) {
        let mention = ServerEvent::Mention {
            channel: name.clone(),
            message: message.clone(),
        };
        let _ = directory.send(Notice::To(
            event.mentioned.as_slice().into(),
            Frame::from(mention.to_json()),
        ));
    }
}

/// In a direct conversation, only its two people can be mentioned: nobody
/// else hears of it.
fn only_people_of(name: &ChannelName, mentions: &mut Vec<Identity>) {
    if let Some((a, b)) = name.people() {
        mentions.retain(|m| m.id == a || m.id == b);
    }
}
