//! Image grids of decoded digits, written as PNG or GIF (atomically), animations over a
//! grid's columns (a GIF going forth and back, or its distinct frames as numbered PNGs: the
//! same for `traverse` and the app's exports), and latent codes as CSV.

use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, ImageFormat, Luma, Rgb, RgbImage};

use crate::atomic::atomic_write_bytes;
use crate::data::ImageShape;
use crate::explore::{Posterior, forth_and_back};

/// An intensity in `[0, 1]` (NaN as 0) as a byte.
fn byte(v: f32) -> u8 {
    let v = if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    };
    (v * 255.0).round() as u8
}

/// Tile images of `shape` (concatenated; a colour image is its three planes) into a grid of
/// `grid_cols` columns with `gap` pixels of mid-grey between tiles: a grey image for grey
/// tiles, an RGB image for colour ones.
pub fn grid_image(pixels: &[f32], shape: ImageShape, grid_cols: usize, gap: usize) -> DynamicImage {
    let ImageShape { rows, cols, .. } = shape;
    let per = shape.len().max(1);
    let plane = shape.plane();
    let n = pixels.len() / per;
    let grid_cols = grid_cols.max(1).min(n.max(1));
    let grid_rows = n.div_ceil(grid_cols).max(1);
    let width = (grid_cols * cols + (grid_cols + 1) * gap) as u32;
    let height = (grid_rows * rows + (grid_rows + 1) * gap) as u32;
    // Where pixel (x, y) of the grid comes from: tile i, offset in its plane.
    let source = |x: u32, y: u32| -> Option<usize> {
        let (x, y) = (x as usize, y as usize);
        let (gc, cx) = (
            x.checked_sub(gap)? / (cols + gap),
            x.checked_sub(gap)? % (cols + gap),
        );
        let (gr, cy) = (
            y.checked_sub(gap)? / (rows + gap),
            y.checked_sub(gap)? % (rows + gap),
        );
        let i = gr * grid_cols + gc;
        (cx < cols && cy < rows && gc < grid_cols && i < n).then_some(i * per + cy * cols + cx)
    };
    if shape.channels >= 3 {
        DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
            match source(x, y) {
                Some(k) => Rgb([
                    byte(pixels[k]),
                    byte(pixels[k + plane]),
                    byte(pixels[k + 2 * plane]),
                ]),
                None => Rgb([128; 3]),
            }
        }))
    } else {
        DynamicImage::ImageLuma8(GrayImage::from_fn(width, height, |x, y| {
            Luma([source(x, y).map_or(128, |k| byte(pixels[k]))])
        }))
    }
}

/// Encode `img` as PNG and write it to `path` atomically.
pub fn save_png(img: &DynamicImage, path: &Path) -> std::io::Result<()> {
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, ImageFormat::Png)
        .map_err(std::io::Error::other)?;
    atomic_write_bytes(path, buf.get_ref())
}

/// One frame of an animation over the columns of a grid: `pixels` holds `rows × cols`
/// tiles laid out `grid_cols` per row (a traversal's values, a path's steps); frame `f` is
/// tile `f` of every grid row, stacked as one column of tiles (a path, one row, gives one
/// tile). Pair with [`crate::explore::forth_and_back`] for a looping animation.
pub fn column_frame(pixels: &[f32], shape: ImageShape, grid_cols: usize, f: usize) -> DynamicImage {
    let per = shape.len();
    let n = pixels.len().checked_div(per).unwrap_or(0);
    let grid_cols = grid_cols.max(1);
    let column: Vec<f32> = (0..n.div_ceil(grid_cols))
        .map(|g| g * grid_cols + f)
        .filter(|&i| i < n)
        .flat_map(|i| pixels[i * per..(i + 1) * per].iter().copied())
        .collect();
    grid_image(&column, shape, 1, 2)
}

/// Encode `frames` as an animated GIF (looping, `delay_ms` per frame) and write it to
/// `path` atomically. Frames of different sizes are an error.
pub fn save_gif(frames: &[DynamicImage], delay_ms: u32, path: &Path) -> std::io::Result<()> {
    atomic_write_bytes(path, &gif_bytes(frames, delay_ms)?)
}

/// [`save_gif`]'s bytes.
pub fn gif_bytes(frames: &[DynamicImage], delay_ms: u32) -> std::io::Result<Vec<u8>> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame, GenericImageView};
    let Some(first) = frames.first() else {
        return Err(std::io::Error::other("no frames to write"));
    };
    if frames.iter().any(|f| f.dimensions() != first.dimensions()) {
        return Err(std::io::Error::other("GIF frames differ in size"));
    }
    let mut buf = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(&mut buf, 10);
        enc.set_repeat(Repeat::Infinite)
            .map_err(std::io::Error::other)?;
        for f in frames {
            let rgba = f.to_rgba8();
            let frame = Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(delay_ms, 1));
            enc.encode_frame(frame).map_err(std::io::Error::other)?;
        }
    }
    Ok(buf)
}

/// Save `img` as PNG, or several `frames` as a GIF, by `path`'s extension: `.gif` writes
/// the animation, anything else the still `img`.
pub fn save_still_or_gif(
    img: &DynamicImage,
    frames: &[DynamicImage],
    delay_ms: u32,
    path: &Path,
) -> std::io::Result<()> {
    let gif = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gif"));
    if gif {
        save_gif(frames, delay_ms, path)
    } else {
        save_png(img, path)
    }
}

/// Milliseconds per GIF frame unless asked otherwise (`traverse`/`interpolate --delay-ms`
/// default; the app's exports).
pub const GIF_DELAY_MS: u32 = 120;

/// The file name of an animation's frame `i` among `n`: `frame-00.png`, `frame-01.png`, …
/// (at least two digits, more when `n` needs them, so the names sort in frame order).
pub fn frame_file_name(i: usize, n: usize) -> String {
    let width = n.saturating_sub(1).to_string().len().max(2);
    format!("frame-{i:0width$}.png")
}

/// The distinct frames of an animation over the columns of a grid of `grid_cols` columns
/// ([`column_frame`] of each column, in order): one per value of a traversal, one per code
/// of a path.
pub fn column_frames(pixels: &[f32], shape: ImageShape, grid_cols: usize) -> Vec<DynamicImage> {
    (0..grid_cols.max(1))
        .map(|f| column_frame(pixels, shape, grid_cols, f))
        .collect()
}

/// `frames` in the order an animation plays them, forth and back without repeating an end
/// ([`forth_and_back`]): what a GIF holds.
pub fn looped(frames: &[DynamicImage]) -> Vec<DynamicImage> {
    forth_and_back(frames.len())
        .into_iter()
        .map(|i| frames[i].clone())
        .collect()
}

/// What an export of an image view writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// The grid as one PNG.
    Png,
    /// An animated GIF over the grid's columns, forth and back ([`looped`]).
    Gif,
    /// The animation's distinct frames ([`column_frames`]) as PNGs named by
    /// [`frame_file_name`] in a directory (made if missing).
    Frames,
}

/// Why an export failed: the file or directory it names, and why.
#[derive(Debug, thiserror::Error)]
#[error("writing {}: {source}", path.display())]
pub struct ExportError {
    /// The file or directory.
    pub path: PathBuf,
    /// What went wrong.
    pub source: std::io::Error,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The file, or the directory of the frames.
    pub path: PathBuf,
    /// Frames written (1 for a still image).
    pub frames: usize,
}

impl std::fmt::Display for Exported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.frames {
            1 => write!(f, "{}", self.path.display()),
            n => write!(f, "{} ({n} frames)", self.path.display()),
        }
    }
}

/// Write the grid `pixels` (tiles of `shape`, `grid_cols` per row: a traversal's values, a
/// path's codes) to `path` as `format` says, GIF frames `delay_ms` apart. The CLI's
/// `traverse` and the app's exports both write through this, so they name and count frames
/// alike.
pub fn export_grid(
    pixels: &[f32],
    shape: ImageShape,
    grid_cols: usize,
    format: ExportFormat,
    delay_ms: u32,
    path: &Path,
) -> Result<Exported, ExportError> {
    let err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| ExportError { path: p, source }
    };
    let frames = match format {
        ExportFormat::Png => {
            save_png(&grid_image(pixels, shape, grid_cols, 2), path).map_err(err(path))?;
            1
        }
        ExportFormat::Gif => {
            let frames = looped(&column_frames(pixels, shape, grid_cols));
            save_gif(&frames, delay_ms, path).map_err(err(path))?;
            frames.len()
        }
        ExportFormat::Frames => {
            let frames = column_frames(pixels, shape, grid_cols);
            std::fs::create_dir_all(path).map_err(err(path))?;
            // All the frames or none: a failed frame takes back the ones this call wrote.
            let mut written = Vec::with_capacity(frames.len());
            for (i, f) in frames.iter().enumerate() {
                let p = path.join(frame_file_name(i, frames.len()));
                if let Err(e) = save_png(f, &p) {
                    remove_files(&written);
                    return Err(err(&p)(e));
                }
                written.push(p);
            }
            frames.len()
        }
    };
    Ok(Exported {
        path: path.to_path_buf(),
        frames,
    })
}

/// The files of an export: the file itself, or each frame in the frames' directory.
pub fn exported_files(e: &Exported) -> Vec<PathBuf> {
    if e.path.is_dir() {
        (0..e.frames)
            .map(|i| e.path.join(frame_file_name(i, e.frames)))
            .collect()
    } else {
        vec![e.path.clone()]
    }
}

/// Take back an export whose command failed afterwards: remove its files (best effort; the
/// frames' directory stays).
pub fn remove_export(e: &Exported) {
    remove_files(&exported_files(e));
}

fn remove_files(paths: &[PathBuf]) {
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

/// Posterior codes as CSV: a header `index,label,mu_0,…,mu_{d−1},logvar_0,…,logvar_{d−1}`,
/// then one line per image (index in its split, its label, the values written so that they
/// parse back to the same `f32`). `labels` pairs with the posterior's rows.
pub fn codes_csv(posterior: &Posterior, labels: &[u8]) -> String {
    use std::fmt::Write;
    let d = posterior.dim;
    let mut out = String::from("index,label");
    for kind in ["mu", "logvar"] {
        for j in 0..d {
            // Writing into a String cannot fail.
            let _ = write!(out, ",{kind}_{j}");
        }
    }
    out.push('\n');
    let rows = posterior
        .mu
        .chunks_exact(d.max(1))
        .zip(posterior.logvar.chunks_exact(d.max(1)));
    for (i, ((mu, lv), label)) in rows.zip(labels).enumerate() {
        let _ = write!(out, "{i},{label}");
        for v in mu.iter().chain(lv) {
            let _ = write!(out, ",{v}");
        }
        out.push('\n');
    }
    out
}
