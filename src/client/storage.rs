//! What this browser remembers, in localStorage: the display name and the
//! last channel; and, in the tab's sessionStorage, its outbox. The
//! identity token is not here: it is an HttpOnly cookie that page script
//! cannot read.

use crate::model::{ChannelName, DisplayName, IdentityId};
use gloo_storage::{LocalStorage, SessionStorage, Storage};
use serde::{Deserialize, Serialize};

const NAME_KEY: &str = "flack.name";
const CHANNEL_KEY: &str = "flack.channel";
const OUTBOX_KEY: &str = "flack.outbox";

/// The outbox as kept: whose it is, and the messages.
#[derive(Serialize, Deserialize)]
struct Kept<T> {
    identity: IdentityId,
    outbox: T,
}

fn put(key: &str, value: Option<&str>) {
    match value {
        // Storage can be full or disabled; remembering is then skipped.
        Some(value) => {
            let _ = LocalStorage::set(key, value);
        }
        None => LocalStorage::delete(key),
    }
}

pub(crate) fn name() -> Option<String> {
    LocalStorage::get(NAME_KEY).ok()
}

pub(crate) fn set_name(name: Option<&DisplayName>) {
    put(NAME_KEY, name.map(DisplayName::as_str));
}

pub(crate) fn channel() -> Option<String> {
    LocalStorage::get(CHANNEL_KEY).ok()
}

pub(crate) fn set_channel(channel: Option<&ChannelName>) {
    put(CHANNEL_KEY, channel.map(ChannelName::as_str));
}

/// The messages kept for `me` in this tab (none if they were someone
/// else's, or unreadable).
pub(crate) fn outbox<T: serde::de::DeserializeOwned>(me: IdentityId) -> Vec<T> {
    SessionStorage::get::<Kept<Vec<T>>>(OUTBOX_KEY)
        .ok()
        .filter(|kept| kept.identity == me)
        .map(|kept| kept.outbox)
        .unwrap_or_default()
}

pub(crate) fn set_outbox<T: serde::Serialize>(me: IdentityId, outbox: &[T]) {
    if outbox.is_empty() {
        SessionStorage::delete(OUTBOX_KEY);
    } else {
        // Storage can be full or disabled; keeping is then skipped.
        let _ = SessionStorage::set(
            OUTBOX_KEY,
            Kept {
                identity: me,
                outbox,
            },
        );
    }
}
