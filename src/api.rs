//! Request/response operations, as Leptos server functions at stable
//! endpoints under `/api/` (`docs/protocol.md` lists them).
//!
//! A refusal is a [`Refusal`] (code and sentence) answered with the 4xx
//! status of its code, never a 500: see [`ErrorCode::http_status`].
//!
//! This layer knows nothing of the server: on the server, each function
//! hands its call to the [`ssr::Calls`] in the request's context, which
//! the top layer provides (the server's implementation is
//! `crate::server::calls`), so that the app and this API sit below the
//! server and never reach up into it.

use crate::model::{
    ChannelHistory, ChannelSummary, ErrorCode, Identity, Member, Refusal, SearchHit, Seq, Thread,
};
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
pub(crate) type Answer = Post<TextJson>;

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
pub(crate) async fn claim_name(name: String) -> Result<Identity, Refusal> {
    ssr::answer(ssr::calls()?.claim_name(name)).await
}

/// Signs out: the identity's token is void, its name free for anyone, and
/// the cookie is cleared. Its messages stay.
#[server(endpoint = "sign_out", output = Answer)]
pub(crate) async fn sign_out() -> Result<(), Refusal> {
    ssr::answer(ssr::calls()?.sign_out()).await
}

/// Every channel, sorted by name.
#[server(endpoint = "list_channels", output = Answer)]
pub(crate) async fn list_channels() -> Result<Vec<ChannelSummary>, Refusal> {
    ssr::answer(ssr::calls()?.list_channels()).await
}

/// Creates a channel (the name is lowered); needs a claimed name.
#[server(endpoint = "create_channel", output = Answer)]
pub(crate) async fn create_channel(name: String) -> Result<ChannelSummary, Refusal> {
    ssr::answer(ssr::calls()?.create_channel(name)).await
}

/// A channel's most recent messages (at most 100), oldest first.
#[server(endpoint = "channel_history", output = Answer)]
pub(crate) async fn fetch_history(channel: String) -> Result<ChannelHistory, Refusal> {
    ssr::answer(ssr::calls()?.history(channel)).await
}

/// Stored messages older than message `before` (at most
/// [`crate::model::OLDER_PAGE`]), oldest first, and whether there are more.
#[server(endpoint = "older_messages", output = Answer)]
pub(crate) async fn older_messages(
    channel: String,
    before: Seq,
) -> Result<crate::model::OlderMessages, Refusal> {
    ssr::answer(ssr::calls()?.older(channel, before)).await
}

/// Deletes one of the caller's own messages.
#[server(endpoint = "delete_message", output = Answer)]
pub(crate) async fn delete_message(channel: String, seq: Seq) -> Result<(), Refusal> {
    ssr::answer(ssr::calls()?.delete(channel, seq)).await
}

/// Replaces the text of one of the caller's own messages.
#[server(endpoint = "edit_message", output = Answer)]
pub(crate) async fn edit_message(channel: String, seq: Seq, text: String) -> Result<(), Refusal> {
    ssr::answer(ssr::calls()?.edit(channel, seq, text)).await
}

/// Adds (`on`) or removes the caller's reaction `emoji` to a message.
#[server(endpoint = "react", output = Answer)]
pub(crate) async fn react(
    channel: String,
    seq: Seq,
    emoji: String,
    on: bool,
) -> Result<(), Refusal> {
    ssr::answer(ssr::calls()?.react(channel, seq, emoji, on)).await
}

/// A thread: its parent message and its newest replies (at most
/// [`crate::model::THREAD_PAGE`]), oldest first. `parent` may also be a
/// reply: the answer is then the thread it is in.
#[server(endpoint = "thread", output = Answer)]
pub(crate) async fn fetch_thread(channel: String, parent: Seq) -> Result<Thread, Refusal> {
    ssr::answer(ssr::calls()?.thread(channel, parent)).await
}

/// The people who have opened a channel, each with whether they are
/// online now (a tab open), by name.
#[server(endpoint = "members", output = Answer)]
pub(crate) async fn channel_members(channel: String) -> Result<Vec<Member>, Refusal> {
    ssr::answer(ssr::calls()?.members(channel)).await
}

/// The newest messages (and replies) the caller can see that have every
/// word of `query`, newest first (at most [`crate::model::SEARCH_LIMIT`]).
#[server(endpoint = "search", output = Answer)]
pub(crate) async fn search_messages(query: String) -> Result<Vec<SearchHit>, Refusal> {
    ssr::answer(ssr::calls()?.search(query)).await
}

/// The messages around message `seq` (for a reply, around its thread's
/// parent), to open a channel at a message older than its last 100.
#[server(endpoint = "context", output = Answer)]
pub(crate) async fn message_context(
    channel: String,
    seq: Seq,
) -> Result<crate::model::MessageContext, Refusal> {
    ssr::answer(ssr::calls()?.context(channel, seq)).await
}

/// Stored messages newer than message `after` (at most
/// [`crate::model::OLDER_PAGE`]), oldest first, and whether there are more.
#[server(endpoint = "newer_messages", output = Answer)]
pub(crate) async fn newer_messages(
    channel: String,
    after: Seq,
) -> Result<crate::model::OlderMessages, Refusal> {
    ssr::answer(ssr::calls()?.newer(channel, after)).await
}

/// The caller's direct conversation with the person called `name`,
/// started if new (never by a page load that another site's link
/// caused).
#[server(endpoint = "open_direct", output = Answer)]
pub(crate) async fn open_direct(name: String) -> Result<ChannelSummary, Refusal> {
    ssr::answer(ssr::calls()?.open_direct(name)).await
}

/// Up to ten people whose name has `prefix` (those starting with it
/// first), for the quick switcher.
#[server(endpoint = "people", output = Answer)]
pub(crate) async fn find_people(prefix: String) -> Result<Vec<Identity>, Refusal> {
    ssr::answer(ssr::calls()?.people(prefix)).await
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    //! How a server function reaches the server: the [`Calls`] the top
    //! layer puts in each request's context.

    use super::*;
    use axum::http::StatusCode;
    use leptos_axum::ResponseOptions;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    /// A call's answer, to come.
    pub(crate) type Reply<T> = Pin<Box<dyn Future<Output = Result<T, Refusal>> + Send>>;

    /// What the server functions need of a server: one method a
    /// function, each with the request's context (its cookie, address and
    /// headers) at hand while it runs.
    pub(crate) trait Calls: Send + Sync + 'static {
        /// `claim_name`.
        fn claim_name(&self, name: String) -> Reply<Identity>;
        /// `sign_out`.
        fn sign_out(&self) -> Reply<()>;
        /// `list_channels`.
        fn list_channels(&self) -> Reply<Vec<ChannelSummary>>;
        /// `create_channel`.
        fn create_channel(&self, name: String) -> Reply<ChannelSummary>;
        /// `channel_history`.
        fn history(&self, channel: String) -> Reply<ChannelHistory>;
        /// `older_messages`.
        fn older(&self, channel: String, before: Seq) -> Reply<crate::model::OlderMessages>;
        /// `delete_message`.
        fn delete(&self, channel: String, seq: Seq) -> Reply<()>;
        /// `edit_message`.
        fn edit(&self, channel: String, seq: Seq, text: String) -> Reply<()>;
        /// `react`.
        fn react(&self, channel: String, seq: Seq, emoji: String, on: bool) -> Reply<()>;
        /// `thread`.
        fn thread(&self, channel: String, parent: Seq) -> Reply<Thread>;
        /// `members`.
        fn members(&self, channel: String) -> Reply<Vec<Member>>;
        /// `search`.
        fn search(&self, query: String) -> Reply<Vec<SearchHit>>;
        /// `context`.
        fn context(&self, channel: String, seq: Seq) -> Reply<crate::model::MessageContext>;
        /// `newer_messages`.
        fn newer(&self, channel: String, after: Seq) -> Reply<crate::model::OlderMessages>;
        /// `open_direct`.
        fn open_direct(&self, name: String) -> Reply<ChannelSummary>;
        /// `people`.
        fn people(&self, prefix: String) -> Reply<Vec<Identity>>;
        /// The caller's identity, by the request's cookie, if any.
        fn caller(&self) -> Option<Identity>;
        /// A refusal is answered: for the server's logs and metrics.
        fn refused(&self, code: ErrorCode);
    }

    /// The calls of this request's server.
    pub(crate) fn calls() -> Result<Arc<dyn Calls>, Refusal> {
        use_context::<Arc<dyn Calls>>().ok_or_else(|| {
            set_status(ErrorCode::Internal);
            Refusal::new(
                ErrorCode::Internal,
                "The server's state is missing from this request.",
            )
        })
    }

    /// The identity of the request being served, if it has one.
    pub(crate) fn caller() -> Option<Identity> {
        use_context::<Arc<dyn Calls>>()?.caller()
    }

    /// Runs a server function's body, giving a refusal its HTTP status.
    pub(crate) async fn answer<T>(
        body: impl Future<Output = Result<T, Refusal>>,
    ) -> Result<T, Refusal> {
        let result = body.await;
        if let Err(refusal) = &result {
            refused(refusal.code);
        }
        result
    }

    /// A refusal is answered: told to the server (which logs and counts
    /// it), and given its HTTP status.
    pub(crate) fn refused(code: ErrorCode) {
        if let Some(calls) = use_context::<Arc<dyn Calls>>() {
            calls.refused(code);
        }
        set_status(code);
    }

    pub(crate) fn set_status(code: ErrorCode) {
        if let Some(response) = use_context::<ResponseOptions>() {
            let status = StatusCode::from_u16(code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            response.set_status(status);
        }
    }
}
