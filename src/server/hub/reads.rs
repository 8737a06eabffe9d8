//! Reads: the cached window, catching up (from the event cache, else the
//! store's log), and the store's pages, threads and search. Store reads
//! are awaited without holding any lock.

use super::{
    lock, not_stored, unknown_message, wire, Catchup, Frame, Hub, Subscription, CONTEXT_SIDE,
};
use crate::model::{
    check_seq, search_words, ChannelHistory, ChannelName, IdentityId, MessageContext,
    OlderMessages, Refusal, SearchHit, Seq, Thread, OLDER_PAGE, SEARCH_LIMIT, THREAD_PAGE,
};
use crate::protocol::Cursor;
use crate::server::store::{ChannelId, StoreError};
use std::collections::HashMap;

fn failed(err: StoreError) -> Refusal {
    not_stored(&err)
}

impl Hub {
    /// The channel's most recent messages, oldest first.
    pub fn history(
        &self,
        name: &ChannelName,
        viewer: Option<IdentityId>,
    ) -> Result<ChannelHistory, Refusal> {
        let channel = self.visible_channel(name, viewer)?;
        let state = lock(&channel.state);
        Ok(ChannelHistory {
            channel: name.clone(),
            messages: state.ring.iter().cloned().collect(),
        })
    }

    /// A page of the stored messages numbered below `before`.
    pub(crate) async fn older(
        &self,
        name: &ChannelName,
        viewer: Option<IdentityId>,
        before: Seq,
    ) -> Result<OlderMessages, Refusal> {
        check_seq(before)?;
        let channel = self.visible_channel(name, viewer)?;
        let (messages, more) = self
            .store
            .older(channel.id, before, OLDER_PAGE)
            .await
            .map_err(failed)?;
        Ok(OlderMessages { messages, more })
    }

    /// A page of the stored messages numbered above `after`, oldest first.
    pub(crate) async fn newer(
        &self,
        name: &ChannelName,
        viewer: Option<IdentityId>,
        after: Seq,
    ) -> Result<OlderMessages, Refusal> {
        check_seq(after)?;
        let channel = self.visible_channel(name, viewer)?;
        let (messages, more) = self
            .store
            .newer(channel.id, after, OLDER_PAGE)
            .await
            .map_err(failed)?;
        Ok(OlderMessages { messages, more })
    }

    /// Subscribes to a channel and says how to catch up: with a cursor of
    /// this store, the events after it, from the cache of recent events
    /// or else from the store's log; a snapshot of the window when
    /// neither reaches back to it. The subscription is taken under the
    /// channel's lock together with the cache's state, so the events that
    /// follow are exactly those after the catch-up.
    pub(crate) async fn join(
        &self,
        name: &ChannelName,
        viewer: Option<IdentityId>,
        since: Option<&Cursor>,
    ) -> Result<Subscription, Refusal> {
        let channel = self.visible_channel(name, viewer)?;
        let cursor = since
            .filter(|cursor| cursor.epoch == self.epoch)
            .map(|cursor| cursor.seq);
        let (events, upto) = {
            let state = lock(&channel.state);
            let cached_from = state
                .log
                .front()
                .map_or(state.last_seq + 1, |(seq, _)| *seq);
            match cursor {
                Some(seq) if seq <= state.last_seq && seq + 1 >= cached_from => {
                    return Ok(Subscription {
                        catchup: Catchup::Replay {
                            frames: state
                                .log
                                .iter()
                                .filter(|(s, _)| *s > seq)
                                .map(|(_, frame)| frame.clone())
                                .collect(),
                            seq: state.last_seq,
                        },
                        events: channel.fanout.subscribe(),
                    });
                }
                Some(seq) if seq <= state.last_seq => (channel.fanout.subscribe(), state.last_seq),
                _ => {
                    return Ok(Subscription {
                        catchup: Catchup::Snapshot {
                            messages: state.ring.iter().cloned().collect(),
                            seq: state.last_seq,
                        },
                        events: channel.fanout.subscribe(),
                    })
                }
            }
        };
        // Older than the cache: the store's log, up to where the
        // subscription takes over.
        let seq = cursor.unwrap_or_default();
        match self.store.events(channel.id, seq).await {
            Ok(Some(stored)) if stored.iter().any(|e| e.seq == upto) || seq == upto => {
                let frames = stored
                    .iter()
                    .filter(|e| e.seq <= upto)
                    .map(|e| Frame::from(wire(name, e).to_json()))
                    .collect();
                Ok(Subscription {
                    catchup: Catchup::Replay { frames, seq: upto },
                    events,
                })
            }
            Ok(_) => {
                drop(events);
                let state = lock(&channel.state);
                Ok(Subscription {
                    catchup: Catchup::Snapshot {
                        messages: state.ring.iter().cloned().collect(),
                        seq: state.last_seq,
                    },
                    events: channel.fanout.subscribe(),
                })
            }
            Err(err) => Err(failed(err)),
        }
    }

    /// The thread of message `seq`, or the one it is a reply in: the
    /// parent as it stands, and its newest [`THREAD_PAGE`] replies. So a
    /// link to a reply leads to its parent, wherever that is.
    pub(crate) async fn thread(
        &self,
        name: &ChannelName,
        viewer: Option<IdentityId>,
        seq: Seq,
    ) -> Result<Thread, Refusal> {
        check_seq(seq)?;
        let channel = self.visible_channel(name, viewer)?;
        let mut message = self
            .store
            .message(channel.id, seq)
            .await
            .map_err(failed)?
            .ok_or_else(|| unknown_message(name, seq))?;
        if let Some(parent) = message.thread {
            message = self
                .store
                .message(channel.id, parent)
                .await
                .map_err(failed)?
                .ok_or_else(|| unknown_message(name, parent))?;
        }
        let replies = self
            .store
            .replies(channel.id, message.seq, THREAD_PAGE)
            .await
            .map_err(failed)?;
        Ok(Thread {
            channel: name.clone(),
            parent: message,
            replies,
        })
    }

    /// The messages around message `seq` (or around its thread's parent,
    /// for a reply): up to [`CONTEXT_SIDE`] on each side, and whether
    /// there are more before, and between these and the window.
    pub(crate) async fn context(
        &self,
        name: &ChannelName,
        viewer: Option<IdentityId>,
        seq: Seq,
    ) -> Result<MessageContext, Refusal> {
        check_seq(seq)?;
        let channel = self.visible_channel(name, viewer)?;
        let window_start = lock(&channel.state).ring.front().map(|m| m.seq);
        let message = self
            .store
            .message(channel.id, seq)
            .await
            .map_err(failed)?
            .ok_or_else(|| unknown_message(name, seq))?;
        let centre = message.thread.unwrap_or(message.seq);
        let (mut messages, more_before) = self
            .store
            .older(channel.id, centre + 1, CONTEXT_SIDE + 1)
            .await
            .map_err(failed)?;
        let (after, _) = self
            .store
            .newer(channel.id, centre, CONTEXT_SIDE)
            .await
            .map_err(failed)?;
        messages.extend(after);
        let last = messages.last().map_or(centre, |m| m.seq);
        let more_after = match window_start {
            Some(start) if last < start => {
                let (next, _) = self
                    .store
                    .newer(channel.id, last, 1)
                    .await
                    .map_err(failed)?;
                next.first().is_some_and(|m| m.seq < start)
            }
            _ => false,
        };
        Ok(MessageContext {
            messages,
            more_before,
            more_after,
        })
    }

    /// The newest messages (and replies) `viewer` can see whose text has
    /// every word of `query` (as word prefixes), at most [`SEARCH_LIMIT`].
    /// Deleted messages are never found; edited ones by their new text.
    /// What the viewer may see is decided by the store, in its query.
    pub(crate) async fn search(
        &self,
        viewer: Option<IdentityId>,
        query: &str,
    ) -> Result<Vec<SearchHit>, Refusal> {
        let words = search_words(query);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let found = self
            .store
            .search(viewer, words, SEARCH_LIMIT)
            .await
            .map_err(failed)?;
        let names: HashMap<ChannelId, _> = {
            let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
            channels
                .by_name
                .values()
                .map(|c| (c.id, c.summary.clone()))
                .collect()
        };
        Ok(found
            .into_iter()
            .filter_map(|f| {
                Some(SearchHit {
                    channel: names.get(&f.channel)?.name.clone(),
                    message: f.message,
                })
            })
            .collect())
    }
}
