//! The server functions' bodies: what each call of `crate::api` does with
//! the server's state, as plain methods of [`AppState`] (the top layer
//! puts the state in each request's context as the API's
//! [`Calls`]). The request's cookie, address and headers are read from
//! the request's context while a call runs.

use super::identity::{Token, TOKEN_COOKIE};
use super::{origin, telemetry, AppState};
use crate::api::ssr::{Calls, Reply};
use crate::model::{
    ChannelHistory, ChannelName, ChannelSummary, DisplayName, Emoji, ErrorCode, Identity,
    IdentityId, Member, MessageContext, MessageText, OlderMessages, Refusal, SearchHit, Seq,
    Thread,
};
use axum::extract::ConnectInfo;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;
use std::net::{IpAddr, SocketAddr};

/// The identity token of this request's cookie, if any.
fn token() -> Option<Token> {
    let parts = use_context::<Parts>()?;
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(Token::from_cookie_header)
}

/// The address the request came from.
fn peer_ip() -> Option<IpAddr> {
    let parts = use_context::<Parts>()?;
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

/// Refuses when this call is part of rendering a page that another site's
/// link or form asked for: a page load must not change what a cross-site
/// request to `/api` could not (those are refused before they get here).
fn not_cross_site_page() -> Result<(), Refusal> {
    let Some(parts) = use_context::<Parts>() else {
        return Ok(());
    };
    if origin::cross_site(&parts.headers) {
        return Err(Refusal::new(
            ErrorCode::CrossSite,
            "A link from another site cannot start a conversation: start it here.",
        ));
    }
    Ok(())
}

fn not_signed_in() -> Refusal {
    Refusal::new(
        ErrorCode::NotSignedIn,
        "Please choose a display name first.",
    )
}

/// Sets the identity cookie, or clears it.
fn set_token_cookie(token: Option<&Token>, secure: bool) {
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

impl AppState {
    /// The caller's identity, by its cookie, if it has one.
    pub(crate) fn identity(&self) -> Option<Identity> {
        token().and_then(|t| self.identities.resolve(&t.hash()))
    }

    /// The caller's identity number, if it has one: what it may see.
    fn viewer(&self) -> Option<IdentityId> {
        self.identity().map(|me| me.id)
    }

    /// The caller's identity, or a refusal if it has none.
    fn signed_in(&self) -> Result<Identity, Refusal> {
        self.identity().ok_or_else(not_signed_in)
    }
}

/// Boxes a call's body (with the state it needs).
fn reply<T, F>(body: F) -> Reply<T>
where
    F: std::future::Future<Output = Result<T, Refusal>> + Send + 'static,
{
    Box::pin(body)
}

impl Calls for AppState {
    fn claim_name(&self, name: String) -> Reply<Identity> {
        let state = self.clone();
        reply(async move {
            let name = DisplayName::parse(&name)?;
            let presented = token();
            let ip = peer_ip();
            let (token, identity) = state
                .identities
                .claim(presented.as_ref(), name, || state.limits.take_claim(ip))
                .await?;
            set_token_cookie(Some(&token), state.settings.secure_cookie);
            Ok(identity)
        })
    }

    fn sign_out(&self) -> Reply<()> {
        let state = self.clone();
        reply(async move {
            let token = token().ok_or_else(not_signed_in)?;
            let ended = state.identities.sign_out(&token.hash()).await?;
            // Its sockets close, ending what they follow.
            state.hub.ended(&[ended]);
            set_token_cookie(None, state.settings.secure_cookie);
            Ok(())
        })
    }

    fn list_channels(&self) -> Reply<Vec<ChannelSummary>> {
        let channels = self.hub.channels();
        reply(async move { Ok(channels) })
    }

    fn create_channel(&self, name: String) -> Reply<ChannelSummary> {
        let state = self.clone();
        reply(async move {
            let me = state.signed_in()?;
            let name = ChannelName::parse(&name)?;
            state.limits.take_channel_creation(me.id)?;
            state.hub.create_channel(name).await
        })
    }

    fn history(&self, channel: String) -> Reply<ChannelHistory> {
        let answer = ChannelName::parse(&channel)
            .and_then(|channel| self.hub.history(&channel, self.viewer()));
        reply(async move { answer })
    }

    fn older(&self, channel: String, before: Seq) -> Reply<OlderMessages> {
        let state = self.clone();
        reply(async move {
            let viewer = state.viewer();
            state
                .hub
                .older(&ChannelName::parse(&channel)?, viewer, before)
                .await
        })
    }

    fn delete(&self, channel: String, seq: Seq) -> Reply<()> {
        let state = self.clone();
        reply(async move {
            let me = state.signed_in()?;
            let channel = ChannelName::parse(&channel)?;
            state.limits.take_write(me.id)?;
            state.hub.delete(&channel, seq, me.id).await
        })
    }

    fn edit(&self, channel: String, seq: Seq, text: String) -> Reply<()> {
        let state = self.clone();
        reply(async move {
            let me = state.signed_in()?;
            let channel = ChannelName::parse(&channel)?;
            let text = MessageText::parse(&text)?;
            state.limits.take_write(me.id)?;
            let mentions = state.identities.mentioned(&text);
            state.hub.edit(&channel, seq, me.id, text, mentions).await
        })
    }

    fn react(&self, channel: String, seq: Seq, emoji: String, on: bool) -> Reply<()> {
        let state = self.clone();
        reply(async move {
            let me = state.signed_in()?;
            let channel = ChannelName::parse(&channel)?;
            let emoji = Emoji::parse(&emoji)?;
            state.limits.take_write(me.id)?;
            state.hub.react(&channel, seq, &me, emoji, on).await
        })
    }

    fn thread(&self, channel: String, parent: Seq) -> Reply<Thread> {
        let state = self.clone();
        reply(async move {
            let viewer = state.viewer();
            state
                .hub
                .thread(&ChannelName::parse(&channel)?, viewer, parent)
                .await
        })
    }

    fn members(&self, channel: String) -> Reply<Vec<Member>> {
        let state = self.clone();
        reply(async move {
            let channel = ChannelName::parse(&channel)?;
            let mut members: Vec<Member> = state
                .hub
                .members(&channel, state.viewer())?
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
    }

    fn search(&self, query: String) -> Reply<Vec<SearchHit>> {
        let state = self.clone();
        reply(async move {
            if query.chars().count() > 200 {
                return Err(Refusal::new(
                    ErrorCode::BadRequest,
                    "A search can be at most 200 characters long.",
                ));
            }
            state.hub.search(state.viewer(), &query).await
        })
    }

    fn context(&self, channel: String, seq: Seq) -> Reply<MessageContext> {
        let state = self.clone();
        reply(async move {
            let viewer = state.viewer();
            state
                .hub
                .context(&ChannelName::parse(&channel)?, viewer, seq)
                .await
        })
    }

    fn newer(&self, channel: String, after: Seq) -> Reply<OlderMessages> {
        let state = self.clone();
        reply(async move {
            let viewer = state.viewer();
            state
                .hub
                .newer(&ChannelName::parse(&channel)?, viewer, after)
                .await
        })
    }

    fn open_direct(&self, name: String) -> Reply<ChannelSummary> {
        let state = self.clone();
        reply(async move {
            let me = state.signed_in()?;
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
            not_cross_site_page()?;
            state.limits.take_channel_creation(me.id)?;
            state.hub.open_direct(&me, &other).await
        })
    }

    fn people(&self, prefix: String) -> Reply<Vec<Identity>> {
        let answer = if prefix.chars().count() > 64 {
            Err(Refusal::new(
                ErrorCode::BadRequest,
                "That is too long for a name.",
            ))
        } else {
            Ok(self.identities.find(&prefix, 10))
        };
        reply(async move { answer })
    }

    fn caller(&self) -> Option<Identity> {
        self.identity()
    }

    fn refused(&self, code: ErrorCode) {
        tracing::info!(code = %telemetry::code_name(code), "refused");
        telemetry::count_refusal(code);
    }
}
