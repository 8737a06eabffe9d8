//! Browser-only code (feature `hydrate`): what this browser remembers, and
//! the one WebSocket per tab that feeds the UI's signals.

pub mod socket;
pub mod storage;
