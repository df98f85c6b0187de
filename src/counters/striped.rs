//! Counter arrays striped over cache lines: each thread adds to its own copy, a read sums
//! the copies.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

// ---------------------------------------------------------------------------------------------
// Striped counters
// ---------------------------------------------------------------------------------------------

/// How many copies of every counter array there are (each thread adds to one of them).
pub const STRIPES: usize = 4;
/// Arrays whose striped copies would take more than this are kept as one copy.
pub const STRIPED_MAX_BYTES: usize = 4 << 20;

const PER_LINE: usize = 16;

/// 16 counters on their own 128 bytes (two cache lines: no false sharing with neighbours,
/// including the adjacent-line prefetcher's pairs).
#[repr(align(128))]
#[derive(Default)]
struct Line([AtomicU64; PER_LINE]);

/// An array of `len` counters, striped over up to [`STRIPES`] copies.
pub(crate) struct Striped {
    len: usize,
    lines_per_stripe: usize,
    /// Stripe count minus one (the count is a power of two).
    mask: usize,
    lines: Box<[Line]>,
}

/// This thread's stripe (threads are numbered as they first count).
#[inline]
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Relaxed);
    }
    STRIPE.with(|s| *s)
}

impl Striped {
    pub(crate) fn new(len: usize) -> Self {
        let lines_per_stripe = len.div_ceil(PER_LINE).max(1);
        let striped = lines_per_stripe * std::mem::size_of::<Line>() * STRIPES;
        let stripes = if striped <= STRIPED_MAX_BYTES {
            STRIPES
        } else {
            1
        };
        Self {
            len,
            lines_per_stripe,
            mask: stripes - 1,
            lines: (0..lines_per_stripe * stripes)
                .map(|_| Line::default())
                .collect(),
        }
    }

    #[inline]
    pub(crate) fn add(&self, i: usize, v: u64) {
        if i >= self.len {
            return;
        }
        let line = (stripe() & self.mask) * self.lines_per_stripe + i / PER_LINE;
        self.lines[line].0[i % PER_LINE].fetch_add(v, Relaxed);
    }

    pub(crate) fn get(&self, i: usize) -> u64 {
        (0..=self.mask)
            .map(|s| {
                self.lines[s * self.lines_per_stripe + i / PER_LINE].0[i % PER_LINE].load(Relaxed)
            })
            .fold(0u64, u64::wrapping_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn striped_sums_stripes_and_ignores_out_of_range() {
        let s = Striped::new(40);
        s.add(0, 1);
        s.add(39, 2);
        s.add(40, 5);
        std::thread::scope(|sc| {
            for _ in 0..6 {
                sc.spawn(|| s.add(17, 3));
            }
        });
        assert_eq!(s.get(0), 1);
        assert_eq!(s.get(39), 2);
        assert_eq!(s.get(17), 18);
        assert_eq!(s.get(16), 0);
    }

    #[test]
    fn huge_tables_are_not_striped() {
        let s = Striped::new(STRIPED_MAX_BYTES);
        assert_eq!(s.mask, 0);
        assert_eq!(Striped::new(10).mask, STRIPES - 1);
    }
}
