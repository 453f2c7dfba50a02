//! Single-use secrets sent by mail (invitation tokens): made here, stored only as a hash.
//!
//! ```text
//! Token::generate() ── 256 bits from the OS CSPRNG ──► URL-safe base64, no padding (43 chars)
//!        │                                                   │
//!        ├─ .hash() ── SHA-256, lower-case hex ──► invitations.token_hash (the only copy kept)
//!        └─ .expose() ──► the accept link in the mail body, nowhere else
//! ```
//!
//! A token is looked up by its hash (a unique index), so comparing in constant time is not
//! needed: the database never compares a secret with a secret. `Debug` and `Display` print
//! `Token(redacted)`, so a token cannot reach a log line, an Event or a status by accident.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Random bytes per token: 256 bits, twice the 128 the design asks for.
const TOKEN_BYTES: usize = 32;

/// A fresh single-use secret. Not `Clone`: it goes into exactly one mail.
#[derive(PartialEq, Eq)]
pub struct Token(String);

/// The operating system's random source failed (no entropy at all: nothing to fall back to).
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomError(String);

impl Token {
    /// 256 bits from the operating system's CSPRNG, as URL-safe base64 without padding.
    pub fn generate() -> Result<Token, RandomError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
        Ok(Token(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The value, for the accept link of the mail that carries it. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database stores: [`hash`] of the value.
    pub fn hash(&self) -> String {
        hash(&self.0)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(redacted)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(redacted)")
    }
}

/// SHA-256 of `token` as 64 lower-case hex digits: the `token_hash` column's form, and what
/// the platform's web app computes from the link to find the invitation.
pub fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The token in what a person pastes: the token itself, or the whole accept link
/// (`…?token=…`). Surrounding whitespace and quotes are dropped.
pub fn from_input(input: &str) -> &str {
    let text = input.trim().trim_matches(['"', '\'', '<', '>']);
    match text.rsplit_once("token=") {
        Some((_, rest)) => rest.split(['&', '#']).next().unwrap_or(rest),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn tokens_are_256_bit_url_safe_and_distinct() {
        let tokens: Vec<Token> = (0..64).map(|_| Token::generate().expect("random")).collect();
        for t in &tokens {
            assert_eq!(t.expose().len(), 43, "32 bytes in unpadded base64");
            assert!(t.expose().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{}", t.0);
            let decoded = URL_SAFE_NO_PAD.decode(t.expose()).expect("decodes");
            assert_eq!(decoded.len(), 32);
        }
        let distinct: HashSet<&str> = tokens.iter().map(Token::expose).collect();
        assert_eq!(distinct.len(), tokens.len());
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let t = Token::generate().expect("random");
        for shown in [format!("{t:?}"), format!("{t}"), format!("{:?}", Some(&t))] {
            assert!(!shown.contains(t.expose()), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
    }

    #[test]
    fn hash_is_sha256_hex_and_matches_the_known_vector() {
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let t = Token::generate().expect("random");
        let h = t.hash();
        assert_eq!(h, hash(t.expose()));
        assert_eq!(h.len(), 64);
        assert!(h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{h}");
    }

    #[test]
    fn input_may_be_the_token_or_the_link() {
        assert_eq!(from_input("  abc_DEF-1 \n"), "abc_DEF-1");
        assert_eq!(from_input("http://localhost/invitations/accept?token=abc_DEF-1"), "abc_DEF-1");
        assert_eq!(from_input("<https://p.example/a?lang=pl&token=xyz&x=1>"), "xyz");
        assert_eq!(from_input(""), "");
    }
}
