//! Principal directions of codes (power iteration with deflation): the grid's and the
//! latent map's axes, and t-SNE's starting layout.

use super::grid::axis;

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
