//! ORC's run-length encodings (ORC v1 spec, "Run Length Encoding"):
//! integer RLE v2 with short repeat, direct and delta runs, byte RLE, and
//! booleans packed into byte RLE.
//!
//! Patched base runs are never written: orc-rust 0.9's panicked on real data
//! (`get_closest_fixed_bits` underflow) and a direct run of the wider width
//! decodes to the same values in every reader, at a few more bytes.
//!
//! Every encoder buffers values and encodes them on [`IntRleV2::flush`]; the
//! column writer flushes at each row-group start so that a row index position
//! is just "this byte offset, nothing consumed yet".

/// Longest run RLE v2 can describe.
const MAX_RUN: usize = 512;
/// Longest short-repeat run.
const MAX_SHORT_REPEAT: usize = 10;
/// Shortest repeat worth a run of its own.
const MIN_REPEAT: usize = 3;

/// Unsigned LEB128.
pub(super) fn write_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Zigzag then LEB128.
pub(super) fn write_svarint(out: &mut Vec<u8>, v: i64) {
    write_uvarint(out, zigzag(v));
}

/// Zigzag then LEB128 for 128-bit values (decimal's DATA stream).
pub(super) fn write_svarint128(out: &mut Vec<u8>, v: i128) {
    let mut z = ((v << 1) ^ (v >> 127)) as u128;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Bits needed to hold `v` (0 for 0).
fn bits(v: u64) -> u32 {
    64 - v.leading_zeros()
}

/// The widths a direct or delta run can declare, rounded up.
fn fixed_width(n: u32) -> u32 {
    match n {
        0 => 1,
        1..=24 => n,
        25..=26 => 26,
        27..=28 => 28,
        29..=30 => 30,
        31..=32 => 32,
        33..=40 => 40,
        41..=48 => 48,
        49..=56 => 56,
        _ => 64,
    }
}

/// The 5-bit code of a width returned by [`fixed_width`].
fn width_code(w: u32) -> u8 {
    match w {
        1..=24 => (w - 1) as u8,
        26 => 24,
        28 => 25,
        30 => 26,
        32 => 27,
        40 => 28,
        48 => 29,
        56 => 30,
        _ => 31,
    }
}

/// Big-endian bit packing, `width` bits per value, the last byte padded.
fn pack(out: &mut Vec<u8>, values: impl Iterator<Item = u64>, width: u32) {
    let mut acc: u128 = 0;
    let mut held = 0u32;
    for v in values {
        acc = (acc << width) | u128::from(v);
        held += width;
        while held >= 8 {
            held -= 8;
            out.push((acc >> held) as u8);
        }
        acc &= (1u128 << held) - 1;
    }
    if held > 0 {
        out.push((acc << (8 - held)) as u8);
    }
}

/// Integer RLE v2, signed (zigzag) or unsigned.
#[derive(Debug)]
pub(super) struct IntRleV2 {
    signed: bool,
    pending: Vec<i64>,
}

impl IntRleV2 {
    pub(super) fn new(signed: bool) -> Self {
        Self {
            signed,
            pending: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, v: i64) {
        self.pending.push(v);
    }

    /// Encodes everything pushed so far onto `out`.
    pub(super) fn flush(&mut self, out: &mut Vec<u8>) {
        let v = std::mem::take(&mut self.pending);
        let mut i = 0;
        while i < v.len() {
            let r = repeat_len(&v, i, MAX_RUN);
            if r >= MIN_REPEAT {
                if r <= MAX_SHORT_REPEAT {
                    self.short_repeat(out, v[i], r);
                } else {
                    self.delta(out, &v[i..i + r]);
                }
                i += r;
                continue;
            }
            // Literals up to the next repeat.
            let mut j = i + 1;
            while j < v.len() && j - i < MAX_RUN && repeat_len(&v, j, MIN_REPEAT) < MIN_REPEAT {
                j += 1;
            }
            self.literals(out, &v[i..j]);
            i = j;
        }
        self.pending = v;
        self.pending.clear();
    }

    fn map(&self, v: i64) -> u64 {
        if self.signed { zigzag(v) } else { v as u64 }
    }

    fn base(&self, out: &mut Vec<u8>, v: i64) {
        if self.signed {
            write_svarint(out, v);
        } else {
            write_uvarint(out, v as u64);
        }
    }

    fn short_repeat(&self, out: &mut Vec<u8>, value: i64, count: usize) {
        let mapped = self.map(value);
        let width = bits(mapped).div_ceil(8).max(1);
        out.push((((width - 1) as u8) << 3) | (count - MIN_REPEAT) as u8);
        for k in (0..width).rev() {
            out.push((mapped >> (8 * k)) as u8);
        }
    }

    /// A literal stretch: delta if it is monotonic and that is smaller, else
    /// direct.
    fn literals(&self, out: &mut Vec<u8>, s: &[i64]) {
        if let Some(packed) = delta_size(s) {
            let varint = |v: u64| (bits(v).max(1) as usize).div_ceil(7);
            let delta_bytes = varint(self.map(s[0])) + varint(zigzag(s[1] - s[0])) + packed;
            let max = s.iter().map(|v| bits(self.map(*v))).max().unwrap_or(0);
            let direct_bytes = (s.len() * fixed_width(max) as usize).div_ceil(8);
            if delta_bytes < direct_bytes {
                self.delta(out, s);
                return;
            }
        }
        self.direct(out, s);
    }

    fn direct(&self, out: &mut Vec<u8>, s: &[i64]) {
        let max = s.iter().map(|v| bits(self.map(*v))).max().unwrap_or(0);
        let width = fixed_width(max);
        header(out, 0b01, width_code(width), s.len());
        pack(out, s.iter().map(|v| self.map(*v)), width);
    }

    /// A delta run over a monotonic `s` (checked by [`delta_size`] or a
    /// repeat, whose deltas are all 0).
    fn delta(&self, out: &mut Vec<u8>, s: &[i64]) {
        let deltas: Vec<i64> = s.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
        let first = deltas.first().copied().unwrap_or(0);
        let fixed = deltas.iter().all(|d| *d == first);
        let width = if fixed {
            None
        } else {
            let max = deltas[1..].iter().map(|d| bits(d.unsigned_abs())).max();
            // Width code 0 means "fixed delta", so 1 bit is written as 2.
            Some(fixed_width(max.unwrap_or(0)).max(2))
        };
        header(out, 0b11, width.map_or(0, width_code), s.len());
        self.base(out, s[0]);
        write_svarint(out, first);
        if let Some(width) = width {
            pack(out, deltas[1..].iter().map(|d| d.unsigned_abs()), width);
        }
    }
}

/// The two header bytes of direct and delta runs.
fn header(out: &mut Vec<u8>, kind: u8, code: u8, len: usize) {
    let len = len - 1;
    out.push((kind << 6) | (code << 1) | ((len >> 8) & 1) as u8);
    out.push(len as u8);
}

/// How many values equal `v[i]` from `i` on, up to `cap`.
fn repeat_len(v: &[i64], i: usize, cap: usize) -> usize {
    let first = v[i];
    v[i..].iter().take(cap).take_while(|x| **x == first).count()
}

/// The packed deltas' size of `s` as a variable delta run, when it can be one:
/// monotonic, no delta overflowing, and a first delta that is not 0 (readers
/// take the run's direction from its sign; orc-rust 0.9 reads 0 as
/// decreasing).
fn delta_size(s: &[i64]) -> Option<usize> {
    if s.len() < 3 {
        return None;
    }
    let mut deltas = Vec::with_capacity(s.len() - 1);
    for w in s.windows(2) {
        let d = w[1].checked_sub(w[0])?;
        if d == i64::MIN {
            return None;
        }
        deltas.push(d);
    }
    let first = deltas[0];
    if first == 0 {
        return None;
    }
    let up = first > 0;
    if deltas.iter().any(|d| if up { *d < 0 } else { *d > 0 }) {
        return None;
    }
    let max = deltas[1..].iter().map(|d| bits(d.unsigned_abs())).max();
    let width = fixed_width(max.unwrap_or(0)).max(2) as usize;
    Some(((s.len() - 2) * width).div_ceil(8))
}

/// Byte RLE: runs of 3–130 equal bytes, or 1–128 literals.
#[derive(Debug, Default)]
pub(super) struct ByteRle {
    pending: Vec<u8>,
}

impl ByteRle {
    pub(super) fn push(&mut self, b: u8) {
        self.pending.push(b);
    }

    pub(super) fn flush(&mut self, out: &mut Vec<u8>) {
        let v = &self.pending;
        let mut i = 0;
        let mut lit_start = 0;
        while i < v.len() {
            let run = v[i..].iter().take(130).take_while(|b| **b == v[i]).count();
            if run >= 3 {
                literal_bytes(out, &v[lit_start..i]);
                out.push((run - 3) as u8);
                out.push(v[i]);
                i += run;
                lit_start = i;
            } else {
                i += 1;
            }
        }
        literal_bytes(out, &v[lit_start..]);
        self.pending.clear();
    }
}

fn literal_bytes(out: &mut Vec<u8>, s: &[u8]) {
    for chunk in s.chunks(128) {
        out.push((-(chunk.len() as i32)) as u8);
        out.extend_from_slice(chunk);
    }
}

/// Booleans, most significant bit first, as byte RLE.
#[derive(Debug, Default)]
pub(super) struct BoolRle {
    bytes: ByteRle,
    current: u8,
    used: u8,
}

impl BoolRle {
    pub(super) fn push(&mut self, bit: bool) {
        if bit {
            self.current |= 0x80 >> self.used;
        }
        self.used += 1;
        if self.used == 8 {
            self.bytes.push(self.current);
            self.current = 0;
            self.used = 0;
        }
    }

    /// Flushes whole bytes; returns the bits of the byte being filled, which
    /// is the row index's third position for this stream.
    pub(super) fn flush_whole(&mut self, out: &mut Vec<u8>) -> u64 {
        self.bytes.flush(out);
        u64::from(self.used)
    }

    /// Flushes everything, padding the last byte.
    pub(super) fn finish(&mut self, out: &mut Vec<u8>) {
        if self.used > 0 {
            self.bytes.push(self.current);
            self.current = 0;
            self.used = 0;
        }
        self.bytes.flush(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(signed: bool, values: &[i64]) -> Vec<u8> {
        let mut rle = IntRleV2::new(signed);
        values.iter().for_each(|v| rle.push(*v));
        let mut out = Vec::new();
        rle.flush(&mut out);
        out
    }

    // The examples of the ORC specification, byte for byte.
    #[test]
    fn spec_examples() {
        assert_eq!(encode(false, &[10000; 5]), [0x0a, 0x27, 0x10]);
        assert_eq!(
            encode(false, &[23713, 43806, 57005, 48879]),
            [0x5e, 0x03, 0x5c, 0xa1, 0xab, 0x1e, 0xde, 0xad, 0xbe, 0xef]
        );
        // The spec packs these deltas in 4 bits (Java's aligned widths, its
        // SPEED strategy); 3 bits, width code 2, decodes the same.
        assert_eq!(
            encode(false, &[2, 3, 5, 7, 11, 13, 17, 19, 23, 29]),
            [0xc4, 0x09, 0x02, 0x02, 0x4a, 0x28, 0xa6]
        );
    }

    #[test]
    fn varints() {
        let mut out = Vec::new();
        write_svarint(&mut out, -1);
        write_uvarint(&mut out, 300);
        write_svarint128(&mut out, -2);
        assert_eq!(out, [0x01, 0xac, 0x02, 0x03]);
    }

    #[test]
    fn byte_rle_spec_examples() {
        let mut rle = ByteRle::default();
        (0..100).for_each(|_| rle.push(0));
        let mut out = Vec::new();
        rle.flush(&mut out);
        assert_eq!(out, [0x61, 0x00]);
        [0x44, 0x45].iter().for_each(|b| rle.push(*b));
        out.clear();
        rle.flush(&mut out);
        assert_eq!(out, [0xfe, 0x44, 0x45]);
    }
}
