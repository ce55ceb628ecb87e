//! The little randomness the engine needs (attempt tokens that keep task
//! attempts' files apart, retry jitter), from the standard library: std's
//! `RandomState` is seeded from the operating system and differs per
//! instance, so hashing nothing with a fresh one gives an unpredictable
//! 64-bit value. No random-number crate is linked for it.

use std::hash::{BuildHasher, Hasher};

/// A random 64-bit value.
pub fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    // Mixing in the time guards against a platform whose per-instance
    // increment is all that differs between two calls.
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    hasher.finish()
}

/// A task attempt's token: 16 hex digits.
pub fn attempt_token() -> String {
    format!("{:016x}", random_u64())
}

/// A uniform value in [0, 1).
pub fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ_and_units_stay_in_range() {
        let tokens: std::collections::HashSet<String> =
            (0..1000).map(|_| attempt_token()).collect();
        assert_eq!(tokens.len(), 1000);
        assert!(tokens.iter().all(|t| t.len() == 16));
        for _ in 0..1000 {
            let u = random_unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
