//! Traversal ranges: which values each latent dimension is swept over. Three definitions,
//! stated on the panel and in the CLI's output because they give different pictures:
//! quantiles of the N(0, 1) prior, ±k standard deviations of the aggregate posterior (the
//! encoded means), or the encoded means' minimum to maximum.

use super::prior::inverse_normal_cdf;

/// How the sweep of one dimension is chosen.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum RangeMode {
    /// From the prior's `q` quantile to its `1 − q` quantile: `Φ⁻¹(q) … Φ⁻¹(1 − q)`
    /// (`q` in (0, 0.5)). The same for every dimension.
    PriorQuantile(f32),
    /// The encoded means' mean ± `k` of their standard deviation, per dimension.
    PosteriorSigma(f32),
    /// From the smallest to the largest encoded mean, per dimension.
    MinMax,
}

impl Default for RangeMode {
    fn default() -> Self {
        Self::PriorQuantile(0.05)
    }
}

impl RangeMode {
    /// How the range is defined, in words (for panels and the CLI).
    pub fn describe(&self) -> String {
        match self {
            Self::PriorQuantile(q) => format!(
                "prior quantiles {:.3}…{:.3} of N(0, 1), z = {:+.2}…{:+.2}, every dimension",
                q,
                1.0 - q,
                inverse_normal_cdf(*q as f64),
                inverse_normal_cdf(1.0 - *q as f64)
            ),
            Self::PosteriorSigma(k) => {
                format!("mean ± {k}σ of the encoded means (aggregate posterior), per dimension")
            }
            Self::MinMax => "min…max of the encoded means, per dimension".into(),
        }
    }

    /// Parse `quantile[:Q]`, `sigma[:K]` or `minmax`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let num = |default: f32| -> Result<f32, String> {
            match arg {
                None => Ok(default),
                Some(a) => a
                    .parse::<f32>()
                    .map_err(|_| format!("'{a}' in '{s}' is not a number")),
            }
        };
        let mode = match name {
            "quantile" | "prior" => Self::PriorQuantile(num(0.05)?),
            "sigma" | "posterior" => Self::PosteriorSigma(num(2.0)?),
            "minmax" if arg.is_none() => Self::MinMax,
            _ => {
                return Err(format!(
                    "unknown range '{s}': use quantile[:Q] (0 < Q < 0.5), sigma[:K] (K > 0) or minmax"
                ));
            }
        };
        mode.validate()?;
        Ok(mode)
    }

    /// Check the parameter.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Self::PriorQuantile(q) if !(q > 0.0 && q < 0.5) => {
                Err(format!("quantile {q} must lie strictly between 0 and 0.5"))
            }
            Self::PosteriorSigma(k) if !(k > 0.0 && k.is_finite()) => {
                Err(format!("sigma multiple {k} must be positive"))
            }
            _ => Ok(()),
        }
    }
}

/// The `(low, high)` sweep of each of `d` dimensions under `mode`, from `codes` (row-major
/// `n × d` encoded means; unused by the prior mode). With no codes the data-based modes fall
/// back to the prior's 5%…95%.
pub fn dim_ranges(codes: &[f32], d: usize, mode: RangeMode) -> Vec<(f32, f32)> {
    let n = codes.len().checked_div(d).unwrap_or(0);
    let prior = |q: f32| {
        let lo = inverse_normal_cdf(q as f64) as f32;
        (lo, -lo)
    };
    if n == 0 {
        let q = match mode {
            RangeMode::PriorQuantile(q) => q,
            _ => 0.05,
        };
        return vec![prior(q); d];
    }
    match mode {
        RangeMode::PriorQuantile(q) => vec![prior(q); d],
        RangeMode::PosteriorSigma(k) => (0..d)
            .map(|j| {
                let (mut s, mut sq) = (0.0f64, 0.0f64);
                for row in codes.chunks_exact(d) {
                    s += row[j] as f64;
                    sq += (row[j] as f64).powi(2);
                }
                let mean = s / n as f64;
                // The population standard deviation of the encoded means.
                let sd = (sq / n as f64 - mean * mean).max(0.0).sqrt();
                ((mean - k as f64 * sd) as f32, (mean + k as f64 * sd) as f32)
            })
            .collect(),
        RangeMode::MinMax => (0..d)
            .map(|j| {
                codes
                    .chunks_exact(d)
                    .map(|row| row[j])
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                        (lo.min(v), hi.max(v))
                    })
            })
            .collect(),
    }
}

/// Latent vectors of a traversal grid, row-major: one row per entry of `dims`, `steps`
/// columns evenly from `ranges[dim].0` to `ranges[dim].1`, every other coordinate from
/// `base`.
pub fn traversal_grid(
    base: &[f32],
    dims: &[usize],
    ranges: &[(f32, f32)],
    steps: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(dims.len() * steps * base.len());
    for &j in dims {
        let (lo, hi) = ranges.get(j).copied().unwrap_or((-2.0, 2.0));
        let values: Vec<f32> = (0..steps)
            .map(|i| {
                if steps > 1 {
                    lo + (hi - lo) * i as f32 / (steps - 1) as f32
                } else {
                    0.5 * (lo + hi)
                }
            })
            .collect();
        out.extend(traversal(base, j, &values));
    }
    out
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
