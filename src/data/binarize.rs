//! Binarized data, the literature's MNIST protocol: each pixel intensity p becomes a draw
//! from Bernoulli(p). *Static* binarization draws one fixed binary copy of the data (train
//! and test) from a fixed seed, the same for every run; *dynamic* binarization draws the
//! training images anew at every step (Burda et al.; Salakhutdinov & Murray's test-set
//! practice keeps the test split one fixed draw, as static). Each image's draw comes from
//! its own seed, so a batch split into parts, or a resumed run, sees the same pixels.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::dataset::{Dataset, Pixels, Split};

/// How pixel intensities become the likelihood's targets.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Binarize {
    /// Intensities `k / 255` as they are (the targets of a Bernoulli likelihood on grey
    /// values).
    #[default]
    None,
    /// Training images drawn anew from Bernoulli(pixel) at every step; the test split one
    /// fixed draw.
    Dynamic,
    /// One fixed draw of the training and test splits, the same for every run.
    Static,
}

impl Binarize {
    /// The name a protocol and a run configuration use.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Dynamic => "dynamic",
            Self::Static => "static",
        }
    }
}

impl std::fmt::Display for Binarize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The seed of the fixed draws (static binarization, and the test split under dynamic
/// binarization): one for every run, so that runs see the same binary data.
pub const BINARIZE_SEED: u64 = 0xB1A2_12E5;

/// The seed of image `i`'s draw in a stream seeded `seed` (splitmix64, so nearby images
/// get unrelated streams).
pub fn image_seed(seed: u64, i: u64) -> u64 {
    let mut z = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Replace each value p of `values` (intensities in [0, 1]) by a draw from Bernoulli(p):
/// 1 where a uniform u from the stream seeded `seed` is below p, else 0.
pub fn binarize_in_place(values: &mut [f32], seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for v in values {
        let u: f32 = rng.random();
        *v = if u < *v { 1.0 } else { 0.0 };
    }
}

impl Split {
    /// One fixed draw of every image (image i from [`image_seed`]`(seed, i)`), kept as
    /// 8-bit values 0 and 255.
    pub fn binarized(&self, seed: u64) -> Split {
        let n = self.image_len();
        let mut bytes = Vec::with_capacity(self.len() * n);
        let mut img = Vec::with_capacity(n);
        for i in 0..self.len() {
            img.clear();
            self.extend_image(i, &mut img);
            binarize_in_place(&mut img, image_seed(seed, i as u64));
            bytes.extend(img.iter().map(|&v| if v > 0.5 { 255u8 } else { 0 }));
        }
        Split {
            rows: self.rows,
            cols: self.cols,
            channels: self.channels,
            pixels: Pixels::U8(bytes),
            labels: self.labels.clone(),
        }
    }
}

impl Dataset {
    /// The data a run binarized `how` trains and is evaluated on: static, both splits one
    /// fixed draw; dynamic, the test split one fixed draw (the training images are drawn at
    /// each step, by the trainer); none, the data as they are. The name says so.
    pub fn binarized(&self, how: Binarize) -> Dataset {
        match how {
            Binarize::None => self.clone(),
            Binarize::Static => Dataset {
                name: format!("{} (static binarization)", self.name),
                train: self.train.binarized(BINARIZE_SEED),
                test: self.test.binarized(BINARIZE_SEED ^ 1),
                factors: self.factors.clone(),
            },
            Binarize::Dynamic => Dataset {
                name: format!("{} (dynamic binarization)", self.name),
                train: self.train.clone(),
                test: self.test.binarized(BINARIZE_SEED ^ 1),
                factors: self.factors.clone(),
            },
        }
    }
}
