//! Who is writing: display names bound to opaque random tokens.
//!
//! A name alone proves nothing, so the first claim of a name issues a
//! 256-bit random token and binds the name to it. The token travels only as
//! an HttpOnly, SameSite cookie ([`TOKEN_COOKIE`]); page script never sees
//! it. Names are unique case-insensitively. Bindings live for the run of
//! the server; after a restart a returning browser simply claims its
//! remembered name again.

use crate::model::{DisplayName, ErrorCode, Refusal};
use std::collections::HashMap;
use std::sync::Mutex;

/// The cookie that carries the token.
pub const TOKEN_COOKIE: &str = "flack_token";

/// An opaque identity token: 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source works");
        Token(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A token as a client presented it. Anything that is not of the shape
    /// we issue is no token at all.
    pub fn from_client(raw: &str) -> Option<Self> {
        (raw.len() == 64 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Token(raw.to_owned()))
    }

    /// The token in a `Cookie` header's value, if any.
    pub fn from_cookie_header(header: &str) -> Option<Self> {
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == TOKEN_COOKIE)
            .and_then(|(_, value)| Token::from_client(value))
    }
}

#[derive(Default)]
struct Bindings {
    name_of: HashMap<Token, DisplayName>,
    /// Name key (lowercase) to the token that holds it.
    holder_of: HashMap<String, Token>,
}

/// The name bindings of this server.
#[derive(Default)]
pub struct Identities {
    bindings: Mutex<Bindings>,
}

impl Identities {
    /// Claims `name` for the holder of `presented` (or for a new token).
    ///
    /// - The name is free: it is bound to the presented token if that is
    ///   one we issued (releasing the token's previous name), or to a new
    ///   token otherwise.
    /// - The name is held by the presented token: nothing changes but the
    ///   name's case, as typed now.
    /// - The name is held by another token: refused.
    pub fn claim(
        &self,
        presented: Option<Token>,
        name: DisplayName,
    ) -> Result<(Token, DisplayName), Refusal> {
        let mut b = self.bindings.lock().unwrap_or_else(|p| p.into_inner());
        let key = name.key();
        if let Some(holder) = b.holder_of.get(&key) {
            if Some(holder) != presented.as_ref() {
                return Err(Refusal::new(
                    ErrorCode::NameTaken,
                    format!("The name \u{201c}{name}\u{201d} is taken; please choose another."),
                ));
            }
        }
        let token = match presented {
            Some(token) if b.name_of.contains_key(&token) => token,
            _ => Token::generate(),
        };
        if let Some(previous) = b.name_of.insert(token.clone(), name.clone()) {
            b.holder_of.remove(&previous.key());
        }
        b.holder_of.insert(key, token.clone());
        Ok((token, name))
    }

    /// The name bound to a token, if any.
    pub fn name_of(&self, token: &Token) -> Option<DisplayName> {
        let b = self.bindings.lock().unwrap_or_else(|p| p.into_inner());
        b.name_of.get(token).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> DisplayName {
        DisplayName::parse(s).unwrap()
    }

    #[test]
    fn a_first_claim_issues_a_long_random_token() {
        let ids = Identities::default();
        let (a, _) = ids.claim(None, name("ada")).unwrap();
        let (b, _) = ids.claim(None, name("bob")).unwrap();
        assert_eq!(a.as_str().len(), 64);
        assert_ne!(a, b);
        assert_eq!(ids.name_of(&a), Some(name("ada")));
    }

    #[test]
    fn names_are_unique_case_insensitively() {
        let ids = Identities::default();
        ids.claim(None, name("Ada")).unwrap();
        let err = ids.claim(None, name("ADA")).unwrap_err();
        assert_eq!(err.code, ErrorCode::NameTaken);
    }

    #[test]
    fn the_holder_can_claim_its_name_again() {
        let ids = Identities::default();
        let (token, _) = ids.claim(None, name("ada")).unwrap();
        let (again, now) = ids.claim(Some(token.clone()), name("Ada")).unwrap();
        assert_eq!(again, token);
        assert_eq!(now.as_str(), "Ada");
    }

    #[test]
    fn renaming_releases_the_old_name() {
        let ids = Identities::default();
        let (token, _) = ids.claim(None, name("ada")).unwrap();
        ids.claim(Some(token.clone()), name("grace")).unwrap();
        assert_eq!(ids.name_of(&token), Some(name("grace")));
        assert!(ids.claim(None, name("ada")).is_ok(), "ada is free again");
    }

    #[test]
    fn unknown_or_malformed_tokens_get_a_fresh_one() {
        let ids = Identities::default();
        let forged = Token::from_client(&"a".repeat(64)).unwrap();
        let (token, _) = ids.claim(Some(forged.clone()), name("ada")).unwrap();
        assert_ne!(token, forged);
        assert!(Token::from_client("short").is_none());
        assert!(Token::from_client(&"G".repeat(64)).is_none());
    }

    #[test]
    fn the_token_is_read_from_a_cookie_header() {
        let t = "0123456789abcdef".repeat(4);
        let header = format!("theme=dark; {TOKEN_COOKIE}={t}; other=1");
        assert_eq!(Token::from_cookie_header(&header).unwrap().as_str(), t);
        assert!(Token::from_cookie_header("theme=dark").is_none());
    }
}
