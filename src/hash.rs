//! Small, fast, stable hashing for seeds, weighted draws and rendezvous scores: the same
//! inputs give the same numbers on every run and build (unlike `std`'s randomly keyed
//! hashers), so decisions can be replayed and tested.

/// A fast, well-mixed 64-bit hash step (splitmix64), for seeds and rendezvous scores.
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A uniform float in (0, 1] from a hash.
pub fn unit(h: u64) -> f64 {
    ((h >> 11) as f64 + 1.0) / (1u64 << 53) as f64
}
