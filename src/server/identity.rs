//! Who is writing: identities, their names and their tokens.
//!
//! A name alone proves nothing, so the first claim of a name creates an
//! identity: a stable number ([`IdentityId`]) that owns the name, and a
//! 256-bit random token that proves it. The token travels only as an
//! HttpOnly, SameSite cookie ([`TOKEN_COOKIE`]); page script never sees it,
//! and the store keeps only its SHA-256 hash. Names are unique
//! case-insensitively. Every write is authorized by the identity's number:
//! a name released (by signing out, renaming or expiry) and claimed again
//! by someone else is a new identity with no power over the old one's
//! messages.
//!
//! Identities live in memory for quick checks and in the store, written
//! through. Their number is capped, new claims are limited per address
//! (see `limits`), and identities unused for a configurable time are
//! removed.

use super::hub::refusal;
use super::store::{write, Outcome, Store, StoreError, StoredIdentity, TokenHash, Write};
use crate::model::{
    DisplayName, ErrorCode, Identity, IdentityId, MessageText, Refusal, MAX_DISPLAY_NAME_CHARS,
};
use chrono::{DateTime, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The cookie that carries the token.
pub(crate) const TOKEN_COOKIE: &str = "flack_token";

/// How often at most an identity's last use is written down.
const TOUCH_EVERY: Duration = Duration::from_secs(3600);

/// An opaque identity token: 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Token(String);

impl Token {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source works");
        Token(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// What the store keeps of the token.
    pub(crate) fn hash(&self) -> TokenHash {
        Sha256::digest(self.0.as_bytes()).into()
    }

    /// A token as a client presented it. Anything that is not of the shape
    /// we issue is no token at all.
    pub(crate) fn from_client(raw: &str) -> Option<Self> {
        (raw.len() == 64 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Token(raw.to_owned()))
    }

    /// The token in a `Cookie` header's value, if any.
    pub(crate) fn from_cookie_header(header: &str) -> Option<Self> {
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == TOKEN_COOKIE)
            .and_then(|(_, value)| Token::from_client(value))
    }
}

struct Registry {
    by_id: HashMap<IdentityId, StoredIdentity>,
    by_hash: HashMap<TokenHash, IdentityId>,
    /// Name key (lowercase) to the identity that holds it.
    by_key: HashMap<String, IdentityId>,
}

impl Registry {
    fn insert(&mut self, identity: StoredIdentity) {
        self.by_hash.insert(identity.token_hash, identity.id);
        self.by_key.insert(identity.name.key(), identity.id);
        self.by_id.insert(identity.id, identity);
    }

    fn remove(&mut self, id: IdentityId) -> Option<StoredIdentity> {
        let identity = self.by_id.remove(&id)?;
        self.by_hash.remove(&identity.token_hash);
        if self.by_key.get(&identity.name.key()) == Some(&id) {
            self.by_key.remove(&identity.name.key());
        }
        Some(identity)
    }
}

/// Most people one message can mention.
pub(crate) const MAX_MENTIONS: usize = 50;

/// The identities of this server.
pub struct Identities {
    store: Arc<dyn Store>,
    registry: Mutex<Registry>,
    max: usize,
}

/// What a claim did.
fn public(identity: &StoredIdentity) -> Identity {
    Identity {
        id: identity.id,
        name: identity.name.clone(),
    }
}

impl Identities {
    /// The identities the store holds; at most `max` at a time.
    pub(crate) fn new(store: Arc<dyn Store>, stored: Vec<StoredIdentity>, max: usize) -> Self {
        let mut registry = Registry {
            by_id: HashMap::with_capacity(stored.len()),
            by_hash: HashMap::with_capacity(stored.len()),
            by_key: HashMap::with_capacity(stored.len()),
        };
        for identity in stored {
            registry.insert(identity);
        }
        Identities {
            store,
            registry: Mutex::new(registry),
            max,
        }
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The identity numbered `id`, if it still exists.
    pub(crate) fn get(&self, id: IdentityId) -> Option<Identity> {
        self.registry().by_id.get(&id).map(public)
    }

    /// Who holds `name` now, if anyone.
    pub fn named(&self, name: &DisplayName) -> Option<Identity> {
        let registry = self.registry();
        let id = registry.by_key.get(&name.key())?;
        registry.by_id.get(id).map(public)
    }

    /// Up to `limit` people whose name starts with `prefix` (any case),
    /// then those whose name has it elsewhere; by name.
    pub(crate) fn find(&self, prefix: &str, limit: usize) -> Vec<Identity> {
        let wanted = prefix.trim().to_lowercase();
        let registry = self.registry();
        let mut found: Vec<(bool, String, Identity)> = registry
            .by_id
            .values()
            .filter_map(|i| {
                let key = i.name.key();
                let at = key.find(&wanted)?;
                Some((at != 0, key, public(i)))
            })
            .collect();
        found.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        found.into_iter().take(limit).map(|(_, _, i)| i).collect()
    }

    /// How many identities there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.registry().by_id.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Claims `name` for the holder of `presented` (or for a new identity).
    ///
    /// - The name is held by the presented token's identity: nothing
    ///   changes but the name's case, as typed now (a returning browser
    ///   signs in this way).
    /// - The name is held by another identity: refused.
    /// - The name is free: the presented identity takes it (releasing its
    ///   old name), or a new identity is made. Either must pass `admit`
    ///   (the per-address limit) first.
    ///
    /// The store decides (its unique index on the lowered name, its count
    /// of identities) and assigns a new identity's number; this answers
    /// once stored, with the token to set and who that is.
    pub(crate) async fn claim(
        &self,
        presented: Option<&Token>,
        name: DisplayName,
        admit: impl FnOnce() -> Result<(), Refusal>,
    ) -> Result<(Token, Identity), Refusal> {
        let current = presented.and_then(|token| {
            let registry = self.registry();
            let id = registry.by_hash.get(&token.hash())?;
            registry.by_id.get(id).cloned()
        });
        // Only a new identity or a new name counts against the address.
        if current.as_ref().is_none_or(|c| c.name.key() != name.key()) {
            let taken = self
                .named(&name)
                .is_some_and(|holder| Some(holder.id) != current.as_ref().map(|c| c.id));
            if !taken {
                admit()?;
            }
        }
        let token = match &current {
            Some(_) => presented.cloned().unwrap_or_else(Token::generate),
            None => Token::generate(),
        };
        let outcome = write(
            &*self.store,
            Write::Claim {
                presented: current.as_ref().map(|c| c.token_hash),
                name,
                new_token: token.hash(),
                at: Utc::now().trunc_subsecs(3),
                max_identities: self.max,
            },
        )
        .await
        .map_err(refusal)?;
        let Outcome::Claimed { identity, previous } = outcome else {
            return Err(refusal(StoreError::Io(format!(
                "unexpected answer {outcome:?}"
            ))));
        };
        let mut registry = self.registry();
        if let Some(previous) = &previous {
            registry.remove(previous.id);
        }
        registry.insert(identity.clone());
        Ok((token, public(&identity)))
    }

    /// Writes down a use, if the last one written is old.
    fn touch_stored(&self, before: &StoredIdentity, now: DateTime<Utc>) {
        if (now - before.last_seen).to_std().unwrap_or_default() >= TOUCH_EVERY {
            self.store.write(
                Write::Touch {
                    id: before.id,
                    at: now,
                },
                Box::new(|_| {}),
            );
        }
    }

    /// The people a message text mentions: each `@` followed by the
    /// longest name someone holds (names are matched case-insensitively,
    /// and may have spaces), outside code. At most
    /// [`MAX_MENTIONS`] people, in the order first mentioned.
    pub(crate) fn mentioned(&self, text: &MessageText) -> Vec<Identity> {
        let text = text.as_str();
        let mut found: Vec<Identity> = Vec::new();
        {
            let registry = self.registry();
            for (at, _) in text.match_indices('@') {
                if found.len() == MAX_MENTIONS {
                    break;
                }
                // Not an address: "ada@example.org" names nobody.
                if text[..at]
                    .chars()
                    .next_back()
                    .is_some_and(char::is_alphanumeric)
                {
                    continue;
                }
                let after: Vec<(usize, char)> = text[at + 1..]
                    .char_indices()
                    .take(MAX_DISPLAY_NAME_CHARS + 1)
                    .collect();
                // Longest first: "@Ada Lovelace" is Ada Lovelace, not Ada.
                for len in (1..=after.len().min(MAX_DISPLAY_NAME_CHARS)).rev() {
                    let end = after.get(len).map_or(text.len() - at - 1, |(i, _)| *i);
                    let candidate = &text[at + 1..at + 1 + end];
                    if after.get(len).is_some_and(|(_, c)| c.is_alphanumeric()) {
                        continue;
                    }
                    let holder = registry
                        .by_key
                        .get(&candidate.to_lowercase())
                        .and_then(|id| registry.by_id.get(id));
                    if let Some(holder) = holder {
                        if !found.iter().any(|f| f.id == holder.id) {
                            found.push(public(holder));
                        }
                        break;
                    }
                }
            }
        }
        if found.is_empty() {
            return found;
        }
        // Not those only named inside code.
        let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
        let kept: Vec<String> = crate::markup::mentions(text, &names)
            .into_iter()
            .map(str::to_lowercase)
            .collect();
        found.retain(|f| kept.contains(&f.name.key()));
        found
    }

    /// The identity a token proves, if any; counts as a use of it.
    pub(crate) fn resolve(&self, token: &TokenHash) -> Option<Identity> {
        let mut registry = self.registry();
        let id = *registry.by_hash.get(token)?;
        let identity = registry.by_id.get_mut(&id)?;
        let now = Utc::now().trunc_subsecs(3);
        let before = identity.clone();
        if (now - identity.last_seen).to_std().unwrap_or_default() >= TOUCH_EVERY {
            identity.last_seen = now;
        }
        let found = public(identity);
        drop(registry);
        self.touch_stored(&before, now);
        Some(found)
    }

    /// Signs the holder of `token` out: the token is void and the name
    /// free. Its messages stay, authored by a number nobody holds. The
    /// identity that ended.
    pub(crate) async fn sign_out(&self, token: &TokenHash) -> Result<IdentityId, Refusal> {
        let outcome = write(&*self.store, Write::SignOut { token: *token })
            .await
            .map_err(refusal)?;
        let Outcome::Removed(ids) = outcome else {
            return Err(refusal(StoreError::Io(format!(
                "unexpected answer {outcome:?}"
            ))));
        };
        let mut registry = self.registry();
        for id in &ids {
            registry.remove(*id);
        }
        ids.first()
            .copied()
            .ok_or_else(|| Refusal::new(ErrorCode::NotSignedIn, "You are not signed in."))
    }

    /// Removes the identities not used since `before` (the store decides,
    /// on the last use it holds), freeing their names; their ids.
    pub(crate) async fn expire(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<IdentityId>, StoreError> {
        let outcome = write(&*self.store, Write::Expire { before }).await?;
        let ids = match outcome {
            Outcome::Removed(ids) => ids,
            _ => Vec::new(),
        };
        let mut registry = self.registry();
        for id in &ids {
            registry.remove(*id);
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::SqliteStore;

    fn name(s: &str) -> DisplayName {
        DisplayName::parse(s).unwrap()
    }

    fn identities(max: usize) -> Identities {
        Identities::new(SqliteStore::open(":memory:").unwrap(), Vec::new(), max)
    }

    fn free() -> Result<(), Refusal> {
        Ok(())
    }

    #[tokio::test]
    async fn a_first_claim_issues_a_long_random_token_and_a_new_number() {
        let ids = identities(10);
        let (a, ada) = ids.claim(None, name("ada"), free).await.unwrap();
        let (b, bob) = ids.claim(None, name("bob"), free).await.unwrap();
        assert_eq!(a.as_str().len(), 64);
        assert_ne!(a, b);
        assert_ne!(ada.id, bob.id);
        assert_eq!(ids.resolve(&a.hash()), Some(ada));
    }

    #[tokio::test]
    async fn names_are_unique_case_insensitively() {
        let ids = identities(10);
        ids.claim(None, name("Ada"), free).await.unwrap();
        let err = ids.claim(None, name("ADA"), free).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::NameTaken);
    }

    #[tokio::test]
    async fn mentions_find_the_longest_held_name_outside_code_and_are_capped() {
        let ids = identities(100);
        for n in ["Ada", "Ada Lovelace", "bob"] {
            ids.claim(None, name(n), free).await.unwrap();
        }
        let found = |text: &str| -> Vec<String> {
            ids.mentioned(&MessageText::parse(text).unwrap())
                .into_iter()
                .map(|i| i.name.to_string())
                .collect()
        };
        assert_eq!(found("hi @ada lovelace!"), ["Ada Lovelace"]);
        assert_eq!(found("@Ada, @BOB and @bob"), ["Ada", "bob"]);
        assert!(found("mail ada@bob.example? @nobody `@bob`").is_empty());
        assert!(found("@adam is someone else").is_empty());
        for i in 0..60 {
            ids.claim(None, name(&format!("user{i}")), free)
                .await
                .unwrap();
        }
        let crowd: String = (0..60).map(|i| format!("@user{i} ")).collect();
        assert_eq!(found(&crowd).len(), MAX_MENTIONS);
    }

    #[tokio::test]
    async fn the_holder_claims_its_name_again_without_using_the_limit() {
        let ids = identities(10);
        let (token, ada) = ids.claim(None, name("ada"), free).await.unwrap();
        let limited = || Err(Refusal::new(ErrorCode::TooManyClaims, "no"));
        let (again, now) = ids.claim(Some(&token), name("Ada"), limited).await.unwrap();
        assert_eq!(again, token);
        assert_eq!(now.id, ada.id);
        assert_eq!(now.name.as_str(), "Ada");
        // A new name is a claim like any other.
        let err = ids
            .claim(Some(&token), name("grace"), limited)
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::TooManyClaims);
    }

    #[tokio::test]
    async fn renaming_releases_the_old_name_and_keeps_the_number() {
        let ids = identities(10);
        let (token, ada) = ids.claim(None, name("ada"), free).await.unwrap();
        let (_, grace) = ids.claim(Some(&token), name("grace"), free).await.unwrap();
        assert_eq!(grace.id, ada.id);
        let (_, other) = ids.claim(None, name("ada"), free).await.unwrap();
        assert_ne!(other.id, ada.id, "the name is free; the number is not");
    }

    #[tokio::test]
    async fn unknown_or_malformed_tokens_get_a_fresh_identity() {
        let ids = identities(10);
        let forged = Token::from_client(&"a".repeat(64)).unwrap();
        let (token, _) = ids.claim(Some(&forged), name("ada"), free).await.unwrap();
        assert_ne!(token, forged);
        assert!(ids.resolve(&forged.hash()).is_none());
        assert!(Token::from_client("short").is_none());
        assert!(Token::from_client(&"G".repeat(64)).is_none());
    }

    #[tokio::test]
    async fn signing_out_voids_the_token_and_frees_the_name() {
        let ids = identities(10);
        let (token, _) = ids.claim(None, name("ada"), free).await.unwrap();
        ids.sign_out(&token.hash()).await.unwrap();
        assert!(ids.resolve(&token.hash()).is_none());
        assert_eq!(
            ids.sign_out(&token.hash()).await.unwrap_err().code,
            ErrorCode::NotSignedIn
        );
        ids.claim(None, name("ada"), free).await.unwrap();
    }

    #[tokio::test]
    async fn idle_identities_expire_and_their_names_are_freed() {
        let ids = identities(10);
        let (token, _) = ids.claim(None, name("ada"), free).await.unwrap();
        assert!(ids
            .expire(Utc::now() - chrono::Duration::days(1))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            ids.expire(Utc::now() + chrono::Duration::seconds(1))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(ids.resolve(&token.hash()).is_none());
        assert!(ids.is_empty());
        ids.claim(None, name("ada"), free).await.unwrap();
    }

    #[tokio::test]
    async fn the_number_of_identities_is_capped() {
        let ids = identities(1);
        ids.claim(None, name("ada"), free).await.unwrap();
        let err = ids.claim(None, name("bob"), free).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::TooManyIdentities);
        assert_eq!(ids.len(), 1);
    }

    #[test]
    fn the_token_is_read_from_a_cookie_header() {
        let t = "0123456789abcdef".repeat(4);
        let header = format!("theme=dark; {TOKEN_COOKIE}={t}; other=1");
        assert_eq!(Token::from_cookie_header(&header).unwrap().as_str(), t);
        assert!(Token::from_cookie_header("theme=dark").is_none());
    }
}
