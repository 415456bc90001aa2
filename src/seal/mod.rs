//! The sealed-cookie codec: a key ring, a versioned XChaCha20-Poly1305 format, compression and
//! chunking. Pure functions, no HTTP: the cookie layer calls these.
//!
//! Format v2, then base64url without padding:
//! `version (1) ‖ key id (4) ‖ nonce (24) ‖ ciphertext ‖ tag (16)`, where the plaintext is the
//! payload compressed by [`compression`] (LZ4 with a built-in dictionary) and the associated
//! data is
//! `version ‖ deployment binding ‖ cookie name`. The binding names the SSO and the client
//! (issuer and client id), so a value cannot be moved from one cookie to another, reinterpreted
//! under another version, or opened by another deployment that happens to share the key.
//! XChaCha20's 192-bit random nonce needs no nonce bookkeeping across replicas.

pub mod compression;

use chacha20poly1305::aead::{AeadCore, AeadInPlace, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The only format version this build writes; [`KeyRing::open`] refuses any other. Version 1
/// was not bound to its deployment; its cookies read as no session.
pub const VERSION: u8 = 2;
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
/// Largest payload sealed or inflated: far above any real session (cookies hold at most
/// ~40 KB of sealed text), far below a memory problem. [`KeyRing::seal`] refuses more, so
/// everything it seals opens again.
pub const MAX_PLAINTEXT: usize = 256 * 1024;

/// Why a sealed value did not open. All of them mean "no session" to the caller; the variants
/// exist for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Not base64url, or shorter than a header and a tag.
    #[error("malformed")]
    Malformed,
    /// A format version this build does not know.
    #[error("unknown version")]
    UnknownVersion,
    /// No key in the ring has this id (retired key, or another deployment's cookie).
    #[error("unknown key")]
    UnknownKey,
    /// Authentication failed: tampered, truncated, or sealed for another cookie name.
    #[error("forged or damaged")]
    Forged,
    /// Opened, but the plaintext does not decompress (or would exceed [`MAX_PLAINTEXT`]).
    #[error("corrupt payload")]
    Corrupt,
}

/// A payload larger than [`MAX_PLAINTEXT`] was given to [`KeyRing::seal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the payload is larger than {MAX_PLAINTEXT} bytes")]
pub struct TooLarge;

struct RingKey {
    id: [u8; KEY_ID_LEN],
    cipher: XChaCha20Poly1305,
    mac_key: [u8; 32],
}

/// The session keys. The first seals; all open, so keys rotate by prepending a new one and
/// retiring the old one after the longest session lifetime.
pub struct KeyRing {
    keys: Vec<RingKey>,
    /// `version ‖ binding`, the start of every associated data.
    aad_prefix: Vec<u8>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyRing({} keys)", self.keys.len())
    }
}

/// The key id: a short digest of the key, so a cookie names the key that sealed it without
/// revealing anything about it.
fn key_id(key: &[u8; 32]) -> [u8; KEY_ID_LEN] {
    let digest = Sha256::new()
        .chain_update(b"oidc-bff key id v1")
        .chain_update(key)
        .finalize();
    let mut id = [0; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    id
}

impl KeyRing {
    /// A ring of `keys`, the first of which seals, bound to one deployment by `binding` (see
    /// [`deployment_binding`]). Panics on an empty list, which configuration validation makes
    /// impossible.
    pub fn new(keys: &[[u8; 32]], binding: &[u8]) -> Self {
        assert!(!keys.is_empty(), "a key ring needs at least one key");
        let mut aad_prefix = Vec::with_capacity(1 + binding.len());
        aad_prefix.push(VERSION);
        aad_prefix.extend_from_slice(binding);
        KeyRing {
            aad_prefix,
            keys: keys
                .iter()
                .map(|key| {
                    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
                        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
                    mac.update(b"oidc-bff mac key v1");
                    RingKey {
                        id: key_id(key),
                        cipher: XChaCha20Poly1305::new(key.into()),
                        mac_key: mac.finalize().into_bytes().into(),
                    }
                })
                .collect(),
        }
    }

    /// Compresses and seals `payload` for the cookie called `name` (encrypting in place in
    /// the output buffer).
    pub fn seal(&self, name: &str, payload: &[u8]) -> Result<String, TooLarge> {
        if payload.len() > MAX_PLAINTEXT {
            return Err(TooLarge);
        }
        let key = &self.keys[0];
        let compressed = compression::compress(payload);
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = self.associated_data(name);
        let mut out = Vec::with_capacity(HEADER_LEN + compressed.len() + TAG_LEN);
        out.push(VERSION);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&compressed);
        let tag = key
            .cipher
            .encrypt_in_place_detached(&nonce, &aad, &mut out[HEADER_LEN..])
            .unwrap_or_else(|_| unreachable!("XChaCha20-Poly1305 encryption cannot fail"));
        out.extend_from_slice(&tag);
        Ok(base64_simd::URL_SAFE_NO_PAD.encode_to_string(out))
    }

    fn associated_data(&self, name: &str) -> Vec<u8> {
        let mut aad = Vec::with_capacity(self.aad_prefix.len() + name.len());
        aad.extend_from_slice(&self.aad_prefix);
        aad.extend_from_slice(name.as_bytes());
        aad
    }

    /// Opens a value sealed by [`KeyRing::seal`] for the cookie called `name`. Decrypts in
    /// place in the decoded buffer (the tag is checked before anything is decrypted).
    pub fn open(&self, name: &str, sealed: &str) -> Result<Vec<u8>, OpenError> {
        let mut bytes = base64_simd::URL_SAFE_NO_PAD
            .decode_to_vec(sealed)
            .map_err(|_| OpenError::Malformed)?;
        if bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        if bytes[0] != VERSION {
            return Err(OpenError::UnknownVersion);
        }
        let aad = self.associated_data(name);
        let (header, body) = bytes.split_at_mut(HEADER_LEN);
        let (ciphertext, tag) = body.split_at_mut(body.len() - TAG_LEN);
        let id = &header[1..1 + KEY_ID_LEN];
        let nonce = XNonce::from_slice(&header[1 + KEY_ID_LEN..]);
        let mut known_id = false;
        for key in self.keys.iter().filter(|k| k.id == id) {
            known_id = true;
            let tag = chacha20poly1305::Tag::from_slice(tag);
            if key
                .cipher
                .decrypt_in_place_detached(nonce, &aad, ciphertext, tag)
                .is_ok()
            {
                return compression::decompress(ciphertext).ok_or(OpenError::Corrupt);
            }
        }
        Err(if known_id {
            OpenError::Forged
        } else {
            OpenError::UnknownKey
        })
    }

    /// HMAC of `data` under the sealing key, for values bound to a session (the CSRF token).
    pub fn mac(&self, label: &[u8], data: &[u8]) -> [u8; 32] {
        mac_with(&self.keys[0].mac_key, label, data)
    }

    /// Whether `tag` is the HMAC of `data` under any key of the ring, in constant time per key.
    pub fn verify_mac(&self, label: &[u8], data: &[u8], tag: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        self.keys
            .iter()
            .any(|key| bool::from(mac_with(&key.mac_key, label, data).ct_eq(tag)))
    }
}

fn mac_with(key: &[u8; 32], label: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(label);
    mac.update(&[0]);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The bytes that bind sealed values to one deployment: the issuer and the client id, each
/// length-prefixed so that no two pairs share an encoding.
pub fn deployment_binding(issuer: &str, client_id: &str) -> Vec<u8> {
    let mut binding = Vec::with_capacity(8 + issuer.len() + client_id.len());
    for part in [issuer, client_id] {
        binding.extend_from_slice(&(part.len() as u32).to_be_bytes());
        binding.extend_from_slice(part.as_bytes());
    }
    binding
}

/// The decompressor on arbitrary bytes, for the fuzzer (`cargo fuzz` builds with
/// `--cfg fuzzing`): outside it, only authenticated plaintext reaches it.
#[cfg(fuzzing)]
pub fn decompress_for_fuzzing(plaintext: &[u8]) -> Option<Vec<u8>> {
    compression::decompress(plaintext)
}

/// Browsers keep at least 4096 bytes of name and value per cookie; we stay under 4000 so the
/// attributes fit as well in browsers that count them.
pub const MAX_COOKIE_BYTES: usize = 4000;

/// The name of chunk `index` of the cookie `base`.
pub fn chunk_name(base: &str, index: usize) -> String {
    format!("{base}.{index}")
}

/// Splits a sealed value into `(name, value)` cookies: one cookie named `base` when it fits,
/// else `base.0..base.n`. `None` when more than `max_chunks` cookies would be needed.
pub fn chunk(base: &str, sealed: &str, max_chunks: usize) -> Option<Vec<(String, String)>> {
    if base.len() + sealed.len() <= MAX_COOKIE_BYTES {
        return Some(vec![(base.to_string(), sealed.to_string())]);
    }
    // Chunk names are at most `base.9` (max_chunks ≤ 10): one size fits every chunk.
    let per_chunk = MAX_COOKIE_BYTES - base.len() - 2;
    let count = sealed.len().div_ceil(per_chunk);
    if count > max_chunks {
        return None;
    }
    // base64url text is ASCII, so byte-slicing never splits a character.
    Some(
        sealed
            .as_bytes()
            .chunks(per_chunk)
            .enumerate()
            .map(|(i, part)| {
                (
                    chunk_name(base, i),
                    String::from_utf8_lossy(part).into_owned(),
                )
            })
            .collect(),
    )
}

/// Why the cookies of a request do not form one sealed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// Neither `base` nor `base.0` is present.
    Absent,
    /// Both forms present, a gap in the numbering, or more chunks than allowed.
    Inconsistent,
}

/// Reassembles the sealed value of cookie `base` from a request's cookies, given as
/// `(name, value)` pairs; borrowed when it is one cookie, the common case. A missing middle chunk or an extra chunk is inconsistent; a missing
/// last chunk is caught by the seal's tag when the value is opened.
pub fn reassemble<'a>(
    base: &str,
    cookies: impl IntoIterator<Item = (&'a str, &'a str)>,
    max_chunks: usize,
) -> Result<std::borrow::Cow<'a, str>, ChunkError> {
    let mut whole = None;
    let mut parts: Vec<Option<&str>> = Vec::new();
    for (name, value) in cookies {
        if name == base {
            if whole.replace(value).is_some() {
                return Err(ChunkError::Inconsistent);
            }
        } else if let Some(index) = name
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix('.'))
        {
            let index: usize = index.parse().map_err(|_| ChunkError::Inconsistent)?;
            if index >= max_chunks {
                return Err(ChunkError::Inconsistent);
            }
            if parts.len() <= index {
                parts.resize(index + 1, None);
            }
            if parts[index].replace(value).is_some() {
                return Err(ChunkError::Inconsistent);
            }
        }
    }
    match (whole, parts.is_empty()) {
        (None, true) => Err(ChunkError::Absent),
        (Some(value), true) => Ok(std::borrow::Cow::Borrowed(value)),
        (Some(_), false) => Err(ChunkError::Inconsistent),
        (None, false) => parts
            .into_iter()
            .collect::<Option<Vec<&str>>>()
            .map(|parts| std::borrow::Cow::Owned(parts.concat()))
            .ok_or(ChunkError::Inconsistent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use chacha20poly1305::aead::{Aead, Payload};
    use proptest::prelude::*;

    const K1: [u8; 32] = [1; 32];
    const K2: [u8; 32] = [2; 32];
    const B: &[u8] = b"binding";

    #[test]
    fn round_trip() {
        let ring = KeyRing::new(&[K1], B);
        let sealed = ring.seal("__Host-bff", b"hello session").unwrap();
        assert_eq!(ring.open("__Host-bff", &sealed).unwrap(), b"hello session");
    }

    #[test]
    fn every_single_byte_flip_is_refused() {
        let ring = KeyRing::new(&[K1], B);
        let sealed = URL_SAFE_NO_PAD
            .decode(
                ring.seal("__Host-bff", b"a payload worth protecting")
                    .unwrap(),
            )
            .unwrap();
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut flipped = sealed.clone();
                flipped[i] ^= 1 << bit;
                let text = URL_SAFE_NO_PAD.encode(&flipped);
                assert!(
                    ring.open("__Host-bff", &text).is_err(),
                    "byte {i} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn truncation_is_refused() {
        let ring = KeyRing::new(&[K1], B);
        let sealed = ring
            .seal("__Host-bff", b"a payload worth protecting")
            .unwrap();
        for len in 0..sealed.len() {
            assert!(
                ring.open("__Host-bff", &sealed[..len]).is_err(),
                "len {len}"
            );
        }
    }

    #[test]
    fn wrong_key_is_refused() {
        let sealed = KeyRing::new(&[K1], B).seal("__Host-bff", b"x").unwrap();
        assert_eq!(
            KeyRing::new(&[K2], B).open("__Host-bff", &sealed),
            Err(OpenError::UnknownKey)
        );
    }

    #[test]
    fn wrong_cookie_name_is_refused() {
        let ring = KeyRing::new(&[K1], B);
        let sealed = ring.seal("__Host-bff-login-abc", b"x").unwrap();
        assert_eq!(ring.open("__Host-bff", &sealed), Err(OpenError::Forged));
    }

    #[test]
    fn old_key_still_opens_after_rotation_and_new_key_seals() {
        let old = KeyRing::new(&[K1], B)
            .seal("__Host-bff", b"before rotation")
            .unwrap();
        let rotated = KeyRing::new(&[K2, K1], B);
        assert_eq!(
            rotated.open("__Host-bff", &old).unwrap(),
            b"before rotation"
        );
        let new = rotated.seal("__Host-bff", b"after").unwrap();
        assert_eq!(
            KeyRing::new(&[K1], B).open("__Host-bff", &new),
            Err(OpenError::UnknownKey)
        );
    }

    #[test]
    fn unknown_version_is_refused() {
        let ring = KeyRing::new(&[K1], B);
        let mut bytes = URL_SAFE_NO_PAD
            .decode(ring.seal("n", b"x").unwrap())
            .unwrap();
        bytes[0] = 1;
        assert_eq!(
            ring.open("n", &URL_SAFE_NO_PAD.encode(bytes)),
            Err(OpenError::UnknownVersion)
        );
    }

    #[test]
    fn mac_verifies_under_any_ring_key() {
        let old = KeyRing::new(&[K1], B);
        let tag = old.mac(b"csrf", b"sid");
        assert!(KeyRing::new(&[K2, K1], B).verify_mac(b"csrf", b"sid", &tag));
        assert!(!KeyRing::new(&[K2], B).verify_mac(b"csrf", b"sid", &tag));
        assert!(!old.verify_mac(b"csrf", b"other", &tag));
    }

    #[test]
    fn small_value_is_one_cookie_and_large_value_is_chunked_and_reassembled() {
        let small = chunk("__Host-bff", "abc", 4).unwrap();
        assert_eq!(small, vec![("__Host-bff".to_string(), "abc".to_string())]);
        let big: String = "x".repeat(9000);
        let chunks = chunk("__Host-bff", &big, 4).unwrap();
        assert_eq!(chunks.len(), 3);
        assert!(chunks
            .iter()
            .all(|(n, v)| n.len() + v.len() <= MAX_COOKIE_BYTES));
        assert_eq!(chunks[0].0, "__Host-bff.0");
        let pairs: Vec<(&str, &str)> = chunks
            .iter()
            .rev()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(reassemble("__Host-bff", pairs, 4).unwrap(), big);
        assert!(chunk("__Host-bff", &big, 2).is_none());
    }

    #[test]
    fn missing_or_extra_chunks_are_inconsistent() {
        let gap = [("__Host-bff.0", "a"), ("__Host-bff.2", "c")];
        assert_eq!(
            reassemble("__Host-bff", gap, 4),
            Err(ChunkError::Inconsistent)
        );
        let both = [("__Host-bff", "a"), ("__Host-bff.0", "a")];
        assert_eq!(
            reassemble("__Host-bff", both, 4),
            Err(ChunkError::Inconsistent)
        );
        let beyond = [("__Host-bff.0", "a"), ("__Host-bff.4", "c")];
        assert_eq!(
            reassemble("__Host-bff", beyond, 4),
            Err(ChunkError::Inconsistent)
        );
        let none = [("other", "a"), ("__Host-bff-login-x", "b")];
        assert_eq!(reassemble("__Host-bff", none, 4), Err(ChunkError::Absent));
    }

    #[test]
    fn an_extra_or_missing_chunk_fails_to_open() {
        let ring = KeyRing::new(&[K1], B);
        let payload: Vec<u8> = (0..12000).map(|_| rand::random::<u8>()).collect();
        let sealed = ring.seal("__Host-bff", &payload).unwrap();
        let chunks = chunk("__Host-bff", &sealed, 10).unwrap();
        assert!(chunks.len() >= 3);
        let mut pairs: Vec<(&str, &str)> = chunks
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let whole = reassemble("__Host-bff", pairs.clone(), 10).unwrap();
        assert_eq!(ring.open("__Host-bff", &whole).unwrap(), payload);
        pairs.pop();
        let short = reassemble("__Host-bff", pairs.clone(), 10).unwrap();
        assert!(ring.open("__Host-bff", &short).is_err());
        pairs.push(("__Host-bff.9", "AAAA"));
        assert!(reassemble("__Host-bff", pairs, 10).is_err());
    }

    #[test]
    fn a_seal_does_not_open_at_another_deployment_sharing_the_key() {
        let here = KeyRing::new(&[K1], &deployment_binding("https://sso/a", "app"));
        let sealed = here.seal("__Host-bff", b"tokens").unwrap();
        for (issuer, client) in [
            ("https://sso/b", "app"),
            ("https://sso/a", "other"),
            ("https://sso/aapp", ""),
        ] {
            let there = KeyRing::new(&[K1], &deployment_binding(issuer, client));
            assert_eq!(
                there.open("__Host-bff", &sealed),
                Err(OpenError::Forged),
                "{issuer} {client}"
            );
        }
        assert_eq!(here.open("__Host-bff", &sealed).unwrap(), b"tokens");
    }

    #[test]
    fn highly_compressible_payloads_round_trip() {
        let ring = KeyRing::new(&[K1], B);
        // 60 AD-style group DNs: compresses far more than 3x.
        let groups: String = (0..60)
            .map(|i| {
                format!("CN=GRP-Finance-Readers-{i},OU=Groups,OU=Corp,DC=corp,DC=example,DC=com;")
            })
            .collect();
        for payload in [
            groups.into_bytes(),
            vec![0u8; 100_000],
            b"/a".repeat(200),
            vec![b'x'; MAX_PLAINTEXT],
        ] {
            let sealed = ring.seal("__Host-bff", &payload).unwrap();
            assert!(sealed.len() < payload.len() || payload.len() < 1000);
            assert_eq!(ring.open("__Host-bff", &sealed).unwrap(), payload);
        }
    }

    #[test]
    fn payloads_beyond_the_bound_are_not_sealed() {
        let ring = KeyRing::new(&[K1], B);
        assert_eq!(ring.seal("n", &vec![0; MAX_PLAINTEXT + 1]), Err(TooLarge));
    }

    #[test]
    fn a_bomb_sealed_by_someone_with_the_key_is_refused_not_decompressed() {
        // A valid seal of a block that claims more than the bound must be refused.
        let ring = KeyRing::new(&[K1], B);
        let mut bomb = ((MAX_PLAINTEXT * 4) as u32).to_le_bytes().to_vec();
        bomb.extend_from_slice(&lz4_flex::block::compress(&vec![0u8; MAX_PLAINTEXT * 4]));
        let key = &ring.keys[0];
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = ring.associated_data("n");
        let ciphertext = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &bomb,
                    aad: &aad,
                },
            )
            .unwrap();
        let mut out = vec![VERSION];
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        let sealed = URL_SAFE_NO_PAD.encode(out);
        assert_eq!(ring.open("n", &sealed), Err(OpenError::Corrupt));
    }

    proptest! {
        #[test]
        fn compressible_payloads_round_trip(unit in proptest::collection::vec(any::<u8>(), 1..64), repeats in 1usize..2000, tail in proptest::collection::vec(any::<u8>(), 0..64)) {
            let ring = KeyRing::new(&[K1], B);
            let mut payload = unit.repeat(repeats);
            payload.extend_from_slice(&tail);
            let sealed = ring.seal("__Host-bff", &payload).unwrap();
            prop_assert_eq!(ring.open("__Host-bff", &sealed).unwrap(), payload);
        }

        #[test]
        fn any_payload_round_trips(payload in proptest::collection::vec(any::<u8>(), 0..4096), name in "[A-Za-z_-]{1,24}") {
            let ring = KeyRing::new(&[K1, K2], B);
            let sealed = ring.seal(&name, &payload).unwrap();
            prop_assert_eq!(ring.open(&name, &sealed).unwrap(), payload);
        }

        #[test]
        fn any_mutation_of_the_text_is_refused(payload in proptest::collection::vec(any::<u8>(), 1..512), pos in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_-]") {
            let ring = KeyRing::new(&[K1], B);
            let sealed = ring.seal("__Host-bff", &payload).unwrap();
            let i = pos.index(sealed.len());
            let mut mutated = sealed.clone().into_bytes();
            prop_assume!(mutated[i] != replacement.as_bytes()[0]);
            mutated[i] = replacement.as_bytes()[0];
            let mutated = String::from_utf8(mutated).unwrap();
            // The last character carries spare bits that base64 decoders may ignore; everything
            // that decodes to different bytes must be refused.
            let decoded_same = URL_SAFE_NO_PAD.decode(&mutated).ok() == URL_SAFE_NO_PAD.decode(&sealed).ok();
            prop_assume!(!decoded_same);
            prop_assert!(ring.open("__Host-bff", &mutated).is_err());
        }
    }
}
