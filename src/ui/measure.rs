//! Frame timing and slider latency, and the measurement mode (`app --measure SECS`): after a
//! warm-up it moves a latent slider every few frames, records frame times, UI build times,
//! slider-to-image latency and every run's training speed, prints them as JSON, and closes.

use std::time::Instant;

use eframe::egui;
use eframe::egui::util::History;

use super::ExplorerApp;
use super::command::UiCommand;
use super::run::RunId;

/// Frame-time samples kept for the diagnostics panel: at most this many…
const KEPT_FRAMES: usize = 600;
/// …of at most this age (seconds).
const KEPT_SECONDS: f32 = 60.0;
/// Slider latencies kept.
const KEPT_LATENCIES: usize = 100;

/// Frame timing and slider latency, as egui's time-stamped histories.
#[derive(Debug, Clone)]
pub struct FrameStats {
    /// Recent frame-to-frame times (ms).
    pub frame_ms: History<f32>,
    /// Frame counter.
    pub frame: u64,
    /// Recent slider → image latencies, in frames (0: the same frame).
    pub slider_frames: History<u64>,
    /// Recent time spent building the UI per frame (ms).
    pub ui_ms: History<f32>,
    /// When the statistics started (the histories' time origin).
    start: Instant,
    last: Option<Instant>,
    /// The slider request awaited (request id, frame it was made in).
    pub slider_pending: Option<(u64, u64)>,
}

impl Default for FrameStats {
    fn default() -> Self {
        Self {
            frame_ms: History::new(0..KEPT_FRAMES, KEPT_SECONDS),
            frame: 0,
            slider_frames: History::new(0..KEPT_LATENCIES, f32::INFINITY),
            ui_ms: History::new(0..KEPT_FRAMES, KEPT_SECONDS),
            start: Instant::now(),
            last: None,
            slider_pending: None,
        }
    }
}

impl FrameStats {
    /// Seconds since the statistics started.
    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Count a frame starting now.
    pub fn tick(&mut self) {
        let now = Instant::now();
        if let Some(last) = self.last {
            let ms = now.duration_since(last).as_secs_f32() * 1000.0;
            let t = self.now();
            self.frame_ms.add(t, ms);
        }
        self.last = Some(now);
        self.frame += 1;
    }

    /// Record the time the UI took to build this frame.
    pub fn ui_built(&mut self, started: Instant) {
        let ms = started.elapsed().as_secs_f32() * 1000.0;
        let t = self.now();
        self.ui_ms.add(t, ms);
    }

    /// Record that the slider image for request `id` arrived.
    pub fn slider_image(&mut self, id: u64) {
        if let Some((req, frame)) = self.slider_pending
            && id >= req
        {
            let t = self.now();
            self.slider_frames.add(t, self.frame - frame);
            self.slider_pending = None;
        }
    }

    /// Record that slider request `id` was made in this frame (a newer request keeps the
    /// frame of the first one still unanswered).
    pub fn slider_requested(&mut self, id: u64) {
        match self.slider_pending.as_mut() {
            Some(p) => p.0 = id,
            None => self.slider_pending = Some((id, self.frame)),
        }
    }

    /// A percentile of the recent frame times.
    pub fn percentile(&self, p: f32) -> f32 {
        let mut v: Vec<f32> = self.frame_ms.values().collect();
        if v.is_empty() {
            return 0.0;
        }
        percentile(&mut v, p)
    }
}

/// The `p` quantile (nearest rank) of `v`; NaN when empty.
pub fn percentile(v: &mut [f32], p: f32) -> f32 {
    if v.is_empty() {
        return f32::NAN;
    }
    v.sort_by(f32::total_cmp);
    v[(((v.len() - 1) as f32) * p).round() as usize]
}

/// Seconds of warm-up before the measurement mode starts recording.
pub const MEASURE_WARMUP: f64 = 10.0;

/// What the measurement mode does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Nothing recorded yet (models load, training gets going).
    Warmup,
    /// A user watching: no input; frames come when training events and refreshed views
    /// ask for them.
    Watch,
    /// A user dragging a slider without pause: a frame is requested continuously and a
    /// latent slider moves every 10 frames.
    Drag,
}

/// A run's step count when a phase started.
#[derive(Debug, Clone, Copy)]
pub struct RunMark {
    /// The run.
    pub run: RunId,
    /// Its steps taken then.
    pub step: u64,
}

/// What one phase recorded.
struct PhaseRecord {
    start: Instant,
    marks: Vec<RunMark>,
    frames: Vec<f32>,
    ui: Vec<f32>,
    latencies: Vec<u64>,
}

/// State of the measurement mode.
pub struct Measure {
    start: Instant,
    secs: f64,
    phase: Phase,
    record: Option<PhaseRecord>,
    watch: Option<serde_json::Value>,
    flip: bool,
}

impl Measure {
    /// Record each phase for `secs` seconds after the warm-up.
    pub fn new(secs: f64) -> Self {
        Self {
            start: Instant::now(),
            secs,
            phase: Phase::Warmup,
            record: None,
            watch: None,
            flip: false,
        }
    }
}

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
                    let report = serde_json::json!({
                        "device": self.device_label,
                        "adapter": self.adapter_label,
                        "sharing": self.sharing,
                        "runs": self.runs.len(),
                        "watch": m.watch.take(),
                        "drag": figures,
                    });
                    println!("{report}");
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
