//! The ex-post sampler: a Gaussian mixture with **diagonal** covariances fitted to a model's
//! codes by expectation–maximisation (seeded k-means++ start), and seeded draws from it —
//! an alternative to z ~ N(0, I) that puts samples where the codes are (Ghosh et al. 2020's
//! "ex-post density estimation"). The same fit serves the CLI's `sample --sampler gmm` and
//! the app's holes tab.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::prior::normal;

/// The default number of mixture components.
pub const GMM_COMPONENTS: usize = 10;

/// The most components a fit takes.
pub const MAX_GMM_COMPONENTS: usize = 256;

/// How a mixture is fitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GmmParams {
    /// Mixture components K (at most the number of points).
    pub components: usize,
    /// The most EM iterations.
    pub max_iter: usize,
    /// Stop once an iteration raises the mean log-likelihood by less than this (nats).
    pub tol: f64,
    /// Seed of the k-means++ start.
    pub seed: u64,
}

impl Default for GmmParams {
    fn default() -> Self {
        Self {
            components: GMM_COMPONENTS,
            max_iter: 100,
            tol: 1e-5,
            seed: 0,
        }
    }
}

/// Why a mixture could not be fitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GmmError {
    /// The values do not make whole points of `dim` dimensions, or there are none.
    #[error("{values} values do not make points of {dim} dimensions")]
    Shape {
        /// Values given.
        values: usize,
        /// Dimensions per point.
        dim: usize,
    },
    /// Zero components, more components than points, or more than the limit.
    #[error("{components} components for {points} points (1 to min(points, {MAX_GMM_COMPONENTS}))")]
    Components {
        /// Components asked for.
        components: usize,
        /// Points given.
        points: usize,
    },
    /// A value is NaN or infinite.
    #[error("the points hold a value that is not finite")]
    NonFinite,
}

/// A mixture of Gaussians with diagonal covariances.
#[derive(Debug, Clone, PartialEq)]
pub struct Gmm {
    /// Dimensions.
    pub dim: usize,
    /// Mixing weights (sum 1).
    pub weights: Vec<f64>,
    /// Component means, `K × dim` row-major.
    pub means: Vec<f64>,
    /// Component variances (diagonal), `K × dim` row-major.
    pub vars: Vec<f64>,
}

/// A fitted mixture and its fit's trace.
#[derive(Debug, Clone, PartialEq)]
pub struct GmmFit {
    /// The mixture.
    pub gmm: Gmm,
    /// The mean log-likelihood per point of the data after each EM iteration (the last is
    /// the fitted mixture's); never decreasing.
    pub log_likelihood: Vec<f64>,
}

/// log Σ exp(v).
fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

impl Gmm {
    /// Components.
    pub fn components(&self) -> usize {
        self.weights.len()
    }

    /// log(w_k) + log N(x; μ_k, diag σ²_k) of each component at `x`.
    fn joint(&self, x: &[f32], out: &mut [f64]) {
        let d = self.dim;
        let c = d as f64 * (2.0 * std::f64::consts::PI).ln();
        for (k, o) in out.iter_mut().enumerate() {
            let mu = &self.means[k * d..(k + 1) * d];
            let var = &self.vars[k * d..(k + 1) * d];
            let mut q = 0.0;
            let mut logdet = 0.0;
            for j in 0..d {
                let dx = x[j] as f64 - mu[j];
                q += dx * dx / var[j];
                logdet += var[j].ln();
            }
            *o = self.weights[k].ln() - 0.5 * (c + logdet + q);
        }
    }

    /// log p(x) of one point of [`Gmm::dim`] values (−∞ for a point of another size).
    pub fn log_density(&self, x: &[f32]) -> f64 {
        if x.len() != self.dim {
            return f64::NEG_INFINITY;
        }
        let mut j = vec![0.0; self.components()];
        self.joint(x, &mut j);
        log_sum_exp(&j)
    }

    /// `n` draws, row-major `n × dim`, from `seed` (a ChaCha8 stream as
    /// [`super::prior_noise`]'s: the same draws on every machine): a component by its
    /// weight, then its mean plus its standard deviations times standard-normal noise.
    pub fn sample(&self, seed: u64, n: usize) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let d = self.dim;
        let mut out = Vec::with_capacity(n * d);
        for _ in 0..n {
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let mut k = self.components() - 1;
            for (i, w) in self.weights.iter().enumerate() {
                acc += w;
                if u < acc {
                    k = i;
                    break;
                }
            }
            for j in 0..d {
                let e = normal(&mut rng) as f64;
                out.push((self.means[k * d + j] + self.vars[k * d + j].sqrt() * e) as f32);
            }
        }
        out
    }
}

/// Squared Euclidean distance.
fn dist2(a: &[f32], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y) * (x as f64 - y))
        .sum()
}

/// k-means++ centres: the first uniformly, each next with probability ∝ its squared
/// distance to the nearest centre so far.
fn kmeans_pp(points: &[f32], d: usize, k: usize, seed: u64) -> Vec<f64> {
    let n = points.len() / d;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let row = |i: usize| &points[i * d..(i + 1) * d];
    let first = rng.random_range(0..n);
    let mut centres: Vec<f64> = row(first).iter().map(|&v| v as f64).collect();
    let mut near: Vec<f64> = (0..n).map(|i| dist2(row(i), &centres[..d])).collect();
    while centres.len() < k * d {
        let total: f64 = near.iter().sum();
        let pick = if total > 0.0 {
            let u = rng.random::<f64>() * total;
            let mut acc = 0.0;
            let mut pick = n - 1;
            for (i, w) in near.iter().enumerate() {
                acc += w;
                if u < acc {
                    pick = i;
                    break;
                }
            }
            pick
        } else {
            // Every point sits on a centre: any point will do.
            rng.random_range(0..n)
        };
        let c: Vec<f64> = row(pick).iter().map(|&v| v as f64).collect();
        for (i, m) in near.iter_mut().enumerate() {
            *m = m.min(dist2(row(i), &c));
        }
        centres.extend(c);
    }
    centres
}

/// Fit a diagonal-covariance mixture of `params.components` Gaussians to `points`
/// (row-major, `dim` values each) by EM from a k-means++ start. Each variance is floored at
/// 1e-6 times that dimension's overall variance (plus 1e-9), the constrained M-step's own
/// maximiser, so the log-likelihood never decreases.
pub fn fit_gmm(points: &[f32], dim: usize, params: &GmmParams) -> Result<GmmFit, GmmError> {
    if dim == 0 || points.is_empty() || !points.len().is_multiple_of(dim) {
        return Err(GmmError::Shape {
            values: points.len(),
            dim,
        });
    }
    if points.iter().any(|v| !v.is_finite()) {
        return Err(GmmError::NonFinite);
    }
    let n = points.len() / dim;
    let k = params.components;
    if k == 0 || k > n || k > MAX_GMM_COMPONENTS {
        return Err(GmmError::Components {
            components: k,
            points: n,
        });
    }
    let d = dim;
    let row = |i: usize| &points[i * d..(i + 1) * d];
    // The variance floor per dimension.
    let mut mean = vec![0.0f64; d];
    for i in 0..n {
        for (m, &v) in mean.iter_mut().zip(row(i)) {
            *m += v as f64 / n as f64;
        }
    }
    let mut floor = vec![0.0f64; d];
    for i in 0..n {
        for j in 0..d {
            let dx = row(i)[j] as f64 - mean[j];
            floor[j] += dx * dx / n as f64;
        }
    }
    let spread = Spread {
        mean,
        var: floor.iter().map(|f| f + 1e-9).collect(),
        floor: floor.iter().map(|f| f * 1e-6 + 1e-9).collect(),
    };
    // Start: k-means++ centres, each point given wholly to its nearest centre.
    let centres = kmeans_pp(points, d, k, params.seed);
    let mut resp = vec![0.0f64; n * k];
    for i in 0..n {
        let best = (0..k)
            .map(|c| (c, dist2(row(i), &centres[c * d..(c + 1) * d])))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(c, _)| c);
        resp[i * k + best] = 1.0;
    }
    let mut gmm = Gmm {
        dim: d,
        weights: vec![0.0; k],
        means: vec![0.0; k * d],
        vars: vec![0.0; k * d],
    };
    let mut trace = Vec::new();
    let mut joint = vec![0.0f64; k];
    for _ in 0..params.max_iter.max(1) {
        m_step(&mut gmm, points, &resp, &spread);
        // E-step: responsibilities and the log-likelihood of the mixture just fitted.
        let mut ll = 0.0;
        for i in 0..n {
            gmm.joint(row(i), &mut joint);
            let lse = log_sum_exp(&joint);
            ll += lse;
            for c in 0..k {
                resp[i * k + c] = (joint[c] - lse).exp();
            }
        }
        let ll = ll / n as f64;
        let gain = trace.last().map_or(f64::INFINITY, |&prev: &f64| ll - prev);
        trace.push(ll);
        if gain < params.tol {
            break;
        }
    }
    Ok(GmmFit {
        gmm,
        log_likelihood: trace,
    })
}

/// The data's overall mean and variance per dimension, and the variance floor.
struct Spread {
    mean: Vec<f64>,
    var: Vec<f64>,
    floor: Vec<f64>,
}

/// The M-step: weights, means and floored variances from the responsibilities. A
/// component left with no weight (a degenerate start) gets a tiny weight and the data's
/// overall mean and spread, so its log-density stays finite.
fn m_step(gmm: &mut Gmm, points: &[f32], resp: &[f64], spread: &Spread) {
    let d = gmm.dim;
    let k = gmm.components();
    let n = points.len() / d;
    for c in 0..k {
        let nk: f64 = (0..n).map(|i| resp[i * k + c]).sum();
        let (mu, var) = (c * d, c * d);
        if nk < 1e-12 {
            gmm.weights[c] = 1e-12;
            gmm.means[mu..mu + d].copy_from_slice(&spread.mean);
            gmm.vars[var..var + d].copy_from_slice(&spread.var);
            continue;
        }
        gmm.weights[c] = nk / n as f64;
        for j in 0..d {
            let s: f64 = (0..n)
                .map(|i| resp[i * k + c] * points[i * d + j] as f64)
                .sum();
            gmm.means[mu + j] = s / nk;
        }
        for j in 0..d {
            let m = gmm.means[mu + j];
            let s: f64 = (0..n)
                .map(|i| {
                    let dx = points[i * d + j] as f64 - m;
                    resp[i * k + c] * dx * dx
                })
                .sum();
            gmm.vars[var + j] = (s / nk).max(spread.floor[j]);
        }
    }
    let total: f64 = gmm.weights.iter().sum();
    gmm.weights.iter_mut().for_each(|w| *w /= total);
}
