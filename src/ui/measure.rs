//! Frame timing and slider latency, and the state of the measurement mode (`app --measure
//! SECS`, run by `measuring`): after a warm-up it moves a latent slider every few frames,
//! records frame times, UI build times, slider-to-image latency and every run's training
//! speed, prints them as JSON, and closes.

use std::time::Instant;

use eframe::egui::util::History;

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
pub(super) struct PhaseRecord {
    /// When the phase started.
    pub(super) start: Instant,
    /// Every run's steps then.
    pub(super) marks: Vec<RunMark>,
    /// Frame intervals (ms).
    pub(super) frames: Vec<f32>,
    /// UI build times (ms).
    pub(super) ui: Vec<f32>,
    /// Slider latencies (frames).
    pub(super) latencies: Vec<u64>,
}

/// State of the measurement mode.
pub struct Measure {
    /// When it started.
    pub(super) start: Instant,
    /// Seconds each phase records for.
    pub(super) secs: f64,
    /// The phase now.
    pub(super) phase: Phase,
    /// What the current phase has recorded.
    pub(super) record: Option<PhaseRecord>,
    /// The watch phase's figures, once it has ended.
    pub(super) watch: Option<serde_json::Value>,
    /// Which way the slider moves next.
    pub(super) flip: bool,
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
