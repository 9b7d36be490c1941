//! Image grids of decoded digits, written as PNG (atomically).

use std::path::Path;

use image::{GrayImage, ImageFormat, Luma};

use crate::atomic::atomic_write_bytes;

/// Tile `images` (each `rows × cols` intensities in `[0, 1]`, concatenated) into a grid of
/// `grid_cols` columns with `gap` pixels of mid-grey between tiles.
pub fn grid_image(
    pixels: &[f32],
    rows: usize,
    cols: usize,
    grid_cols: usize,
    gap: usize,
) -> GrayImage {
    let per = rows * cols;
    let n = pixels.len().checked_div(per).unwrap_or(0);
    let grid_cols = grid_cols.max(1).min(n.max(1));
    let grid_rows = n.div_ceil(grid_cols).max(1);
    let width = grid_cols * cols + (grid_cols + 1) * gap;
    let height = grid_rows * rows + (grid_rows + 1) * gap;
    let mut img = GrayImage::from_pixel(width as u32, height as u32, Luma([128]));
    for i in 0..n {
        let (gr, gc) = (i / grid_cols, i % grid_cols);
        let x0 = gap + gc * (cols + gap);
        let y0 = gap + gr * (rows + gap);
        for r in 0..rows {
            for c in 0..cols {
                let v = pixels[i * per + r * cols + c];
                let v = if v.is_finite() {
                    v.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                img.put_pixel(
                    (x0 + c) as u32,
                    (y0 + r) as u32,
                    Luma([(v * 255.0).round() as u8]),
                );
            }
        }
    }
    img
}

/// Encode `img` as PNG and write it to `path` atomically.
pub fn save_png(img: &GrayImage, path: &Path) -> std::io::Result<()> {
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, ImageFormat::Png)
        .map_err(std::io::Error::other)?;
    atomic_write_bytes(path, buf.get_ref())
}
