//! ORC bloom filters (`BLOOM_FILTER_UTF8`), one per row group of a column:
//! what lets a reader skip row groups for an `id` the statistics cannot
//! rule out (ids are sorted within a file, but a row group's range still
//! spans ids it does not hold).
//!
//! The layout and hashing are Java ORC's (`BloomFilterUtf8`, Hive's
//! `Murmur3.hash64` with seed 104729), which every reader implements.

use std::f64::consts::LN_2;

use orc_rust::proto;

/// One row group's filter.
#[derive(Debug, Clone)]
pub(super) struct Bloom {
    bits: Vec<u64>,
    num_bits: i32,
    hashes: u32,
}

impl Bloom {
    /// Sized as Java ORC sizes it for `expected` entries at false-positive
    /// rate `fpp`.
    pub(super) fn new(expected: usize, fpp: f64) -> Self {
        let n = expected.max(1) as f64;
        let optimal = (-n * fpp.ln() / (LN_2 * LN_2)) as i64;
        let hashes = ((optimal as f64 / n * LN_2).round() as u32).max(1);
        // Java rounds up to whole longs, adding one when already whole.
        let num_bits = (optimal + (64 - optimal % 64)).min(i64::from(i32::MAX) - 63) as i32;
        Self {
            bits: vec![0; (num_bits / 64) as usize],
            num_bits,
            hashes,
        }
    }

    pub(super) fn add(&mut self, value: &[u8]) {
        let hash = murmur3_64(value);
        let (h1, h2) = (hash as i32, (hash >> 32) as i32);
        for i in 1..=self.hashes as i32 {
            let mut combined = h1.wrapping_add(i.wrapping_mul(h2));
            if combined < 0 {
                combined = !combined;
            }
            let pos = (combined % self.num_bits) as usize;
            self.bits[pos >> 6] |= 1u64 << (pos & 63);
        }
    }

    pub(super) fn to_proto(&self) -> proto::BloomFilter {
        let mut bytes = Vec::with_capacity(self.bits.len() * 8);
        for word in &self.bits {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        proto::BloomFilter {
            num_hash_functions: Some(self.hashes),
            bitset: Vec::new(),
            utf8bitset: Some(bytes),
        }
    }
}

/// Hive's `Murmur3.hash64` (seed 104729): the 64-bit variant ORC's bloom
/// filters use, not the first half of MurmurHash3's 128-bit hash.
fn murmur3_64(data: &[u8]) -> u64 {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    const N1: u64 = 0x52dc_e729;
    let mix = |k: u64| k.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
    let mut hash: u64 = 104_729;
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = [0u8; 8];
        k.copy_from_slice(block);
        hash ^= mix(u64::from_le_bytes(k));
        hash = hash.rotate_left(27).wrapping_mul(5).wrapping_add(N1);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let k = tail
            .iter()
            .rev()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        hash ^= mix(k);
    }
    hash ^= data.len() as u64;
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sized_as_java_orc_sizes_it() {
        // 10,000 entries at 5 %: 62,352 bits → 62,400 (975 longs), 4 hashes.
        let b = Bloom::new(10_000, 0.05);
        assert_eq!((b.num_bits, b.bits.len(), b.hashes), (62_400, 975, 4));
    }

    #[test]
    fn holds_what_was_added() {
        let mut b = Bloom::new(1_000, 0.05);
        for i in 0..1_000 {
            b.add(format!("id-{i}").as_bytes());
        }
        let reader = orc_rust::bloom_filter::BloomFilter::try_from_proto(&b.to_proto())
            .expect("orc-rust reads it");
        assert!((0..1_000).all(|i| reader.might_contain(format!("id-{i}").as_bytes())));
        let false_positives = (0..10_000)
            .filter(|i| reader.might_contain(format!("other-{i}").as_bytes()))
            .count();
        assert!(false_positives < 1_000, "{false_positives}");
    }
}
