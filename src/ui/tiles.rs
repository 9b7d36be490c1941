//! Drawing decoded images: a grid of tiles painted by the WGSL tile shader from the image's
//! buffer (a GPU tensor's own buffer, or host floats uploaded once per new image).

use eframe::egui;
use eframe::egui_wgpu;

use super::decoder::{Images, ViewKey};
use crate::gpu::{Colormap, TileCallback, TileParams};

/// Draw `img` as `cols × rows` tiles fitting `max_size` (points), keeping square pixels.
#[allow(clippy::too_many_arguments)]
pub fn show(
    ui: &mut egui::Ui,
    key: ViewKey,
    img: Option<&Images>,
    version: u64,
    cols: usize,
    rows: usize,
    max_size: egui::Vec2,
    colormap: Colormap,
    highlight: Option<u32>,
) -> egui::Response {
    let (tw, th) = img.map_or((28, 28), |i| (i.cols, i.rows));
    let params = TileParams::new(cols as u32, rows as u32, tw as u32, th as u32, 0)
        .with_colormap(colormap)
        .with_gap(if cols * rows > 1 { 1.0 } else { 0.0 })
        .with_highlight(highlight);
    let (ew, eh) = params.extent();
    let scale = (max_size.x / ew).min(max_size.y / eh).max(0.1);
    let size = egui::vec2(ew * scale, eh * scale);
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::hover());
    match img {
        Some(img) => {
            let params = TileParams {
                count: img.n as u32,
                ..params
            };
            ui.painter().add(egui_wgpu::Callback::new_paint_callback(
                rect,
                TileCallback {
                    key: key as u64,
                    version,
                    params,
                    source: img.source.clone(),
                },
            ));
        }
        None => {
            ui.painter()
                .rect_filled(rect, 2.0, egui::Color32::from_gray(30));
            ui.painter().text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "waiting for the model…",
                egui::FontId::proportional(12.0),
                egui::Color32::GRAY,
            );
        }
    }
    response
}
