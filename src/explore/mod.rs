//! Latent-space math for exploration: interpolation, grid spacings, traversals, principal
//! directions and dimension ordering. Pure functions on host vectors, unit-tested.

/// Linear interpolation `a + t (b − a)`.
pub fn lerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect()
}

/// Spherical interpolation between `a` and `b` (falls back to [`lerp`] for nearly parallel
/// or nearly opposite vectors, and so always in one dimension). Keeps the norm profile of Gaussian samples, unlike `lerp`.
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    if na < 1e-12 || nb < 1e-12 {
        return lerp(a, b, t);
    }
    let cos = (dot / (na * nb)).clamp(-1.0, 1.0);
    let omega = cos.acos();
    let s = omega.sin();
    // Nearly parallel, or nearly opposite (no unique great circle; always so in one
    // dimension): the weights 1/sin ω would blow up, so interpolate linearly.
    if omega.abs() < 1e-6 || s.abs() < 1e-3 {
        return lerp(a, b, t);
    }
    let wa = ((1.0 - t as f64) * omega).sin() / s;
    let wb = (t as f64 * omega).sin() / s;
    a.iter()
        .zip(b)
        .map(|(x, y)| (wa * *x as f64 + wb * *y as f64) as f32)
        .collect()
}

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

/// Latent vectors for a traversal of dimension `j`: `base` with `z_j` set to each value.
pub fn traversal(base: &[f32], j: usize, values: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(values.len() * base.len());
    for &v in values {
        let mut z = base.to_vec();
        if j < z.len() {
            z[j] = v;
        }
        out.extend(z);
    }
    out
}

/// Dimension indices sorted by decreasing `score` (e.g. KL per dimension).
pub fn order_by_desc(score: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    idx
}

/// The top `k` principal directions (unit vectors, by decreasing variance) of `n` rows of
/// dimension `d` in `data` (row-major), by power iteration with deflation on the covariance.
/// Returns `(directions, variances)`.
pub fn principal_directions(data: &[f32], d: usize, k: usize) -> (Vec<Vec<f32>>, Vec<f64>) {
    let n = data.len().checked_div(d).unwrap_or(0);
    if n < 2 || d == 0 {
        return (
            (0..k.min(d)).map(|j| axis(d, j)).collect(),
            vec![0.0; k.min(d)],
        );
    }
    let mut mean = vec![0.0f64; d];
    for row in data.chunks(d) {
        for j in 0..d {
            mean[j] += row[j] as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = vec![0.0f64; d * d];
    for row in data.chunks(d) {
        for a in 0..d {
            let da = row[a] as f64 - mean[a];
            for b in a..d {
                cov[a * d + b] += da * (row[b] as f64 - mean[b]);
            }
        }
    }
    for a in 0..d {
        for b in a..d {
            let v = cov[a * d + b] / (n - 1) as f64;
            cov[a * d + b] = v;
            cov[b * d + a] = v;
        }
    }
    // Variance below this counts as none (rounding left over after deflation).
    let floor = 1e-12
        * (0..d)
            .map(|j| cov[j * d + j])
            .sum::<f64>()
            .max(f64::MIN_POSITIVE);
    let mut found: Vec<Vec<f64>> = Vec::new();
    let mut vars = Vec::new();
    for c in 0..k.min(d) {
        // Deterministic start: a unit vector not orthogonal to anything in general, made
        // orthogonal to the directions found (or, failing that, a standard axis).
        let start: Vec<f64> = (0..d).map(|j| 1.0 + (j as f64 + c as f64) * 0.01).collect();
        let Some(mut v) = std::iter::once(start)
            .chain((0..d).map(|j| axis(d, j).into_iter().map(f64::from).collect()))
            .find_map(|x| unit(orthogonal_to(x, &found)))
        else {
            break;
        };
        let mut lambda = 0.0;
        for _ in 0..500 {
            let mut w = vec![0.0f64; d];
            for a in 0..d {
                w[a] = (0..d).map(|b| cov[a * d + b] * v[b]).sum();
            }
            // Kept orthogonal to the directions found: with no variance left (codes of
            // lower rank than k), the deflated rounding noise would otherwise lead back
            // to one of them.
            let w = orthogonal_to(w, &found);
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm <= floor {
                lambda = 0.0;
                break;
            }
            let w: Vec<f64> = w.iter().map(|x| x / norm).collect();
            let diff: f64 = w.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
            v = w;
            lambda = norm;
            if diff < 1e-12 {
                break;
            }
        }
        // Deflate.
        for a in 0..d {
            for b in 0..d {
                cov[a * d + b] -= lambda * v[a] * v[b];
            }
        }
        vars.push(lambda);
        found.push(v);
    }
    let dirs = found
        .iter()
        .map(|v| v.iter().map(|&x| x as f32).collect())
        .collect();
    (dirs, vars)
}

/// `x` less its projections on the unit vectors `basis`.
fn orthogonal_to(mut x: Vec<f64>, basis: &[Vec<f64>]) -> Vec<f64> {
    for u in basis {
        let dot: f64 = x.iter().zip(u).map(|(a, b)| a * b).sum();
        x.iter_mut().zip(u).for_each(|(a, b)| *a -= dot * b);
    }
    x
}

/// `x` scaled to unit length, if it has a length to speak of.
fn unit(x: Vec<f64>) -> Option<Vec<f64>> {
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    (norm > 1e-6).then(|| x.iter().map(|v| v / norm).collect())
}

/// How a path between two codes is interpolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum PathKind {
    /// A straight line: `lerp`.
    #[default]
    Linear,
    /// Shoemake's spherical interpolation (`slerp`), as White (2016) "Sampling generative
    /// networks" recommends for Gaussian latents: the norm stays near the prior's shell.
    Spherical,
}

/// `steps` latent vectors from `a` to `b` (both ends included), row-major. `steps = 1`
/// gives `a` alone.
pub fn path(a: &[f32], b: &[f32], steps: usize, kind: PathKind) -> Vec<f32> {
    let mut out = Vec::with_capacity(steps * a.len());
    for i in 0..steps {
        let t = if steps > 1 {
            i as f32 / (steps - 1) as f32
        } else {
            0.0
        };
        out.extend(match kind {
            PathKind::Linear => lerp(a, b, t),
            PathKind::Spherical => slerp(a, b, t),
        });
    }
    out
}

/// Frame order of an animation that goes forth and back over `n` positions and loops
/// without repeating an end: `0, 1, …, n−1, n−2, …, 1` (`[0]` for one position, none for
/// zero).
pub fn forth_and_back(n: usize) -> Vec<usize> {
    (0..n).chain((1..n.saturating_sub(1)).rev()).collect()
}

mod anomaly;
mod disentangle;
mod embed;
mod traverse;

pub use anomaly::{Histogram, auroc, rank_by_score};
pub use disentangle::{
    Disentanglement, FactorVaeScore, MIG_BINS, best_factor_per_dimension, disentanglement,
    factor_vae_score, mig,
};
pub use embed::{EmbedError, TsneParams, pca_start, tsne};
pub use traverse::{RangeMode, dim_ranges, traversal_grid};
