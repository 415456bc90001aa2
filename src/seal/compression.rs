//! Compression of sealed payloads, primed with a dictionary of what sessions are made of (JWT
//! headers and the claim names enterprise SSOs use).
//!
//! Two methods, chosen per payload:
//! - **LZ4** (the common case): every relayed request may open a cookie and every refresh seals
//!   one, so the codec must be fast. DEFLATE took 80 µs to seal and 17 µs to inflate a
//!   realistic session here; LZ4 takes 4 µs and under 1 µs. LZ4 alone compresses small JSON
//!   worse than DEFLATE; the dictionary wins most of that back.
//! - **DEFLATE**, when the LZ4 block would not fit one cookie: large enterprise sessions
//!   (hundreds of group GUIDs) compress much better with DEFLATE's entropy coding (hex digits
//!   take half a byte), and there a cookie saved is worth the time; such sessions are rare,
//!   and opened ones are cached.
//!
//! Plaintext layout: `method (1) ‖ uncompressed length (u32, little endian) ‖ block`. The
//! dictionary is part of the sealed format: changing it needs a new [`super::VERSION`].

/// The payload size is bounded before anything is allocated.
use super::MAX_PLAINTEXT;

/// The built-in dictionary (version 1). LZ4 matches the most recent dictionary bytes most
/// cheaply, so the commonest strings come last.
const DICTIONARY: &[u8] = br#"{"resource_access":{"account":{"roles":["manage-account","view-profile"]}},"realm_access":{"roles":["offline_access","uma_authorization","default-roles-"]},"scope":"openid profile email offline_access","allowed-origins":[""],"session_state":"","typ":"Bearer","azp":"","sid":"","auth_time":17,"at_hash":"","c_hash":"","s_hash":"","nonce":"","amr":["pwd","mfa"],"acr":"1","appid":"","appidacr":"1","idp":"","ipaddr":"","rh":"","uti":"","aio":"","wids":[""],"xms_tcdt":17,"ver":"2.0","tid":"","oid":"","upn":"","unique_name":"","preferred_username":"","given_name":"","family_name":"","name":"","email":"","email_verified":true,"groups":["CN=","OU=","DC=","roles":["","scp":"openid profile email offline_access","client_id":"","jti":"","nbf":17,"iat":17,"exp":17,"aud":"","iss":"https://","sub":""}{"typ":"at+jwt","alg":"PS256","kid":""}{"typ":"JWT","alg":"ES256","kid":""}{"typ":"JWT","alg":"RS256","x5t":"","kid":""}{"alg":"RS256","typ":"JWT","kid":""}"#;

/// LZ4 blocks up to this size are kept without trying DEFLATE: sealed, they fit one cookie.
const ONE_COOKIE: usize = 2900;
const LZ4: u8 = 0;
const DEFLATE: u8 = 1;

/// Compresses `payload` (at most [`MAX_PLAINTEXT`] bytes, checked by the caller).
pub fn compress(payload: &[u8]) -> Vec<u8> {
    let fast = lz4(payload);
    if fast.len() <= ONE_COOKIE {
        return fast;
    }
    match deflate(payload) {
        Some(small) if small.len() < fast.len() => small,
        _ => fast,
    }
}

/// Decompresses what [`compress`] produced; `None` when the method is unknown, the length is
/// beyond [`MAX_PLAINTEXT`] or the block does not decompress to exactly that length.
pub fn decompress(plaintext: &[u8]) -> Option<Vec<u8>> {
    let (&method, rest) = plaintext.split_first()?;
    let (length, block) = rest.split_first_chunk::<4>()?;
    let length = u32::from_le_bytes(*length) as usize;
    if length > MAX_PLAINTEXT {
        return None;
    }
    match method {
        LZ4 => {
            let mut out = vec![0u8; length];
            let written =
                lz4_flex::block::decompress_into_with_dict(block, &mut out, DICTIONARY).ok()?;
            (written == length).then_some(out)
        }
        DEFLATE => inflate(block, length),
        _ => None,
    }
}

fn header(method: u8, length: usize, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + capacity);
    out.push(method);
    out.extend_from_slice(&(length as u32).to_le_bytes());
    out
}

fn lz4(payload: &[u8]) -> Vec<u8> {
    let bound = lz4_flex::block::get_maximum_output_size(payload.len());
    let mut out = header(LZ4, payload.len(), bound);
    out.resize(5 + bound, 0);
    // The output buffer has the maximum size LZ4 can need: compression cannot fail.
    let written = lz4_flex::block::compress_into_with_dict(payload, &mut out[5..], DICTIONARY)
        .unwrap_or_default();
    out.truncate(5 + written);
    out
}

fn deflate(payload: &[u8]) -> Option<Vec<u8>> {
    let mut compressor = flate2::Compress::new(flate2::Compression::default(), false);
    compressor.set_dictionary(DICTIONARY).ok()?;
    // DEFLATE never grows data by more than a few bytes per 16 KiB block.
    let mut out = header(
        DEFLATE,
        payload.len(),
        payload.len() + payload.len() / 16 + 64,
    );
    let status = compressor
        .compress_vec(payload, &mut out, flate2::FlushCompress::Finish)
        .ok()?;
    (status == flate2::Status::StreamEnd).then_some(out)
}

/// Inflates exactly `length` bytes: the output buffer is that large and no larger, so a block
/// that would produce more stops short and is refused.
fn inflate(block: &[u8], length: usize) -> Option<Vec<u8>> {
    let mut decompressor = flate2::Decompress::new(false);
    decompressor.set_dictionary(DICTIONARY).ok()?;
    let mut out = Vec::with_capacity(length);
    let status = decompressor
        .decompress_vec(block, &mut out, flate2::FlushDecompress::Finish)
        .ok()?;
    let complete = status == flate2::Status::StreamEnd
        && out.len() == length
        && decompressor.total_in() as usize == block.len();
    complete.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_the_dictionary_helps_small_json() {
        let claims = br#"{"iss":"https://sso.example.com/oidc","sub":"alice","aud":"app","exp":1790003600,"iat":1790000000,"nonce":"n-0S6_WzA2Mj","email":"alice@example.com","email_verified":true,"name":"Alice Analyst"}"#;
        let compressed = compress(claims);
        assert_eq!(decompress(&compressed).unwrap(), claims);
        let without = lz4_flex::block::compress(claims);
        assert!(
            compressed.len() < without.len(),
            "{} vs {}",
            compressed.len(),
            without.len()
        );
        assert_eq!(decompress(&compress(b"")).unwrap(), b"");
    }

    #[test]
    fn lengths_beyond_the_bound_or_wrong_are_refused() {
        let mut bomb = vec![LZ4];
        bomb.extend_from_slice(&((MAX_PLAINTEXT + 1) as u32).to_le_bytes());
        bomb.extend_from_slice(&lz4_flex::block::compress(&[0u8; 16]));
        assert_eq!(decompress(&bomb), None);
        let mut lying = compress(b"hello hello hello");
        lying[1] += 1; // claims one byte more than the block holds
        assert_eq!(decompress(&lying), None);
        assert_eq!(decompress(&[LZ4, 2]), None);
        assert_eq!(decompress(&[7, 0, 0, 0, 0]), None, "unknown method");
        // A DEFLATE block that inflates to more than it says is cut short and refused.
        let mut long = deflate(&vec![b'a'; 10_000]).unwrap();
        long[1..5].copy_from_slice(&100u32.to_le_bytes());
        assert_eq!(decompress(&long), None);
    }

    #[test]
    fn large_sessions_of_hex_take_deflate_when_it_saves_space() {
        let guids: String = (0..200u32)
            .map(|i| {
                format!(
                    "\"{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}\",",
                    i.wrapping_mul(2654435761),
                    i * 7,
                    i * 13 % 4096,
                    i * 31 % 4096,
                    u64::from(i) * 0x9e3779b97f
                )
            })
            .collect();
        let compressed = compress(guids.as_bytes());
        assert_eq!(compressed[0], DEFLATE);
        assert!(compressed.len() < lz4(guids.as_bytes()).len());
        assert_eq!(decompress(&compressed).unwrap(), guids.as_bytes());
        // Small sessions stay with the fast method.
        assert_eq!(compress(b"{\"sub\":\"alice\"}")[0], LZ4);
    }
}
