//! State changes come only from this site's own pages.
//!
//! A browser says where a request comes from: `Origin` names the page's
//! site, `Sec-Fetch-Site` says whether it is this one. A request that a
//! page of another site made (a form posted to `/api/claim_name`, a
//! WebSocket opened to `/ws`) would otherwise carry the visitor's cookie
//! and act as them, or sign them in under a name of the attacker's choice.
//! Such a request is refused with 403 and the code `cross_site`. Clients
//! that send neither header (curl, bots) are not browsers, and carry
//! their own cookie.

use crate::model::{ErrorCode, Refusal};
use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Whether a browser says this request came from another site's page.
pub(crate) fn cross_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    if matches!(fetch_site.as_deref(), Some("cross-site" | "same-site")) {
        return true;
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return false;
    };
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, host)| host.trim_end_matches('/'));
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    !matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// The refusal for a request from another site.
pub(crate) fn refusal() -> Refusal {
    Refusal::new(
        ErrorCode::CrossSite,
        "Requests that change something are accepted only from this site's own pages.",
    )
}

/// Middleware: answers a cross-site request to a server function 403.
pub(crate) async fn refuse_cross_site(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") || !cross_site(request.headers()) {
        return next.run(request).await;
    }
    forbidden(request.uri().path())
}

/// The 403 answer, with the refusal as the JSON a server function's error
/// has (the WebSocket upgrade at `/ws` answers the same way).
pub(crate) fn forbidden(path: &str) -> Response {
    let code = ErrorCode::CrossSite;
    tracing::info!(path, code = %super::telemetry::code_name(code), "cross-site request refused");
    super::telemetry::count_refusal(code);
    let body = serde_json::to_string(&refusal()).unwrap_or_default();
    let mut response = (StatusCode::FORBIDDEN, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn the_sites_own_pages_and_tools_pass() {
        assert!(!cross_site(&headers(&[("host", "chat.example")])));
        assert!(!cross_site(&headers(&[
            ("host", "chat.example"),
            ("origin", "https://chat.example"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!cross_site(&headers(&[("sec-fetch-site", "none")])));
    }

    #[test]
    fn other_sites_are_refused() {
        assert!(cross_site(&headers(&[
            ("host", "chat.example"),
            ("origin", "https://evil.example"),
        ])));
        assert!(cross_site(&headers(&[
            ("host", "chat.example"),
            ("sec-fetch-site", "cross-site"),
        ])));
        assert!(cross_site(&headers(&[
            ("host", "chat.example"),
            ("origin", "null"),
        ])));
    }
}
