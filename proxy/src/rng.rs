//! Seeded randomness for the proxy. Every random choice (toxicity rolls, jitter, slice sizes)
//! comes from a ChaCha8 stream derived from the run seed plus the names of what it belongs to
//! (proxy, toxic, connection), so a run replays from its seed no matter how tasks interleave.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A stable 64-bit digest of the seed and the parts (FNV-1a, then a splitmix64 finaliser).
/// Stable across Rust versions, unlike `std`'s `DefaultHasher`.
pub(crate) fn derive_seed(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // separator so ("ab","c") and ("a","bc") differ
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    splitmix64(h)
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The RNG of one toxic on one connection.
pub(crate) fn toxic_rng(proxy_seed: u64, toxic_serial: u64, conn_serial: u64) -> ChaCha8Rng {
    let s = derive_seed(
        proxy_seed,
        &[&toxic_serial.to_le_bytes(), &conn_serial.to_le_bytes()],
    );
    ChaCha8Rng::seed_from_u64(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_stable_and_separates_parts() {
        assert_eq!(derive_seed(1, &[b"a"]), derive_seed(1, &[b"a"]));
        assert_ne!(derive_seed(1, &[b"a"]), derive_seed(2, &[b"a"]));
        assert_ne!(
            derive_seed(1, &[b"ab", b"c"]),
            derive_seed(1, &[b"a", b"bc"])
        );
    }
}
