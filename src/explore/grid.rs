//! The interpolation grid: coordinates along an axis (linear or inverse-CDF spacing), the
//! grid's latent vectors, and unit vectors along latent dimensions.

use super::prior::inverse_normal_cdf;

/// How grid coordinates are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Spacing {
    /// Evenly from `-range` to `range`.
    Linear,
    /// Kingma & Welling's manifold figure: `Φ⁻¹` of evenly spaced probabilities in (0, 1),
    /// so each cell covers equal prior mass.
    InverseCdf,
}

/// `n` coordinates along one grid axis.
pub fn axis_values(n: usize, spacing: Spacing, range: f32) -> Vec<f32> {
    if n == 0 {
        return Vec::new();
    }
    if n == 1 {
        return vec![0.0];
    }
    match spacing {
        Spacing::Linear => (0..n)
            .map(|i| -range + 2.0 * range * i as f32 / (n - 1) as f32)
            .collect(),
        Spacing::InverseCdf => (0..n)
            .map(|i| inverse_normal_cdf((i as f64 + 0.5) / n as f64) as f32)
            .collect(),
    }
}

/// Latent vectors of an `n × n` grid (row-major, rows top to bottom): each is `base` with
/// `base + x·u + y·v` where `x` runs along columns, `y` down rows (`y` decreasing upward is
/// the usual plot convention, so rows take the values in reverse).
pub fn grid_latents(base: &[f32], u: &[f32], v: &[f32], xs: &[f32], ys: &[f32]) -> Vec<f32> {
    let d = base.len();
    let mut out = Vec::with_capacity(xs.len() * ys.len() * d);
    for &y in ys.iter().rev() {
        for &x in xs {
            out.extend((0..d).map(|j| base[j] + x * u[j] + y * v[j]));
        }
    }
    out
}

/// The unit vector along latent dimension `j` of `d`.
pub fn axis(d: usize, j: usize) -> Vec<f32> {
    let mut v = vec![0.0; d];
    if j < d {
        v[j] = 1.0;
    }
    v
}
