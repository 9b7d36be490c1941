//! Image datasets in memory: the bundled MNIST subset and any MNIST-format directory.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::idx::{self, IdxError, IdxImages};

/// The four standard file names of an MNIST-format dataset (without `.gz`).
pub const FILE_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Whether `dir` holds any of the MNIST-format files (raw or `.gz`): it is then read as an
/// MNIST-format directory, not as an image folder.
pub fn has_idx_files(dir: &Path) -> bool {
    FILE_NAMES
        .iter()
        .any(|n| dir.join(n).is_file() || dir.join(format!("{n}.gz")).is_file())
}

/// The bundled 10,000-digit MNIST subset (8,000 train / 2,000 test), embedded in the binary.
const BUNDLED: [&[u8]; 4] = [
    include_bytes!("../../assets/mnist-10k/train-images-idx3-ubyte.gz"),
    include_bytes!("../../assets/mnist-10k/train-labels-idx1-ubyte.gz"),
    include_bytes!("../../assets/mnist-10k/t10k-images-idx3-ubyte.gz"),
    include_bytes!("../../assets/mnist-10k/t10k-labels-idx1-ubyte.gz"),
];

/// Errors from loading a dataset.
#[derive(Debug, Error)]
pub enum DatasetError {
    /// One of the IDX files is bad.
    #[error(transparent)]
    Idx(#[from] IdxError),
    /// The directory is not one (in the message, not as a source: printed once).
    #[error("the data directory: {0}")]
    Path(crate::paths::PathError),
    /// A standard file is missing from the directory.
    #[error("{dir}: no {name} or {name}.gz (an MNIST-format directory holds {all})")]
    Missing {
        /// The directory searched.
        dir: PathBuf,
        /// The missing file's base name.
        name: &'static str,
        /// All four expected names.
        all: String,
    },
    /// Train and test images differ in size.
    #[error(
        "train images are {train_rows}x{train_cols} but test images are {test_rows}x{test_cols}"
    )]
    SizeMismatch {
        /// Train image height.
        train_rows: usize,
        /// Train image width.
        train_cols: usize,
        /// Test image height.
        test_rows: usize,
        /// Test image width.
        test_cols: usize,
    },
}

/// The size of one image: height, width and colour channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageShape {
    /// Height.
    pub rows: usize,
    /// Width.
    pub cols: usize,
    /// Colour channels: 1 (grey) or 3 (RGB).
    pub channels: usize,
}

impl ImageShape {
    /// A grey image of `rows × cols`.
    pub fn grey(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            channels: 1,
        }
    }

    /// Values per image: `rows × cols × channels`.
    pub fn len(&self) -> usize {
        self.rows * self.cols * self.channels
    }

    /// Whether the shape holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pixels per channel plane: `rows × cols`.
    pub fn plane(&self) -> usize {
        self.rows * self.cols
    }
}

impl std::fmt::Display for ImageShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.channels {
            1 => write!(f, "{}x{}", self.rows, self.cols),
            3 => write!(f, "{}x{} RGB", self.rows, self.cols),
            c => write!(f, "{}x{}x{c}", self.rows, self.cols),
        }
    }
}

/// The intensities of a split's images, all in `[0, 1]`: 8-bit values (what image files,
/// MNIST and the shapes hold; a quarter of the memory) or any `f32`s (a noisy copy).
#[derive(Debug, Clone, PartialEq)]
pub enum Pixels {
    /// Value `k` stands for `k / 255`.
    U8(Vec<u8>),
    /// Values as they are.
    F32(Vec<f32>),
}

impl Default for Pixels {
    fn default() -> Self {
        Self::U8(Vec::new())
    }
}

impl Pixels {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::F32(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::F32(v) => 4 * v.len(),
        }
    }

    /// Append the values in `range` to `out` as `f32`.
    pub fn extend_f32(&self, range: std::ops::Range<usize>, out: &mut Vec<f32>) {
        match self {
            Self::U8(v) => out.extend(v[range].iter().map(|&k| k as f32 / 255.0)),
            Self::F32(v) => out.extend_from_slice(&v[range]),
        }
    }

    /// The values in `range` as `f32` (borrowed when they are stored so).
    pub fn slice_f32(&self, range: std::ops::Range<usize>) -> std::borrow::Cow<'_, [f32]> {
        match self {
            Self::U8(v) => v[range].iter().map(|&k| k as f32 / 255.0).collect(),
            Self::F32(v) => std::borrow::Cow::Borrowed(&v[range]),
        }
    }

    /// Every value as `f32`.
    pub fn to_f32(&self) -> Vec<f32> {
        self.slice_f32(0..self.len()).into_owned()
    }

    /// Append `other`'s values in `range`, keeping 8-bit storage when both are 8-bit.
    pub fn extend_from(&mut self, other: &Pixels, range: std::ops::Range<usize>) {
        match (&mut *self, other) {
            (Self::U8(a), Self::U8(b)) => a.extend_from_slice(&b[range]),
            (Self::F32(a), b) => b.extend_f32(range, a),
            (Self::U8(a), Self::F32(_)) => {
                let mut f: Vec<f32> = a.iter().map(|&k| k as f32 / 255.0).collect();
                other.extend_f32(range, &mut f);
                *self = Self::F32(f);
            }
        }
    }

    /// The first `n` values.
    pub fn prefix(&self, n: usize) -> Self {
        match self {
            Self::U8(v) => Self::U8(v[..n].to_vec()),
            Self::F32(v) => Self::F32(v[..n].to_vec()),
        }
    }
}

impl From<Vec<f32>> for Pixels {
    fn from(v: Vec<f32>) -> Self {
        Self::F32(v)
    }
}

impl From<Vec<u8>> for Pixels {
    fn from(v: Vec<u8>) -> Self {
        Self::U8(v)
    }
}

/// One split of a dataset: images with intensities in `[0, 1]`, plus labels. An image is
/// its channel planes one after another (channel-first, as a convolution takes them), each
/// row-major.
#[derive(Debug, Clone)]
pub struct Split {
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Colour channels: 1 (grey) or 3 (RGB planes).
    pub channels: usize,
    /// `len * rows * cols * channels` intensities.
    pub pixels: Pixels,
    /// One label per image.
    pub labels: Vec<u8>,
}

impl Split {
    /// Pair validated images with labels, checking counts agree.
    pub fn from_idx(
        images: IdxImages,
        labels: Vec<u8>,
        images_file: &Path,
        labels_file: &Path,
    ) -> Result<Self, IdxError> {
        if images.count != labels.len() {
            return Err(IdxError::CountMismatch {
                images_file: images_file.to_path_buf(),
                labels_file: labels_file.to_path_buf(),
                images: images.count,
                labels: labels.len(),
            });
        }
        Ok(Self {
            rows: images.rows,
            cols: images.cols,
            channels: 1,
            pixels: Pixels::U8(images.pixels),
            labels,
        })
    }

    /// A split with no images of `shape` (8-bit storage until an `f32` image joins).
    pub fn empty(shape: ImageShape) -> Self {
        Self {
            rows: shape.rows,
            cols: shape.cols,
            channels: shape.channels,
            pixels: Pixels::default(),
            labels: Vec::new(),
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image (`rows * cols * channels`).
    pub fn image_len(&self) -> usize {
        self.shape().len()
    }

    /// The size of one image.
    pub fn shape(&self) -> ImageShape {
        ImageShape {
            rows: self.rows,
            cols: self.cols,
            channels: self.channels,
        }
    }

    /// The values of image `i`.
    pub fn image(&self, i: usize) -> std::borrow::Cow<'_, [f32]> {
        let n = self.image_len();
        self.pixels.slice_f32(i * n..(i + 1) * n)
    }

    /// Append image `i`'s values to `out`.
    pub fn extend_image(&self, i: usize, out: &mut Vec<f32>) {
        let n = self.image_len();
        self.pixels.extend_f32(i * n..(i + 1) * n, out);
    }

    /// Append image `i` of `other` (of the same shape) with its label.
    pub fn push_from(&mut self, other: &Split, i: usize) {
        let n = other.image_len();
        self.pixels.extend_from(&other.pixels, i * n..(i + 1) * n);
        self.labels.push(other.labels[i]);
    }

    /// The first `n` images (or all, if fewer) as a new split.
    pub fn take(&self, n: usize) -> Self {
        let n = n.min(self.len());
        Self {
            rows: self.rows,
            cols: self.cols,
            channels: self.channels,
            pixels: self.pixels.prefix(n * self.image_len()),
            labels: self.labels[..n].to_vec(),
        }
    }
}

/// A model's image size differs from the data's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the model takes {model} images but the data ({data}) has {shape}")]
pub struct ImageSizeMismatch {
    /// The model's image size.
    pub model: ImageShape,
    /// The data's name.
    pub data: String,
    /// The data's image size.
    pub shape: ImageShape,
}

/// A label outside the classes a conditional model knows (it would become an all-zero
/// one-hot row).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "the data ({data}) has label {label} at {split} image {index}, but the model knows {classes} classes (0..={})",
    classes.saturating_sub(1)
)]
pub struct LabelOutOfRange {
    /// The data's name.
    pub data: String,
    /// "train" or "test".
    pub split: &'static str,
    /// Index of the image in its split.
    pub index: usize,
    /// The label.
    pub label: u8,
    /// Classes the model knows.
    pub classes: usize,
}

/// Why a model cannot be fed this data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DataMismatch {
    /// Different image sizes.
    #[error(transparent)]
    ImageSize(#[from] ImageSizeMismatch),
    /// A label the (conditional) model does not know.
    #[error(transparent)]
    Label(#[from] LabelOutOfRange),
}

/// A dataset: train and test splits of same-sized images.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Human-readable name (e.g. "bundled MNIST 10k" or the directory).
    pub name: String,
    /// Training split.
    pub train: Split,
    /// Test split.
    pub test: Split,
    /// Each image's factors of variation, when they are known (the shapes set): what the
    /// disentanglement metrics are measured against.
    pub factors: Option<std::sync::Arc<super::factors::Factors>>,
}

impl Dataset {
    /// The MNIST subset embedded in the binary: 8,000 train and 2,000 test digits.
    pub fn bundled() -> Result<Self, DatasetError> {
        let names: Vec<PathBuf> = FILE_NAMES
            .iter()
            .map(|n| PathBuf::from(format!("<bundled>/{n}.gz")))
            .collect();
        Self::from_bytes("bundled MNIST 10k".into(), &names, BUNDLED)
    }

    /// Read a directory holding the four standard MNIST file names, each raw or `.gz`.
    pub fn from_dir(dir: &Path) -> Result<Self, DatasetError> {
        crate::paths::input_dir(dir).map_err(DatasetError::Path)?;
        let mut paths = Vec::with_capacity(4);
        for name in FILE_NAMES {
            let raw = dir.join(name);
            let gz = dir.join(format!("{name}.gz"));
            let path = if gz.is_file() {
                gz
            } else if raw.is_file() {
                raw
            } else {
                return Err(DatasetError::Missing {
                    dir: dir.to_path_buf(),
                    name,
                    all: FILE_NAMES.join(", "),
                });
            };
            paths.push(path);
        }
        let bytes = paths
            .iter()
            .map(|p| idx::read_file(p))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_bytes(
            dir.display().to_string(),
            &paths,
            [&bytes[0], &bytes[1], &bytes[2], &bytes[3]],
        )
    }

    /// Parse the four files (train images, train labels, test images, test labels).
    pub fn from_bytes(
        name: String,
        paths: &[PathBuf],
        bytes: [&[u8]; 4],
    ) -> Result<Self, DatasetError> {
        let split = |i: usize| -> Result<Split, IdxError> {
            let images = idx::parse_images(&paths[i], bytes[i])?;
            let labels = idx::parse_labels(&paths[i + 1], bytes[i + 1])?;
            Split::from_idx(images, labels, &paths[i], &paths[i + 1])
        };
        let train = split(0)?;
        let test = split(2)?;
        if train.shape() != test.shape() {
            return Err(DatasetError::SizeMismatch {
                train_rows: train.rows,
                train_cols: train.cols,
                test_rows: test.rows,
                test_cols: test.cols,
            });
        }
        Ok(Self {
            name,
            train,
            test,
            factors: None,
        })
    }

    /// Load from `dir` if given, else the bundled subset.
    pub fn load(dir: Option<&Path>) -> Result<Self, DatasetError> {
        match dir {
            Some(d) => Self::from_dir(d),
            None => Self::bundled(),
        }
    }

    /// Whether these are MNIST's handwritten digits: 28×28 grey images from a set named MNIST
    /// (the bundled subset, or a directory whose name says MNIST), and not one of the sets in
    /// MNIST's format that hold other things (Fashion-, Kuzushiji-MNIST). Cheap: views ask it
    /// every frame.
    pub fn is_digits(&self) -> bool {
        let name = self.name.to_lowercase();
        self.shape() == ImageShape::grey(28, 28)
            && self.factors.is_none()
            && name.contains("mnist")
            && !name.contains("fashion")
            && !name.contains("kmnist")
    }

    /// What one data point is called in the app's words: "digit" for MNIST's digits
    /// ([`Self::is_digits`]), else "image".
    pub fn noun(&self) -> &'static str {
        if self.is_digits() { "digit" } else { "image" }
    }

    /// [`Self::noun`] in the plural.
    pub fn nouns(&self) -> &'static str {
        if self.is_digits() { "digits" } else { "images" }
    }

    /// Image height.
    pub fn rows(&self) -> usize {
        self.train.rows
    }

    /// Image width.
    pub fn cols(&self) -> usize {
        self.train.cols
    }

    /// Colour channels (1 grey, 3 RGB).
    pub fn channels(&self) -> usize {
        self.train.channels
    }

    /// The size of one image.
    pub fn shape(&self) -> ImageShape {
        self.train.shape()
    }

    /// Check that a model of `model` images can be fed this data.
    pub fn check_image_size(&self, model: ImageShape) -> Result<(), ImageSizeMismatch> {
        if model == self.shape() {
            return Ok(());
        }
        Err(ImageSizeMismatch {
            model,
            data: self.name.clone(),
            shape: self.shape(),
        })
    }

    /// Check that every label is below `classes` (nothing to check when 0: the model is
    /// not conditional).
    pub fn check_labels(&self, classes: usize) -> Result<(), LabelOutOfRange> {
        if classes == 0 {
            return Ok(());
        }
        for (split, labels) in [("train", &self.train.labels), ("test", &self.test.labels)] {
            if let Some((index, &label)) = labels
                .iter()
                .enumerate()
                .find(|&(_, &l)| l as usize >= classes)
            {
                return Err(LabelOutOfRange {
                    data: self.name.clone(),
                    split,
                    index,
                    label,
                    classes,
                });
            }
        }
        Ok(())
    }

    /// Number of classes: one more than the largest label seen.
    pub fn num_classes(&self) -> usize {
        self.train
            .labels
            .iter()
            .chain(&self.test.labels)
            .map(|&l| l as usize + 1)
            .max()
            .unwrap_or(0)
    }
}
