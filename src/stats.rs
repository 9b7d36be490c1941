//! Small statistics shared across layers: the training loop's lane policy and the
//! comparison tables both take medians.

/// Median, least and greatest of `v` (`None` when empty; the median of an even count is the
/// mean of the middle two). NaNs are left out.
pub fn median_range(v: &[f64]) -> Option<(f64, f64, f64)> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    Some((median, s[0], s[n - 1]))
}
