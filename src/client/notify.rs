//! Browser notifications for mentions. Permission is asked only when the
//! user clicks "Enable notifications", never on load.

use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Notification, NotificationOptions, NotificationPermission};

/// Whether this browser has notifications at all.
pub(crate) fn supported() -> bool {
    js_sys::Reflect::has(&js_sys::global(), &"Notification".into()).unwrap_or(false)
}

/// Whether notifications are allowed.
pub(crate) fn granted() -> bool {
    supported() && Notification::permission() == NotificationPermission::Granted
}

/// Whether the user has refused them (the browser will not ask again).
pub(crate) fn denied() -> bool {
    supported() && Notification::permission() == NotificationPermission::Denied
}

/// Asks for permission; `done(granted)` runs with the answer.
pub(crate) fn request(done: impl FnOnce(bool) + 'static) {
    let Ok(promise) = Notification::request_permission() else {
        return done(false);
    };
    let answered = Closure::once(move |answer: wasm_bindgen::JsValue| {
        done(answer.as_string().as_deref() == Some("granted"));
    });
    let _ = promise.then(&answered);
    // Runs once, when the user answers; a few bytes kept until then.
    answered.forget();
}

/// Whether the page is out of sight (another tab, minimised).
pub(crate) fn hidden() -> bool {
    leptos::prelude::document().hidden()
}

/// Shows a notification; a click on it focuses the tab and runs `open`.
pub(crate) fn show(title: &str, body: &str, tag: &str, open: impl FnOnce() + 'static) {
    let options = NotificationOptions::new();
    options.set_body(body);
    options.set_tag(tag);
    let Ok(notification) = Notification::new_with_options(title, &options) else {
        return;
    };
    let shown = notification.clone();
    let on_click = Closure::once_into_js(move || {
        let _ = leptos::prelude::window().focus();
        shown.close();
        open();
    });
    notification.set_onclick(Some(on_click.unchecked_ref()));
}
