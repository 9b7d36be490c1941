//! [`Factors`]: the known factors of variation of each image of a dataset (the shapes set's
//! shape, scale, orientation and position), which disentanglement metrics measure against.

/// The factors' names, in the order of each row of [`Factors::train`] and [`Factors::test`].
pub const FACTOR_NAMES: [&str; 5] = ["shape", "scale", "orientation", "x", "y"];
/// Each image's factor indices, per split, in the split's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Factors {
    /// Values of each factor in this set.
    pub sizes: [usize; 5],
    /// Training images' factor indices.
    pub train: Vec<[u16; 5]>,
    /// Test images' factor indices.
    pub test: Vec<[u16; 5]>,
}

impl Factors {
    /// The test images' factor indices, one row per image: what the disentanglement
    /// metrics ([`crate::explore::mig`]) take.
    pub fn test_rows(&self) -> Vec<Vec<usize>> {
        Self::rows(&self.test)
    }

    /// Factor indices as rows of `usize`, the metrics' form.
    pub fn rows(indices: &[[u16; 5]]) -> Vec<Vec<usize>> {
        indices
            .iter()
            .map(|r| r.iter().map(|&v| v as usize).collect())
            .collect()
    }
}
