use super::frames::parse_frame;
use super::typing::{typing_step, TypingStep};
use crate::model::ErrorCode;
use crate::protocol::TYPING_EVERY_MS;
use std::time::Duration;
use tokio::time::Instant;

#[test]
fn malformed_json_and_unknown_types_are_told_apart() {
    let err = parse_frame("{not json").unwrap_err();
    assert_eq!(err.code, ErrorCode::BadFrame);
    assert!(err.message.contains("not valid JSON"), "{}", err.message);

    let err = parse_frame(r#"{"type":"shout","text":"hi"}"#).unwrap_err();
    assert!(
        err.message.contains("Unknown frame type"),
        "{}",
        err.message
    );

    let err = parse_frame(r#"{"type":"send","channel":"general"}"#).unwrap_err();
    assert!(err.message.contains("text"), "{}", err.message);
}

#[test]
fn typing_goes_out_once_an_interval_either_way() {
    use TypingStep::{At, Drop, Now};
    let every = Duration::from_millis(TYPING_EVERY_MS);
    let t0 = Instant::now();
    // A first `on` goes out; repeats within the interval do not.
    assert_eq!(typing_step(true, false, None, t0), Now);
    assert_eq!(typing_step(true, true, Some(t0), t0 + every / 2), Drop);
    assert_eq!(typing_step(true, true, Some(t0), t0 + every), Now);
    // An `off` goes out only after an `on` that did.
    assert_eq!(typing_step(false, true, Some(t0), t0), Now);
    assert_eq!(typing_step(false, false, Some(t0), t0), Drop);
    // Alternating does not reopen the interval: after on, off, the
    // next `on` waits for the interval's end, and is not lost.
    assert_eq!(
        typing_step(true, false, Some(t0), t0 + every / 2),
        At(t0 + every)
    );
    // After a send (no `on` since), the next line's first goes out.
    assert_eq!(typing_step(true, false, None, t0 + every / 2), Now);
}
