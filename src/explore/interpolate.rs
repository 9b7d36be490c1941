//! Paths between two codes: linear and spherical interpolation, and the frame order of an
//! animation that plays a path (or a traversal's columns) forth and back.

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
