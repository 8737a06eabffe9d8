//! Request/response operations, as Leptos server functions at stable
//! endpoints under `/api/` (`docs/protocol.md` lists them).
//!
//! A refusal is a [`Refusal`] (code and sentence) answered with the 4xx
//! status of its code, never a 500: see [`ErrorCode::http_status`].

use crate::model::{ChannelHistory, ChannelSummary, ErrorCode, Identity, Refusal, Seq};
use leptos::prelude::*;
use leptos::server_fn::codec::Post;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// JSON, as Leptos's own `Json`, but read in the browser as text
/// (`serde_json::from_str`), the way Leptos reads the data a page carries
/// for its resources. Reading both ways would put every answer type's
/// JSON reader in the WebAssembly twice (`from_slice` and `from_str`
/// each make their own).
pub struct TextJson;

impl ContentType for TextJson {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for TextJson {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for TextJson {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for TextJson {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde::de::Error::custom)?;
        serde_json::from_str(text)
    }
}

/// The answers of every server function: [`TextJson`] in a `POST`.
pub type Answer = Post<TextJson>;

impl FromServerFnError for Refusal {
    type Encoder = TextJson;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let refusal = match value {
            ServerFnErrorErr::Args(e) | ServerFnErrorErr::MissingArg(e) => Refusal::new(
                ErrorCode::BadRequest,
                format!("The request was malformed: {e}"),
            ),
            // On the server, this is the request that could not be read.
            ServerFnErrorErr::Deserialization(e) if cfg!(feature = "ssr") => {
                if e.contains("length limit exceeded") {
                    Refusal::new(
                        ErrorCode::RequestTooLarge,
                        "The request is larger than the server accepts.",
                    )
                } else {
                    Refusal::new(
                        ErrorCode::BadRequest,
                        format!("The request could not be read: {e}"),
                    )
                }
            }
            ServerFnErrorErr::Request(_) => Refusal::new(
                ErrorCode::Internal,
                "Could not reach the server; check your connection and try again.",
            ),
            other => Refusal::new(
                ErrorCode::Internal,
                format!("Something went wrong on our side: {other}"),
            ),
        };
        #[cfg(feature = "ssr")]
        ssr::refused(refusal.code);
        refusal
    }
}

/// Claims a display name for this browser and sets the identity cookie.
/// Claiming the name one already holds is fine (that is how a returning
/// browser signs in again); a name held by someone else is refused. New
/// identities and renames are limited per address.
#[server(endpoint = "claim_name", output = Answer)]
pub async fn claim_name(name: String) -> Result<Identity, Refusal> {
    use crate::model::DisplayName;
    let state = ssr::state()?;
    ssr::answer(async {
        let name = DisplayName::parse(&name)?;
        let presented = ssr::token();
        let ip = ssr::peer_ip();
        let (token, identity) = state
            .identities
            .claim(presented.as_ref(), name, || state.limits.take_claim(ip))
            .await?;
        ssr::set_token_cookie(Some(&token), state.settings.secure_cookie);
        Ok(identity)
    })
    .await
}

/// Signs out: the identity's token is void, its name free for anyone, and
/// the cookie is cleared. Its messages stay.
#[server(endpoint = "sign_out", output = Answer)]
pub async fn sign_out() -> Result<(), Refusal> {
    let state = ssr::state()?;
    ssr::answer(async {
        let token = ssr::token().ok_or_else(ssr::not_signed_in)?;
        let ended = state.identities.sign_out(&token.hash()).await?;
        // Its sockets close, ending what they follow.
        state.hub.ended(&[ended]);
        ssr::set_token_cookie(None, state.settings.secure_cookie);
        Ok(())
    })
    .await
}

/// Every channel, sorted by name.
#[server(endpoint = "list_channels", output = Answer)]
pub async fn list_channels() -> Result<Vec<ChannelSummary>, Refusal> {
    let state = ssr::state()?;
    ssr::answer(async { Ok(state.hub.channels()) }).await
}

/// Creates a channel (the name is lowered); needs a claimed name.
#[server(endpoint = "create_channel", output = Answer)]
pub async fn create_channel(name: String) -> Result<ChannelSummary, Refusal> {
    use crate::model::ChannelName;
    let state = ssr::state()?;
    ssr::answer(async {
        let me = ssr::signed_in(&state)?;
        let name = ChannelName::parse(&name)?;
        state.limits.take_channel_creation(me.id)?;
        state.hub.create_channel(name).await
    })
    .await
}

/// A channel's most recent messages (at most 100), oldest first.
#[server(endpoint = "channel_history", output = Answer)]
pub async fn fetch_history(channel: String) -> Result<ChannelHistory, Refusal> {
    use crate::model::ChannelName;
    let state = ssr::state()?;
    ssr::answer(async {
        let viewer = ssr::viewer(&state);
        state.hub.history(&ChannelName::parse(&channel)?, viewer)
    })
    .await
}

/// Stored messages older than message `before` (at most
/// [`crate::model::OLDER_PAGE`]), oldest first, and whether there are more.
#[server(endpoint = "older_messages", output = Answer)]
pub async fn older_messages(
    channel: String,
    before: Seq,
) -> Result<crate::model::OlderMessages, Refusal> {
    use crate::model::ChannelName;
    let state = ssr::state()?;
    ssr::answer(async {
        let viewer = ssr::viewer(&state);
        state
            .hub
            .older(&ChannelName::parse(&channel)?, viewer, before)
            .await
    })
    .await
}

/// Deletes one of the caller's own messages.
#[server(endpoint = "delete_message", output = Answer)]
pub async fn delete_message(channel: String, seq: Seq) -> Result<(), Refusal> {
    use crate::model::ChannelName;
    let state = ssr::state()?;
    ssr::answer(async {
        let me = ssr::signed_in(&state)?;
        let channel = ChannelName::parse(&channel)?;
        state.limits.take_write(me.id)?;
        state.hub.delete(&channel, seq, me.id).await
    })
    .await
}

/// Replaces the text of one of the caller's own messages.
#[server(endpoint = "edit_message", output = Answer)]
pub async fn edit_message(channel: String, seq: Seq, text: String) -> Result<(), Refusal> {
    use crate::model::{ChannelName, MessageText};
    let state = ssr::state()?;
    ssr::answer(async {
        let me = ssr::signed_in(&state)?;
        let channel = ChannelName::parse(&channel)?;
        let text = MessageText::parse(&text)?;
        state.limits.take_write(me.id)?;
        let mentions = state.identities.mentioned(&text);
        state.hub.edit(&channel, seq, me.id, text, mentions).await
    })
    .await
}

/// Adds (`on`) or removes the caller's reaction `emoji` to a message.
#[server(endpoint = "react", output = Answer)]
pub async fn react(channel: String, seq: Seq, emoji: String, on: bool) -> Result<(), Refusal> {
    use crate::model::{ChannelName, Emoji};
    let state = ssr::state()?;
    ssr::answer(async {
        let me = ssr::signed_in(&state)?;
        let channel = ChannelName::parse(&channel)?;
        let emoji = Emoji::parse(&emoji)?;
        state.limits.take_write(me.id)?;
        state.hub.react(&channel, seq, &me, emoji, on).await
    })
    .await
}

/// A thread: its parent message and its newest replies (at most
/// [`crate::model::THREAD_PAGE`]), oldest first. `parent` may also be a
/// reply: the answer is then the thread it is in.
#[server(endpoint = "thread", output = Answer)]
pub async fn fetch_thread(channel: String, parent: Seq) -> Result<crate::model::Thread, Refusal> {
    use crate::model::ChannelName;
    let state = ssr::state()?;
    ssr::answer(async {
        let viewer = ssr::viewer(&state);
        state
            .hub
            .thread(&ChannelName::parse(&channel)?, viewer, parent)
            .await
    })
    .await
}

/// The people who have opened a channel, each with whether they are
/// online now (a tab open), by name.
#[server(endpoint = "members", output = Answer)]
pub async fn channel_members(channel: String) -> Result<Vec<crate::model::Member>, Refusal> {
    use crate::model::{ChannelName, Member};
    let state = ssr::state()?;
    ssr::answer(async {
        let channel = ChannelName::parse(&channel)?;
        let mut members: Vec<Member> = state
            .hub
            .members(&channel, ssr::viewer(&state))?
            .into_iter()
            .filter_map(|id| state.identities.get(id))
            .map(|identity| Member {
                online: state.hub.is_online(identity.id),
                identity,
            })
            .collect();
        members.sort_by_key(|m| m.identity.name.key());
        Ok(members)
    })
    .await
}

/// The newest messages (and replies) the caller can see that have every
/// word of `query`, newest first (at most [`crate::model::SEARCH_LIMIT`]).
#[server(endpoint = "search", output = Answer)]
pub async fn search_messages(query: String) -> Result<Vec<crate::model::SearchHit>, Refusal> {
    let state = ssr::state()?;
    ssr::answer(async {
        if query.chars().count() > 200 {
            return Err(Refusal::new(
                ErrorCode::BadRequest,
                "A search can be at most 200 characters long.",
            ));
        }
        state.hub.search(ssr::viewer(&state), &query).await
    })
    .await
}

/// The messages around message `seq` (for a reply, around its thread's
/// parent), to open a channel at a message older than its last 100.
#[server(endpoint = "context", output = Answer)]
pub async fn message_context(
    channel: String,
    seq: Seq,
) -> Result<crate::model::MessageContext, Refusal> {
    use crate::model::ChannelName;
    let state = ssr::state()?;
    ssr::answer(async {
        let viewer = ssr::viewer(&state);
        state
            .hub
            .context(&ChannelName::parse(&channel)?, viewer, seq)
            .await
    })
    .await
}

/// Stored messages newer than message `after` (at most
/// [`crate::model::OLDER_PAGE`]), oldest first, and whether there are more.
#[server(endpoint = "newer_messages", output = Answer)]
pub async fn newer_messages(
    channel: String,
    after: Seq,
) -> Result<crate::model::OlderMessages, Refusal> {
    use crate::model::ChannelName;
    let state = ssr::state()?;
    ssr::answer(async {
        let viewer = ssr::viewer(&state);
        state
            .hub
            .newer(&ChannelName::parse(&channel)?, viewer, after)
            .await
    })
    .await
}

/// The caller's direct conversation with the person called `name`,
/// started if new.
#[server(endpoint = "open_direct", output = Answer)]
pub async fn open_direct(name: String) -> Result<ChannelSummary, Refusal> {
    use crate::model::DisplayName;
    let state = ssr::state()?;
    ssr::answer(async {
        let me = ssr::signed_in(&state)?;
        let name = DisplayName::parse(&name)?;
        let other = state.identities.named(&name).ok_or_else(|| {
            Refusal::new(
                ErrorCode::UnknownPerson,
                format!("Nobody is called \u{201c}{name}\u{201d} here."),
            )
        })?;
        let existing = state
            .hub
            .directs(me.id)
            .into_iter()
            .find(|d| d.other(me.id) == Some(&other));
        if let Some(existing) = existing {
            return Ok(existing);
        }
        // Starting one changes state (and tells the other person): not
        // from a page load that another site's link caused.
        ssr::not_cross_site_page()?;
        state.limits.take_channel_creation(me.id)?;
        state.hub.open_direct(&me, &other).await
    })
    .await
}

/// Up to ten people whose name has `prefix` (those starting with it
/// first), for the quick switcher.
#[server(endpoint = "people", output = Answer)]
pub async fn find_people(prefix: String) -> Result<Vec<Identity>, Refusal> {
    let state = ssr::state()?;
    ssr::answer(async {
        if prefix.chars().count() > 64 {
            return Err(Refusal::new(
                ErrorCode::BadRequest,
                "That is too long for a name.",
            ));
        }
        Ok(state.identities.find(&prefix, 10))
    })
    .await
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use crate::model::{ErrorCode, Identity, Refusal};
    use crate::server::identity::{Token, TOKEN_COOKIE};
    use crate::server::AppState;
    use axum::extract::ConnectInfo;
    use axum::http::header::{COOKIE, SET_COOKIE};
    use axum::http::request::Parts;
    use axum::http::{HeaderValue, StatusCode};
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;
    use std::future::Future;
    use std::net::{IpAddr, SocketAddr};

    /// The server's state, which every request has.
    pub fn state() -> Result<AppState, Refusal> {
        use_context::<AppState>().ok_or_else(|| {
            refused(ErrorCode::Internal);
            Refusal::new(
                ErrorCode::Internal,
                "The server's state is missing from this request.",
            )
        })
    }

    /// Runs a server function's body, giving a refusal its HTTP status.
    pub async fn answer<T>(body: impl Future<Output = Result<T, Refusal>>) -> Result<T, Refusal> {
        let result = body.await;
        if let Err(refusal) = &result {
            refused(refusal.code);
        }
        result
    }

    /// A refusal is answered: it is counted and logged (in the call's
    /// `server_fn` span), and given its HTTP status.
    pub fn refused(code: ErrorCode) {
        tracing::info!(code = %crate::server::telemetry::code_name(code), "refused");
        crate::server::telemetry::count_refusal(code);
        set_status(code);
    }

    pub fn set_status(code: ErrorCode) {
        if let Some(response) = use_context::<ResponseOptions>() {
            let status = StatusCode::from_u16(code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            response.set_status(status);
        }
    }

    /// The identity token of this request's cookie, if any.
    pub fn token() -> Option<Token> {
        let parts = use_context::<Parts>()?;
        parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(Token::from_cookie_header)
    }

    /// The address the request came from.
    pub fn peer_ip() -> Option<IpAddr> {
        let parts = use_context::<Parts>()?;
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
    }

    /// Refuses when this call is part of rendering a page that another
    /// site's link or form asked for: a page load must not change what a
    /// cross-site request to `/api` could not (those are refused before
    /// they get here).
    pub fn not_cross_site_page() -> Result<(), Refusal> {
        let Some(parts) = use_context::<Parts>() else {
            return Ok(());
        };
        if crate::server::origin::cross_site(&parts.headers) {
            return Err(Refusal::new(
                ErrorCode::CrossSite,
                "A link from another site cannot start a conversation: start it here.",
            ));
        }
        Ok(())
    }

    pub fn not_signed_in() -> Refusal {
        Refusal::new(
            ErrorCode::NotSignedIn,
            "Please choose a display name first.",
        )
    }

    /// The caller's identity, by its cookie, if it has one.
    pub fn identity(state: &AppState) -> Option<Identity> {
        token().and_then(|t| state.identities.resolve(&t.hash()))
    }

    /// The caller's identity number, if it has one: what it may see.
    pub fn viewer(state: &AppState) -> Option<crate::model::IdentityId> {
        identity(state).map(|me| me.id)
    }

    /// The caller's identity, or a refusal if it has none.
    pub fn signed_in(state: &AppState) -> Result<Identity, Refusal> {
        identity(state).ok_or_else(not_signed_in)
    }

    /// Sets the identity cookie, or clears it.
    pub fn set_token_cookie(token: Option<&Token>, secure: bool) {
        let Some(response) = use_context::<ResponseOptions>() else {
            return;
        };
        let secure = if secure { "; Secure" } else { "" };
        let (value, max_age) = match token {
            Some(token) => (token.as_str(), 31_536_000),
            None => ("", 0),
        };
        let cookie = format!(
            "{TOKEN_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.insert_header(SET_COOKIE, value);
        }
    }
}
