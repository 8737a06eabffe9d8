//! What this browser remembers, in localStorage: the display name and the
//! last channel. The identity token is not here: it is an HttpOnly cookie
//! that page script cannot read.

use crate::model::{ChannelName, DisplayName};
use gloo_storage::{LocalStorage, Storage};

const NAME_KEY: &str = "flack.name";
const CHANNEL_KEY: &str = "flack.channel";

fn put(key: &str, value: Option<&str>) {
    match value {
        // Storage can be full or disabled; remembering is then skipped.
        Some(value) => {
            let _ = LocalStorage::set(key, value);
        }
        None => LocalStorage::delete(key),
    }
}

pub fn name() -> Option<String> {
    LocalStorage::get(NAME_KEY).ok()
}

pub fn set_name(name: Option<&DisplayName>) {
    put(NAME_KEY, name.map(DisplayName::as_str));
}

pub fn channel() -> Option<String> {
    LocalStorage::get(CHANNEL_KEY).ok()
}

pub fn set_channel(channel: Option<&ChannelName>) {
    put(CHANNEL_KEY, channel.map(ChannelName::as_str));
}
