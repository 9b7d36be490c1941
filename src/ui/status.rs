//! Status line, worker errors and diagnostics (frame time, decode latency).

use eframe::egui;

use super::decoder::ViewKey;
use super::{ExplorerApp, UiCommand};

/// Draw status, errors and diagnostics.
pub fn show(ui: &mut egui::Ui, app: &ExplorerApp, cmds: &mut Vec<UiCommand>) {
    let s = &app.status;
    ui.heading("Status");
    ui.label(format!(
        "{:?} · epoch {} · step {} · {:.0} samples/s",
        s.state, s.epoch, s.step, s.samples_per_sec
    ));
    ui.label(format!("Training device: {}", app.device_label));
    ui.label(format!("Adapter: {}", app.adapter_label));
    ui.label(format!(
        "Data: {} ({} train / {} test)",
        app.data.name,
        app.data.train.len(),
        app.data.test.len()
    ));
    if let Some((e, _, m)) = app.history.epochs.last() {
        let v = app.running_variant;
        let extra: String = m
            .extra
            .iter()
            .map(|(n, x)| format!(", {n} {x:.2}"))
            .collect();
        ui.label(if v.has_likelihood_bound() {
            format!(
                "Test after epoch {e}: -ELBO {:.2} nats (rec {:.2}, KL {:.2}{extra}), active units {}/{}",
                m.neg_elbo,
                m.rec,
                m.kl,
                m.active_units,
                m.kl_per_dim.len()
            )
        } else {
            format!(
                "Test after epoch {e}: rec {:.2} nats, MSE {:.4}{extra}, active units {}/{} ({v} has no likelihood bound)",
                m.rec,
                m.mse,
                m.active_units,
                m.kl_per_dim.len()
            )
        });
    }
    for n in &s.notes {
        ui.small(n);
    }
    if !s.errors.is_empty() {
        ui.separator();
        for e in s.errors.iter().rev().take(6) {
            ui.colored_label(
                egui::Color32::from_rgb(255, 110, 100),
                format!("Error: {e}"),
            );
        }
    }
    ui.separator();
    ui.collapsing("Diagnostics", |ui| {
        let f = &app.frames;
        ui.label(format!(
            "Frame time p50 {:.1} ms · p95 {:.1} ms ({} frames)",
            f.percentile(0.5),
            f.percentile(0.95),
            f.frame_ms.len()
        ));
        let lat: Vec<u64> = f.slider_frames.iter().copied().collect();
        if !lat.is_empty() {
            let mean = lat.iter().sum::<u64>() as f64 / lat.len() as f64;
            ui.label(format!(
                "Slider to image: {:.1} frames on average (last {})",
                mean,
                lat.last().copied().unwrap_or(0)
            ));
        }
        for (key, name) in [
            (ViewKey::Slider, "slider"),
            (ViewKey::Grid, "grid"),
            (ViewKey::Prior, "prior"),
        ] {
            if let Some(img) = app.image(key) {
                ui.label(format!(
                    "{name}: {} images decoded in {:.2} ms (step {})",
                    img.n,
                    img.micros as f64 / 1000.0,
                    img.step
                ));
            }
        }
        if ui.button("Clear errors").clicked() {
            cmds.push(UiCommand::ClearErrors);
        }
    });
}
