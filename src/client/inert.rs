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
}
