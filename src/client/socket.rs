//! The tab's one WebSocket to `/ws`, turned into signals.
//!
//! This module owns the socket: it opens it once a name is claimed, hands
//! every [`ServerEvent`] to the [`Page`] (the app, which it knows only by
//! that trait), follows what the page shows, and
//! when the socket closes it reconnects by itself (exponential backoff with
//! jitter, at once when the network comes back or the tab becomes visible)
//! and joins the open channel again. There is never more than one socket.
//!
//! A link can die without a close (a laptop lid, a dropped route): the
//! browser hides WebSocket pings from pages, so the tab sends a `ping`
//! frame every third of the server's idle timeout, and takes a link that
//! has been silent for the whole timeout for dead: it says so, closes it
//! and connects again.

use crate::protocol::{ClientFrame, Connection, ServerEvent};
use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

/// Longest wait between two attempts.
const MAX_BACKOFF_MS: f64 = 15_000.0;
/// First wait after a close.
const FIRST_BACKOFF_MS: f64 = 300.0;

/// An open (or opening) socket and the callbacks it holds.
struct Link {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Link {
    fn detach(&self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
    }
}

/// What the socket tells the page, and asks of it: how the app hears
/// the server without the socket knowing the app.
pub(crate) trait Page: 'static {
    /// A frame from the server.
    fn event(&self, event: ServerEvent);
    /// The link's state changed.
    fn state(&self, state: Connection);
    /// The frame that follows what the page shows now, read reactively:
    /// sent whenever that changes.
    fn follow(&self) -> Option<ClientFrame>;
    /// The link opened: the frame that resumes what the page follows.
    fn opened(&self) -> Option<ClientFrame>;
    /// The link was lost (what was in flight will need sending again).
    fn lost(&self);
}

/// How long a sent message may wait for the server's acknowledgement
/// before it is shown as failed (with a retry).
pub(crate) const ACK_TIMEOUT_MS: u64 = 10_000;

struct Driver {
    page: Rc<dyn Page>,
    link: Option<Link>,
    /// When the open link last brought anything, and when it last had a
    /// ping sent (ms since the epoch).
    heard_at: f64,
    pinged_at: f64,
    /// The server's idle timeout, from its hello.
    idle_timeout_ms: f64,
    /// Failed attempts since the last successful open.
    attempt: u32,
    /// Bumped by every attempt, so that a stale scheduled retry does nothing.
    generation: u64,
}

thread_local! {
    static DRIVER: RefCell<Option<Driver>> = const { RefCell::new(None) };
}

/// Starts the socket for this tab; a later call (a new identity) connects
/// it again, with the new cookie.
pub(crate) fn start(page: impl Page) {
    let page: Rc<dyn Page> = Rc::new(page);
    let first = DRIVER.with_borrow_mut(|driver| {
        if driver.is_some() {
            return false;
        }
        *driver = Some(Driver {
            page: Rc::clone(&page),
            link: None,
            heard_at: js_sys::Date::now(),
            pinged_at: js_sys::Date::now(),
            idle_timeout_ms: 20_000.0,
            attempt: 0,
            generation: 0,
        });
        true
    });
    if !first {
        return reconnect();
    }
    // Follow whatever the page shows.
    let following = Rc::clone(&page);
    Effect::new(move |_| {
        if let Some(frame) = following.follow() {
            send(&frame);
        }
    });
    // The browser knows first when the network goes: close now rather
    // than wait for a timeout, and say so.
    let _ = window_event_listener(leptos::ev::offline, move |_| {
        page.state(Connection::Offline);
        drop_link();
    });
    // Do not wait out the backoff when the reason for waiting is gone.
    let _ = window_event_listener(leptos::ev::online, |_| connect_now());
    let _ = window_event_listener(leptos::ev::visibilitychange, |_| {
        if document().visibility_state() == web_sys::VisibilityState::Visible {
            connect_now();
        }
    });
    set_interval(watch_link, Duration::from_secs(1));
    connect();
}

/// Once a second: pings an open link that has been quiet, and drops one
/// that has been silent for the idle timeout.
fn watch_link() {
    let now = js_sys::Date::now();
    let (ping, dead) = DRIVER.with_borrow_mut(|driver| {
        let Some(d) = driver.as_mut() else {
            return (false, false);
        };
        let open = d
            .link
            .as_ref()
            .is_some_and(|l| l.socket.ready_state() == WebSocket::OPEN);
        if !open {
            return (false, false);
        }
        if now - d.heard_at >= d.idle_timeout_ms {
            return (false, true);
        }
        let ping = now - d.pinged_at >= d.idle_timeout_ms / 3.0;
        if ping {
            d.pinged_at = now;
        }
        (ping, false)
    });
    if dead {
        leptos::logging::warn!("the connection went silent; reconnecting");
        drop_link();
    } else if ping {
        send(&ClientFrame::Ping);
    }
}

/// Lets go of the link at once, as if it had closed (closing a dead link
/// may take long to be confirmed), and tries again.
fn drop_link() {
    let link = DRIVER.with_borrow_mut(|driver| driver.as_mut().and_then(|d| d.link.take()));
    if let Some(link) = link {
        link.detach();
        let _ = link.socket.close();
        set_timeout(move || drop(link), Duration::ZERO);
        lost();
    }
}

/// The server's idle timeout, from its hello.
pub(crate) fn set_idle_timeout(ms: u64) {
    DRIVER.with_borrow_mut(|driver| {
        if let Some(d) = driver.as_mut() {
            d.idle_timeout_ms = (ms as f64).max(3_000.0);
        }
    });
}

/// Runs `f` after `ms` milliseconds.
pub(crate) fn later(f: impl FnOnce() + 'static, ms: u64) {
    set_timeout(f, Duration::from_millis(ms));
}

/// Sends a frame if the socket is open.
pub(crate) fn send(frame: &ClientFrame) -> bool {
    let Ok(text) = serde_json::to_string(frame) else {
        return false;
    };
    DRIVER.with_borrow(|driver| {
        driver
            .as_ref()
            .and_then(|d| d.link.as_ref())
            .filter(|link| link.socket.ready_state() == WebSocket::OPEN)
            .is_some_and(|link| link.socket.send_with_str(&text).is_ok())
    })
}

fn socket_url() -> String {
    let location = window().location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss",
        _ => "ws",
    };
    let host = location.host().unwrap_or_default();
    format!("{scheme}://{host}/ws")
}

/// Whether the socket is open: a frame sent now goes out.
pub(crate) fn is_open() -> bool {
    DRIVER.with_borrow(|driver| {
        driver
            .as_ref()
            .and_then(|d| d.link.as_ref())
            .is_some_and(|link| link.socket.ready_state() == WebSocket::OPEN)
    })
}

/// Replaces the socket with a new one at once (after the identity
/// cookie changed, for instance).
pub(crate) fn reconnect() {
    let link = DRIVER.with_borrow_mut(|driver| driver.as_mut().and_then(|d| d.link.take()));
    if let Some(link) = link {
        link.detach();
        let _ = link.socket.close();
    }
    connect_now();
}

fn connect_now() {
    DRIVER.with_borrow_mut(|driver| {
        if let Some(d) = driver.as_mut() {
            d.attempt = 0;
        }
    });
    connect();
}

/// Opens the socket unless one is open or opening.
fn connect() {
    let page = DRIVER.with_borrow_mut(|driver| {
        let d = driver.as_mut()?;
        if d.link.is_some() {
            return None;
        }
        d.generation += 1;
        Some(Rc::clone(&d.page))
    });
    let Some(page) = page else { return };
    let socket = match WebSocket::new(&socket_url()) {
        Ok(socket) => socket,
        Err(_) => return schedule_retry(),
    };
    page.state(Connection::Connecting);
    let opening = Rc::clone(&page);
    let on_open = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
        DRIVER.with_borrow_mut(|driver| {
            if let Some(d) = driver.as_mut() {
                d.attempt = 0;
                d.heard_at = js_sys::Date::now();
                d.pinged_at = d.heard_at;
            }
        });
        opening.state(Connection::Online);
        // Resume the open channel from the cursor; the outbox follows
        // once the server has answered.
        if let Some(frame) = opening.opened() {
            send(&frame);
        }
    });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        DRIVER.with_borrow_mut(|driver| {
            if let Some(d) = driver.as_mut() {
                d.heard_at = js_sys::Date::now();
            }
        });
        if let Some(text) = event.data().as_string() {
            match ServerEvent::from_json(&text) {
                Ok(event) => page.event(event),
                Err(err) => leptos::logging::warn!("unreadable server event: {err}"),
            }
        }
    });
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
        let link = DRIVER.with_borrow_mut(|driver| driver.as_mut().and_then(|d| d.link.take()));
        if let Some(link) = link {
            link.detach();
            // This callback belongs to the link: drop it after returning.
            set_timeout(move || drop(link), Duration::ZERO);
        }
        lost();
    });
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    DRIVER.with_borrow_mut(|driver| {
        if let Some(d) = driver.as_mut() {
            d.link = Some(Link {
                socket,
                _on_open: on_open,
                _on_message: on_message,
                _on_close: on_close,
            });
        }
    });
}

/// The link is gone: say so, and try again.
fn lost() {
    let Some(page) = DRIVER.with_borrow(|driver| driver.as_ref().map(|d| Rc::clone(&d.page)))
    else {
        return;
    };
    page.lost();
    let online = window().navigator().on_line();
    page.state(if online {
        Connection::Reconnecting
    } else {
        Connection::Offline
    });
    schedule_retry();
}

/// Tries again after an exponential, jittered delay; not while the
/// browser has no network at all (the `online` event tries again at once).
fn schedule_retry() {
    if !window().navigator().on_line() {
        return;
    }
    let scheduled = DRIVER.with_borrow_mut(|driver| {
        let d = driver.as_mut()?;
        let base = (FIRST_BACKOFF_MS * 2f64.powi(d.attempt.min(16) as i32)).min(MAX_BACKOFF_MS);
        d.attempt += 1;
        // Full jitter on half the delay: many clients of a restarted
        // server do not all come back in the same instant.
        let delay = base * (0.5 + js_sys::Math::random() * 0.5);
        Some((d.generation, delay))
    });
    let Some((generation, delay)) = scheduled else {
        return;
    };
    set_timeout(
        move || {
            let current = DRIVER.with_borrow(|driver| driver.as_ref().map(|d| d.generation));
            if current == Some(generation) {
                connect();
            }
        },
        Duration::from_millis(delay as u64),
    );
}
