//! The desktop app under egui_kittest, training on the CPU backend and drawing through the
//! wgpu renderer (lavapipe in CI): controls by label, slider drag → new image, pause/resume,
//! worker errors shown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui::accesskit::Role;
use eframe::egui_wgpu;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use latent_explorer::gpu::TileSource;
use latent_explorer::train::{Command, WorkerState};
use latent_explorer::ui::decoder::ViewKey;
use latent_explorer::ui::{AppOptions, DeviceChoice, ExplorerApp, Settings, UiCommand};

use crate::common::small;

fn harness() -> Harness<'static, ExplorerApp> {
    let mut setup = egui_wgpu::WgpuSetupCreateNew::without_display_handle();
    setup.device_descriptor = Arc::new(latent_explorer::gpu::device_descriptor);
    let settings = Settings {
        batch: 32,
        epochs: 1000,
        grid_size: 5,
        ..Settings::default()
    };
    Harness::builder()
        .with_size([1600.0, 1000.0])
        .wgpu_setup(egui_wgpu::WgpuSetup::CreateNew(setup))
        .build_eframe(move |cc| {
            ExplorerApp::new(
                cc,
                AppOptions {
                    data: Some(small(2000, 300)),
                    device: Some(DeviceChoice::Cpu),
                    autostart: true,
                    settings: Some(settings),
                    measure_secs: None,
                },
            )
        })
}

/// Step the harness in real time until `pred` holds.
fn run_until(
    h: &mut Harness<'_, ExplorerApp>,
    secs: u64,
    what: &str,
    pred: impl Fn(&ExplorerApp) -> bool,
) {
    let start = Instant::now();
    while !pred(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}; status {:?}",
            h.state().status
        );
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn host_pixels(app: &ExplorerApp, key: ViewKey) -> Vec<f32> {
    match app.image(key).map(|i| &i.source) {
        Some(TileSource::Host(v)) => v.as_ref().clone(),
        _ => panic!("expected host pixels on the CPU backend"),
    }
}

#[test]
fn app_trains_and_responds_to_its_controls() {
    let mut h = harness();
    run_until(&mut h, 120, "training steps", |a| a.status.step >= 150);
    assert!(
        h.state().device_label().contains("CPU"),
        "{}",
        h.state().device_label()
    );
    for label in ["Start", "Pause", "Resume", "Step", "Reset"] {
        h.get_by_label(label);
    }
    h.get_by_label("Latent sliders");
    h.get_by_label("Interpolation grid");
    h.get_by_label_contains("Training device: CPU");

    // Pause stops the step counter.
    h.get_by_label("Pause").click();
    run_until(&mut h, 30, "paused", |a| {
        a.status.state == WorkerState::Paused
    });
    let paused_at = h.state().status.step;
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(600) {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        h.state().status.step,
        paused_at,
        "steps advanced while paused"
    );

    // Dragging a latent slider changes the latent vector and the decoded image.
    run_until(&mut h, 60, "a slider image", |a| {
        a.image(ViewKey::Slider).is_some()
    });
    // Let refreshes from the last snapshot settle.
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(500) {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    // The sliders start on test digit 0's code and follow it while the encoder trains, so
    // the slider image is that digit's reconstruction (same paused snapshot); "Encode digit"
    // puts it back after a slider was moved.
    let same_as_recon = |h: &Harness<'_, ExplorerApp>| {
        let recon = host_pixels(h.state(), ViewKey::Recon);
        let n = h.state().image(ViewKey::Recon).unwrap().n / 2;
        let first_recon = &recon[n * 784..(n + 1) * 784];
        let slider = host_pixels(h.state(), ViewKey::Slider);
        slider
            .iter()
            .zip(first_recon)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max)
    };
    assert!(h.state().follows_digit());
    let d = same_as_recon(&h);
    assert!(
        d < 1e-2,
        "slider image differs from digit 0's reconstruction by {d}"
    );
    if let Ok(p) = std::env::var("LE_DEBUG_RENDER") {
        h.render().unwrap().save(p).unwrap();
    }
    let before = host_pixels(h.state(), ViewKey::Slider);
    let version = h.state().image_version(ViewKey::Slider);
    h.get_by_role_and_label(Role::Slider, "z0")
        .set_value_accesskit(2.5);
    run_until(&mut h, 10, "z0 = 2.5 from the slider", |a| {
        a.latent()[0] == 2.5
    });
    run_until(&mut h, 30, "a new slider image", |a| {
        a.image_version(ViewKey::Slider) > version
    });
    let after = host_pixels(h.state(), ViewKey::Slider);
    let diff: f32 = before.iter().zip(&after).map(|(a, b)| (a - b).abs()).sum();
    assert!(diff > 1.0, "the decoded image did not change (L1 {diff})");
    assert!(
        !h.state().frames.slider_frames.is_empty(),
        "no slider latency recorded"
    );

    // Resume restarts it.
    h.get_by_label("Resume").click();
    run_until(&mut h, 60, "steps after resume", |a| {
        a.status.step >= paused_at + 3
    });

    // A worker error appears in the UI.
    h.state_mut()
        .push_command(UiCommand::Worker(Command::DebugPanic(
            "injected failure".into(),
        )));
    run_until(&mut h, 30, "the failure", |a| {
        a.status.state == WorkerState::Failed
    });
    h.step();
    h.get_by_label_contains("injected failure");

    // The frame renders through wgpu with the tile painter.
    let img = h.render().expect("render");
    assert!(img.width() > 0);
}
