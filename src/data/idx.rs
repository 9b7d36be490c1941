//! Reader for the IDX file format used by MNIST, Fashion-MNIST and KMNIST.
//!
//! An IDX file starts with a 4-byte magic number `0x0000TTRR` (TT = element type,
//! RR = rank), followed by `rank` big-endian `u32` dimensions and then the raw elements.
//! Only unsigned bytes (type `0x08`) are supported, which is what every MNIST-family
//! dataset uses. Files may be raw or gzip-compressed (detected from the gzip magic bytes).
//!
//! Every failure is an [`IdxError`] that names the file and what is wrong; no allocation
//! is ever sized from an unchecked header: the element count implied by the header is
//! checked against the actual length of the (decompressed) payload before anything is
//! allocated from it.

use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Magic number of an IDX file holding a rank-3 tensor of unsigned bytes (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file holding a rank-1 tensor of unsigned bytes (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Upper bound on the decompressed size of one IDX file (1 GiB): protects against gzip
/// bombs and absurd headers. Full MNIST images are 47 MB.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// What went wrong while reading an IDX file. Every variant names the file.
#[derive(Debug, Error)]
pub enum IdxError {
    /// The file could not be opened or read.
    #[error("{file}: cannot read: {error}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The file is gzip-compressed but the stream is corrupt.
    #[error("{file}: corrupt gzip stream: {error}")]
    Gzip {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The (decompressed) file has no bytes at all.
    #[error("{file}: file is empty")]
    Empty {
        /// The file.
        file: PathBuf,
    },
    /// The file ends before its header or payload is complete.
    #[error("{file}: truncated at byte {len}: {what} needs {needed} bytes")]
    Truncated {
        /// The file.
        file: PathBuf,
        /// Bytes actually present.
        len: u64,
        /// Bytes the header implies.
        needed: u64,
        /// Which part was cut short (header, dimensions or data).
        what: &'static str,
    },
    /// The magic number is not the one expected for this kind of file.
    #[error("{file}: bad magic 0x{found:08x}, expected 0x{expected:08x} ({kind})")]
    BadMagic {
        /// The file.
        file: PathBuf,
        /// Magic read from the file.
        found: u32,
        /// Magic expected.
        expected: u32,
        /// "images" or "labels".
        kind: &'static str,
    },
    /// A dimension is zero or the product overflows.
    #[error("{file}: invalid dimensions {dims:?}: {why}")]
    BadDims {
        /// The file.
        file: PathBuf,
        /// The dimensions from the header.
        dims: Vec<u32>,
        /// Why they are invalid.
        why: &'static str,
    },
    /// The file has more bytes than its header describes.
    #[error("{file}: {extra} trailing bytes after the {needed} bytes the header describes")]
    TrailingBytes {
        /// The file.
        file: PathBuf,
        /// Bytes the header implies.
        needed: u64,
        /// Bytes beyond that.
        extra: u64,
    },
    /// Image and label files disagree on the number of items.
    #[error("{labels_file}: {labels} labels for {images} images in {images_file}")]
    CountMismatch {
        /// The image file.
        images_file: PathBuf,
        /// The label file.
        labels_file: PathBuf,
        /// Number of images.
        images: usize,
        /// Number of labels.
        labels: usize,
    },
    /// A size in the header is over its limit ([`crate::limits`]).
    #[error("{file}: {error}")]
    Limit {
        /// The file.
        file: PathBuf,
        /// Which size, its value and the limit.
        error: crate::limits::LimitError,
    },
    /// The decompressed size exceeds [`MAX_DECOMPRESSED_BYTES`].
    #[error("{file}: decompresses to more than {limit} bytes")]
    TooLarge {
        /// The file.
        file: PathBuf,
        /// The limit.
        limit: u64,
    },
}

/// A validated stack of 8-bit images, row-major, `count × rows × cols`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Image height in pixels.
    pub rows: usize,
    /// Image width in pixels.
    pub cols: usize,
    /// `count * rows * cols` pixel bytes.
    pub pixels: Vec<u8>,
}

/// Decompress `bytes` if they start with the gzip magic, else return them as they are.
fn maybe_gunzip(file: &Path, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        let mut out = Vec::new();
        let decoder = flate2::read::MultiGzDecoder::new(bytes);
        decoder
            .take(MAX_DECOMPRESSED_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|error| IdxError::Gzip {
                file: file.to_path_buf(),
                error,
            })?;
        if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
            return Err(IdxError::TooLarge {
                file: file.to_path_buf(),
                limit: MAX_DECOMPRESSED_BYTES,
            });
        }
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

/// Parse the header of an IDX payload and check it against its length. Returns the
/// dimensions and the offset at which the data starts.
fn parse_header(
    file: &Path,
    data: &[u8],
    expected_magic: u32,
    kind: &'static str,
) -> Result<(Vec<usize>, usize), IdxError> {
    let file_buf = || file.to_path_buf();
    if data.is_empty() {
        return Err(IdxError::Empty { file: file_buf() });
    }
    if data.len() < 4 {
        return Err(IdxError::Truncated {
            file: file_buf(),
            len: data.len() as u64,
            needed: 4,
            what: "the magic number",
        });
    }
    let magic = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    if magic != expected_magic {
        return Err(IdxError::BadMagic {
            file: file_buf(),
            found: magic,
            expected: expected_magic,
            kind,
        });
    }
    let rank = (magic & 0xff) as usize;
    let header_len = 4 + 4 * rank;
    if data.len() < header_len {
        return Err(IdxError::Truncated {
            file: file_buf(),
            len: data.len() as u64,
            needed: header_len as u64,
            what: "the dimension header",
        });
    }
    let raw_dims: Vec<u32> = (0..rank)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]])
        })
        .collect();
    if raw_dims.iter().skip(1).any(|&d| d == 0) {
        return Err(IdxError::BadDims {
            file: file_buf(),
            dims: raw_dims,
            why: "an item dimension is zero",
        });
    }
    let total = raw_dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&t| t <= MAX_DECOMPRESSED_BYTES);
    let Some(total) = total else {
        return Err(IdxError::BadDims {
            file: file_buf(),
            dims: raw_dims,
            why: "the element count is larger than any supported file",
        });
    };
    let needed = header_len as u64 + total;
    let len = data.len() as u64;
    if len < needed {
        return Err(IdxError::Truncated {
            file: file_buf(),
            len,
            needed,
            what: "the data the header describes",
        });
    }
    if len > needed {
        return Err(IdxError::TrailingBytes {
            file: file_buf(),
            needed,
            extra: len - needed,
        });
    }
    Ok((raw_dims.iter().map(|&d| d as usize).collect(), header_len))
}

/// Parse an images file (magic `0x00000803`) from its bytes (raw or gzip).
pub fn parse_images(file: &Path, bytes: &[u8]) -> Result<IdxImages, IdxError> {
    let data = maybe_gunzip(file, bytes)?;
    let (dims, offset) = parse_header(file, &data, IMAGES_MAGIC, "images")?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    // The images become f32 (4 bytes a pixel): their sizes are bounded before that.
    let limit = |error| IdxError::Limit {
        file: file.to_path_buf(),
        error,
    };
    use crate::limits;
    limits::check("image rows", rows, 1, limits::MAX_IMAGE_SIDE).map_err(limit)?;
    limits::check("image columns", cols, 1, limits::MAX_IMAGE_SIDE).map_err(limit)?;
    limits::product(
        "images × pixels",
        &[count, rows, cols],
        limits::MAX_DATASET_VALUES,
    )
    .map_err(limit)?;
    if count == 0 {
        return Err(IdxError::BadDims {
            file: file.to_path_buf(),
            dims: dims.iter().map(|&d| d as u32).collect(),
            why: "the file holds no images",
        });
    }
    let mut pixels = data;
    pixels.drain(..offset);
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels,
    })
}

/// Parse a labels file (magic `0x00000801`) from its bytes (raw or gzip).
pub fn parse_labels(file: &Path, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    let data = maybe_gunzip(file, bytes)?;
    let (dims, offset) = parse_header(file, &data, LABELS_MAGIC, "labels")?;
    if dims[0] == 0 {
        return Err(IdxError::BadDims {
            file: file.to_path_buf(),
            dims: vec![0],
            why: "the file holds no labels",
        });
    }
    let mut labels = data;
    labels.drain(..offset);
    Ok(labels)
}

/// Read a whole file, mapping the error to [`IdxError::Io`].
pub fn read_file(path: &Path) -> Result<Vec<u8>, IdxError> {
    std::fs::read(path).map_err(|error| IdxError::Io {
        file: path.to_path_buf(),
        error,
    })
}
