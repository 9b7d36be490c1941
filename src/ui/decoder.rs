//! The decode thread of one run: turns latent vectors into images against the run's newest
//! snapshot (or the one the epoch scrubber pinned), off the UI thread. Requests are
//! latest-value per view (a newer request replaces an older one that has not started);
//! results wake the UI. A new source re-runs every view's last job. On a GPU device the decoded tensor stays on
//! the GPU and is handed to the painter as a buffer; on the CPU the floats are handed over
//! and uploaded by the painter.
//!
//! The thread starts with the first request (a run whose views are never shown, such as
//! most runs of a followed sweep, costs no thread), and sleeps until asked while it keeps
//! no view to refresh.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::data::{Dataset, Shift, Split};
use crate::explore::{
    self, AnomalyQuery, AnomalyReport, CodeLabels, DimensionStats, ScoreKind, ScoredModel,
    host_vec, principal_directions,
};
use crate::gpu::{GpuTensor, TileSource};
use crate::model::gaussian::with_noise_stream;
use crate::train::{LatestSlot, Snapshot};

/// Which view a job or result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ViewKey {
    /// Test digits above their reconstructions.
    Recon,
    /// The large image under the latent sliders.
    Slider,
    /// The 2D interpolation grid.
    Grid,
    /// Samples from the prior.
    Prior,
    /// Encoder statistics on test digits.
    Stats,
    /// The run's column of the same-input matrix.
    Matrix,
    /// Decodes along the path between two test digits.
    Path,
    /// The traversal grid: one row per latent dimension.
    Traversal,
    /// Per-image anomaly scores of the test set and a shifted set.
    Anomaly,
    /// The user's own input: its code, reconstruction and score.
    Input,
    /// A 2-d latent's decoded manifold under the latent map.
    Manifold,
    /// A t-SNE embedding of the codes for the latent map.
    Embedding,
    /// The amortisation gap of each test image.
    Gap,
    /// The prior's holes and the ex-post sampler, with nearest training images.
    Holes,
    /// One decoded image's nearest training images (asked from its context menu).
    Nearest,
}

impl ViewKey {
    /// Every view.
    pub const ALL: [Self; 15] = [
        Self::Recon,
        Self::Slider,
        Self::Grid,
        Self::Prior,
        Self::Stats,
        Self::Matrix,
        Self::Path,
        Self::Traversal,
        Self::Anomaly,
        Self::Input,
        Self::Manifold,
        Self::Embedding,
        Self::Gap,
        Self::Holes,
        Self::Nearest,
    ];

    /// A small number naming the view in painter keys.
    pub fn code(self) -> u64 {
        match self {
            Self::Recon => 0,
            Self::Slider => 1,
            Self::Grid => 2,
            Self::Prior => 3,
            Self::Stats => 4,
            Self::Matrix => 5,
            Self::Path => 6,
            Self::Traversal => 7,
            Self::Anomaly => 8,
            Self::Input => 9,
            Self::Manifold => 10,
            Self::Embedding => 11,
            Self::Gap => 12,
            Self::Holes => 13,
            Self::Nearest => 14,
        }
    }
}

/// Work for the decode thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Encode these test digits and decode their means.
    Recon(Vec<usize>),
    /// Decode `n` latent vectors (row-major `n × latent`).
    Decode {
        /// The vectors.
        z: Vec<f32>,
        /// How many.
        n: usize,
        /// The label a conditional model decodes under (ignored by the others).
        label: Option<usize>,
    },
    /// Decode `n` draws from a VampPrior model's mixture prior, reproducible from `seed`
    /// ([`crate::model::vamp::prior_draws`]; N(0, I) noise for other models).
    PriorDraws {
        /// Seed of the draws.
        seed: u64,
        /// How many.
        n: usize,
    },
    /// Encode the first `n` test digits: their codes, the library's statistics of each
    /// dimension ([`explore::dimension_stats`]), the principal directions.
    Stats(usize),
    /// Reconstruct these test digits (their posterior means decoded), or with `heat` the
    /// absolute error |x − x̂| per pixel; one tile per digit.
    Matrix {
        /// Test digit indices.
        indices: Vec<usize>,
        /// Absolute error instead of the reconstruction.
        heat: bool,
    },
    /// Score every test image and a shifted set: the library's report
    /// ([`explore::anomaly_report`]), as the `anomaly` command makes it.
    Anomaly {
        /// How the shifted set is made.
        shift: Shift,
        /// Importance samples (0: −ELBO).
        iwae_k: usize,
        /// Seed of the noise the scores' samples of z are drawn from.
        seed: u64,
        /// The class the run was trained without, if any (for the report's caveats).
        held_out: Option<u8>,
    },
    /// Encode, reconstruct and score the user's input image (`rows × cols` in [0, 1]).
    Input {
        /// The pixels.
        pixels: Arc<Vec<f32>>,
        /// The label a conditional model encodes, reconstructs and scores it under (the
        /// cursor's; ignored by the others).
        label: usize,
        /// Seed of the noise its score's samples of z are drawn from.
        seed: u64,
    },
    /// The amortisation gap of the first `images` test images ([`explore::amortisation_gaps`]).
    Gap {
        /// Samples of z per image.
        k: usize,
        /// Seed of the noise the samples are drawn from.
        seed: u64,
        /// Test images scored (the first ones: the map's codes).
        images: usize,
    },
    /// Embed these codes in 2-D with t-SNE (no model needed).
    Embed {
        /// Row-major codes.
        codes: Arc<Vec<f32>>,
        /// Their dimension.
        dim: usize,
        /// The snapshot step the codes came from.
        step: u64,
    },
    /// The prior's holes: the training codes, the ex-post mixture, both samplers' draws
    /// decoded, scored and matched to their nearest training images.
    Holes(super::holes::HolesJob),
    /// Decode one latent vector and find its nearest training images.
    Nearest(super::nearest::NearestJob),
}

/// A t-SNE embedding of a run's codes.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// One `[x, y]` per code.
    pub points: Arc<Vec<[f64; 2]>>,
    /// The snapshot step of the codes.
    pub step: u64,
    /// Time taken.
    pub micros: u64,
}

/// Anomaly scores of one run: the library's report, and the weights it was made from.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyResult {
    /// The report, as `anomaly` prints it.
    pub report: AnomalyReport,
    /// Snapshot step.
    pub step: u64,
    /// Time taken.
    pub micros: u64,
}

/// The amortisation gap of one run's test images, and the weights it was computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct GapResult {
    /// Per image: the ELBO and the IWAE bound, from the same samples.
    pub report: explore::GapReport,
    /// Snapshot step.
    pub step: u64,
    /// Time taken.
    pub micros: u64,
}

/// The user's input as one run sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct InputResult {
    /// Posterior mean (the code the sliders take).
    pub code: Vec<f32>,
    /// The mean reconstruction, `rows × cols`.
    pub recon: Vec<f32>,
    /// Its anomaly score in nats (averaged over samples, as the anomaly scores).
    pub score: f64,
    /// Which score that is.
    pub kind: ScoreKind,
    /// Request id this answers.
    pub request: u64,
    /// Snapshot step.
    pub step: u64,
}

/// Decoded images for one view.
#[derive(Clone)]
pub struct Images {
    /// Tile values (host or device).
    pub source: TileSource,
    /// Tiles.
    pub n: usize,
    /// Tile height.
    pub rows: usize,
    /// Tile width.
    pub cols: usize,
    /// Colour channels of a tile (1 grey, 3 RGB planes).
    pub channels: usize,
    /// Request id this answers.
    pub request: u64,
    /// Snapshot step it was decoded from.
    pub step: u64,
    /// Time spent decoding.
    pub micros: u64,
}

/// Encoder statistics over test digits.
#[derive(Debug, Clone)]
pub struct LatentStats {
    /// Each dimension's statistics and their order, as `traverse` computes them.
    pub dims: DimensionStats,
    /// Top two principal directions of the codes.
    pub principal: Vec<Vec<f32>>,
    /// Codes (posterior means) of the encoded digits, row-major.
    pub codes: Vec<f32>,
    /// Latent dimensions.
    pub latent: usize,
    /// Snapshot step.
    pub step: u64,
}

/// A finished job.
#[derive(Clone)]
pub enum Output {
    /// Images for a view.
    Images(ViewKey, Images),
    /// Statistics.
    Stats(LatentStats),
    /// Anomaly scores.
    Anomaly(Box<AnomalyResult>),
    /// The input's code and reconstruction.
    Input(InputResult),
    /// A t-SNE embedding.
    Embedding(Embedding),
    /// The amortisation gap per test image.
    Gap(Box<GapResult>),
    /// The prior's holes.
    Holes(Box<super::holes::HolesResult>),
    /// One decoded image's nearest training images.
    Nearest(Box<super::nearest::NearestResult>),
    /// A job failed.
    Error(ViewKey, String),
}

#[derive(Default)]
struct Pending {
    /// Queued jobs: request id, job, how it was asked for.
    jobs: BTreeMap<ViewKey, (u64, Job, Ask)>,
    /// Views whose last job is no longer refreshed.
    forget: Vec<ViewKey>,
    /// How often views are refreshed from newer snapshots.
    refresh: Option<Duration>,
    /// Work is queued, running, or due (a kept view not yet run on the newest weights):
    /// set by every request, cleared by the thread once nothing is left.
    busy: bool,
    /// The source generation and snapshot step the thread last brought every view up to.
    seen: Option<(u64, u64)>,
    /// The thread keeps views to refresh from newer weights.
    kept: bool,
    stop: bool,
}

/// Where snapshots come from, and a counter that changes with every new source.
#[derive(Default)]
struct Source {
    slot: Option<LatestSlot<Snapshot>>,
    generation: u64,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    source: Mutex<Source>,
    /// Outputs sent by the thread.
    sent: AtomicU64,
}

/// What the decode thread is started with, kept until the first request starts it.
struct Start {
    data: Arc<Dataset>,
    device: Device,
    use_gpu: bool,
    tx: Sender<Output>,
    wakers: Wakers,
}

/// Handle to the decode thread.
pub struct Decoder {
    shared: Arc<Shared>,
    results: Receiver<Output>,
    thread: Option<JoinHandle<()>>,
    /// Until the thread starts.
    start: Option<Start>,
    next_request: u64,
    /// Outputs taken by [`Decoder::drain`].
    received: AtomicU64,
}

/// How often views are refreshed from a newer snapshot while training runs (with one run;
/// the app stretches it with more).
pub const REFRESH: Duration = Duration::from_millis(150);

/// How a job is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    /// The user is waiting for it: its result wakes the UI at once (else at the next
    /// throttled frame).
    pub urgent: bool,
    /// Redo it whenever newer weights arrive (else it runs once: e.g. a view derived from
    /// codes that are themselves refreshed, and asked for again when they are).
    pub keep: bool,
}

/// How the decode thread wakes the UI.
#[derive(Clone)]
pub struct Wakers {
    /// After answering a request (the user is waiting for it).
    pub now: Arc<dyn Fn() + Send + Sync>,
    /// After refreshing a view from newer weights (may wait for the next throttled frame).
    pub soon: Arc<dyn Fn() + Send + Sync>,
}

impl Decoder {
    /// A decoder whose thread starts with the first request. `use_gpu` keeps decoded
    /// tensors on the device (wgpu only).
    pub fn spawn(data: Arc<Dataset>, device: Device, use_gpu: bool, wakers: Wakers) -> Self {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            source: Mutex::new(Source::default()),
            sent: AtomicU64::new(0),
        });
        let (tx, rx) = channel();
        Self {
            shared,
            results: rx,
            thread: None,
            start: Some(Start {
                data,
                device,
                use_gpu,
                tx,
                wakers,
            }),
            next_request: 1,
            received: AtomicU64::new(0),
        }
    }

    /// Start the thread if it has not started.
    fn ensure_started(&mut self) {
        let Some(Start {
            data,
            device,
            use_gpu,
            tx,
            wakers,
        }) = self.start.take()
        else {
            return;
        };
        let s = self.shared.clone();
        self.thread = std::thread::Builder::new()
            .name("latent-explorer-decoder".into())
            .spawn(move || run(s, data, device, use_gpu, tx, wakers))
            .ok();
    }

    /// Whether the thread has started (a view was asked for).
    pub fn started(&self) -> bool {
        self.start.is_none()
    }

    /// Refresh views from newer snapshots at most this often.
    pub fn set_refresh(&self, every: Duration) {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .refresh = Some(every);
    }

    /// Drop these views' jobs: queued, waiting for a model, or kept for refreshing.
    pub fn forget(&mut self, keys: &[ViewKey]) {
        let mut p = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for k in keys {
            p.jobs.remove(k);
            p.forget.push(*k);
        }
    }

    /// Decode against this slot's snapshots from now on; every view's last job is re-run.
    pub fn set_source(&self, slot: Option<LatestSlot<Snapshot>>) {
        let mut src = self.shared.source.lock().unwrap_or_else(|p| p.into_inner());
        src.slot = slot;
        src.generation += 1;
        drop(src);
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .busy = true;
        self.shared.wake.notify_all();
    }

    /// Queue `job` for `key`, replacing any queued one. Returns the request id.
    pub fn request(&mut self, key: ViewKey, job: Job, ask: Ask) -> u64 {
        self.ensure_started();
        let id = self.next_request;
        self.next_request += 1;
        let mut p = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        p.jobs.insert(key, (id, job, ask));
        p.busy = true;
        drop(p);
        self.shared.wake.notify_all();
        id
    }

    /// Finished work, without waiting.
    pub fn drain(&self) -> Vec<Output> {
        let out: Vec<Output> = self.results.try_iter().collect();
        self.received.fetch_add(out.len() as u64, Ordering::SeqCst);
        out
    }

    /// Nothing queued, running or due, and every output taken by [`Decoder::drain`]: what
    /// the views show is final until something new is asked or newer weights arrive. (A
    /// job waiting for a model that never comes keeps it busy.)
    pub fn idle(&self) -> bool {
        if !self.started() {
            // Nothing was ever asked.
            return true;
        }
        let (busy, seen, kept) = {
            let p = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            (p.busy, p.seen, p.kept)
        };
        // Newer weights in the slot than the thread has looked at: not idle yet (it polls
        // the slot, so it may not have woken since they landed).
        let current = {
            let src = self.shared.source.lock().unwrap_or_else(|p| p.into_inner());
            let step = src.slot.as_ref().and_then(|s| s.get()).map(|s| s.step);
            step.map(|step| (src.generation, step))
        };
        // (With no view kept, newer weights leave nothing to refresh.)
        let fresh = !kept || current.is_none_or(|c| seen == Some(c));
        !busy
            && fresh
            && self.shared.sent.load(Ordering::SeqCst) == self.received.load(Ordering::SeqCst)
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stop = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A view's last job, as the decode thread keeps it.
struct Kept {
    id: u64,
    job: Job,
    ask: Ask,
    /// The snapshot step it was last run on; `None` when it has not run on the current
    /// source yet (its next run answers the request rather than refreshes the view).
    step: Option<u64>,
}

fn run(
    shared: Arc<Shared>,
    data: Arc<Dataset>,
    device: Device,
    use_gpu: bool,
    tx: Sender<Output>,
    wakers: Wakers,
) {
    // The last job per view: kept jobs are re-run when newer weights arrive; one-shot jobs
    // wait here only until they have run once.
    let mut last: BTreeMap<ViewKey, Kept> = BTreeMap::new();
    let mut last_refresh = Instant::now();
    let mut seen_generation = 0;
    let mut refresh = REFRESH;
    loop {
        {
            let mut p = shared.pending.lock().unwrap_or_else(|p| p.into_inner());
            for k in std::mem::take(&mut p.forget) {
                last.remove(&k);
            }
            if let Some(r) = p.refresh {
                refresh = r;
            }
            if p.jobs.is_empty() && !p.stop {
                p = if last.is_empty() {
                    // No view to run or refresh: sleep until asked (a run whose views are
                    // not shown costs nothing).
                    p.busy = false;
                    p.kept = false;
                    shared.wake.wait(p).unwrap_or_else(|e| e.into_inner())
                } else {
                    // Kept views: look at the slot for newer weights now and then.
                    shared
                        .wake
                        .wait_timeout(p, Duration::from_millis(50))
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0)
                };
            }
            if p.stop {
                return;
            }
            for (k, (id, job, ask)) in std::mem::take(&mut p.jobs) {
                last.insert(
                    k,
                    Kept {
                        id,
                        job,
                        ask,
                        step: None,
                    },
                );
            }
            p.kept = !last.is_empty();
        }
        let (slot, generation) = {
            let src = shared.source.lock().unwrap_or_else(|p| p.into_inner());
            (src.slot.clone(), src.generation)
        };
        if generation != seen_generation {
            // A new source: everything shown so far came from another model.
            seen_generation = generation;
            for k in last.values_mut() {
                k.step = None;
            }
        }
        // No model yet: the jobs wait.
        let Some(snap) = slot.and_then(|s| s.get()) else {
            continue;
        };
        let refresh_due = last_refresh.elapsed() >= refresh;
        // (view, request, job, whether it answers a request rather than refreshes a view)
        let mut todo: Vec<(ViewKey, u64, Job, bool)> = Vec::new();
        for (k, kept) in last.iter_mut() {
            let due = match kept.step {
                None => true,
                Some(step) => kept.ask.keep && refresh_due && step != snap.step,
            };
            if due {
                todo.push((
                    *k,
                    kept.id,
                    kept.job.clone(),
                    kept.step.is_none() && kept.ask.urgent,
                ));
                kept.step = Some(snap.step);
            }
        }
        if refresh_due {
            last_refresh = Instant::now();
        }
        // One-shot jobs are done once run.
        last.retain(|_, k| k.ask.keep || k.step.is_none());
        for (key, id, job, answer) in todo {
            let t0 = Instant::now();
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                execute(key, id, &job, &snap, &data, &device, use_gpu, t0)
            }))
            .unwrap_or_else(|_| Output::Error(key, "decoding panicked".into()));
            if tx.send(out).is_err() {
                return;
            }
            shared.sent.fetch_add(1, Ordering::SeqCst);
            if answer {
                (wakers.now)();
            } else {
                (wakers.soon)();
            }
        }
        // Idle once nothing new is queued and every kept view has run on these weights.
        let due = last
            .values()
            .any(|k| k.step.is_none() || (k.ask.keep && k.step != Some(snap.step)));
        let mut p = shared.pending.lock().unwrap_or_else(|p| p.into_inner());
        p.busy = due || !p.jobs.is_empty();
        p.seen = Some((generation, snap.step));
    }
}

/// The indices that name test digits of `data`.
fn test_indices(indices: &[usize], data: &Dataset) -> Vec<usize> {
    indices
        .iter()
        .copied()
        .filter(|&i| i < data.test.len())
        .collect()
}

/// Run one job now, on the calling thread (the decode thread, or the UI thread for a
/// single-image decode that takes well under a frame).
#[allow(clippy::too_many_arguments)]
pub fn execute(
    key: ViewKey,
    id: u64,
    job: &Job,
    snap: &Snapshot,
    data: &Dataset,
    device: &Device,
    use_gpu: bool,
    t0: Instant,
) -> Output {
    let model = &snap.model;
    let (rows, cols) = (snap.config.model.rows, snap.config.model.cols);
    let channels = snap.config.model.channels;
    let latent = snap.config.model.latent_dim;
    let finish = |t: Tensor<2>, n: usize| -> Output {
        let source = if use_gpu {
            match GpuTensor::from_tensor(t) {
                Ok(g) => TileSource::Device(Arc::new(g)),
                Err(e) => return Output::Error(key, e.to_string()),
            }
        } else {
            TileSource::Host(Arc::new(host_vec(t)))
        };
        Output::Images(
            key,
            Images {
                source,
                n,
                rows,
                cols,
                channels,
                request: id,
                step: snap.step,
                micros: t0.elapsed().as_micros() as u64,
            },
        )
    };
    match job {
        Job::Decode { z, n, label } => {
            if *n == 0 || z.len() != n * latent {
                return Output::Error(
                    key,
                    format!("{} values for {n} latent vectors of {latent}", z.len()),
                );
            }
            let labels = label.map_or(CodeLabels::None, CodeLabels::All);
            match explore::decode_means(model, z.clone(), latent, labels, device) {
                Ok(t) => finish(t, *n),
                Err(e) => Output::Error(key, e.to_string()),
            }
        }
        Job::PriorDraws { seed, n } => {
            let z = crate::model::vamp::prior_draws(model, *seed, *n, latent);
            match explore::decode_means(model, z, latent, CodeLabels::None, device) {
                Ok(t) => finish(t, *n),
                Err(e) => Output::Error(key, e.to_string()),
            }
        }
        Job::Recon(indices) => {
            let idx = test_indices(indices, data);
            match explore::reconstructions(model, &data.test, &idx, device) {
                Ok((images, recon)) => finish(Tensor::cat(vec![images, recon], 0), idx.len() * 2),
                Err(_) => Output::Error(key, "no test images to reconstruct".into()),
            }
        }
        Job::Matrix { indices, heat } => {
            let idx = test_indices(indices, data);
            match explore::reconstructions(model, &data.test, &idx, device) {
                Ok((images, recon)) => {
                    let out = if *heat { (images - recon).abs() } else { recon };
                    finish(out, idx.len())
                }
                Err(_) => Output::Error(key, "no test images to reconstruct".into()),
            }
        }
        Job::Anomaly {
            shift,
            iwae_k,
            seed,
            held_out,
        } => {
            let scored = ScoredModel {
                model,
                likelihood: snap.config.model.likelihood,
                variant: snap.config.variant,
                held_out: *held_out,
            };
            let query = AnomalyQuery {
                shift: *shift,
                iwae_k: *iwae_k,
                seed: *seed,
            };
            match explore::anomaly_report(scored, &data.test, query, device) {
                Ok(report) => Output::Anomaly(Box::new(AnomalyResult {
                    report,
                    step: snap.step,
                    micros: t0.elapsed().as_micros() as u64,
                })),
                Err(e) => Output::Error(key, e.to_string()),
            }
        }
        Job::Input {
            pixels,
            label,
            seed,
        } => {
            // A grey drawing for colour data was copied into each plane when it was set.
            let plane = rows * cols;
            if pixels.len() != plane * channels {
                return Output::Error(
                    key,
                    format!(
                        "the input has {} values; the model takes {} images",
                        pixels.len(),
                        snap.config.model.shape()
                    ),
                );
            }
            let split = Split {
                rows,
                cols,
                channels,
                pixels: pixels.to_vec().into(),
                // One label for all three: encoding, reconstruction and score.
                labels: vec![(*label).min(u8::MAX as usize) as u8],
            };
            let x: Tensor<2> = Tensor::from_data(
                TensorData::new(pixels.to_vec(), [1, plane * channels]),
                device,
            );
            let y = Tensor::<1, Int>::from_data(TensorData::new(vec![*label as i64], [1]), device);
            let (mu, _) = model.encode_with(x.clone(), Some(&y));
            let recon = host_vec(model.reconstruct(x, Some(&y)));
            let lik = snap.config.model.likelihood;
            // The anomaly tab's score, from the same noise stream.
            let score = with_noise_stream(*seed, || {
                explore::per_image_scores(model, lik, &split, device, 1, 0)
            })
            .first()
            .copied()
            .unwrap_or(f64::NAN);
            Output::Input(InputResult {
                code: host_vec(mu),
                recon,
                score,
                kind: ScoreKind::of(model, 0),
                request: id,
                step: snap.step,
            })
        }
        Job::Gap { k, seed, images } => {
            let lik = snap.config.model.likelihood;
            match explore::amortisation_gaps(model, lik, &data.test, *images, *k, *seed, device) {
                Ok(report) => Output::Gap(Box::new(GapResult {
                    report,
                    step: snap.step,
                    micros: t0.elapsed().as_micros() as u64,
                })),
                Err(e) => Output::Error(key, e.to_string()),
            }
        }
        Job::Embed { codes, dim, step } => {
            match explore::tsne(codes, *dim, explore::TsneParams::default()) {
                Ok(p) => Output::Embedding(Embedding {
                    points: Arc::new(p),
                    step: *step,
                    micros: t0.elapsed().as_micros() as u64,
                }),
                Err(e) => Output::Error(key, e.to_string()),
            }
        }
        Job::Holes(h) => match super::holes::run_holes(*h, model, data, device, snap.step) {
            Ok(r) => Output::Holes(Box::new(r)),
            Err(e) => Output::Error(key, e),
        },
        Job::Nearest(q) => match super::nearest::run_nearest(q, model, data, device, snap.step) {
            Ok(r) => Output::Nearest(Box::new(r)),
            Err(e) => Output::Error(key, e),
        },
        Job::Stats(n) => {
            let (post, dims) = explore::dimension_stats(model, data, *n, device);
            let (principal, _) = principal_directions(&post.mu, post.dim, 2);
            Output::Stats(LatentStats {
                dims,
                principal,
                latent,
                codes: post.mu,
                step: snap.step,
            })
        }
    }
}
