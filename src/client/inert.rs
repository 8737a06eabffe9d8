//! The browser-only functions of `client`, as inert stand-ins for the
//! server build: components call them only from browser events and
//! effects, which never run during server rendering.

pub(crate) mod storage {
    use crate::model::{ChannelName, DisplayName, IdentityId};

    pub(crate) fn name() -> Option<String> {
        None
    }

    pub(crate) fn set_name(_: Option<&DisplayName>) {}

    pub(crate) fn channel() -> Option<String> {
        None
    }

    pub(crate) fn set_channel(_: Option<&ChannelName>) {}

    pub(crate) fn outbox<T>(_: IdentityId) -> Vec<T> {
        Vec::new()
    }

    pub(crate) fn set_outbox<T>(_: IdentityId, _: &[T]) {}
}

pub(crate) mod notify {
    pub(crate) fn supported() -> bool {
        false
    }

    pub(crate) fn granted() -> bool {
        false
    }

    pub(crate) fn denied() -> bool {
        false
    }

    pub(crate) fn request(_: impl FnOnce(bool) + 'static) {}

    pub(crate) fn hidden() -> bool {
        false
    }

    pub(crate) fn show(_: &str, _: &str, _: &str, _: impl FnOnce() + 'static) {}
}

pub(crate) mod socket {
    use crate::protocol::{ClientFrame, Connection, ServerEvent};

    /// See the browser's `Page`.
    #[allow(dead_code)] // only the browser's socket calls it
    pub(crate) trait Page: 'static {
        fn event(&self, event: ServerEvent);
        fn state(&self, state: Connection);
        fn follow(&self) -> Option<ClientFrame>;
        fn opened(&self) -> Option<ClientFrame>;
        fn lost(&self);
    }

    pub(crate) const ACK_TIMEOUT_MS: u64 = 10_000;

    pub(crate) fn start(_: impl Page) {}

    pub(crate) fn send(_: &ClientFrame) -> bool {
        false
    }

    pub(crate) fn is_open() -> bool {
        false
    }

    pub(crate) fn reconnect() {}

    pub(crate) fn set_idle_timeout(_: u64) {}

    pub(crate) fn later(_: impl FnOnce() + 'static, _: u64) {}
}

/// Now, in ms since the epoch.
pub(crate) fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}

/// Distinct numbers (the browser's are random; here nothing needs more).
pub(crate) fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
