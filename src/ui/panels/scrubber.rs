//! The toolbar: compare/focus layout, and the epoch scrubber — one slider that shows every
//! run's images, sliders and metrics as they were at the end of epoch e.

use eframe::egui;

use super::ViewCtx;
use crate::ui::command::UiCommand;
use crate::ui::help;
use crate::ui::run::MAX_KEPT_EPOCHS;
use crate::ui::settings::Layout;

/// Draw the toolbar.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let runs = ctx.runs;
    ui.horizontal(|ui| {
        let mut layout = ctx.view.layout;
        ui.selectable_value(&mut layout, Layout::Compare, "Compare runs")
            .on_hover_text("Every run side by side");
        ui.selectable_value(&mut layout, Layout::Focus, "Focus")
            .on_hover_text("The focused run with all its panels");
        if layout != ctx.view.layout {
            ctx.push(UiCommand::SetLayout(layout));
        }
        ui.separator();
        let max = runs.max_epoch();
        let mut live = runs.scrub.is_none();
        if ui
            .add_enabled(max > 0 || !live, egui::Checkbox::new(&mut live, "Live"))
            .on_hover_text(help::LIVE)
            .changed()
        {
            ctx.push(UiCommand::Scrub(if live { None } else { Some(max.max(1)) }));
        }
        if max == 0 {
            ui.weak("epoch scrubber: no epoch finished yet");
            return;
        }
        let mut e = runs.scrub.unwrap_or(max);
        let l = ui.label("Epoch").on_hover_text(help::SCRUB);
        let r = ui
            .add_enabled(!live, egui::Slider::new(&mut e, 1..=max))
            .labelled_by(l.id)
            .on_hover_text(help::SCRUB)
            .on_disabled_hover_text(help::SCRUB);
        if r.changed() {
            ctx.push(UiCommand::Scrub(Some(e)));
        }
        // Short in the toolbar (a long line ran under the theme box on a 1600-px window);
        // the whole story on hover.
        let thinned: usize = runs.iter().map(|r| r.epochs.thinned()).sum();
        if thinned > 0 {
            ui.weak(format!("{thinned} older epochs thinned"))
                .on_hover_text(format!(
                    "Memory bound: at most {MAX_KEPT_EPOCHS} epochs' weights are kept per run; \
                     {thinned} older epochs were thinned (a thinned epoch shows the nearest \
                     earlier one kept)."
                ));
        } else {
            ui.weak("every epoch kept").on_hover_text(format!(
                "Every epoch's weights are kept (up to {MAX_KEPT_EPOCHS} per run, then older \
                 ones are thinned)."
            ));
        }
    });
}
