//! The standard normal prior: its inverse CDF (traversal ranges, grid spacing) and the
//! seeded noise that prior samples are decoded from, the same for the CLI's `sample` and
//! the app's prior view.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// Inverse of the standard normal CDF, Φ⁻¹(p) (statrs; −∞ at 0 and +∞ at 1).
pub fn inverse_normal_cdf(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    // The standard normal: mean 0 and standard deviation 1 are valid parameters.
    statrs::distribution::ContinuousCDF::inverse_cdf(&statrs::distribution::Normal::standard(), p)
}

/// One standard-normal draw from any RNG (rand_distr's ziggurat sampler).
pub fn normal<R: rand::Rng>(rng: &mut R) -> f32 {
    rng.sample(rand_distr::StandardNormal)
}

/// `n` standard-normal vectors of `d` dimensions from `seed`, row-major: the same for every
/// model of that latent size, on every backend and thread, so prior samples of different
/// runs (and `sample --seed`) start from the same noise.
pub fn prior_noise(seed: u64, n: usize, d: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * d).map(|_| normal(&mut rng)).collect()
}
