//! A 2-D embedding of latent codes for the latent map: Barnes-Hut t-SNE (van der Maaten
//! 2014) from the `bhtsne` crate, started from the codes' top two principal components
//! (scaled down, as openTSNE does) so that the same codes always give the same map.

/// t-SNE settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TsneParams {
    /// Effective number of neighbours (clamped to what `n` points allow).
    pub perplexity: f32,
    /// Gradient steps.
    pub epochs: usize,
    /// Barnes-Hut accuracy (0: exact; 0.5 usual).
    pub theta: f32,
}

impl Default for TsneParams {
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            epochs: 500,
            theta: 0.5,
        }
    }
}

/// Why no embedding was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbedError {
    /// Too few points for any perplexity.
    #[error("t-SNE needs at least {min} codes; there are {n}")]
    TooFew {
        /// Codes given.
        n: usize,
        /// The least that works.
        min: usize,
    },
    /// A code is NaN or infinite.
    #[error("code {0} is not finite: no embedding")]
    NotFinite(usize),
}

/// The fewest codes an embedding is made of.
pub const MIN_POINTS: usize = 16;

/// The t-SNE starting layout of `n` codes of `d` dimensions (row-major): each code's
/// coordinates along the top two principal directions, centred and scaled to a standard
/// deviation of 1e-4 per axis (as openTSNE starts), `[x0, y0, x1, y1, …]`. An axis with no
/// spread stays at 0.
pub fn pca_start(codes: &[f32], d: usize) -> Vec<f32> {
    let n = codes.len().checked_div(d).unwrap_or(0);
    let (dirs, _) = super::principal::principal_directions(codes, d, 2);
    let mut init = Vec::with_capacity(n * 2);
    for r in codes.chunks_exact(d.max(1)) {
        for k in 0..2 {
            let v: f32 = dirs
                .get(k)
                .map_or(0.0, |u| r.iter().zip(u).map(|(a, b)| a * b).sum());
            init.push(v);
        }
    }
    for k in 0..2 {
        // In f64, and a spread below rounding noise counts as none (identical codes must
        // not start as ±1e-4 of amplified rounding error).
        let axis = || init.iter().skip(k).step_by(2).map(|&v| v as f64);
        let mean = axis().sum::<f64>() / n.max(1) as f64;
        let sd = (axis().map(|v| (v - mean).powi(2)).sum::<f64>() / n.max(1) as f64).sqrt();
        let scale = if sd > 1e-6 * (mean.abs() + 1e-6) {
            1e-4 / sd
        } else {
            0.0
        };
        let centred: Vec<f32> = axis().map(|v| ((v - mean) * scale) as f32).collect();
        for (v, c) in init.iter_mut().skip(k).step_by(2).zip(centred) {
            *v = c;
        }
    }
    init
}

/// The t-SNE embedding of `n` codes of `d` dimensions (row-major), one `[x, y]` per code.
pub fn tsne(codes: &[f32], d: usize, params: TsneParams) -> Result<Vec<[f64; 2]>, EmbedError> {
    let n = codes.len().checked_div(d).unwrap_or(0);
    if n < MIN_POINTS {
        return Err(EmbedError::TooFew { n, min: MIN_POINTS });
    }
    if let Some(i) = codes.iter().position(|v| !v.is_finite()) {
        return Err(EmbedError::NotFinite(i / d));
    }
    let rows: Vec<&[f32]> = codes.chunks_exact(d).collect();
    // bhtsne needs n − 1 ≥ 3 · perplexity.
    let perplexity = params.perplexity.min((n as f32 - 1.0) / 3.0).max(1.0);
    let init = pca_start(codes, d);
    let mut t: bhtsne::tSNE<f32, &[f32]> = bhtsne::tSNE::new(&rows);
    t.perplexity(perplexity)
        .epochs(params.epochs.max(1))
        .initial_embedding(init)
        .barnes_hut(params.theta, |a, b| {
            a.iter()
                .zip(b.iter())
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f32>()
                .sqrt()
        });
    Ok(t.embedding()
        .chunks_exact(2)
        .map(|p| [p[0] as f64, p[1] as f64])
        .collect())
}
