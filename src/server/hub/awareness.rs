//! What the hub knows of people beyond their messages: read marks and
//! unread counts, who is online, who is typing.

use super::{lock, Awareness, Channel, Frame, Hub, Notice};
use crate::model::{
    check_seq, ChannelName, Identity, IdentityId, Member, Refusal, Seq, UnreadCount,
};
use crate::protocol::ServerEvent;
use crate::server::store::Write;
use std::sync::{Arc, MutexGuard};

impl Hub {
    fn awareness(&self) -> MutexGuard<'_, Awareness> {
        lock(&self.awareness)
    }

    /// My unread counts in `names` (those that exist): over each window,
    /// the top-level messages by others after my read mark.
    pub(crate) fn unread(&self, me: IdentityId, names: &[ChannelName]) -> Vec<UnreadCount> {
        let channels: Vec<Arc<Channel>> = {
            let all = self.channels.read().unwrap_or_else(|p| p.into_inner());
            names
                .iter()
                .filter(|n| n.visible_to(Some(me)))
                .filter_map(|n| all.by_name.get(n).cloned())
                .collect()
        };
        let marks: Vec<Seq> = {
            let awareness = self.awareness();
            let mine = awareness.reads.get(&me);
            channels
                .iter()
                .map(|c| mine.and_then(|m| m.get(&c.id)).copied().unwrap_or(0))
                .collect()
        };
        channels
            .iter()
            .zip(marks)
            .map(|(channel, read)| {
                let state = lock(&channel.state);
                let (mut unread, mut mentions) = (0, 0);
                for message in state.ring.iter().rev().take_while(|m| m.seq > read) {
                    if message.author_id != me {
                        unread += 1;
                        if message.mentions_id(me) {
                            mentions += 1;
                        }
                    }
                }
                UnreadCount {
                    channel: channel.summary.name.clone(),
                    read,
                    unread,
                    mentions,
                }
            })
            .collect()
    }

    /// My unread counts in every channel and direct conversation of mine.
    pub(crate) fn unread_all(&self, me: IdentityId) -> Vec<UnreadCount> {
        let names: Vec<ChannelName> = self
            .channels()
            .into_iter()
            .chain(self.directs(me))
            .map(|c| c.name)
            .collect();
        self.unread(me, &names)
    }

    /// Records that `me` has read `name` up to event `seq` (at most its
    /// last): stored, and my connections are told my new count. A mark
    /// never moves back. The first mark makes me a member: the channel's
    /// followers hear of it.
    pub(crate) fn mark_read(
        &self,
        me: &Identity,
        name: &ChannelName,
        seq: Seq,
    ) -> Result<(), Refusal> {
        check_seq(seq)?;
        let channel = self.visible_channel(name, Some(me.id))?;
        let seq = seq.min(lock(&channel.state).last_seq);
        let first = {
            let mut awareness = self.awareness();
            let marks = awareness.reads.entry(me.id).or_default();
            match marks.insert(channel.id, seq) {
                Some(mark) if mark >= seq => {
                    marks.insert(channel.id, mark);
                    return Ok(());
                }
                previous => previous.is_none(),
            }
        };
        self.store.write(
            Write::Read {
                identity: me.id,
                channel: channel.id,
                seq,
            },
            Box::new(|_| {}),
        );
        let counts = self.unread(me.id, std::slice::from_ref(name));
        let frame = ServerEvent::Unread { counts }.to_json();
        let _ = self
            .directory
            .send(Notice::To(Arc::from([me.id]), Frame::from(frame)));
        if first {
            let member = ServerEvent::Member {
                channel: name.clone(),
                member: Member {
                    identity: me.clone(),
                    online: self.is_online(me.id),
                },
            };
            let _ = channel.fanout.send(Frame::from(member.to_json()));
        }
        Ok(())
    }

    /// The people who have opened channel `name` (a read mark), by id.
    pub(crate) fn members(
        &self,
        name: &ChannelName,
        viewer: Option<IdentityId>,
    ) -> Result<Vec<IdentityId>, Refusal> {
        let channel = self.visible_channel(name, viewer)?;
        let awareness = self.awareness();
        let mut ids: Vec<IdentityId> = awareness
            .reads
            .iter()
            .filter(|(_, marks)| marks.contains_key(&channel.id))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Forgets what the hub holds of identities `gone` (removed).
    pub(crate) fn forget(&self, keep: impl Fn(IdentityId) -> bool) {
        self.awareness().reads.retain(|id, _| keep(*id));
    }

    /// Whether `id` has a connection open.
    pub fn is_online(&self, id: IdentityId) -> bool {
        self.awareness().online.contains_key(&id)
    }

    /// How many connections `id` has open.
    pub fn connections(&self, id: IdentityId) -> usize {
        self.awareness()
            .online
            .get(&id)
            .map_or(0, |entry| entry.1 as usize)
    }

    /// A connection of `who` opened; online from the next tick.
    pub(crate) fn connected(&self, who: &Identity) {
        let mut awareness = self.awareness();
        let entry = awareness
            .online
            .entry(who.id)
            .or_insert_with(|| (who.clone(), 0));
        entry.1 += 1;
    }

    /// A connection of `id` closed; offline from the next tick if it was
    /// the last.
    pub(crate) fn disconnected(&self, id: IdentityId) {
        let mut awareness = self.awareness();
        if let Some(entry) = awareness.online.get_mut(&id) {
            entry.1 -= 1;
            if entry.1 == 0 {
                awareness.online.remove(&id);
            }
        }
    }

    /// Whether `who` may say they are typing in `name` (or a thread of it).
    pub(crate) fn may_type(
        &self,
        name: &ChannelName,
        who: &Identity,
        thread: Option<Seq>,
    ) -> Result<(), Refusal> {
        if let Some(thread) = thread {
            check_seq(thread)?;
        }
        self.visible_channel(name, Some(who.id)).map(|_| ())
    }

    /// Passes on that `who` is typing in `name` (or the thread of message
    /// `thread` there), or stopped, to its followers: not numbered, not
    /// stored.
    pub(crate) fn typing(
        &self,
        name: &ChannelName,
        who: &Identity,
        thread: Option<Seq>,
        on: bool,
    ) -> Result<(), Refusal> {
        if let Some(thread) = thread {
            check_seq(thread)?;
        }
        let channel = self.visible_channel(name, Some(who.id))?;
        let event = ServerEvent::Typing {
            channel: name.clone(),
            thread,
            who: who.clone(),
            on,
        };
        let _ = channel.fanout.send(Frame::from(event.to_json()));
        Ok(())
    }

    /// Announces what changed since the last tick, in one notice each:
    /// the channels with new events (so connections update their unread
    /// counts) and who came online or went offline. Called a few times a
    /// second, so a busy channel costs each connection one wake-up per
    /// tick rather than one per message, and a reload is not an offline
    /// blip.
    pub(crate) fn tick(&self) {
        let active: Vec<ChannelName> = {
            let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
            let deepest = channels.by_name.values().map(|c| c.fanout.len()).max();
            metrics::gauge!(crate::server::telemetry::FANOUT_QUEUED_MAX)
                .set(deepest.unwrap_or(0) as f64);
            channels
                .by_name
                .values()
                .filter(|c| c.active.swap(false, std::sync::atomic::Ordering::Relaxed))
                .map(|c| c.summary.name.clone())
                .collect()
        };
        if !active.is_empty() {
            let _ = self.directory.send(Notice::Activity(active.into()));
        }
        let presence = {
            let mut awareness = self.awareness();
            let online: Vec<Identity> = awareness
                .online
                .iter()
                .filter(|(id, _)| !awareness.announced.contains_key(id))
                .map(|(_, (who, _))| who.clone())
                .collect();
            let offline: Vec<IdentityId> = awareness
                .announced
                .keys()
                .filter(|id| !awareness.online.contains_key(id))
                .copied()
                .collect();
            for id in &offline {
                awareness.announced.remove(id);
            }
            for who in &online {
                awareness.announced.insert(who.id, who.clone());
            }
            (!online.is_empty() || !offline.is_empty())
                .then_some(ServerEvent::Presence { online, offline })
        };
        if let Some(event) = presence {
            let _ = self
                .directory
                .send(Notice::All(Frame::from(event.to_json())));
        }
    }
}
