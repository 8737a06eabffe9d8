//! Browser-only code (feature `hydrate`): what this browser remembers, and
//! the one WebSocket per tab that feeds the UI's signals.

pub(crate) mod notify;
pub(crate) mod socket;
pub(crate) mod storage;

/// Now, in ms since the epoch.
pub(crate) fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A random number, for ids that must not collide (not for secrets).
pub(crate) fn random_u64() -> u64 {
    let high = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    let low = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    (high << 32) | low
}
