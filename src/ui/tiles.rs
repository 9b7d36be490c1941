//! Drawing decoded images: a grid of tiles painted by the WGSL tile shader from the image's
//! buffer (a GPU tensor's own buffer, or host floats uploaded once per new image).

use eframe::egui;
use eframe::egui_wgpu;

use super::decoder::Images;
use super::fit;
use crate::gpu::{Colormap, TileCallback, TileParams, TileSource};

/// How to draw one grid of tiles.
#[derive(Debug, Clone, Copy)]
pub struct TileView {
    /// The painter slot (see [`super::run::RunId::painter_key`]); its GPU state is kept
    /// between frames and re-uploaded only when `version` changes.
    pub key: u64,
    /// Changes whenever the data changes.
    pub version: u64,
    /// Tiles per row.
    pub cols: usize,
    /// Rows of tiles.
    pub rows: usize,
    /// Largest size in points (pixels stay square).
    pub max_size: egui::Vec2,
    /// Colour map.
    pub colormap: Colormap,
    /// Tile to ring.
    pub highlight: Option<u32>,
    /// A frame in the run's colour.
    pub frame: Option<egui::Color32>,
    /// The first tile drawn (0: from the start; an animation draws one tile of a strip).
    pub first: u32,
}

/// Draw host pixels (e.g. test digits) as tiles of `rows × cols` pixels each.
pub fn show_host(
    ui: &mut egui::Ui,
    view: TileView,
    pixels: std::sync::Arc<Vec<f32>>,
    n: usize,
    tile: crate::data::ImageShape,
) -> egui::Response {
    let img = Images {
        source: TileSource::Host(pixels),
        n,
        rows: tile.rows,
        cols: tile.cols,
        channels: tile.channels,
        request: 0,
        step: 0,
        micros: 0,
    };
    show(ui, view, Some(&img))
}

/// Draw `img` as `view.cols × view.rows` tiles fitting `view.max_size` at the largest
/// integer multiple of its pixels that fits ([`fit::fit`]), or a placeholder.
pub fn show(ui: &mut egui::Ui, view: TileView, img: Option<&Images>) -> egui::Response {
    let TileView {
        key,
        version,
        cols,
        rows,
        max_size,
        colormap,
        highlight,
        frame,
        first,
    } = view;
    let (tw, th) = img.map_or((28, 28), |i| (i.cols, i.rows));
    let params = TileParams::new(cols as u32, rows as u32, tw as u32, th as u32, 0)
        .with_channels(img.map_or(1, |i| i.channels))
        .with_colormap(colormap)
        .with_gap(if cols * rows > 1 { 1.0 } else { 0.0 })
        .with_highlight(highlight)
        .with_first_tile(first);
    // The largest integer multiple of the image's pixels that fits (see `fit`).
    let fitted = fit::fit(
        max_size,
        fit::Tiles {
            image: [tw, th],
            cols,
            rows,
            gap: params.gap,
        },
        ui.ctx().pixels_per_point(),
    );
    let (rect, response) = ui.allocate_exact_size(fitted.size, egui::Sense::hover());
    // An image node in the accessibility tree, named by the view's hover text: where each
    // view is drawn, and how big, can be read from outside.
    response.widget_info(|| {
        egui::WidgetInfo::labeled(egui::accesskit::Role::Image, ui.is_enabled(), "")
    });
    match img {
        Some(img) => {
            let params = TileParams {
                count: (img.n as u32).saturating_sub(first),
                ..params
            };
            ui.painter().add(egui_wgpu::Callback::new_paint_callback(
                rect,
                TileCallback {
                    key,
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
    draw_frame(ui, rect, frame);
    response
}

/// Paint `img` as `view.cols × view.rows` tiles filling `rect` exactly (no layout space is
/// taken: e.g. under a plot), clipped to `clip`.
pub fn paint_in(ui: &egui::Ui, rect: egui::Rect, clip: egui::Rect, view: TileView, img: &Images) {
    let params = TileParams::new(
        view.cols as u32,
        view.rows as u32,
        img.cols as u32,
        img.rows as u32,
        img.n as u32,
    )
    .with_channels(img.channels)
    .with_colormap(view.colormap)
    .with_gap(0.0);
    ui.painter()
        .with_clip_rect(clip)
        .add(egui_wgpu::Callback::new_paint_callback(
            rect,
            TileCallback {
                key: view.key,
                version: view.version,
                params,
                source: img.source.clone(),
            },
        ));
}

/// Ring `rect` in the run's colour.
fn draw_frame(ui: &egui::Ui, rect: egui::Rect, frame: Option<egui::Color32>) {
    if let Some(c) = frame {
        ui.painter().rect_stroke(
            rect.expand(1.5),
            1.0,
            egui::Stroke::new(2.0, c),
            egui::StrokeKind::Outside,
        );
    }
}

/// A placeholder of `size` with a message (e.g. why a run shows nothing).
pub fn placeholder(ui: &mut egui::Ui, size: egui::Vec2, text: &str, frame: Option<egui::Color32>) {
    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
    ui.painter()
        .rect_filled(rect, 2.0, egui::Color32::from_gray(30));
    // A label (not painted text), so the message is also read out by accessibility tools.
    ui.put(
        rect.shrink(6.0),
        egui::Label::new(egui::RichText::new(text).small().color(egui::Color32::GRAY)).wrap(),
    );
    draw_frame(ui, rect, frame);
}
