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

/// Each character's six bits where they sit in a quad's 24 (one table per
/// position), or the top bit for a character outside the alphabet: a quad is
/// four lookups and three ORs, and one test of the top bit.
static PLACED: [[u32; 256]; 4] = {
    let mut t = [[1 << 31; 256]; 4];
    let mut c = 0;
    while c < 256 {
        if DECODE[c] != INVALID {
            let v = DECODE[c] as u32;
            t[0][c] = v << 18;
            t[1][c] = v << 12;
            t[2][c] = v << 6;
            t[3][c] = v;
        }
        c += 1;
    }
    t
};

/// Decodes into `out` (cleared first), reusing its allocation.
pub fn decode_into(text: &str, out: &mut Vec<u8>) -> Result<(), Base64Error> {
    let bytes = text.as_bytes();
    // Fast path: whole quads of alphabet characters, written into place (a
    // `dbObject` is one run of them; extending by three bytes a quad cost
    // a capacity check each).
    out.clear();
    out.resize(bytes.len() / 4 * 3, 0);
    let mut quads = 0;
    for (quad, three) in bytes.chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let n = PLACED[0][usize::from(quad[0])]
            | PLACED[1][usize::from(quad[1])]
            | PLACED[2][usize::from(quad[2])]
            | PLACED[3][usize::from(quad[3])];
        if n >> 31 != 0 {
            break;
        }
        three.copy_from_slice(&n.to_be_bytes()[1..]);
        quads += 1;
    }
    out.truncate(quads * 3);
    decode_rest(&bytes[quads * 4..], out)
}

/// CPython's loop (padding, skipped characters), from a quad's start.
fn decode_rest(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), Base64Error> {
    let mut quad_pos = 0u8;
    let mut left: u32 = 0;
    let mut pads = 0u8;
    for &ch in bytes {
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

    /// The fast path stops at any quad with a character outside the
    /// alphabet and leaves the rest to CPython's loop: the two together
    /// decode exactly as the loop alone, wherever the odd characters are.
    #[test]
    fn fast_path_agrees_with_pythons_loop() {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let odd = [b'=', b' ', b'\n', b'*', b'-', b'_'];
        let mut state = 0x2545_f491_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for case in 0..2_000 {
            let len = (next() % 64) as usize;
            let mut text = String::new();
            for _ in 0..len {
                let r = next();
                let ch = if r % 11 == 0 {
                    odd[(r / 11) as usize % odd.len()]
                } else {
                    alphabet[(r % 64) as usize]
                };
                text.push(char::from(ch));
            }
            let mut slow = Vec::new();
            let expected = decode_rest(text.as_bytes(), &mut slow).map(|()| slow);
            assert_eq!(decode(&text), expected, "case {case}: {text:?}");
        }
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
