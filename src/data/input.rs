//! A user's own input image (a dropped PNG/JPEG or a drawing): decoded with bounded sizes,
//! turned grey, inverted when its background is light (MNIST digits are white on black),
//! and fitted to the model's image size the way MNIST was made (the ink's bounding box
//! scaled into the central 20/28 of the frame). An image already of the model's size is
//! taken pixel for pixel, so a drawing saved as PNG loads back exactly.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{GrayImage, ImageReader, Luma};

/// The largest input file read, in bytes.
pub const MAX_INPUT_BYTES: u64 = 32 << 20;

/// The largest input side, in pixels.
pub const MAX_INPUT_SIDE: u32 = 8192;

/// The most memory the decoder may allocate, in bytes.
const MAX_DECODE_ALLOC: u64 = 256 << 20;

/// Why an input image cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Reading the file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_INPUT_BYTES`].
    #[error("{path} is {bytes} bytes; input images are limited to {limit} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// Not a PNG or JPEG the decoder can read, or larger than the decoder's limits.
    #[error("{path} is not a readable PNG or JPEG image ({message})")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
}

/// An input fitted to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct InputImage {
    /// `rows × cols` intensities in `[0, 1]`, row-major.
    pub pixels: Vec<f32>,
    /// Whether it was inverted (light background).
    pub inverted: bool,
    /// Its size before fitting, `(width, height)`.
    pub original: (u32, u32),
}

/// Read and fit the image at `path` to `rows × cols`.
pub fn load_image(path: &Path, rows: usize, cols: usize) -> Result<InputImage, InputError> {
    image_from_bytes(&read_capped(path)?, path, rows, cols)
}

/// The file's bytes, refused past [`MAX_INPUT_BYTES`] before it is read.
fn read_capped(path: &Path) -> Result<Vec<u8>, InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::metadata(path).map_err(io)?.len();
    if bytes > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            bytes,
            limit: MAX_INPUT_BYTES,
        });
    }
    std::fs::read(path).map_err(io)
}

/// Read the image at `path` for colour data of `shape` (square, as an image folder makes
/// it): transparent pixels over white, the central square, resized; no inversion. The
/// pixels are the red, green and blue planes.
pub fn load_colour(path: &Path, shape: crate::data::ImageShape) -> Result<InputImage, InputError> {
    let data = read_capped(path)?;
    let decode = |message: String| InputError::Decode {
        path: path.to_path_buf(),
        message,
    };
    let original = ImageReader::new(Cursor::new(&data))
        .with_guessed_format()
        .map_err(|e| decode(e.to_string()))?
        .into_dimensions()
        .map_err(|e| decode(e.to_string()))?;
    let img = super::folder::decode_image(&data, shape.rows).map_err(decode)?;
    let rgb = if (img.width() as usize, img.height() as usize) == (shape.cols, shape.rows) {
        img
    } else {
        image::imageops::resize(
            &img,
            shape.cols as u32,
            shape.rows as u32,
            FilterType::Triangle,
        )
    };
    let mut planes = Vec::with_capacity(shape.len());
    super::folder::push_planes(&mut planes, &rgb, shape.channels.min(3));
    Ok(InputImage {
        pixels: planes.iter().map(|&k| k as f32 / 255.0).collect(),
        inverted: false,
        original,
    })
}

/// Decode and fit `bytes` (named `path` in messages) to `rows × cols`.
pub fn image_from_bytes(
    bytes: &[u8],
    path: &Path,
    rows: usize,
    cols: usize,
) -> Result<InputImage, InputError> {
    let decode = |message: String| InputError::Decode {
        path: path.to_path_buf(),
        message,
    };
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            bytes: bytes.len() as u64,
            limit: MAX_INPUT_BYTES,
        });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_INPUT_SIDE);
    limits.max_image_height = Some(MAX_INPUT_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| decode(e.to_string()))?;
    let original = (img.width(), img.height());
    // Transparent pixels show the white a viewer draws behind them.
    let la = img.to_luma_alpha8();
    let grey = GrayImage::from_fn(la.width(), la.height(), |x, y| {
        let [l, a] = la.get_pixel(x, y).0;
        let a = a as u32;
        Luma([((l as u32 * a + 255 * (255 - a)) / 255) as u8])
    });
    Ok(fit(&grey, rows, cols, original))
}

/// Fit a grey image to `rows × cols` (see the module's description).
pub fn fit(grey: &GrayImage, rows: usize, cols: usize, original: (u32, u32)) -> InputImage {
    let (w, h) = grey.dimensions();
    let inverted = border_mean(grey) > 127.5;
    let mut g = grey.clone();
    if inverted {
        image::imageops::invert(&mut g);
    }
    if w as usize == cols && h as usize == rows {
        return InputImage {
            pixels: g.pixels().map(|p| p.0[0] as f32 / 255.0).collect(),
            inverted,
            original,
        };
    }
    InputImage {
        pixels: fit_ink(&g, rows, cols),
        inverted,
        original,
    }
}

/// Fit the ink of a white-on-black image into `rows × cols` as MNIST was made: the ink's
/// bounding box (pixels above a faint threshold), padded to a square, scaled into the
/// central 20/28 of the frame and centred. An image with no ink gives a black frame.
pub fn fit_ink(g: &GrayImage, rows: usize, cols: usize) -> Vec<f32> {
    let (w, h) = g.dimensions();
    let ink = |p: &Luma<u8>| p.0[0] > 25;
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0u32, 0u32);
    for (x, y, p) in g.enumerate_pixels() {
        if ink(p) {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    let out_w = cols as u32;
    let out_h = rows as u32;
    let mut out = GrayImage::new(out_w, out_h);
    if x1 >= x0 && y1 >= y0 {
        let bw = x1 - x0 + 1;
        let bh = y1 - y0 + 1;
        let side = bw.max(bh);
        // The box, padded to a square of black.
        let mut square = GrayImage::new(side, side);
        let (ox, oy) = ((side - bw) / 2, (side - bh) / 2);
        for y in 0..bh {
            for x in 0..bw {
                square.put_pixel(ox + x, oy + y, *g.get_pixel(x0 + x, y0 + y));
            }
        }
        let target_w = ((out_w as f32 * 20.0 / 28.0).round() as u32).max(1);
        let target_h = ((out_h as f32 * 20.0 / 28.0).round() as u32).max(1);
        let scaled = image::imageops::resize(&square, target_w, target_h, FilterType::Triangle);
        let (px, py) = ((out_w - target_w) / 2, (out_h - target_h) / 2);
        image::imageops::overlay(&mut out, &scaled, px as i64, py as i64);
    }
    out.pixels().map(|p| p.0[0] as f32 / 255.0).collect()
}

/// The mean of the outermost pixels (the background's brightness).
fn border_mean(g: &GrayImage) -> f64 {
    let (w, h) = g.dimensions();
    let mut sum = 0.0;
    let mut n = 0usize;
    for (x, y, p) in g.enumerate_pixels() {
        if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
            sum += p.0[0] as f64;
            n += 1;
        }
    }
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// A drawing canvas's pixels as an 8-bit grey image (what "Save PNG" writes; loading it
/// back with [`image_from_bytes`] gives the same pixels).
pub fn to_grey(pixels: &[f32], rows: usize, cols: usize) -> GrayImage {
    GrayImage::from_fn(cols as u32, rows as u32, |x, y| {
        let v = pixels
            .get(y as usize * cols + x as usize)
            .copied()
            .unwrap_or(0.0);
        let v = if v.is_finite() {
            v.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Luma([(v * 255.0).round() as u8])
    })
}
