//! The 2D interpolation grid: one specification (two latent dimensions or each run's top two
//! principal directions; up to 32×32; linear or inverse-normal-CDF spacing), decoded by
//! every shown run around its own point of the shared cursor.

use eframe::egui;

use super::{ViewCtx, run_label};
use crate::explore::Spacing;
use crate::gpu::Colormap;
use crate::ui::decoder::ViewKey;
use crate::ui::fit::Tiles;
use crate::ui::help;
use crate::ui::run::Run;
use crate::ui::settings::{self, GridAxes};
use crate::ui::tiles::{self, TileView};

fn controls(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>, latent: usize) {
    let s = &mut *ctx.view;
    ui.horizontal_wrapped(|ui| {
        ui.heading("Interpolation grid");
        ui.radio_value(
            &mut s.grid_axes,
            GridAxes::Principal,
            "principal directions",
        )
        .on_hover_text(help::GRID_PRINCIPAL);
        ui.radio_value(&mut s.grid_axes, GridAxes::Dims, "dimensions")
            .on_hover_text(help::GRID_DIMS);
        if s.grid_axes == GridAxes::Dims {
            let max = latent.saturating_sub(1);
            let l = ui.label("x");
            ui.add(
                egui::DragValue::new(&mut s.grid_dims[0])
                    .range(0..=max)
                    .prefix("z"),
            )
            .labelled_by(l.id)
            .on_hover_text(help::GRID_DIM);
            let l = ui.label("y");
            ui.add(
                egui::DragValue::new(&mut s.grid_dims[1])
                    .range(0..=max)
                    .prefix("z"),
            )
            .labelled_by(l.id)
            .on_hover_text(help::GRID_DIM);
        }
        ui.add(egui::Slider::new(&mut s.grid_size, settings::GRID_SIZE).text("size"))
            .on_hover_text(help::GRID_SIZE);
        let l = ui.label("spacing");
        egui::ComboBox::from_id_salt("spacing")
            .selected_text(match s.grid_spacing {
                Spacing::Linear => "linear",
                Spacing::InverseCdf => "inverse CDF",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut s.grid_spacing, Spacing::Linear, "linear");
                ui.selectable_value(&mut s.grid_spacing, Spacing::InverseCdf, "inverse CDF");
            })
            .response
            .labelled_by(l.id)
            .on_hover_text(help::INVERSE_CDF);
        if s.grid_spacing == Spacing::Linear {
            let l = ui.label("range");
            ui.add(
                egui::DragValue::new(&mut s.grid_range)
                    .range(settings::GRID_RANGE)
                    .speed(0.05)
                    .prefix("±"),
            )
            .labelled_by(l.id)
            .on_hover_text(help::GRID_RANGE);
        }
        let l = ui.label("colours");
        egui::ComboBox::from_id_salt("colormap")
            .selected_text(format!("{:?}", s.colormap))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut s.colormap, Colormap::Gray, "Gray");
                ui.selectable_value(&mut s.colormap, Colormap::Viridis, "Viridis");
            })
            .response
            .labelled_by(l.id)
            .on_hover_text(help::COLORMAP);
    });
}

/// Draw the controls and one grid per shown run.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    show_controls(ui, ctx);
    show_grids(ui, ctx);
}

/// Draw the grid's controls (for the focused run's latent size).
pub fn show_controls(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let latent = ctx.runs.focused_run().map(|r| r.latent_dim()).unwrap_or(1);
    controls(ui, ctx, latent);
}

/// Draw one grid per shown run, sharing the space left in `ui`: each at the largest integer
/// multiple of its images' pixels that fits its share ([`super::share_space`]).
pub fn show_grids(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let shown = ctx.shown();
    if shown.is_empty() {
        return;
    }
    let several = shown.len() > 1;
    let k = |run: &Run| {
        run.image(ViewKey::Grid)
            .map_or(ctx.view.grid_size, |i| (i.n as f64).sqrt().round() as usize)
    };
    let cells = shown
        .iter()
        .map(|r| k(r))
        .max()
        .unwrap_or(ctx.view.grid_size);
    let spec = Tiles::new(super::image_px(&shown, ctx.data), cells, cells);
    let layout = super::share_space(ui, shown.len(), several, 0.0, spec);
    let size = layout.fit.size;
    super::arranged(ui, &shown, layout.across, |ui, run| {
        if several {
            run_label(ui, run);
        }
        if let Some(why) = &run.views.issue {
            tiles::placeholder(ui, size, why, Some(run.colour));
            return;
        }
        let img = run.image(ViewKey::Grid);
        let k = k(run);
        let centre = (k % 2 == 1).then(|| (k * k / 2) as u32);
        let r = tiles::show(
            ui,
            TileView {
                key: run.id.painter_key(ViewKey::Grid),
                version: run.image_version(ViewKey::Grid),
                cols: k,
                rows: k,
                max_size: layout.share,
                colormap: ctx.view.colormap,
                highlight: centre,
                frame: Some(run.colour),
                first: 0,
            },
            img,
        )
        .on_hover_text(help::figure::GRID);
        super::export_menu(&r, ctx.cmds, run.id, ViewKey::Grid, k, false);
    });
}
