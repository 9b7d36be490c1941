//! Prior samples: decodes of z ~ N(0, I) from the same noise in every run of the same
//! latent size, resampled on demand.

use eframe::egui;

use super::{ViewCtx, column_width, run_label};
use crate::ui::command::UiCommand;
use crate::ui::decoder::ViewKey;
use crate::ui::help;
use crate::ui::tiles::{self, TileView};

/// Draw one 8×8 grid of samples per shown run.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    ui.horizontal(|ui| {
        ui.heading("Prior samples")
            .on_hover_text(help::figure::PRIOR);
        if ui
            .button("Resample")
            .on_hover_text(help::RESAMPLE)
            .clicked()
        {
            ctx.push(UiCommand::ResamplePrior);
        }
        ui.weak("the same noise in every run");
    });
    let shown = ctx.shown();
    if shown.is_empty() {
        return;
    }
    let several = shown.len() > 1;
    let side = column_width(ui, shown.len())
        .min(ui.available_height() - 30.0)
        .clamp(80.0, 420.0);
    ui.horizontal_top(|ui| {
        for run in shown {
            ui.vertical(|ui| {
                if several {
                    run_label(ui, run);
                }
                let r = tiles::show(
                    ui,
                    TileView {
                        key: run.id.painter_key(ViewKey::Prior),
                        version: run.image_version(ViewKey::Prior),
                        cols: 8,
                        rows: 8,
                        max_size: egui::vec2(side, side),
                        colormap: ctx.view.colormap,
                        highlight: None,
                        frame: several.then_some(run.colour),
                        first: 0,
                    },
                    run.image(ViewKey::Prior),
                )
                .on_hover_text(help::figure::PRIOR);
                super::export_menu(&r, ctx.cmds, run.id, ViewKey::Prior, 8, false);
            });
        }
    });
}
