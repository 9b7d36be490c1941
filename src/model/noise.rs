//! Every random number the engine draws: from a ChaCha8 stream of the calling thread's own,
//! set with [`with_noise_stream`] from a seed that [`stream_seed`] derives from a run's seed
//! and the work's coordinates (what it is for, the step, the phase, the part of a batch).
//!
//! Nothing here uses burn's process-wide generator (`Device::seed` / `Tensor::random`), so
//! two runs training side by side in one process draw from streams of their own, and a
//! stream's position never needs saving: it is a function of the coordinates, which a
//! checkpoint's training state carries (the step). Draws outside any
//! [`with_noise_stream`] come from a per-thread stream with a fixed seed
//! ([`UNSEEDED`]): reproducible per thread, but every engine entry point (initialisation,
//! training steps, evaluation, sampling, scoring) sets a stream of its own.

use std::cell::RefCell;

use burn::tensor::{Device, Shape, Tensor, TensorData};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// The seed of the stream drawn from outside any [`with_noise_stream`].
pub const UNSEEDED: u64 = 0x005E_ED0F_CA11;

thread_local! {
    /// This thread's stream while [`with_noise_stream`] runs, else the unseeded one.
    static NOISE: RefCell<Option<ChaCha8Rng>> = const { RefCell::new(None) };
}

/// What a stream is for: the first coordinate [`stream_seed`] mixes in, so the streams of
/// different jobs of one run never coincide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// The initial weights of the model and the variant's extra modules.
    Init = 1,
    /// A training step's phase (coordinates: step, phase, part of the batch).
    Step = 2,
    /// An evaluation on the test split (coordinate: the global step it was taken at).
    Eval = 3,
    /// Samples drawn for display, scoring or export (coordinates chosen by the caller).
    Sample = 4,
    /// Weights that are about to be replaced (a checkpoint's, while it loads).
    Placeholder = 5,
    /// Dynamic binarization's draws of a step's training images (coordinate: the step).
    Binarize = 6,
}

/// The seed of the stream for `purpose` at `coords` of a run seeded `seed`: splitmix64
/// over the words, so nearby coordinates give unrelated streams.
pub fn stream_seed(seed: u64, purpose: Purpose, coords: &[u64]) -> u64 {
    let mut z = splitmix(seed ^ splitmix(purpose as u64));
    for &c in coords {
        z = splitmix(z ^ c.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
    z
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Run `f` with every draw of this thread coming from a stream seeded by `seed` (restored
/// afterwards, also on a panic). Work split over threads (the parts of a batch) draws the
/// same numbers whatever order the threads run in.
pub fn with_noise_stream<R>(seed: u64, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<ChaCha8Rng>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            NOISE.with(|n| *n.borrow_mut() = previous);
        }
    }
    let previous = NOISE.with(|n| n.replace(Some(ChaCha8Rng::seed_from_u64(seed))));
    let _restore = Restore(previous);
    f()
}

/// `n` values drawn by `sample` from this thread's stream.
fn draw<T>(n: usize, mut sample: impl FnMut(&mut ChaCha8Rng) -> T) -> Vec<T> {
    NOISE.with(|cell| {
        let mut stream = cell.borrow_mut();
        let rng = stream.get_or_insert_with(|| ChaCha8Rng::seed_from_u64(UNSEEDED));
        (0..n).map(|_| sample(rng)).collect()
    })
}

/// A tensor of `shape` on `device` holding `values` (one per element, row-major).
fn tensor<const D: usize>(values: Vec<f32>, shape: Shape, device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Standard-normal noise shaped like `like`, on its device.
pub fn standard_noise<const D: usize>(like: &Tensor<D>) -> Tensor<D> {
    normal(like.shape(), 1.0, &like.device())
}

/// Normal noise N(0, `std`²) of `shape` on `device`.
pub fn normal<const D: usize>(shape: impl Into<Shape>, std: f64, device: &Device) -> Tensor<D> {
    let shape = shape.into();
    let std = std as f32;
    let values = draw(shape.num_elements(), |rng| {
        rng.sample::<f32, _>(rand_distr::StandardNormal) * std
    });
    tensor(values, shape, device)
}

/// Uniform noise on `[low, high)` of `shape` on `device`.
pub fn uniform<const D: usize>(
    shape: impl Into<Shape>,
    low: f64,
    high: f64,
    device: &Device,
) -> Tensor<D> {
    let shape = shape.into();
    let (low, width) = (low as f32, (high - low) as f32);
    let values = draw(shape.num_elements(), |rng| {
        low + width * rng.random::<f32>()
    });
    tensor(values, shape, device)
}

/// `n` integers drawn uniformly from `0..bound` (`bound` ≥ 1), on the host.
pub fn indices(n: usize, bound: usize) -> Vec<usize> {
    let bound = bound.max(1);
    draw(n, |rng| rng.random_range(0..bound))
}
