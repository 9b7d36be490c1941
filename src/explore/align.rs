//! Aligning the latent spaces of two models on the same inputs: orthogonal Procrustes from
//! one set of codes onto another, with the fit's figures (relative residual, |correlation|
//! of dimensions, canonical correlations).
//!
//! Given the codes `A` (`n × a`, the *source*) and `B` (`n × b`, the *target*) of the same
//! `n` inputs, both are centred on their means `μ_A`, `μ_B`. When `a ≠ b` both are padded
//! with zero columns to `D = max(a, b)` (so the map is the semi-orthogonal part of a
//! `D × D` orthogonal matrix). The rotation `R` (rotations and reflections) minimising
//! `‖(A − μ_A) R − (B − μ_B)‖_F` is `R = U Vᵀ` from the SVD `(A − μ_A)ᵀ (B − μ_B) = U Σ Vᵀ`.
//! A source code `x` maps into the target's frame as `(x − μ_A) R + μ_B` (padded, then cut
//! to `b`), and a target point `y` back as `(y − μ_B) Rᵀ + μ_A`.
//!
//! The **relative residual** is `‖(A − μ_A) R − (B − μ_B)‖_F / ‖B − μ_B‖_F`: 0 when one
//! set is an exact rotation (plus shift) of the other, about √2 for unrelated codes of the
//! same spread, 1 when the source says nothing of the target (all zero). The SVD is a
//! one-sided Jacobi SVD (no linear-algebra crate), in f64.

/// Why two code sets cannot be aligned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlignError {
    /// The code sets are not of the same inputs.
    #[error("{source_n} codes against {target_n}: align codes of the same inputs")]
    Count {
        /// Codes of the source.
        source_n: usize,
        /// Codes of the target.
        target_n: usize,
    },
    /// Too few codes to fit anything (at least 2).
    #[error("{0} codes: at least 2 are needed to align")]
    TooFew(usize),
    /// A latent size of 0, or values that do not make whole codes.
    #[error("{values} values do not make codes of {dim} dimensions")]
    Shape {
        /// Values given.
        values: usize,
        /// Dimensions asked.
        dim: usize,
    },
    /// A code holds NaN or an infinity.
    #[error("a code is not finite")]
    NotFinite,
}

/// The SVD `M = U diag(s) Vᵀ` of a `rows × cols` matrix (row-major, `rows ≥ cols`): `u` is
/// `rows × cols` with orthonormal columns (columns of zero singular values completed to an
/// orthonormal set), `s` the `cols` singular values (not sorted), `v` is `cols × cols`
/// orthogonal. One-sided Jacobi sweeps until every pair of columns is orthogonal to
/// 1e-14 relative (or 60 sweeps). `None` unless `m` holds `rows × cols ≥ 1` values with
/// `rows ≥ cols`.
pub fn svd(m: &[f64], rows: usize, cols: usize) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    if rows < cols || cols == 0 || m.len() != rows * cols {
        return None;
    }
    let mut g = m.to_vec();
    let mut v = vec![0.0; cols * cols];
    for i in 0..cols {
        v[i * cols + i] = 1.0;
    }
    for _sweep in 0..60 {
        let mut rotated = false;
        for p in 0..cols {
            for q in p + 1..cols {
                let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
                for r in 0..rows {
                    let (x, y) = (g[r * cols + p], g[r * cols + q]);
                    alpha += x * x;
                    beta += y * y;
                    gamma += x * y;
                }
                if gamma == 0.0 || gamma.abs() <= 1e-14 * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for r in 0..rows {
                    let (x, y) = (g[r * cols + p], g[r * cols + q]);
                    g[r * cols + p] = c * x - s * y;
                    g[r * cols + q] = s * x + c * y;
                }
                for r in 0..cols {
                    let (x, y) = (v[r * cols + p], v[r * cols + q]);
                    v[r * cols + p] = c * x - s * y;
                    v[r * cols + q] = s * x + c * y;
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let s: Vec<f64> = (0..cols)
        .map(|j| {
            (0..rows)
                .map(|r| g[r * cols + j].powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let top = s.iter().cloned().fold(0.0, f64::max);
    let tiny = top * 1e-12 + f64::MIN_POSITIVE;
    let mut u = vec![0.0; rows * cols];
    let mut done: Vec<usize> = Vec::new();
    for j in 0..cols {
        if s[j] > tiny {
            for r in 0..rows {
                u[r * cols + j] = g[r * cols + j] / s[j];
            }
            done.push(j);
        }
    }
    // Columns of (near) zero singular values: complete the orthonormal set from the
    // standard basis (Gram–Schmidt twice), so U Vᵀ is orthogonal however rank-deficient M.
    let mut next_basis = 0;
    for j in 0..cols {
        if s[j] > tiny {
            continue;
        }
        while next_basis < rows {
            let mut w = vec![0.0; rows];
            w[next_basis] = 1.0;
            next_basis += 1;
            for _ in 0..2 {
                for &k in &done {
                    let dot: f64 = (0..rows).map(|r| w[r] * u[r * cols + k]).sum();
                    for (r, wr) in w.iter_mut().enumerate() {
                        *wr -= dot * u[r * cols + k];
                    }
                }
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 0.5 {
                for (r, wr) in w.iter().enumerate() {
                    u[r * cols + j] = wr / norm;
                }
                done.push(j);
                break;
            }
        }
    }
    Some((u, s, v))
}

/// The matrix product `a (n × k) · b (k × m)`, row-major.
fn matmul(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * m];
    for i in 0..n {
        for l in 0..k {
            let x = a[i * k + l];
            if x == 0.0 {
                continue;
            }
            for j in 0..m {
                out[i * m + j] += x * b[l * m + j];
            }
        }
    }
    out
}

/// The orthogonal `Q` (rotations and reflections, `d × d`) minimising `‖A Q − B‖_F` for
/// `A`, `B` of `n × d` (row-major): `Q = U Vᵀ` from the SVD of `Aᵀ B`.
fn procrustes(a: &[f64], b: &[f64], n: usize, d: usize) -> Vec<f64> {
    let mut atb = vec![0.0; d * d];
    for r in 0..n {
        let (ar, br) = (&a[r * d..(r + 1) * d], &b[r * d..(r + 1) * d]);
        for i in 0..d {
            if ar[i] == 0.0 {
                continue;
            }
            for j in 0..d {
                atb[i * d + j] += ar[i] * br[j];
            }
        }
    }
    // Invariant: `atb` is d × d (d ≥ 1: `align` checks the sizes), which `svd` accepts.
    let (u, _, v) = svd(&atb, d, d).expect("a square matrix");
    let mut vt = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            vt[i * d + j] = v[j * d + i];
        }
    }
    matmul(&u, &vt, d, d, d)
}

/// How one model's codes map onto another's, fitted on the codes of the same inputs (see
/// the module's documentation for the exact definitions).
#[derive(Debug, Clone, PartialEq)]
pub struct Alignment {
    /// The source's latent size `a`.
    pub source_dim: usize,
    /// The target's latent size `b`.
    pub target_dim: usize,
    /// Inputs the fit used.
    pub n: usize,
    /// The source codes' mean `μ_A`.
    pub source_mean: Vec<f64>,
    /// The target codes' mean `μ_B`.
    pub target_mean: Vec<f64>,
    /// The orthogonal `D × D` matrix `R` (`D = max(a, b)`), row-major, acting on row
    /// vectors: `x ↦ (x − μ_A) R + μ_B`.
    pub rotation: Vec<f64>,
    /// `‖(A − μ_A) R − (B − μ_B)‖_F / ‖B − μ_B‖_F`.
    pub residual: f64,
    /// `|corr(A_i, B_j)|` of the raw codes, `a × b` row-major (0 for a constant dimension):
    /// which dimensions of the two match as they are.
    pub abs_corr: Vec<f64>,
    /// `|corr((A R)_j, B_j)|` for each target dimension `j` after alignment.
    pub aligned_corr: Vec<f64>,
    /// Canonical correlations of the two code sets, largest first (`min(a, b)` of them).
    pub canonical: Vec<f64>,
}

/// Check `codes` make `n` codes of `dim` finite values.
fn rows_of(codes: &[f32], dim: usize) -> Result<usize, AlignError> {
    if dim == 0 || !codes.len().is_multiple_of(dim) {
        return Err(AlignError::Shape {
            values: codes.len(),
            dim,
        });
    }
    if codes.iter().any(|v| !v.is_finite()) {
        return Err(AlignError::NotFinite);
    }
    Ok(codes.len() / dim)
}

/// Centred codes padded with zero columns to `width`, and their mean.
fn centred(codes: &[f32], dim: usize, n: usize, width: usize) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![0.0; dim];
    for c in codes.chunks_exact(dim) {
        for (m, &x) in mean.iter_mut().zip(c) {
            *m += x as f64;
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let mut out = vec![0.0; n * width];
    for (r, c) in codes.chunks_exact(dim).enumerate() {
        for j in 0..dim {
            out[r * width + j] = c[j] as f64 - mean[j];
        }
    }
    (out, mean)
}

/// `|corr|` between the columns of centred `x` (`n × p`) and `y` (`n × q`), `p × q`
/// (0 where a column is constant).
fn abs_corr(x: &[f64], p: usize, y: &[f64], q: usize, n: usize) -> Vec<f64> {
    let norm = |m: &[f64], w: usize, j: usize| -> f64 {
        (0..n).map(|r| m[r * w + j].powi(2)).sum::<f64>().sqrt()
    };
    let nx: Vec<f64> = (0..p).map(|j| norm(x, p, j)).collect();
    let ny: Vec<f64> = (0..q).map(|j| norm(y, q, j)).collect();
    let mut out = vec![0.0; p * q];
    for i in 0..p {
        for j in 0..q {
            if nx[i] <= 0.0 || ny[j] <= 0.0 {
                continue;
            }
            let dot: f64 = (0..n).map(|r| x[r * p + i] * y[r * q + j]).sum();
            out[i * q + j] = (dot / (nx[i] * ny[j])).abs().min(1.0);
        }
    }
    out
}

/// Keep the first `w` of every `width` columns.
fn cut(m: &[f64], width: usize, w: usize) -> Vec<f64> {
    m.chunks_exact(width)
        .flat_map(|r| r[..w].iter().copied())
        .collect()
}

/// `S^{-1/2}` of a symmetric positive semi-definite `d × d` matrix, with a ridge of
/// `1e-6 ·` the mean of its diagonal added first (a collapsed dimension has ~0 variance).
fn inverse_sqrt(s: &[f64], d: usize) -> Vec<f64> {
    let ridge = 1e-6 * (0..d).map(|i| s[i * d + i]).sum::<f64>() / d as f64 + 1e-300;
    let mut m = s.to_vec();
    for i in 0..d {
        m[i * d + i] += ridge;
    }
    // For a symmetric PSD matrix, V's columns are its eigenvectors and s its eigenvalues.
    // Invariant: `m` is d × d with d ≥ 1 (`align` checks the sizes).
    let (_, ev, v) = svd(&m, d, d).expect("a square matrix");
    let mut out = vec![0.0; d * d];
    for (k, &e) in ev.iter().enumerate() {
        let f = 1.0 / e.max(ridge).sqrt();
        for i in 0..d {
            for j in 0..d {
                out[i * d + j] += f * v[i * d + k] * v[j * d + k];
            }
        }
    }
    out
}

/// Canonical correlations of centred `x` (`n × p`) and `y` (`n × q`), largest first:
/// the singular values of `Sxx^{-1/2} Sxy Syy^{-1/2}`, at most 1 each.
fn canonical_correlations(x: &[f64], p: usize, y: &[f64], q: usize, n: usize) -> Vec<f64> {
    let gram = |a: &[f64], wa: usize, b: &[f64], wb: usize| {
        let mut g = vec![0.0; wa * wb];
        for r in 0..n {
            for i in 0..wa {
                let v = a[r * wa + i];
                for j in 0..wb {
                    g[i * wb + j] += v * b[r * wb + j];
                }
            }
        }
        g
    };
    let kx = inverse_sqrt(&gram(x, p, x, p), p);
    let ky = inverse_sqrt(&gram(y, q, y, q), q);
    let sxy = gram(x, p, y, q);
    let t = matmul(&matmul(&kx, &sxy, p, p, q), &ky, p, q, q);
    // The SVD wants rows ≥ cols.
    let (m, rows, cols) = if p >= q {
        (t, p, q)
    } else {
        let mut tt = vec![0.0; q * p];
        for i in 0..p {
            for j in 0..q {
                tt[j * p + i] = t[i * q + j];
            }
        }
        (tt, q, p)
    };
    // Invariant: rows ≥ cols ≥ 1 by the transposition above.
    let (_, mut s, _) = svd(&m, rows, cols).expect("rows ≥ cols");
    s.sort_by(|a, b| b.total_cmp(a));
    s.truncate(p.min(q));
    s.into_iter().map(|c| c.clamp(0.0, 1.0)).collect()
}

/// Fit the orthogonal map from `source` codes (`source_dim` each) onto `target` codes
/// (`target_dim` each) of the same inputs, in the same order.
pub fn align(
    source: &[f32],
    source_dim: usize,
    target: &[f32],
    target_dim: usize,
) -> Result<Alignment, AlignError> {
    let n = rows_of(source, source_dim)?;
    let m = rows_of(target, target_dim)?;
    if n != m {
        return Err(AlignError::Count {
            source_n: n,
            target_n: m,
        });
    }
    if n < 2 {
        return Err(AlignError::TooFew(n));
    }
    let d = source_dim.max(target_dim);
    let (a, source_mean) = centred(source, source_dim, n, d);
    let (b, target_mean) = centred(target, target_dim, n, d);
    let rotation = procrustes(&a, &b, n, d);
    let ar = matmul(&a, &rotation, n, d, d);
    let diff: f64 = ar.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum();
    let scale: f64 = b.iter().map(|y| y * y).sum();
    let residual = if scale > 0.0 {
        (diff / scale).sqrt()
    } else {
        0.0
    };
    let (a_raw, b_raw) = (cut(&a, d, source_dim), cut(&b, d, target_dim));
    let abs = abs_corr(&a_raw, source_dim, &b_raw, target_dim, n);
    let aligned_all = abs_corr(&cut(&ar, d, target_dim), target_dim, &b_raw, target_dim, n);
    let aligned_corr = (0..target_dim)
        .map(|j| aligned_all[j * target_dim + j])
        .collect();
    let canonical = canonical_correlations(&a_raw, source_dim, &b_raw, target_dim, n);
    Ok(Alignment {
        source_dim,
        target_dim,
        n,
        source_mean,
        target_mean,
        rotation,
        residual,
        abs_corr: abs,
        aligned_corr,
        canonical,
    })
}

impl Alignment {
    /// `D = max(a, b)`, the side of [`Alignment::rotation`].
    pub fn width(&self) -> usize {
        self.source_dim.max(self.target_dim)
    }

    /// A source code in the target's frame: `(x − μ_A) R + μ_B` (`target_dim` values).
    /// Values past `source_dim` are ignored, missing ones taken as the mean.
    pub fn map(&self, x: &[f32]) -> Vec<f32> {
        let d = self.width();
        let mut c = vec![0.0; d];
        for (j, cj) in c.iter_mut().enumerate().take(self.source_dim) {
            *cj = x.get(j).map_or(0.0, |&v| v as f64 - self.source_mean[j]);
        }
        (0..self.target_dim)
            .map(|k| {
                let s: f64 = (0..d).map(|j| c[j] * self.rotation[j * d + k]).sum();
                (s + self.target_mean[k]) as f32
            })
            .collect()
    }

    /// A point of the target's frame back in the source's: `(y − μ_B) Rᵀ + μ_A`
    /// (`source_dim` values); the inverse of [`Alignment::map`] when the sizes agree.
    pub fn map_back(&self, y: &[f32]) -> Vec<f32> {
        let d = self.width();
        let mut c = vec![0.0; d];
        for (k, ck) in c.iter_mut().enumerate().take(self.target_dim) {
            *ck = y.get(k).map_or(0.0, |&v| v as f64 - self.target_mean[k]);
        }
        (0..self.source_dim)
            .map(|j| {
                let s: f64 = (0..d).map(|k| c[k] * self.rotation[j * d + k]).sum();
                (s + self.source_mean[j]) as f32
            })
            .collect()
    }

    /// Every code of `codes` (`source_dim` each) mapped with [`Alignment::map`].
    pub fn map_all(&self, codes: &[f32]) -> Vec<f32> {
        codes
            .chunks_exact(self.source_dim.max(1))
            .flat_map(|c| self.map(c))
            .collect()
    }

    /// A direction of the target's frame (no means) in the source's: `u Rᵀ`.
    pub fn direction_back(&self, u: &[f32]) -> Vec<f32> {
        let d = self.width();
        (0..self.source_dim)
            .map(|j| {
                let s: f64 = (0..self.target_dim.min(u.len()))
                    .map(|k| u[k] as f64 * self.rotation[j * d + k])
                    .sum();
                s as f32
            })
            .collect()
    }

    /// The mean over target dimensions of [`Alignment::aligned_corr`].
    pub fn mean_aligned_corr(&self) -> f64 {
        mean(&self.aligned_corr)
    }

    /// The mean of the diagonal of [`Alignment::abs_corr`] (dimension `j` against
    /// dimension `j`, as the sliders match them without alignment).
    pub fn mean_raw_diag_corr(&self) -> f64 {
        let k = self.source_dim.min(self.target_dim);
        let diag: Vec<f64> = (0..k)
            .map(|j| self.abs_corr[j * self.target_dim + j])
            .collect();
        mean(&diag)
    }

    /// The mean over source dimensions of the largest `|corr|` with any target dimension
    /// (before alignment): whether dimensions match one to one up to order and sign.
    pub fn mean_best_corr(&self) -> f64 {
        let best: Vec<f64> = self
            .abs_corr
            .chunks_exact(self.target_dim.max(1))
            .map(|r| r.iter().cloned().fold(0.0, f64::max))
            .collect();
        mean(&best)
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}
