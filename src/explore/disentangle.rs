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

/// The MIG of `codes` (row-major `n × d`, e.g. encoded means) against `factors` (each
/// image's factor indices, `n` rows of `k`), with each factor's gap; factors that do not
/// vary (zero entropy) are left out. `None` when there are fewer than two code dimensions
/// or no varying factor.
pub fn mig(codes: &[f32], d: usize, factors: &[Vec<usize>]) -> Option<(f64, Vec<f64>)> {
    let n = factors.len();
    if d < 2 || n == 0 || codes.len() != n * d {
        return None;
    }
    let k = factors[0].len();
    let z = discretise(codes, d, MIG_BINS);
    let mut gaps = Vec::with_capacity(k);
    for f in 0..k {
        let v: Vec<usize> = factors.iter().map(|row| row[f]).collect();
        let h = entropy(&v);
        if h <= 0.0 {
            continue;
        }
        let mut mi: Vec<f64> = z.iter().map(|zj| mutual_information(zj, &v)).collect();
        mi.sort_by(|a, b| b.total_cmp(a));
        gaps.push((mi[0] - mi[1]) / h);
    }
    if gaps.is_empty() {
        return None;
    }
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    Some((mean, gaps))
}
