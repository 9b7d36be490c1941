//! Checkpoints: one `.safetensors` file per checkpoint. The weights are stored in PyTorch's
//! layout (Linear weights `[out, in]`, names like `model.encoder.body.layers.0.weight`), so
//! `safetensors.torch.load_file` reads them; the JSON header (architecture, variant,
//! hyperparameters, dataset, epoch, metrics, crate version, the run's configuration file
//! and its loss curves) is stored in the file's `__metadata__` under the key [`META_KEY`].
//!
//! A checkpoint may also carry the run's training state ([`TrainState`]: what an exact
//! resume needs beyond the weights): its scalars in the header, each optimiser moment as a
//! tensor named `train_state/PHASE/PARAMETER/m` (and `/v`). Files are written atomically;
//! loading checks the architecture and names the first mismatching tensor.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::module::Module;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::atomic::atomic_write_bytes;
use crate::data::Dataset;
use crate::model::Vae;
use crate::model::noise::{Purpose, stream_seed, with_noise_stream};
use crate::train::optim::{AdamState, ParamMoments};
use crate::train::run_loop::{EpochReport, SinkError, Stopped, failed};
use crate::train::{EvalMetrics, LossHistory, RunConfig, Sink, Snapshot, TrainConfig, TrainState};
use crate::variant::AuxModules;

/// Metadata key holding the JSON header.
pub const META_KEY: &str = "latent_explorer";
/// Format tag written into every header.
pub const FORMAT: &str = "latent-explorer-checkpoint/1";
/// Name prefix of the training state's tensors.
pub const STATE_PREFIX: &str = "train_state/";

/// The tensor holding moment `which` (`m` or `v`) of `path`'s optimiser state in `phase`.
fn moment_name(phase: usize, path: &str, which: &str) -> String {
    format!("{STATE_PREFIX}{phase}/{path}/{which}")
}

/// Checkpoint failures; each names the file.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// Reading or writing failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The file is not a valid safetensors file.
    #[error("{path}: not a valid safetensors file: {msg}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// The header is missing or unreadable.
    #[error("{path}: bad checkpoint header: {msg}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// A tensor has the wrong shape for the architecture in the header.
    #[error("{path}: tensor {tensor}: expected shape {expected:?}, found {found:?}")]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// Shape the architecture needs.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// A tensor the architecture needs is absent.
    #[error("{path}: tensor {tensor} (shape {expected:?}) is missing")]
    Missing {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// Shape the architecture needs.
        expected: Vec<usize>,
    },
    /// The file holds a tensor the architecture does not have.
    #[error("{path}: unexpected tensor {tensor} (shape {found:?}) not in the architecture")]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// Its shape.
        found: Vec<usize>,
    },
    /// A tensor is not stored as f32 (the only type our checkpoints hold).
    #[error(
        "{path}: tensor {tensor} is stored as {dtype}; checkpoints hold f32 tensors only (convert it with `latent-explorer import`)"
    )]
    DType {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// Its type in the file.
        dtype: String,
    },
    /// A tensor holds NaN or infinite values.
    #[error(
        "{path}: tensor {tensor}: {count} of its {total} values are NaN or infinite (the first, at index {first}, is {value}); the weights are unusable"
    )]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// How many values are NaN or ±inf.
        count: usize,
        /// Values in the tensor.
        total: usize,
        /// Index of the first one.
        first: usize,
        /// The first one.
        value: f32,
    },
    /// The header contradicts itself or the file's tensors.
    #[error("{path}: the header contradicts {what}")]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// What disagrees, with both values.
        what: String,
    },
    /// The path is not a file.
    #[error(transparent)]
    Path(#[from] crate::paths::PathError),
    /// burn's store failed.
    #[error("{path}: {msg}")]
    Store {
        /// The file.
        path: PathBuf,
        /// What failed.
        msg: String,
    },
}

/// Where the training data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Dataset name or directory.
    pub name: String,
    /// Training images.
    pub train_images: usize,
    /// Test images.
    pub test_images: usize,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Colour channels (absent in files written before colour data: grey).
    #[serde(default = "crate::model::one_channel")]
    pub channels: usize,
    /// The class left out of the training split (`train --without-class K`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out_class: Option<u8>,
}

impl DatasetInfo {
    /// Describe `data`.
    pub fn of(data: &Dataset) -> Self {
        Self {
            name: data.name.clone(),
            train_images: data.train.len(),
            test_images: data.test.len(),
            rows: data.rows(),
            cols: data.cols(),
            channels: data.channels(),
            held_out_class: None,
        }
    }
}

/// The JSON header of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// Version of latent-explorer that wrote it.
    pub crate_version: String,
    /// Architecture, variant and hyperparameters.
    pub train: TrainConfig,
    /// Data it was trained on.
    pub dataset: DatasetInfo,
    /// Completed epochs.
    pub epoch: usize,
    /// Global steps taken.
    pub step: u64,
    /// Latest test metrics, if evaluated.
    pub metrics: Option<EvalMetrics>,
    /// The run's configuration file ([`RunConfig::to_toml`]), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_config: Option<String>,
    /// The run's loss curves, thinned ([`LossHistory::thinned`]).
    #[serde(default, skip_serializing_if = "LossHistory::is_empty")]
    pub history: LossHistory,
    /// The training state's scalars, when the file carries one (its moments are tensors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_state: Option<StateHeader>,
}

/// The scalars of a [`TrainState`] in a checkpoint's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateHeader {
    /// [`TrainState::cursor`].
    pub cursor: usize,
    /// [`TrainState::lanes`].
    pub lanes: usize,
    /// Per phase, the parameters with optimiser state and their update counts.
    pub phases: Vec<Vec<(String, u32)>>,
}

impl StateHeader {
    /// The header part of `state`.
    pub fn of(state: &TrainState) -> Self {
        Self {
            cursor: state.cursor,
            lanes: state.lanes,
            phases: state
                .optim
                .iter()
                .map(|a| a.params.iter().map(|p| (p.path.clone(), p.time)).collect())
                .collect(),
        }
    }
}

impl CheckpointMeta {
    /// The header for `snap`, trained on data described by `dataset`: with its
    /// configuration file, history and training state's scalars when it has them.
    pub fn of_snapshot(
        snap: &Snapshot,
        dataset: DatasetInfo,
        metrics: Option<EvalMetrics>,
    ) -> Self {
        Self {
            run_config: snap.run_config.as_deref().map(str::to_string),
            history: (*snap.history).clone(),
            train_state: snap.state.as_deref().map(StateHeader::of),
            ..Self::new(snap.config.clone(), dataset, snap.epoch, snap.step, metrics)
        }
    }

    /// A header for the current crate version.
    pub fn new(
        train: TrainConfig,
        dataset: DatasetInfo,
        epoch: usize,
        step: u64,
        metrics: Option<EvalMetrics>,
    ) -> Self {
        Self {
            format: FORMAT.into(),
            crate_version: env!("CARGO_PKG_VERSION").into(),
            train,
            dataset,
            epoch,
            step,
            metrics,
            run_config: None,
            history: LossHistory::default(),
            train_state: None,
        }
    }
}

/// Everything a checkpoint holds, as one module so both parts share one file.
#[derive(Module, Debug)]
struct Bundle {
    model: Vae,
    aux: AuxModules,
}

/// A loaded checkpoint.
#[derive(Debug)]
pub struct Loaded {
    /// The VAE.
    pub model: Vae,
    /// The variant's extra modules.
    pub aux: AuxModules,
    /// The header.
    pub meta: CheckpointMeta,
    /// The training state, when the file carries one.
    pub state: Option<TrainState>,
}

impl Loaded {
    /// The weights as a run snapshot (the header's configuration, step, epoch, history and
    /// configuration file, and the training state when the file has one).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            history: Arc::new(self.meta.history.clone()),
            state: self.state.clone().map(Arc::new),
            run_config: self.meta.run_config.as_deref().map(Arc::from),
            ..Snapshot::new(
                self.model.clone(),
                self.aux.clone(),
                self.meta.train.clone(),
                self.meta.step,
                self.meta.epoch,
            )
        }
    }
}

/// Serialise a checkpoint to bytes.
pub fn to_bytes(
    model: &Vae,
    aux: &AuxModules,
    meta: &CheckpointMeta,
    path: &Path,
) -> Result<Vec<u8>, CheckpointError> {
    to_bytes_with_state(model, aux, meta, None, path)
}

/// Serialise a checkpoint with a training state to bytes (`meta.train_state` must describe
/// `state`: see [`CheckpointMeta::of_snapshot`]).
pub fn to_bytes_with_state(
    model: &Vae,
    aux: &AuxModules,
    meta: &CheckpointMeta,
    state: Option<&TrainState>,
    path: &Path,
) -> Result<Vec<u8>, CheckpointError> {
    let store_err = |msg: String| CheckpointError::Store {
        path: path.to_path_buf(),
        msg,
    };
    let json = serde_json::to_string(meta).map_err(|e| store_err(e.to_string()))?;
    let bundle = Bundle {
        model: model.clone(),
        aux: aux.clone(),
    };
    let mut store = SafetensorsStore::from_bytes(None)
        .metadata(META_KEY, json)
        .skip_enum_variants(true)
        .with_to_adapter(BurnToPyTorchAdapter);
    bundle
        .save_into(&mut store)
        .map_err(|e| store_err(e.to_string()))?;
    let bytes = store.get_bytes().map_err(|e| store_err(e.to_string()))?;
    match state {
        Some(state) if !state.optim.iter().all(|a| a.params.is_empty()) => {
            with_moments(&bytes, state).map_err(store_err)
        }
        _ => Ok(bytes),
    }
}

/// The file `bytes` with the optimiser moments of `state` added as tensors.
fn with_moments(bytes: &[u8], state: &TrainState) -> Result<Vec<u8>, String> {
    use safetensors::tensor::TensorView;
    let (_, md) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| e.to_string())?;
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let mut moments: Vec<(String, Vec<u8>, usize)> = Vec::new();
    for (phase, adam) in state.optim.iter().enumerate() {
        for p in &adam.params {
            for (which, values) in [("m", &p.m), ("v", &p.v)] {
                let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                moments.push((moment_name(phase, &p.path, which), data, values.len()));
            }
        }
    }
    let mut views: Vec<(String, TensorView<'_>)> = st.tensors();
    for (name, data, len) in &moments {
        let view = TensorView::new(safetensors::Dtype::F32, vec![*len], data)
            .map_err(|e| e.to_string())?;
        views.push((name.clone(), view));
    }
    safetensors::serialize(views, md.metadata().clone()).map_err(|e| e.to_string())
}

/// Write a checkpoint to `path` atomically (temporary file, then rename).
pub fn save(
    path: &Path,
    model: &Vae,
    aux: &AuxModules,
    meta: &CheckpointMeta,
) -> Result<(), CheckpointError> {
    write_file(path, &to_bytes(model, aux, meta, path)?)
}

/// Write a checkpoint's bytes to `path` atomically.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    atomic_write_bytes(path, bytes).map_err(|error| CheckpointError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// Write a run's snapshot as a checkpoint at `path`, atomically: the one way the CLI and
/// the app save.
pub fn save_snapshot(
    path: &Path,
    snap: &Snapshot,
    dataset: DatasetInfo,
    metrics: Option<EvalMetrics>,
) -> Result<(), CheckpointError> {
    let meta = CheckpointMeta::of_snapshot(snap, dataset, metrics);
    let bytes = to_bytes_with_state(&snap.model, &snap.aux, &meta, snap.state.as_deref(), path)?;
    write_file(path, &bytes)
}

/// Read only the header of a checkpoint file's bytes.
pub fn read_meta(path: &Path, bytes: &[u8]) -> Result<CheckpointMeta, CheckpointError> {
    let (_, md) =
        safetensors::SafeTensors::read_metadata(bytes).map_err(|e| CheckpointError::Format {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
    let header = |msg: String| CheckpointError::Header {
        path: path.to_path_buf(),
        msg,
    };
    let json = md
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| header(format!("no `{META_KEY}` entry in __metadata__")))?;
    let meta: CheckpointMeta =
        serde_json::from_str(json).map_err(|e| header(format!("invalid JSON: {e}")))?;
    if meta.format != FORMAT {
        return Err(header(format!(
            "format {:?}, this build reads {FORMAT:?}",
            meta.format
        )));
    }
    meta.train.validate().map_err(|e| header(e.to_string()))?;
    if let Some(text) = &meta.run_config {
        RunConfig::from_toml(text).map_err(|e| header(format!("run configuration: {e}")))?;
    }
    Ok(meta)
}

/// Load a file known to be one of our checkpoints onto `device`, checking the weights
/// against the header's architecture. A model file of any kind (what a user hands the CLI
/// or the app, or a run directory's epochs) is opened with [`crate::model_file::open`],
/// which tells its format once and comes here through [`from_bytes`].
pub fn load(path: &Path, device: &Device) -> Result<Loaded, CheckpointError> {
    crate::paths::input_file(path)?;
    let bytes = std::fs::read(path).map_err(|error| CheckpointError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    from_bytes(path, bytes, device)
}

/// The file's tensor table (parsed once per load).
fn parse<'a>(
    path: &Path,
    bytes: &'a [u8],
) -> Result<safetensors::SafeTensors<'a>, CheckpointError> {
    safetensors::SafeTensors::deserialize(bytes).map_err(|e| CheckpointError::Format {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })
}

fn inconsistent(path: &Path, what: String) -> CheckpointError {
    CheckpointError::Inconsistent {
        path: path.to_path_buf(),
        what,
    }
}

/// The header agrees with itself: the dataset's image size and held-out class.
fn check_header(path: &Path, meta: &CheckpointMeta) -> Result<(), CheckpointError> {
    let m = &meta.train.model;
    let d = &meta.dataset;
    // Imported models record no data (0 × 0 is "unknown").
    let data_shape = crate::data::ImageShape {
        rows: d.rows,
        cols: d.cols,
        channels: d.channels,
    };
    if (d.rows, d.cols) != (0, 0) && data_shape != m.shape() {
        return Err(inconsistent(
            path,
            format!(
                "itself: the model takes {} images, the dataset it names has {data_shape}",
                m.shape()
            ),
        ));
    }
    if let Some(k) = d.held_out_class
        && m.classes() > 0
        && k as usize >= m.classes()
    {
        return Err(inconsistent(
            path,
            format!(
                "itself: held-out class {k} but the model knows {} classes",
                m.classes()
            ),
        ));
    }
    Ok(())
}

/// Every tensor f32 and finite, and at least as many values as the header's model has
/// parameters.
fn check_tensors(
    path: &Path,
    meta: &CheckpointMeta,
    st: &safetensors::SafeTensors<'_>,
) -> Result<(), CheckpointError> {
    let mut tensors = st.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut elements: usize = 0;
    for (name, view) in &tensors {
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(CheckpointError::DType {
                path: path.to_path_buf(),
                tensor: name.clone(),
                dtype: format!("{:?}", view.dtype()).to_lowercase(),
            });
        }
        // safetensors checked that the data length matches the shape.
        let data = view.data();
        elements += data.len() / 4;
        let mut bad = data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .enumerate()
            .filter(|(_, v)| !v.is_finite());
        if let Some((first, value)) = bad.next() {
            return Err(CheckpointError::NonFinite {
                path: path.to_path_buf(),
                tensor: name.clone(),
                count: 1 + bad.count(),
                total: data.len() / 4,
                first,
                value,
            });
        }
    }
    // The header was validated, so the count is within the limits; the file must hold at
    // least the model's parameters (the variant's extra modules come on top).
    let needed = meta
        .train
        .model
        .parameter_count()
        .map_err(|e| CheckpointError::Header {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
    if needed > elements {
        return Err(inconsistent(
            path,
            format!(
                "the tensors: its architecture has {needed} parameters, the file holds {elements} values"
            ),
        ));
    }
    Ok(())
}

/// Load a checkpoint from its bytes (`path` is used in messages). Before a model is
/// allocated, the header must be valid (every size within [`crate::limits`]) and agree
/// with itself and with the tensors' total size, and every tensor must be f32 and finite:
/// a header cannot make the loader allocate more than the file itself holds.
pub fn from_bytes(path: &Path, bytes: Vec<u8>, device: &Device) -> Result<Loaded, CheckpointError> {
    // The tensor table is parsed once, for these checks and the architecture's.
    let meta = read_meta(path, &bytes)?;
    check_header(path, &meta)?;
    let (mut bundle, state) = {
        let st = parse(path, &bytes)?;
        check_tensors(path, &meta, &st)?;
        let state = read_state(path, &meta, &st)?;
        let header = |msg: String| CheckpointError::Header {
            path: path.to_path_buf(),
            msg,
        };
        // Placeholder weights (replaced by the file's), from a stream of their own.
        let placeholder = stream_seed(0, Purpose::Placeholder, &[]);
        let (model, aux) = with_noise_stream(placeholder, || {
            let model = meta.train.model.init(device);
            let aux = meta
                .train
                .variant
                .build(&meta.train.variant_params)
                .init_aux(&meta.train.model, device);
            (model, aux)
        });
        let model = model.map_err(|e| header(e.to_string()))?;
        let bundle = Bundle { model, aux };
        check_architecture(path, &bundle, &st, state.is_some())?;
        (bundle, state)
    };
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .skip_enum_variants(true)
        .with_from_adapter(PyTorchToBurnAdapter);
    let result = bundle
        .load_from(&mut store)
        .map_err(|e| CheckpointError::Store {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
    if let Some(e) = result.errors.first() {
        return Err(CheckpointError::Store {
            path: path.to_path_buf(),
            msg: format!("{e:?}"),
        });
    }
    if let Some((name, why)) = result.missing.first() {
        return Err(CheckpointError::Store {
            path: path.to_path_buf(),
            msg: format!("tensor {name} was not applied: {why}"),
        });
    }
    Ok(Loaded {
        model: bundle.model,
        aux: bundle.aux,
        meta,
        state,
    })
}

/// The training state the header announces, its moments read from the file's tensors
/// (each must be there, f32 and as long as the other moment of its parameter).
fn read_state(
    path: &Path,
    meta: &CheckpointMeta,
    st: &safetensors::SafeTensors<'_>,
) -> Result<Option<TrainState>, CheckpointError> {
    let Some(h) = &meta.train_state else {
        return Ok(None);
    };
    let read = |name: &str| -> Result<Vec<f32>, CheckpointError> {
        let view = st.tensor(name).map_err(|_| CheckpointError::Missing {
            path: path.to_path_buf(),
            tensor: name.to_string(),
            expected: Vec::new(),
        })?;
        // `check_tensors` showed every tensor is f32.
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    };
    let mut optim = Vec::with_capacity(h.phases.len());
    for (phase, params) in h.phases.iter().enumerate() {
        let mut adam = AdamState::default();
        for (param, time) in params {
            let m = read(&moment_name(phase, param, "m"))?;
            let v = read(&moment_name(phase, param, "v"))?;
            if m.len() != v.len() {
                return Err(inconsistent(
                    path,
                    format!(
                        "the training state: {param}'s moments hold {} and {} values",
                        m.len(),
                        v.len()
                    ),
                ));
            }
            adam.params.push(ParamMoments {
                path: param.clone(),
                time: *time,
                m,
                v,
            });
        }
        optim.push(adam);
    }
    Ok(Some(TrainState {
        cursor: h.cursor,
        lanes: h.lanes,
        optim,
    }))
}

/// Compare the file's tensor names and shapes with what the architecture needs; report the
/// first difference in name order.
fn check_architecture(
    path: &Path,
    bundle: &Bundle,
    st: &safetensors::SafeTensors<'_>,
    with_state: bool,
) -> Result<(), CheckpointError> {
    // The training state's tensors were read (and checked) with the state; without a state
    // in the header they are unexpected like any other.
    let mut found: std::collections::BTreeMap<String, Vec<usize>> = st
        .tensors()
        .into_iter()
        .filter(|(name, _)| !(with_state && name.starts_with(STATE_PREFIX)))
        .map(|(name, view)| (name, view.shape().to_vec()))
        .collect();
    let mut expected: Vec<(String, Vec<usize>)> = bundle
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .into_iter()
        .map(|t| (t.name.clone(), t.shape.to_vec()))
        .collect();
    expected.sort();
    for (name, shape) in expected {
        match found.remove(&name) {
            None => {
                return Err(CheckpointError::Missing {
                    path: path.to_path_buf(),
                    tensor: name,
                    expected: shape,
                });
            }
            Some(f) if f != shape => {
                return Err(CheckpointError::ShapeMismatch {
                    path: path.to_path_buf(),
                    tensor: name,
                    expected: shape,
                    found: f,
                });
            }
            Some(_) => {}
        }
    }
    if let Some((name, shape)) = found.into_iter().next() {
        return Err(CheckpointError::Unexpected {
            path: path.to_path_buf(),
            tensor: name,
            found: shape,
        });
    }
    Ok(())
}

/// A training loop's sink that keeps one checkpoint file up to date: rewritten (with the
/// training state, so the run can resume exactly) at every epoch's end, after the final
/// evaluation, and when the run stops early (the last finite weights after a non-finite
/// value; the weights of the step an interrupt stopped at).
pub struct CheckpointSink {
    path: PathBuf,
    dataset: DatasetInfo,
    metrics: Option<EvalMetrics>,
}

impl CheckpointSink {
    /// Keep `path` up to date with a run on data described by `dataset`.
    pub fn new(path: &Path, dataset: DatasetInfo) -> Self {
        Self {
            path: path.to_path_buf(),
            dataset,
            metrics: None,
        }
    }
}

impl CheckpointSink {
    fn save(&self, snap: &Snapshot, metrics: Option<EvalMetrics>) -> Result<(), SinkError> {
        save_snapshot(&self.path, snap, self.dataset.clone(), metrics)
            .map_err(|e| failed("saving the checkpoint", e))
    }
}

impl Sink for CheckpointSink {
    fn epoch(&mut self, r: &EpochReport) -> Result<(), SinkError> {
        self.metrics = r.metrics.clone();
        self.save(&r.snapshot, self.metrics.clone())
    }

    fn final_eval(&mut self, r: &EpochReport) -> Result<(), SinkError> {
        self.metrics = r.metrics.clone();
        self.save(&r.snapshot, self.metrics.clone())
    }

    fn stopped(&mut self, how: &Stopped, snap: &Arc<Snapshot>) -> Result<(), SinkError> {
        if matches!(how, Stopped::Finished) {
            return Ok(());
        }
        // The last metrics belong to these weights only at the end of the epoch they
        // evaluated (no step since); weights from the middle of an epoch go without.
        let metrics = self
            .metrics
            .clone()
            .filter(|_| snap.state.as_ref().is_some_and(|s| s.cursor == 0));
        self.save(snap, metrics)
    }
}
