//! Anomaly scores: the AUROC of "in-distribution vs shifted" from per-image scores (higher
//! = more anomalous), ranking, and score histograms.

/// The area under the ROC curve for telling `shifted` from `normal` by score (higher score
/// = more anomalous): the Mann–Whitney statistic P(s_shifted > s_normal) + ½ P(tie), computed
/// by ranking with ties given their mean rank. `None` when either set is empty or a score
/// is not finite.
pub fn auroc(normal: &[f64], shifted: &[f64]) -> Option<f64> {
    if normal.is_empty() || shifted.is_empty() {
        return None;
    }
    if normal.iter().chain(shifted).any(|v| !v.is_finite()) {
        return None;
    }
    // (score, is_shifted), sorted ascending.
    let mut all: Vec<(f64, bool)> = normal
        .iter()
        .map(|&s| (s, false))
        .chain(shifted.iter().map(|&s| (s, true)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum_shifted = 0.0f64;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mean_rank = (i + j + 2) as f64 / 2.0;
        let shifted_here = all[i..=j].iter().filter(|e| e.1).count();
        rank_sum_shifted += mean_rank * shifted_here as f64;
        i = j + 1;
    }
    let (n0, n1) = (normal.len() as f64, shifted.len() as f64);
    let u = rank_sum_shifted - n1 * (n1 + 1.0) / 2.0;
    Some(u / (n0 * n1))
}

/// Indices of `scores` from the most anomalous (highest) to the least; non-finite scores
/// count as the most anomalous.
pub fn rank_by_score(scores: &[f64]) -> Vec<usize> {
    let key = |v: f64| if v.is_finite() { v } else { f64::INFINITY };
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| key(scores[b]).total_cmp(&key(scores[a])).then(a.cmp(&b)));
    idx
}

/// Counts of scores in equal-width bins.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// The left edge of the first bin.
    pub lo: f64,
    /// The width of each bin.
    pub width: f64,
    /// Scores per bin.
    pub counts: Vec<usize>,
}

impl Histogram {
    /// `bins` equal bins over `[lo, hi]` (values outside go to the end bins; non-finite
    /// values are left out).
    pub fn new(values: &[f64], lo: f64, hi: f64, bins: usize) -> Self {
        let bins = bins.max(1);
        let width = if hi > lo {
            (hi - lo) / bins as f64
        } else {
            1.0
        };
        let mut counts = vec![0; bins];
        for &v in values.iter().filter(|v| v.is_finite()) {
            let b = ((v - lo) / width).floor();
            let b = if b < 0.0 {
                0
            } else {
                (b as usize).min(bins - 1)
            };
            counts[b] += 1;
        }
        Self { lo, width, counts }
    }

    /// The finite range of several score sets, for shared bins: `(min, max)`.
    pub fn span(sets: &[&[f64]]) -> Option<(f64, f64)> {
        let mut it = sets.iter().flat_map(|s| s.iter()).filter(|v| v.is_finite());
        let first = *it.next()?;
        Some(it.fold((first, first), |(lo, hi), &v| (lo.min(v), hi.max(v))))
    }
}
