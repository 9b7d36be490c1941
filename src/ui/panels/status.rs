//! Status: device and data, workspace errors and notes, the focused run's notes, and
//! diagnostics (frame time, slider latency, decode times).

use eframe::egui;

use super::ViewCtx;
use crate::ui::command::UiCommand;
use crate::ui::decoder::ViewKey;
use crate::ui::help;

/// Draw status, errors and diagnostics.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    ui.heading("Status");
    ui.label(format!("Training device: {}", ctx.device_label));
    ui.label(format!("Adapter: {}", ctx.adapter_label));
    ui.label(format!(
        "Data: {} ({} train / {} test)",
        ctx.data.name,
        ctx.data.train.len(),
        ctx.data.test.len()
    ));
    for n in ctx.notes {
        ui.small(n);
    }
    let runs = ctx.runs;
    if let Some(run) = runs.focused_run() {
        for n in &run.status.notes {
            ui.small(format!("{}: {n}", run.name));
        }
    }
    if !ctx.errors.is_empty() {
        ui.separator();
        for e in ctx.errors.iter().rev().take(6) {
            ui.colored_label(
                egui::Color32::from_rgb(255, 110, 100),
                format!("Error: {e}"),
            );
        }
    }
    ui.separator();
    egui::CollapsingHeader::new("Diagnostics")
        .show(ui, |ui| {
            let f = ctx.frames;
            ui.label(format!(
                "Frame time p50 {:.1} ms · p95 {:.1} ms ({} frames)",
                f.percentile(0.5),
                f.percentile(0.95),
                f.frame_ms.len()
            ));
            ui.label(format!("CPU sharing: {:?}", ctx.sharing));
            let lat: Vec<u64> = f.slider_frames.values().collect();
            if !lat.is_empty() {
                let mean = lat.iter().sum::<u64>() as f64 / lat.len() as f64;
                ui.label(format!(
                    "Slider to image: {:.1} frames on average (last {})",
                    mean,
                    lat.last().copied().unwrap_or(0)
                ));
            }
            for run in runs.iter() {
                for (key, name) in [
                    (ViewKey::Slider, "slider"),
                    (ViewKey::Grid, "grid"),
                    (ViewKey::Prior, "prior"),
                ] {
                    if let Some(img) = run.image(key) {
                        ui.label(format!(
                            "{}: {name}: {} images decoded in {:.2} ms (step {})",
                            run.name,
                            img.n,
                            img.micros as f64 / 1000.0,
                            img.step
                        ));
                    }
                }
            }
            if ui
                .button("Clear errors")
                .on_hover_text(help::CLEAR_ERRORS)
                .clicked()
            {
                ctx.push(UiCommand::ClearErrors);
            }
        })
        .header_response
        .on_hover_text(
            "Frame times, slider-to-image latency and decode times: how fluid the window is",
        );
}
