//! The browser-only functions of `client`, as inert stand-ins for the
//! server build: components call them only from browser events and
//! effects, which never run during server rendering.

pub mod storage {
    use crate::model::{ChannelName, DisplayName, IdentityId};

    pub fn name() -> Option<String> {
        None
    }

    pub fn set_name(_: Option<&DisplayName>) {}

    pub fn channel() -> Option<String> {
        None
    }

    pub fn set_channel(_: Option<&ChannelName>) {}

    pub fn outbox<T>(_: IdentityId) -> Vec<T> {
        Vec::new()
    }

    pub fn set_outbox<T>(_: IdentityId, _: &[T]) {}
}

pub mod notify {
    pub fn supported() -> bool {
        false
    }

    pub fn granted() -> bool {
        false
    }

    pub fn denied() -> bool {
        false
    }

    pub fn request(_: impl FnOnce(bool) + 'static) {}

    pub fn hidden() -> bool {
        false
    }

    pub fn show(_: &str, _: &str, _: &str, _: impl FnOnce() + 'static) {}
}

pub mod socket {
    use crate::protocol::{ClientFrame, Connection, ServerEvent};

    /// See the browser's `Page`.
    pub trait Page: 'static {
        fn event(&self, event: ServerEvent);
        fn state(&self, state: Connection);
        fn follow(&self) -> Option<ClientFrame>;
        fn opened(&self) -> Option<ClientFrame>;
        fn lost(&self);
    }

    pub const ACK_TIMEOUT_MS: u64 = 10_000;

    pub fn start(_: impl Page) {}

    pub fn send(_: &ClientFrame) -> bool {
        false
    }

    pub fn is_open() -> bool {
        false
    }

    pub fn reconnect() {}

    pub fn set_idle_timeout(_: u64) {}

    pub fn later(_: impl FnOnce() + 'static, _: u64) {}
}

/// Now, in ms since the epoch.
pub fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}

/// Distinct numbers (the browser's are random; here nothing needs more).
pub fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
