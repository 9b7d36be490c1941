//! The measurement mode (`app --measure SECS`) as the app runs it: warm up, watch, drag a
//! slider, report the figures as one JSON envelope ([`crate::envelope`]; with the followed
//! sweeps' time to open and the process's resident memory), close. Its state and figures
//! are in `measure`.

use std::time::Instant;

use eframe::egui;

use super::app::ExplorerApp;
use super::command::UiCommand;
use super::measure::{MEASURE_WARMUP, Phase, PhaseRecord, RunMark, percentile};

impl ExplorerApp {
    fn run_marks(&self) -> Vec<RunMark> {
        self.runs
            .iter()
            .map(|r| RunMark {
                run: r.id,
                step: r.status.step,
            })
            .collect()
    }

    /// The figures of a finished phase.
    fn phase_report(&self, rec: PhaseRecord) -> serde_json::Value {
        let PhaseRecord {
            start,
            marks,
            mut frames,
            mut ui,
            latencies,
        } = rec;
        let secs = start.elapsed().as_secs_f64();
        let runs: Vec<serde_json::Value> = self
            .runs
            .iter()
            .map(|r| {
                let s0 = marks
                    .iter()
                    .find(|m| m.run == r.id)
                    .map_or(r.status.step, |m| m.step);
                let steps = r.status.step.saturating_sub(s0);
                serde_json::json!({
                    "name": r.name,
                    "variant": r.config.variant.to_string(),
                    "source": r.source.kind(),
                    "steps": steps,
                    "samples_per_sec": steps as f64 * r.config.batch_size as f64 / secs,
                    "epoch": r.status.epoch,
                })
            })
            .collect();
        let total: f64 = runs
            .iter()
            .filter_map(|r| r["samples_per_sec"].as_f64())
            .sum();
        let mut lat: Vec<f32> = latencies.iter().map(|&v| v as f32).collect();
        let mean_lat = lat.iter().sum::<f32>() / lat.len().max(1) as f32;
        serde_json::json!({
            "seconds": secs,
            "frames": frames.len(),
            "frames_per_sec": frames.len() as f64 / secs,
            "frame_interval_ms_p50": percentile(&mut frames, 0.5),
            "frame_interval_ms_p95": percentile(&mut frames, 0.95),
            "ui_build_ms_p50": percentile(&mut ui, 0.5),
            "ui_build_ms_p95": percentile(&mut ui, 0.95),
            "slider_changes": lat.len(),
            "slider_latency_frames_mean": mean_lat,
            "slider_latency_frames_p95": percentile(&mut lat, 0.95),
            "training_samples_per_sec_total": total,
            "runs": runs,
        })
    }

    /// Measurement mode: warm up, watch, drag, report, close.
    pub(super) fn measure_step(&mut self, ctx: &egui::Context) {
        let Some(phase) = self.measure.as_ref().map(|m| m.phase) else {
            return;
        };
        let Some((elapsed, secs)) = self
            .measure
            .as_ref()
            .map(|m| (m.start.elapsed().as_secs_f64(), m.secs))
        else {
            return;
        };
        let next = match phase {
            Phase::Warmup if elapsed >= MEASURE_WARMUP => Some(Phase::Watch),
            Phase::Watch if elapsed >= MEASURE_WARMUP + secs => Some(Phase::Drag),
            Phase::Drag if elapsed >= MEASURE_WARMUP + 2.0 * secs => None,
            _ => Some(phase),
        };
        if next != Some(phase) {
            let finished = self.measure.as_mut().and_then(|m| m.record.take());
            let figures = finished.map(|rec| self.phase_report(rec));
            let marks = self.run_marks();
            self.frames.slider_frames.clear();
            let Some(m) = self.measure.as_mut() else {
                return;
            };
            match next {
                Some(p) => {
                    if phase == Phase::Watch {
                        m.watch = figures;
                    }
                    m.phase = p;
                    m.record = Some(PhaseRecord {
                        start: Instant::now(),
                        marks,
                        frames: Vec::new(),
                        ui: Vec::new(),
                        latencies: Vec::new(),
                    });
                }
                None => {
                    let (rss, peak) = (memory_mib("VmRSS:"), memory_mib("VmHWM:"));
                    let sweeps: Vec<serde_json::Value> = self
                        .runs
                        .sweeps
                        .iter()
                        .map(|s| {
                            serde_json::json!({
                                "dir": s.dir.display().to_string(),
                                "runs_planned": s.runs.len(),
                                "runs_in_workspace": s.in_workspace(),
                                "configurations": s.groups.len(),
                                "open_secs": s.opened_in.map(|d| d.as_secs_f64()),
                                "runs_still_polled": s.follower.polled(),
                            })
                        })
                        .collect();
                    let decoding = self.runs.iter().filter(|r| r.decoder.started()).count();
                    let report = serde_json::json!({
                        "device": self.device_label,
                        "adapter": self.adapter_label,
                        "sharing": self.sharing,
                        "runs": self.runs.len(),
                        "runs_with_a_decode_thread": decoding,
                        "sweeps": sweeps,
                        "rss_mib": rss,
                        "peak_rss_mib": peak,
                        "watch": m.watch.take(),
                        "drag": figures,
                    });
                    // One envelope, as every JSON output ([`crate::envelope`]); the runs
                    // differ in data and seed, so the protocol names only the device.
                    let protocol = crate::envelope::Protocol {
                        backend: Some(self.device_label.clone()),
                        ..crate::envelope::Protocol::default()
                    };
                    match crate::envelope::Envelope::new(crate::envelope::APP, protocol, report)
                        .line()
                    {
                        Ok(line) => println!("{line}"),
                        Err(e) => eprintln!("error: the measurement report: {e}"),
                    }
                    self.measure = None;
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                    return;
                }
            }
        }
        let frame_ms = self.frames.frame_ms.latest();
        let ui_ms = self.frames.ui_ms.latest();
        let latencies: Vec<u64> = self.frames.slider_frames.values().collect();
        self.frames.slider_frames.clear();
        let slider_idle = self.frames.slider_pending.is_none();
        let frame = self.frames.frame;
        let Some(m) = self.measure.as_mut() else {
            return;
        };
        match m.phase {
            Phase::Warmup => ctx.request_repaint_after(std::time::Duration::from_millis(100)),
            Phase::Watch => {
                // Wake up for the end of the phase even if nothing else asks for a frame.
                let left = MEASURE_WARMUP + m.secs - m.start.elapsed().as_secs_f64();
                ctx.request_repaint_after(std::time::Duration::from_secs_f64(left.max(0.01)));
            }
            Phase::Drag => {
                ctx.request_repaint();
                if slider_idle && frame.is_multiple_of(10) {
                    m.flip = !m.flip;
                    let v = if m.flip { 2.0 } else { -2.0 };
                    self.commands.push(UiCommand::SetLatent(0, v));
                }
            }
        }
        if let Some(rec) = m.record.as_mut() {
            if let (Some(f), Some(u)) = (frame_ms, ui_ms) {
                rec.frames.push(f);
                rec.ui.push(u);
            }
            if m.phase == Phase::Drag {
                rec.latencies.extend(latencies);
            }
        }
    }
}

/// A memory figure of this process in MiB from `/proc/self/status` (`VmRSS:` resident now,
/// `VmHWM:` its peak); None where there is no such file.
fn memory_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
