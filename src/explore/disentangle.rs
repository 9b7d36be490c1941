//! Disentanglement of codes against known factors of variation.
//!
//! The Mutual Information Gap (Chen et al. 2018, "Isolating Sources of Disentanglement in
//! VAEs"): for each factor v_k, the mutual information I(z_j; v_k) with every code
//! dimension j, estimated from the empirical joint distribution of v_k and z_j
//! discretised into equal-width bins (as in disentanglement_lib, 20 bins); the gap
//! between the largest and the second largest, divided by the factor's entropy H(v_k);
//! averaged over the factors. 1: every factor is captured by one dimension alone and
//! completely; 0: no dimension tells more about a factor than another.

/// Bins of each code dimension (disentanglement_lib's default).
pub const MIG_BINS: usize = 20;

/// Discretise each of `d` dimensions of the row-major `n × d` `codes` into `bins`
/// equal-width bins over its range (a constant dimension falls in one bin).
fn discretise(codes: &[f32], d: usize, bins: usize) -> Vec<Vec<usize>> {
    let n = codes.len().checked_div(d).unwrap_or(0);
    (0..d)
        .map(|j| {
            let col = (0..n).map(|i| codes[i * d + j] as f64);
            let (lo, hi) = col
                .clone()
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
            let width = (hi - lo) / bins as f64;
            col.map(|v| {
                if !(v.is_finite() && width > 0.0) {
                    return 0;
                }
                (((v - lo) / width) as usize).min(bins - 1)
            })
            .collect()
        })
        .collect()
}

/// Entropy (nats) of a discrete variable from its values.
fn entropy(x: &[usize]) -> f64 {
    let n = x.len() as f64;
    let mut counts = std::collections::HashMap::new();
    for &v in x {
        *counts.entry(v).or_insert(0usize) += 1;
    }
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// Mutual information (nats) of two discrete variables from paired values.
fn mutual_information(a: &[usize], b: &[usize]) -> f64 {
    let n = a.len() as f64;
    let mut joint = std::collections::HashMap::new();
    let mut pa = std::collections::HashMap::new();
    let mut pb = std::collections::HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *joint.entry((x, y)).or_insert(0usize) += 1;
        *pa.entry(x).or_insert(0usize) += 1;
        *pb.entry(y).or_insert(0usize) += 1;
    }
    joint
        .iter()
        .map(|(&(x, y), &c)| {
            let pxy = c as f64 / n;
            let px = pa[&x] as f64 / n;
            let py = pb[&y] as f64 / n;
            pxy * (pxy / (px * py)).ln()
        })
        .sum::<f64>()
        .max(0.0)
}

/// For each factor that varies: its index, its entropy H(v_k) and the mutual information
/// I(z_j; v_k) with each of the `d` code dimensions (20-bin estimate), all in nats. What
/// [`mig`] and [`best_factor_per_dimension`] are both read from.
fn factor_information(
    codes: &[f32],
    d: usize,
    factors: &[Vec<usize>],
) -> Vec<(usize, f64, Vec<f64>)> {
    let z = discretise(codes, d, MIG_BINS);
    (0..factors[0].len())
        .filter_map(|f| {
            let v: Vec<usize> = factors.iter().map(|row| row[f]).collect();
            let h = entropy(&v);
            (h > 0.0).then(|| {
                (
                    f,
                    h,
                    z.iter().map(|zj| mutual_information(zj, &v)).collect(),
                )
            })
        })
        .collect()
}

/// The MIG of `codes` (row-major `n × d`, e.g. encoded means) against `factors` (each
/// image's factor indices, `n` rows of `k`), with each factor's gap; factors that do not
/// vary (zero entropy) are left out. `None` when there are fewer than two code dimensions
/// or no varying factor.
pub fn mig(codes: &[f32], d: usize, factors: &[Vec<usize>]) -> Option<(f64, Vec<f64>)> {
    let n = factors.len();
    if d < 2 || n == 0 || codes.len() != n * d {
        return None;
    }
    let gaps: Vec<f64> = factor_information(codes, d, factors)
        .into_iter()
        .map(|(_, h, mut mi)| {
            mi.sort_by(|a, b| b.total_cmp(a));
            (mi[0] - mi[1]) / h
        })
        .collect();
    if gaps.is_empty() {
        return None;
    }
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    Some((mean, gaps))
}

/// Settings of the FactorVAE score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactorVaeScore {
    /// Images per vote, all sharing the value of one factor (Kim & Mnih: 200; 64 in
    /// disentanglement_lib).
    pub batch: usize,
    /// Votes the majority-vote classifier is built from.
    pub train_votes: usize,
    /// Votes it is scored on.
    pub eval_votes: usize,
    /// Seed of the votes' draws.
    pub seed: u64,
}

impl Default for FactorVaeScore {
    fn default() -> Self {
        Self {
            batch: 64,
            train_votes: 800,
            eval_votes: 800,
            seed: 0,
        }
    }
}

/// The FactorVAE score (Kim & Mnih 2018, "Disentangling by Factorising", §4): each code
/// dimension is divided by its standard deviation over all `codes`; a vote fixes one
/// factor k at a random value, takes `batch` images that share it, and records the pair
/// (the dimension of least variance among them, k); a majority-vote classifier from
/// dimension to factor is built from `train_votes` votes, and the score is its accuracy on
/// `eval_votes` others. 1: each factor fixes a dimension of its own; about 1/K (K varying
/// factors) when the codes ignore the factors. Dimensions that never vary are left out.
/// `None` with no varying dimension or factor.
pub fn factor_vae_score(
    codes: &[f32],
    d: usize,
    factors: &[Vec<usize>],
    cfg: FactorVaeScore,
) -> Option<f64> {
    use rand::{RngExt, SeedableRng};
    let n = factors.len();
    if d == 0 || n == 0 || codes.len() != n * d || cfg.batch < 2 {
        return None;
    }
    let k = factors[0].len();
    // Each dimension's standard deviation over all codes; the varying ones.
    let sd: Vec<f64> = (0..d)
        .map(|j| {
            let col: Vec<f64> = (0..n).map(|i| codes[i * d + j] as f64).collect();
            let mean = col.iter().sum::<f64>() / n as f64;
            (col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt()
        })
        .collect();
    let active: Vec<usize> = (0..d)
        .filter(|&j| sd[j] > 0.0 && sd[j].is_finite())
        .collect();
    // For each factor, the images of each of its values.
    let by_value: Vec<Vec<Vec<usize>>> = (0..k)
        .map(|f| {
            let m = factors.iter().map(|r| r[f] + 1).max().unwrap_or(0);
            let mut groups = vec![Vec::new(); m];
            for (i, r) in factors.iter().enumerate() {
                groups[r[f]].push(i);
            }
            groups.retain(|g| !g.is_empty());
            groups
        })
        .collect();
    let varying: Vec<usize> = (0..k).filter(|&f| by_value[f].len() > 1).collect();
    if active.is_empty() || varying.is_empty() {
        return None;
    }
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(cfg.seed);
    let vote = |rng: &mut rand::rngs::ChaCha8Rng| -> (usize, usize) {
        let f = varying[rng.random_range(0..varying.len())];
        let group = &by_value[f][rng.random_range(0..by_value[f].len())];
        let rows: Vec<usize> = (0..cfg.batch)
            .map(|_| group[rng.random_range(0..group.len())])
            .collect();
        let var = |j: usize| {
            let v: Vec<f64> = rows
                .iter()
                .map(|&i| codes[i * d + j] as f64 / sd[j])
                .collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64
        };
        let best = active
            .iter()
            .copied()
            .min_by(|&a, &b| var(a).total_cmp(&var(b)))
            .unwrap_or(active[0]);
        (best, f)
    };
    let mut counts = vec![vec![0usize; k]; d];
    for _ in 0..cfg.train_votes {
        let (j, f) = vote(&mut rng);
        counts[j][f] += 1;
    }
    // Each dimension's majority factor (a dimension with no votes predicts none).
    let predict: Vec<Option<usize>> = counts
        .iter()
        .map(|c| {
            let (f, &most) = c.iter().enumerate().max_by_key(|&(_, &v)| v)?;
            (most > 0).then_some(f)
        })
        .collect();
    let correct = (0..cfg.eval_votes)
        .filter(|_| {
            let (j, f) = vote(&mut rng);
            predict[j] == Some(f)
        })
        .count();
    Some(correct as f64 / cfg.eval_votes.max(1) as f64)
}

/// For each of the `d` code dimensions, the factor it tells most about and how much:
/// `I(z_j; v_k) / H(v_k)` (the share of the factor's entropy the dimension carries, 0 to 1),
/// with the same 20-bin estimate as [`mig`]. Factors that do not vary are skipped; `None`
/// for a dimension when none varies.
pub fn best_factor_per_dimension(
    codes: &[f32],
    d: usize,
    factors: &[Vec<usize>],
) -> Vec<Option<(usize, f64)>> {
    let n = factors.len();
    if d == 0 || n == 0 || codes.len() != n * d {
        return vec![None; d];
    }
    let info = factor_information(codes, d, factors);
    (0..d)
        .map(|j| {
            info.iter()
                .map(|(f, h, mi)| (*f, mi[j] / h))
                .max_by(|a, b| a.1.total_cmp(&b.1))
        })
        .collect()
}

/// Both scores of codes against known factors.
#[derive(Debug, Clone, PartialEq)]
pub struct Disentanglement {
    /// [`mig`]: the mean gap and each varying factor's.
    pub mig: Option<(f64, Vec<f64>)>,
    /// [`factor_vae_score`] with its default settings.
    pub factor_vae: Option<f64>,
}

/// The MIG and the FactorVAE score (default settings) of `codes` against `factors`.
pub fn disentanglement(codes: &[f32], d: usize, factors: &[Vec<usize>]) -> Disentanglement {
    Disentanglement {
        mig: mig(codes, d, factors),
        factor_vae: factor_vae_score(codes, d, factors, FactorVaeScore::default()),
    }
}
