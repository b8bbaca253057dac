//! Reproducible randomness: a small counter-free generator for host-side choices (splits,
//! shuffles) and serialised access to libtorch's global generator for device-side draws.
//!
//! libtorch's generator is process-global, so two trainings (or tests) in one process would
//! interleave draws. Every torch draw in the engine therefore runs inside [`with_torch_seed`],
//! which holds a lock and reseeds from a value derived from (run seed, purpose, step). The
//! generator state at any point is thus a pure function of integers a checkpoint already stores.

use std::sync::Mutex;

static TORCH_RNG: Mutex<()> = Mutex::new(());

/// SplitMix64: tiny, fast and statistically adequate for shuffles and splits.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is negligible for dataset sizes.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// Combines a seed with a stream identifier into an independent seed.
pub fn mix(seed: u64, stream: u64) -> u64 {
    SplitMix64::new(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
}

/// Stable 64-bit identifier for a purpose string, used as a [`mix`] stream.
pub fn stream_id(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    })
}

/// Runs `f` with libtorch's global generator (CPU and CUDA) seeded to `seed`, excluding every
/// other seeded section of this process.
pub fn with_torch_seed<R>(seed: u64, f: impl FnOnce() -> R) -> R {
    let _guard = TORCH_RNG
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // torch takes an i64; reinterpreting the bits keeps all 64 of them.
    tch::manual_seed(seed as i64);
    f()
}
