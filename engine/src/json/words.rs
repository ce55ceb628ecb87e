//! Tests of eight bytes at a time, for the short strings (keys, ids, dates)
//! that make up most of a document: a little-endian word's bytes are flagged
//! by their top bit. A flag can be false only above a true one (the
//! subtraction's borrow runs on), so the lowest flag, and whether there is
//! any flag at all, are exact.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The bytes of `word` below `n` (at most 0x80).
pub(crate) fn below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH
}

/// The bytes of `word` equal to `b`.
pub(crate) fn equal(word: u64, b: u8) -> u64 {
    below(word ^ (ONES * u64::from(b)), 1)
}

/// The little-endian word at `at`, if eight bytes are there.
pub(crate) fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk = bytes.get(at..at.checked_add(8)?)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    Some(u64::from_le_bytes(word))
}

/// Whether any byte of `bytes` is one `byte` accepts, `mask` being the same
/// test on a word. Strings of 8 to 64 bytes are tested a word at a time,
/// the last word overlapping the one before: a vectorised pass over them
/// spent more on its set-up and byte-wise remainder than on the bytes.
/// Shorter and longer ones take that pass (`byte` should combine its tests
/// with `|`, not `||`, so it vectorises).
#[inline]
pub(crate) fn any_byte(bytes: &[u8], mask: impl Fn(u64) -> u64, byte: impl Fn(u8) -> bool) -> bool {
    let n = bytes.len();
    if !(8..=64).contains(&n) {
        return bytes.iter().fold(false, |any, &b| any | byte(b));
    }
    let word = |at: usize| word_at(bytes, at).map_or(0, &mask);
    let mut any = word(n - 8);
    let mut at = 0;
    while at + 8 < n {
        any |= word(at);
        at += 8;
    }
    any != 0
}

/// Asserts that `test` on a text says what `byte` says of its one odd byte:
/// every byte value at every offset of texts of 1 to 89 bytes (across the
/// word-at-a-time lengths and past them), the rest of the text being `x`,
/// which neither may flag; and that the empty text is not flagged.
#[cfg(test)]
pub(crate) fn assert_agrees_bytewise(test: impl Fn(&[u8]) -> bool, byte: impl Fn(u8) -> bool) {
    assert!(!test(b""));
    for len in 1..90 {
        for at in 0..len {
            for b in 0..=255u8 {
                let mut text = vec![b'x'; len];
                text[at] = b;
                assert_eq!(test(&text), byte(b), "byte {b} at {at} of {len}");
            }
        }
    }
}
