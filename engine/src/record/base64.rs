//! Base64 as Python's `base64.b64decode(s)` without `validate`: characters
//! outside the alphabet are skipped, a pad sequence ends the input, and only a
//! dangling single character or missing padding fail. A non-ASCII character fails
//! too (`b64decode` of a `str` encodes it as ASCII first).

/// Why a base64 text did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base64Error {
    /// A character outside ASCII.
    NonAscii,
    /// One data character more than a multiple of four.
    DanglingChar,
    /// Two or three data characters left without enough `=`.
    IncorrectPadding,
}

impl std::fmt::Display for Base64Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Base64Error::NonAscii => "non-ASCII character in base64",
            Base64Error::DanglingChar => "base64 data is one character more than a multiple of 4",
            Base64Error::IncorrectPadding => "incorrect base64 padding",
        })
    }
}

const INVALID: u8 = 0xFF;

static DECODE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Decodes into `out` (cleared first), reusing its allocation.
pub fn decode_into(text: &str, out: &mut Vec<u8>) -> Result<(), Base64Error> {
    out.clear();
    out.reserve(text.len() / 4 * 3 + 3);
    let bytes = text.as_bytes();
    let mut i = 0;
    // Fast path: whole quads of alphabet characters.
    while i + 4 <= bytes.len() {
        let a = DECODE[bytes[i] as usize];
        let b = DECODE[bytes[i + 1] as usize];
        let c = DECODE[bytes[i + 2] as usize];
        let d = DECODE[bytes[i + 3] as usize];
        if (a | b | c | d) >= 64 {
            break;
        }
        let n = (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(c) << 6) | u32::from(d);
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
        i += 4;
    }
    // CPython's loop for the rest (padding, skipped characters).
    let mut quad_pos = 0u8;
    let mut left: u32 = 0;
    let mut pads = 0u8;
    for &ch in &bytes[i..] {
        if ch >= 0x80 {
            return Err(Base64Error::NonAscii);
        }
        if ch == b'=' {
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    return Ok(());
                }
            }
            continue;
        }
        let v = DECODE[ch as usize];
        if v == INVALID {
            continue;
        }
        let v = u32::from(v);
        pads = 0;
        match quad_pos {
            0 => {
                left = v;
                quad_pos = 1;
            }
            1 => {
                out.push(((left << 2) | (v >> 4)) as u8);
                left = v & 0x0f;
                quad_pos = 2;
            }
            2 => {
                out.push(((left << 4) | (v >> 2)) as u8);
                left = v & 0x03;
                quad_pos = 3;
            }
            _ => {
                out.push(((left << 6) | v) as u8);
                left = 0;
                quad_pos = 0;
            }
        }
    }
    match quad_pos {
        0 => Ok(()),
        1 => Err(Base64Error::DanglingChar),
        _ => Err(Base64Error::IncorrectPadding),
    }
}

/// Decodes into a new vector.
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    let mut out = Vec::new();
    decode_into(text, &mut out)?;
    Ok(out)
}

/// Standard base64 with padding (for tests, tools and the key service).
pub fn encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_like_python() {
        // Expected values are CPython's base64.b64decode of each input.
        assert_eq!(decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode("aGVs bG8=").unwrap(), b"hello");
        assert_eq!(decode("a*G!V\nsbG8=").unwrap(), b"hello");
        assert_eq!(decode("aGVsbG8=garbage").unwrap(), b"hello");
        assert_eq!(decode("aGVsbA==").unwrap(), b"hell");
        // A single `=` after two data chars is not a pad sequence yet.
        assert_eq!(decode("aGVsbA=x=").unwrap(), b"hell\x0c");
        assert_eq!(decode("=aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(decode("aGVsbG8"), Err(Base64Error::IncorrectPadding));
        assert_eq!(decode("aGVsb"), Err(Base64Error::DanglingChar));
        assert_eq!(decode("aGVsbA="), Err(Base64Error::IncorrectPadding));
        assert_eq!(decode("aGVsbG8é="), Err(Base64Error::NonAscii));
        assert_eq!(decode("aGVs_bG8="), Ok(b"hello".to_vec()));
    }

    #[test]
    fn encode_round_trips() {
        for n in 0..40u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(decode(&encode(&data)).unwrap(), data);
        }
        assert_eq!(encode(b"hello"), "aGVsbG8=");
    }
}
