//! A folder of the user's own PNG/JPEG images as a dataset: colour or grey, any size, each
//! centre-cropped to a square and resized to a chosen side; labels from sub-folder names
//! when there are any; a deterministic train/test split. Files are read and decoded one at a
//! time (a few in parallel), so only the resized images are ever held, and a caller sees
//! the progress. A file that is not an image, cannot be decoded or is too large to decode
//! is skipped and counted ([`Skipped`]), never a panic or an unbounded allocation.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{ImageReader, RgbImage};
use rayon::prelude::*;
use thiserror::Error;

use super::{Dataset, Split};
use crate::limits::{self, LimitError};

/// The side images are resized to unless the spec names one (`DIR@SIDE`).
pub const DEFAULT_SIDE: usize = 32;
/// The largest image file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// The most pixels an image may have to be decoded (e.g. 8,000 × 6,250).
pub const MAX_DECODE_PIXELS: u64 = 50_000_000;
/// The most memory one decode may allocate, in bytes.
const MAX_DECODE_ALLOC: u64 = 512 << 20;
/// The most values (images × pixels × channels) a folder dataset may hold, one byte each.
pub const MAX_VALUES: usize = limits::MAX_DATASET_VALUES;
/// The most files looked at in one folder tree.
pub const MAX_FILES: usize = 4_000_000;
/// How deep sub-folders are searched.
const MAX_DEPTH: usize = 16;
/// Share of the images in the test split.
pub const TEST_FRACTION: f64 = 0.2;
/// The file extensions read as images (case-insensitive).
pub const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];
/// How many skipped files a report names.
const EXAMPLES: usize = 5;
/// Files decoded between two progress reports.
const CHUNK: usize = 64;

/// What to read.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderConfig {
    /// The folder.
    pub dir: PathBuf,
    /// Side of the square images the dataset holds.
    pub side: usize,
}

/// Why a folder cannot be read as a dataset.
#[derive(Debug, Error)]
pub enum FolderError {
    /// The path is not a readable directory (in the message, not as a source: printed once).
    #[error("the image folder: {0}")]
    Path(crate::paths::PathError),
    /// Listing a directory failed.
    #[error("listing {path}: {source}")]
    List {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The side is out of range.
    #[error("the image side: {0}")]
    Side(LimitError),
    /// More files than [`MAX_FILES`].
    #[error("{dir} holds more than {limit} files; point --data at a smaller folder")]
    TooManyFiles {
        /// The folder.
        dir: PathBuf,
        /// The limit.
        limit: usize,
    },
    /// No usable image.
    #[error(
        "{dir}: no usable images (PNG or JPEG, by extension {}) among {files} files{}",
        EXTENSIONS.join("/"),
        skipped.describe_suffix()
    )]
    NoImages {
        /// The folder.
        dir: PathBuf,
        /// Files looked at.
        files: usize,
        /// What was skipped and why.
        skipped: Skipped,
    },
    /// A train and a test image are needed.
    #[error("{dir}: only one usable image; a dataset needs at least two (one to test on)")]
    OneImage {
        /// The folder.
        dir: PathBuf,
    },
    /// More classes than a label can hold.
    #[error(
        "{dir} has {classes} sub-folders with images; labels are limited to {limit} classes (put the images in fewer sub-folders, or all in one)"
    )]
    TooManyClasses {
        /// The folder.
        dir: PathBuf,
        /// Sub-folders found.
        classes: usize,
        /// The limit.
        limit: usize,
    },
    /// The resized images would not fit the memory limit.
    #[error(
        "{dir}: {images} images of {side}x{side} × {channels} channels are {values} values, more than the {limit} a dataset may hold; choose a smaller side ({dir}@{smaller}) or a smaller folder"
    )]
    TooLarge {
        /// The folder.
        dir: PathBuf,
        /// Images found.
        images: usize,
        /// Their side.
        side: usize,
        /// Channels assumed (3 before decoding).
        channels: usize,
        /// Values needed.
        values: u128,
        /// The limit ([`MAX_VALUES`]).
        limit: usize,
        /// A side that would fit.
        smaller: usize,
    },
}

/// Files that were skipped, counted by reason, with the first few named.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Skipped {
    /// Files without an image extension.
    pub not_images: usize,
    /// Image files that could not be read or decoded (corrupt, truncated, unsupported).
    pub unreadable: usize,
    /// Image files too large to decode ([`MAX_FILE_BYTES`], [`MAX_DECODE_PIXELS`]).
    pub too_large: usize,
    /// The first few skipped files and why.
    pub examples: Vec<String>,
}

impl Skipped {
    /// Files skipped in all.
    pub fn total(&self) -> usize {
        self.not_images + self.unreadable + self.too_large
    }

    fn note(&mut self, path: &Path, why: &str) {
        if self.examples.len() < EXAMPLES {
            self.examples.push(format!("{}: {why}", path.display()));
        }
    }

    /// One line: "skipped 3 files: 1 not an image, 2 unreadable (a.png: …; …)", or "" when
    /// nothing was skipped.
    pub fn describe(&self) -> String {
        if self.total() == 0 {
            return String::new();
        }
        let mut parts = Vec::new();
        for (n, what) in [
            (self.not_images, "not an image"),
            (self.unreadable, "unreadable"),
            (self.too_large, "too large"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        let more = self.total().saturating_sub(self.examples.len());
        let mut examples = self.examples.join("; ");
        if more > 0 {
            examples.push_str(&format!("; and {more} more"));
        }
        format!(
            "skipped {} file{}: {} ({examples})",
            self.total(),
            if self.total() == 1 { "" } else { "s" },
            parts.join(", ")
        )
    }

    fn describe_suffix(&self) -> String {
        match self.describe() {
            d if d.is_empty() => d,
            d => format!("; {d}"),
        }
    }
}

/// A folder read as a dataset.
#[derive(Debug, Clone)]
pub struct Folder {
    /// The images, split.
    pub data: Dataset,
    /// Class names (sub-folders) by label; empty when the images are unlabelled.
    pub classes: Vec<String>,
    /// What was skipped.
    pub skipped: Skipped,
}

/// One image file found, with its label.
#[derive(Debug, Clone)]
struct Found {
    path: PathBuf,
    /// The path below the folder (what the split hashes).
    relative: String,
    label: u8,
}

/// Read the folder `cfg.dir` as a dataset of `cfg.side`-sided images. `progress(done,
/// total)` is called as image files are decoded.
pub fn load(
    cfg: &FolderConfig,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Folder, FolderError> {
    let dir = &cfg.dir;
    crate::paths::input_dir(dir).map_err(FolderError::Path)?;
    limits::check("image side", cfg.side, 1, limits::MAX_IMAGE_SIDE).map_err(FolderError::Side)?;
    let mut skipped = Skipped::default();
    let (files, classes) = list(dir, &mut skipped)?;
    let total_files = files.len() + skipped.not_images;
    let side = cfg.side;
    let values = files.len() as u128 * (side * side * 3) as u128;
    if values > MAX_VALUES as u128 {
        let per_image = MAX_VALUES / files.len().max(1) / 3;
        return Err(FolderError::TooLarge {
            dir: dir.clone(),
            images: files.len(),
            side,
            channels: 3,
            values,
            limit: MAX_VALUES,
            smaller: (per_image as f64).sqrt().floor().max(1.0) as usize,
        });
    }
    // Decode in order-preserving chunks, a few files at a time in parallel, on a pool of
    // its own: in the app, training runs keep the global pool busy, and decoding queued
    // behind their steps (401 JPEGs of 2000×1500 beside two runs: 64 decoded in 18 s on
    // the global pool, all 401 in under 28 s on this one).
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("latent-explorer-decode-{i}"))
        .build()
        .ok();
    let decode_chunk = |chunk: &[Found]| -> Vec<Result<RgbImage, Skip>> {
        let run = || chunk.par_iter().map(|f| decode(&f.path, side)).collect();
        match &pool {
            Some(p) => p.install(run),
            // No threads to be had: one at a time on this one.
            None => chunk.iter().map(|f| decode(&f.path, side)).collect(),
        }
    };
    let mut decoded: Vec<(usize, RgbImage)> = Vec::with_capacity(files.len());
    progress(0, files.len());
    for (c, chunk) in files.chunks(CHUNK).enumerate() {
        let results = decode_chunk(chunk);
        for (i, r) in results.into_iter().enumerate() {
            let index = c * CHUNK + i;
            match r {
                Ok(img) => decoded.push((index, img)),
                Err(skip) => {
                    match skip {
                        Skip::Unreadable(_) => skipped.unreadable += 1,
                        Skip::TooLarge(_) => skipped.too_large += 1,
                    }
                    skipped.note(Path::new(&files[index].relative), skip.reason());
                }
            }
        }
        progress(((c + 1) * CHUNK).min(files.len()), files.len());
    }
    match decoded.len() {
        0 => {
            return Err(FolderError::NoImages {
                dir: dir.clone(),
                files: total_files,
                skipped,
            });
        }
        1 => return Err(FolderError::OneImage { dir: dir.clone() }),
        _ => {}
    }
    // Grey when every pixel of every image is.
    let grey = decoded
        .iter()
        .all(|(_, img)| img.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]));
    let channels = if grey { 1 } else { 3 };
    let (train, test) = split_indices(&decoded, &files);
    let make = |which: &[usize]| -> Split {
        let mut split = Split::empty(super::ImageShape {
            rows: side,
            cols: side,
            channels,
        });
        let mut pixels = Vec::with_capacity(which.len() * side * side * channels);
        for &k in which {
            let (index, img) = &decoded[k];
            push_planes(&mut pixels, img, channels);
            split.labels.push(files[*index].label);
        }
        split.pixels = super::Pixels::U8(pixels);
        split
    };
    let train = make(&train);
    let test = make(&test);
    let n = decoded.len();
    let name = format!(
        "{} ({n} images at {side}x{side}{}{})",
        dir.display(),
        if grey { ", grey" } else { ", RGB" },
        if classes.is_empty() {
            String::new()
        } else {
            format!(", {} classes", classes.len())
        }
    );
    Ok(Folder {
        data: Dataset {
            name,
            train,
            test,
            factors: None,
        },
        classes,
        skipped,
    })
}

/// Every image file below `dir` (sorted by path), labelled by its top sub-folder, and the
/// class names. Non-image files are counted in `skipped`.
fn list(dir: &Path, skipped: &mut Skipped) -> Result<(Vec<Found>, Vec<String>), FolderError> {
    let mut found: Vec<(PathBuf, String, Option<String>)> = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    let mut seen = 0usize;
    while let Some((d, depth)) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| FolderError::List {
            path: d.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| FolderError::List {
                path: d.clone(),
                source,
            })?;
            seen += 1;
            if seen > MAX_FILES {
                return Err(FolderError::TooManyFiles {
                    dir: dir.to_path_buf(),
                    limit: MAX_FILES,
                });
            }
            let path = entry.path();
            // Follows a link to a file; a linked directory is not entered (no cycles).
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                if depth < MAX_DEPTH {
                    stack.push((path, depth + 1));
                }
                continue;
            }
            let relative = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
            let is_image = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)));
            if !is_image || !path.is_file() {
                skipped.not_images += 1;
                skipped.note(&relative, "not a PNG or JPEG file");
                continue;
            }
            let class = (relative.components().count() > 1)
                .then(|| relative.components().next())
                .flatten()
                .map(|c| c.as_os_str().to_string_lossy().into_owned());
            found.push((path, relative.to_string_lossy().into_owned(), class));
        }
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
    let mut classes: Vec<String> = found.iter().filter_map(|f| f.2.clone()).collect();
    classes.sort();
    classes.dedup();
    // Images at the top level of a labelled folder form a class of their own.
    if !classes.is_empty() && found.iter().any(|f| f.2.is_none()) {
        classes.insert(0, ".".into());
    }
    let limit = (u8::MAX as usize + 1).min(limits::MAX_CLASSES);
    if classes.len() > limit {
        return Err(FolderError::TooManyClasses {
            dir: dir.to_path_buf(),
            classes: classes.len(),
            limit,
        });
    }
    let files = found
        .into_iter()
        .map(|(path, relative, class)| {
            let name = class.unwrap_or_else(|| ".".into());
            // Below the limit of 256 checked above.
            let label = classes.iter().position(|c| *c == name).unwrap_or(0) as u8;
            Found {
                path,
                relative,
                label,
            }
        })
        .collect();
    Ok((files, classes))
}

/// Why one file was skipped.
#[derive(Debug)]
enum Skip {
    Unreadable(String),
    TooLarge(String),
}

impl Skip {
    fn reason(&self) -> &str {
        match self {
            Self::Unreadable(s) | Self::TooLarge(s) => s,
        }
    }
}

/// Read one image file and fit it to `side × side` RGB: transparent pixels over white, the
/// central square cropped, then resized (area-averaged when shrinking).
fn decode(path: &Path, side: usize) -> Result<RgbImage, Skip> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| Skip::Unreadable(e.to_string()))?
        .len();
    if bytes > MAX_FILE_BYTES {
        return Err(Skip::TooLarge(format!(
            "{bytes} bytes; image files are limited to {MAX_FILE_BYTES}"
        )));
    }
    let data = std::fs::read(path).map_err(|e| Skip::Unreadable(e.to_string()))?;
    decode_bytes(&data, side)
}

/// `decode` of bytes already read (the fuzz target's entry point).
pub fn decode_image(bytes: &[u8], side: usize) -> Result<RgbImage, String> {
    decode_bytes(bytes, side).map_err(|s| s.reason().to_string())
}

fn decode_bytes(data: &[u8], side: usize) -> Result<RgbImage, Skip> {
    let reader = || {
        ImageReader::new(Cursor::new(data))
            .with_guessed_format()
            .map_err(|e| Skip::Unreadable(e.to_string()))
    };
    // The header alone first: a huge image is refused before anything is allocated.
    let (w, h) = reader()?
        .into_dimensions()
        .map_err(|e| Skip::Unreadable(format!("not a readable PNG or JPEG ({e})")))?;
    if w == 0 || h == 0 {
        return Err(Skip::Unreadable(format!("{w}x{h} pixels: empty")));
    }
    if w as u64 * h as u64 > MAX_DECODE_PIXELS {
        return Err(Skip::TooLarge(format!(
            "{w}x{h} pixels; images are limited to {MAX_DECODE_PIXELS} pixels"
        )));
    }
    let mut r = reader()?;
    let mut lim = image::Limits::default();
    lim.max_image_width = Some(w);
    lim.max_image_height = Some(h);
    lim.max_alloc = Some(MAX_DECODE_ALLOC);
    r.limits(lim);
    let img = r
        .decode()
        .map_err(|e| Skip::Unreadable(format!("not a readable PNG or JPEG ({e})")))?;
    Ok(fit_square(&flatten_alpha(&img), side))
}

/// RGB with transparent pixels shown over white (as a viewer draws them).
fn flatten_alpha(img: &image::DynamicImage) -> RgbImage {
    let rgba = img.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let a = a as u32;
        let over = |c: u8| ((c as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
        image::Rgb([over(r), over(g), over(b)])
    })
}

/// The central square of `img`, resized to `side × side`: area-averaged when shrinking,
/// bilinear when growing (a 1-pixel image becomes a flat colour).
pub fn fit_square(img: &RgbImage, side: usize) -> RgbImage {
    let (w, h) = img.dimensions();
    let s = w.min(h);
    let square = image::imageops::crop_imm(img, (w - s) / 2, (h - s) / 2, s, s).to_image();
    let side = side as u32;
    if s == side {
        square
    } else if s > side {
        image::imageops::thumbnail(&square, side, side)
    } else {
        image::imageops::resize(&square, side, side, FilterType::Triangle)
    }
}

/// Append `img`'s values as channel planes (one plane when `channels` is 1: the image is
/// grey, so any channel is it).
pub(crate) fn push_planes(out: &mut Vec<u8>, img: &RgbImage, channels: usize) {
    for c in 0..channels {
        out.extend(img.pixels().map(|p| p.0[c]));
    }
}

/// 64-bit FNV-1a: a stable hash (the same on every platform and version) for the split.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Which decoded images are train and which test: the images ordered by a hash of their
/// path below the folder, the first [`TEST_FRACTION`] (at least one) test. The same folder
/// always splits the same way, and adding a file moves at most one other image. Each
/// split keeps the folder's path order.
fn split_indices(decoded: &[(usize, RgbImage)], files: &[Found]) -> (Vec<usize>, Vec<usize>) {
    let n = decoded.len();
    let mut by_hash: Vec<usize> = (0..n).collect();
    by_hash.sort_by_key(|&k| {
        let f = &files[decoded[k].0];
        (fnv1a(&f.relative), f.relative.clone())
    });
    let n_test = ((n as f64 * TEST_FRACTION).round() as usize).clamp(1, n - 1);
    let mut test: Vec<usize> = by_hash[..n_test].to_vec();
    let mut train: Vec<usize> = by_hash[n_test..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    (train, test)
}

/// The folder a data argument names as an image folder: `DIR` or `DIR@SIDE` (when `DIR` is
/// a directory without MNIST-format files). `None` for anything else. A path that exists
/// as written wins over reading a trailing `@SIDE`.
pub fn parse_spec(spec: &str) -> Result<Option<FolderConfig>, String> {
    let as_folder = |p: &Path| p.is_dir() && !super::dataset::has_idx_files(p);
    let whole = Path::new(spec);
    if whole.exists() {
        return Ok(as_folder(whole).then(|| FolderConfig {
            dir: whole.to_path_buf(),
            side: DEFAULT_SIDE,
        }));
    }
    let Some((dir, side)) = spec.rsplit_once('@') else {
        return Ok(None);
    };
    let dir = Path::new(dir);
    if !dir.is_dir() {
        return Ok(None);
    }
    if !as_folder(dir) {
        return Err(format!(
            "{spec}: {} holds MNIST-format files; @SIDE applies to image folders only",
            dir.display()
        ));
    }
    let side = side
        .parse()
        .map_err(|_| format!("{spec}: the side after @ must be a whole number"))?;
    Ok(Some(FolderConfig {
        dir: dir.to_path_buf(),
        side,
    }))
}
