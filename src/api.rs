//! Request/response operations, as Leptos server functions at stable
//! endpoints under `/api/` (`docs/protocol.md` lists them).
//!
//! A refusal is a [`Refusal`] (code and sentence) answered with the 4xx
//! status of its code, never a 500: see [`ErrorCode::http_status`].

use crate::model::{ChannelHistory, ChannelSummary, DisplayName, ErrorCode, Refusal, Seq};
use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};

impl FromServerFnError for Refusal {
    type Encoder = JsonEncoding;

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
        ssr::set_status(refusal.code);
        refusal
    }
}

/// Claims a display name for this browser and sets the identity cookie.
/// Claiming the name one already holds is fine (that is how a returning
/// browser signs in again); a name held by someone else is refused.
#[server(endpoint = "claim_name")]
pub async fn claim_name(name: String) -> Result<DisplayName, Refusal> {
    ssr::answer(|state| {
        let name = DisplayName::parse(&name)?;
        let (token, name) = state.identities.claim(ssr::token(), name)?;
        ssr::set_token_cookie(&token, state.settings.secure_cookie);
        Ok(name)
    })
}

/// Every channel, sorted by name.
#[server(endpoint = "list_channels")]
pub async fn list_channels() -> Result<Vec<ChannelSummary>, Refusal> {
    ssr::answer(|state| Ok(state.hub.channels()))
}

/// Creates a channel (the name is lowered); needs a claimed name.
#[server(endpoint = "create_channel")]
pub async fn create_channel(name: String) -> Result<ChannelSummary, Refusal> {
    use crate::model::ChannelName;
    ssr::answer(|state| {
        let (token, _) = ssr::signed_in(state)?;
        let name = ChannelName::parse(&name)?;
        state.limits.take_channel_creation(&token)?;
        state.hub.create_channel(name)
    })
}

/// A channel's most recent messages (at most 100), oldest first.
#[server(endpoint = "channel_history")]
pub async fn fetch_history(channel: String) -> Result<ChannelHistory, Refusal> {
    use crate::model::ChannelName;
    ssr::answer(|state| state.hub.history(&ChannelName::parse(&channel)?))
}

/// Deletes one of the caller's own messages.
#[server(endpoint = "delete_message")]
pub async fn delete_message(channel: String, seq: Seq) -> Result<(), Refusal> {
    use crate::model::ChannelName;
    ssr::answer(|state| {
        let (_, me) = ssr::signed_in(state)?;
        state.hub.delete(&ChannelName::parse(&channel)?, seq, &me)
    })
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::model::{DisplayName, ErrorCode, Refusal};
    use crate::server::identity::{Token, TOKEN_COOKIE};
    use crate::server::AppState;
    use axum::http::header::{COOKIE, SET_COOKIE};
    use axum::http::request::Parts;
    use axum::http::{HeaderValue, StatusCode};
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;

    /// Runs a server function's body with the server's state, giving a
    /// refusal its HTTP status.
    pub fn answer<T>(body: impl FnOnce(&AppState) -> Result<T, Refusal>) -> Result<T, Refusal> {
        let result = match use_context::<AppState>() {
            Some(state) => body(&state),
            None => Err(Refusal::new(
                ErrorCode::Internal,
                "The server's state is missing from this request.",
            )),
        };
        if let Err(refusal) = &result {
            set_status(refusal.code);
        }
        result
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

    /// The caller's token and display name, or a refusal if it has none.
    pub fn signed_in(state: &AppState) -> Result<(Token, DisplayName), Refusal> {
        token()
            .and_then(|t| state.identities.name_of(&t).map(|name| (t, name)))
            .ok_or_else(|| {
                Refusal::new(
                    ErrorCode::NotSignedIn,
                    "Please choose a display name first.",
                )
            })
    }

    pub fn set_token_cookie(token: &Token, secure: bool) {
        let Some(response) = use_context::<ResponseOptions>() else {
            return;
        };
        let secure = if secure { "; Secure" } else { "" };
        let cookie = format!(
            "{TOKEN_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000{secure}",
            token.as_str()
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.insert_header(SET_COOKIE, value);
        }
    }
}
