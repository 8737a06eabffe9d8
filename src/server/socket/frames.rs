//! Client frames as they come in, and refusals as they go out.

use crate::model::{ErrorCode, Refusal};
use crate::protocol::{ClientFrame, ServerEvent};

/// The `type`s of [`ClientFrame`].
const KNOWN_FRAMES: [&str; 9] = [
    "join", "leave", "send", "edit", "react", "delete", "read", "typing", "ping",
];

/// Reads a client frame, telling malformed JSON from an unknown frame.
pub(super) fn parse_frame(text: &str) -> Result<ClientFrame, Refusal> {
    serde_json::from_str::<ClientFrame>(text).map_err(|err| {
        match serde_json::from_str::<serde_json::Value>(text) {
            Err(_) => Refusal::new(
                ErrorCode::BadFrame,
                format!("That frame is not valid JSON: {err}."),
            ),
            Ok(value) => {
                let kind = value.get("type").and_then(|t| t.as_str());
                let message = match kind {
                    Some(kind) if !KNOWN_FRAMES.contains(&kind) => {
                        format!(
                            "Unknown frame type \u{201c}{kind}\u{201d}; expected one of {}.",
                            KNOWN_FRAMES.join(", ")
                        )
                    }
                    _ => format!("That frame is not a valid client frame: {err}."),
                };
                Refusal::new(ErrorCode::BadFrame, message)
            }
        }
    })
}

/// The event that answers a refusal, which is counted and logged (in the
/// connection's span) on its way.
pub(super) fn refusal_event(refusal: Refusal, client_id: Option<String>) -> ServerEvent {
    tracing::info!(code = %crate::server::telemetry::code_name(refusal.code), "refused");
    crate::server::telemetry::count_refusal(refusal.code);
    ServerEvent::refusal(refusal, client_id)
}
