//! The same-input matrix: chosen test digits (rows) and their reconstructions by every run
//! (columns, one colour each); or, with the heat-map toggle, each run's absolute error
//! |x − x̂| per pixel. No experiment tracker compares images of different runs on the same
//! input like this.

use std::sync::Arc;

use eframe::egui;

use super::{ViewCtx, run_label};
use crate::gpu::Colormap;
use crate::ui::decoder::ViewKey;
use crate::ui::help;
use crate::ui::run::RunId;
use crate::ui::settings;
use crate::ui::tiles::{self, TileView};

/// Draw the matrix.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    // Any test digit of the workspace data.
    let max_first = ctx
        .data
        .test
        .len()
        .saturating_sub(1)
        .min(settings::MAX_INDEX);
    let (noun, nouns) = (ctx.data.noun(), ctx.data.nouns());
    let v = &mut *ctx.view;
    ui.horizontal_wrapped(|ui| {
        ui.heading("Same input, every run");
        let l = ui.label(format!("first test {noun}"));
        ui.add(
            egui::DragValue::new(&mut v.matrix_first)
                .range(0..=max_first)
                .prefix("#"),
        )
        .labelled_by(l.id)
        .on_hover_text(help::MATRIX_FIRST);
        let l = ui.label(nouns);
        ui.add(egui::DragValue::new(&mut v.matrix_rows).range(settings::MATRIX_ROWS))
            .labelled_by(l.id)
            .on_hover_text(help::MATRIX_ROWS);
        ui.checkbox(&mut v.heatmap, "error heat map |input − reconstruction|")
            .on_hover_text(help::HEATMAP);
    });
    let data = ctx.data;
    let first = ctx.view.matrix_first.min(data.test.len().saturating_sub(1));
    let rows = settings::clamp_to(ctx.view.matrix_rows, &settings::MATRIX_ROWS)
        .min(data.test.len() - first);
    if rows == 0 {
        ui.label(format!("The workspace data has no test {nouns}."));
        return;
    }
    let colormap = if ctx.view.heatmap {
        Colormap::Viridis
    } else {
        ctx.view.colormap
    };
    let runs = ctx.runs;
    let columns = runs.len() as f32 + 1.0;
    let avail_h = ui.available_height() - 40.0;
    let tile = ((ui.available_width() / columns) - 12.0)
        .min(avail_h / rows as f32)
        .clamp(16.0, 96.0);
    let size = egui::vec2(tile, tile * rows as f32 + rows as f32);
    egui::ScrollArea::horizontal()
        .id_salt("matrix")
        .show(ui, |ui| {
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| {
                    ui.label("input");
                    let version = (ctx.data_generation << 32) | (first * 64 + rows) as u64;
                    // The input digits are gathered once per version, not every frame.
                    let cache = ui.scope_id().with("matrix-inputs");
                    let cached: Option<(u64, Arc<Vec<f32>>)> = ui.data(|d| d.get_temp(cache));
                    let pixels = match cached {
                        Some((v, p)) if v == version => p,
                        _ => {
                            let p: Arc<Vec<f32>> = Arc::new(
                                (first..first + rows)
                                    .flat_map(|i| data.test.image(i).into_owned())
                                    .collect(),
                            );
                            ui.data_mut(|d| d.insert_temp(cache, (version, p.clone())));
                            p
                        }
                    };
                    tiles::show_host(
                        ui,
                        TileView {
                            key: RunId(0).painter_key(ViewKey::Matrix),
                            version,
                            cols: 1,
                            rows,
                            max_size: size,
                            colormap: ctx.view.colormap,
                            highlight: None,
                            frame: None,
                            first: 0,
                        },
                        pixels,
                        rows,
                        data.shape(),
                    )
                    .on_hover_text(help::figure::MATRIX_INPUT);
                });
                for run in runs.iter().filter(|r| runs.shows_views(r)) {
                    ui.vertical(|ui| {
                        run_label(ui, run);
                        if run.data.name != data.name {
                            ui.small(format!("its own data: {}", run.data.name));
                        }
                        let r = tiles::show(
                            ui,
                            TileView {
                                key: run.id.painter_key(ViewKey::Matrix),
                                version: run.image_version(ViewKey::Matrix),
                                cols: 1,
                                rows,
                                max_size: size,
                                colormap,
                                highlight: None,
                                frame: Some(run.colour),
                                first: 0,
                            },
                            run.image(ViewKey::Matrix),
                        )
                        .on_hover_text(help::figure::MATRIX_RUN);
                        super::export_menu(&r, ctx.cmds, run.id, ViewKey::Matrix, 1, false);
                    });
                }
            });
        });
}
