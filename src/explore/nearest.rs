//! Nearest neighbours by brute force: the training images closest to a decoded image in
//! pixel space (L2 over every value, colour planes included) or in latent space (the
//! codes' means) — is the model generating or remembering? — and the distance from a prior
//! sample to the nearest code (the prior's holes).

/// One neighbour of a query.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Neighbour {
    /// Its row in the searched points (e.g. the training image's index).
    pub index: usize,
    /// Euclidean distance to the query.
    pub distance: f32,
}

/// Why neighbours could not be searched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NearestError {
    /// The points or queries do not make whole rows of `dim` values, or there are no points.
    #[error("{values} values do not make rows of {dim} dimensions")]
    Shape {
        /// Values given.
        values: usize,
        /// Values per row.
        dim: usize,
    },
}

/// The `k` nearest rows of `points` to each row of `queries` (both row-major, `dim` values
/// each), nearest first, ties by the lower index; fewer than `k` when there are fewer
/// points. Distances are summed in f64, so a query equal to a point is at exactly 0.
pub fn nearest(
    points: &[f32],
    queries: &[f32],
    dim: usize,
    k: usize,
) -> Result<Vec<Vec<Neighbour>>, NearestError> {
    for v in [points.len(), queries.len()] {
        if dim == 0 || !v.is_multiple_of(dim) {
            return Err(NearestError::Shape { values: v, dim });
        }
    }
    if points.is_empty() {
        return Err(NearestError::Shape { values: 0, dim });
    }
    let n = points.len() / dim;
    let k = k.min(n);
    let mut d2 = vec![(0.0f64, 0usize); n];
    Ok(queries
        .chunks(dim)
        .map(|q| {
            for (i, (slot, p)) in d2.iter_mut().zip(points.chunks(dim)).enumerate() {
                let s: f64 = q
                    .iter()
                    .zip(p)
                    .map(|(&a, &b)| {
                        let x = (a - b) as f64;
                        x * x
                    })
                    .sum();
                *slot = (s, i);
            }
            let order =
                |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            if k > 0 && k < n {
                d2.select_nth_unstable_by(k - 1, order);
            }
            let mut best = d2[..k].to_vec();
            best.sort_by(order);
            best.into_iter()
                .map(|(s, index)| Neighbour {
                    index,
                    distance: s.sqrt() as f32,
                })
                .collect()
        })
        .collect())
}
