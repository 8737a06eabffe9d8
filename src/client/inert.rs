//! The browser-only functions of `client`, as inert stand-ins for the
//! server build: components call them only from browser events and
//! effects, which never run during server rendering.

pub mod storage {
    use crate::model::{ChannelName, DisplayName};

    pub fn name() -> Option<String> {
        None
    }

    pub fn set_name(_: Option<&DisplayName>) {}

    pub fn channel() -> Option<String> {
        None
    }

    pub fn set_channel(_: Option<&ChannelName>) {}
}

pub mod socket {
    use crate::app::state::Chat;
    use crate::protocol::ClientFrame;

    pub fn start(_: Chat) {}

    pub fn send(_: &ClientFrame) -> bool {
        false
    }

    pub fn expect_ack(_: Chat, _: String, _: u32) {}

    pub fn reconnect() {}

    pub fn set_idle_timeout(_: u64) {}

    pub fn later(_: impl FnOnce() + 'static, _: u64) {}
}

/// Distinct numbers (the browser's are random; here nothing needs more).
pub fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
