//! Image grids of decoded digits, written as PNG or GIF (atomically), and latent codes as
//! CSV.

use std::path::Path;

use image::{DynamicImage, GrayImage, ImageFormat, Luma, Rgb, RgbImage};

use crate::atomic::atomic_write_bytes;
use crate::data::ImageShape;
use crate::train::metrics::Posterior;

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
