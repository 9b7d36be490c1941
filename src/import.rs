//! Models from PyTorch: a state dict saved with `torch.save` (`.pt`/`.pth`) or with
//! `safetensors.torch.save_file`, loaded as an MLP VAE.
//!
//! The file's tensors are renamed to ours by a [`KeyMap`] (regex → name rules, applied in
//! order), the architecture is read from the renamed tensors' shapes, every tensor is
//! checked against that architecture (a mismatch names the file's tensor, the expected and
//! the found shape), and the result is written as one of our checkpoints in memory and
//! loaded by [`checkpoint::from_bytes`]. The classic layout of the PyTorch examples' MNIST
//! VAE (`fc1`, `fc21`/`fc22`, `fc3`, `fc4`; ReLU; Bernoulli logits) is recognised and
//! mapped with no options ([`KeyMap::pytorch_examples`]), under any common key prefix such
//! as `module.` or `state_dict.`.
//!
//! A state dict records weights only: the likelihood (Bernoulli logits), the variant (a
//! plain VAE), the latent (Gaussian) and the training done (none) are what a PyTorch VAE of
//! this kind has, and [`ASSUMED`] says so wherever an import is reported. Which reader a
//! file goes to — ours or this one — is decided in one place, [`crate::model_file::open`];
//! one of our checkpoints never comes here, so its header is never replaced by guesses.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::store::pytorch_reader::{DType as PtDType, PytorchReader};
use burn::tensor::Device;
use regex::Regex;
use safetensors::tensor::{Dtype, TensorView};
use thiserror::Error;

use crate::checkpoint::{self, CheckpointError, CheckpointMeta, DatasetInfo, Loaded, META_KEY};
use crate::model::{ArchConfig, LatentKind, Likelihood, VaeConfig};
use crate::train::TrainConfig;
use crate::variant::VariantKind;

/// Why a model could not be imported; each names the file.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file could not be read or parsed.
    #[error("{path}: {msg}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// A tensor has a dtype that is not a float.
    #[error(
        "{path}: tensor {tensor} has dtype {dtype}, a float tensor (f32, f64, f16, bf16) is needed"
    )]
    DType {
        /// The file.
        path: PathBuf,
        /// The tensor's name in the file.
        tensor: String,
        /// Its dtype.
        dtype: String,
    },
    /// The tensors do not describe a model we know.
    #[error("{path}: {msg}")]
    Layout {
        /// The file.
        path: PathBuf,
        /// What is missing or inconsistent.
        msg: String,
    },
    /// A tensor's shape is not the one the architecture read from the other tensors needs.
    #[error(
        "{path}: tensor {tensor}: expected shape {expected:?} for the model the other tensors describe ({model}), found {found:?}"
    )]
    Shape {
        /// The file.
        path: PathBuf,
        /// The tensor's name in the file, and ours in parentheses when the key map renamed
        /// it.
        tensor: String,
        /// The shape the architecture needs (PyTorch's `[out, in]` layout).
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
        /// The architecture, e.g. `mlp[400], latent 20, 28x28 images`.
        model: String,
    },
    /// A key map rule (`--map`, or the app's key map) is malformed.
    #[error("key map rule '{rule}': {msg}")]
    BadRule {
        /// The rule as typed.
        rule: String,
        /// What is wrong, on one line.
        msg: String,
    },
    /// The path is not a file.
    #[error(transparent)]
    Path(#[from] crate::paths::PathError),
    /// The renamed tensors did not load (names the tensor and the shapes).
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// `KEY (our NAME)`, or `KEY` alone when the key map left it as it was.
fn tensor_names(tensor: &str, ours: &str) -> String {
    if tensor == ours {
        tensor.to_string()
    } else {
        format!("{tensor} ({ours})")
    }
}

/// A regex error on one line: the `regex` crate's message spans several, repeating the
/// pattern with a caret under the fault; this keeps the description and the position in
/// the pattern as typed.
fn regex_error(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let what = lines
                .iter()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or(text.as_str())
                .trim();
            // The caret line lies under the pattern line, which follows a fixed indent.
            let at = lines.windows(2).find_map(|w| {
                let caret = w[1].find('^')?;
                let indent = w[0].len() - w[0].trim_start().len();
                (w[1].trim().chars().all(|c| c == '^') && caret >= indent).then(|| {
                    // A character count, 1-based, in the pattern as typed.
                    w[0][indent..caret.min(w[0].len())].chars().count() + 1
                })
            });
            match at {
                Some(at) => format!("{what} (at character {at} of the regex)"),
                None => what.to_string(),
            }
        }
        other => other.to_string().replace('\n', " "),
    }
}

/// Rules renaming a file's tensor keys to ours: each `regex → replacement` (with `$1`-style
/// groups) is tried in order and the first whose regex matches the whole key renames it; an
/// empty replacement drops the tensor. Keys no rule matches keep their name.
#[derive(Debug, Clone, Default)]
pub struct KeyMap {
    rules: Vec<(Regex, String)>,
}

impl KeyMap {
    /// No rules: keys are used as they are.
    pub fn identity() -> Self {
        Self::default()
    }

    /// Parse `REGEX=NAME` rules (the last `=` separates them, so a regex may contain `=`
    /// only if the name is given after it).
    pub fn parse<S: AsRef<str>>(rules: &[S]) -> Result<Self, ImportError> {
        let mut out = Vec::new();
        for rule in rules {
            let rule = rule.as_ref();
            let Some((re, name)) = rule.rsplit_once('=') else {
                return Err(ImportError::BadRule {
                    rule: rule.into(),
                    msg: "expected REGEX=NAME (an empty NAME drops the tensor)".into(),
                });
            };
            let bad = |e: regex::Error| ImportError::BadRule {
                rule: rule.into(),
                msg: format!("invalid regex: {}", regex_error(&e)),
            };
            // The regex alone first, so a fault's position is in the regex as typed.
            Regex::new(re).map_err(bad)?;
            let re = Regex::new(&format!("^(?:{re})$")).map_err(bad)?;
            out.push((re, name.to_string()));
        }
        Ok(Self { rules: out })
    }

    /// The layout of the PyTorch examples' MNIST VAE, under `prefix` (e.g. `""` or
    /// `"module."`): `fc1` → encoder hidden layer, `fc21` → μ head, `fc22` → log σ² head,
    /// `fc3` → decoder hidden layer, `fc4` → decoder output.
    pub fn pytorch_examples(prefix: &str) -> Self {
        let p = regex::escape(prefix);
        let rule = |from: &str, to: &str| {
            (
                // Invariant: built from an escaped prefix and fixed literals.
                Regex::new(&format!("^{p}{from}\\.(weight|bias)$")).expect("valid regex"),
                format!("{to}.$1"),
            )
        };
        Self {
            rules: vec![
                rule("fc1", "model.encoder.body.layers.0"),
                rule("fc21", "model.encoder.mu"),
                rule("fc22", "model.encoder.logvar"),
                rule("fc3", "model.decoder.body.layers.0"),
                rule("fc4", "model.decoder.out"),
            ],
        }
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The new name of `key`, or `None` if a rule drops it.
    pub fn rename(&self, key: &str) -> Option<String> {
        for (re, to) in &self.rules {
            if re.is_match(key) {
                let name = re.replace(key, to.as_str()).into_owned();
                return (!name.is_empty()).then_some(name);
            }
        }
        Some(key.to_string())
    }
}

/// Options for reading a foreign model.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Key rules; `None` recognises the PyTorch examples' layout (or our own names).
    pub map: Option<KeyMap>,
    /// Image height and width; `None` takes a square image from the input width.
    pub image_size: Option<(usize, usize)>,
}

/// One tensor read from a file, as f32 in the file's layout.
#[derive(Debug, Clone)]
pub struct RawTensor {
    /// Shape in the file.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

fn read_err(path: &Path, msg: impl Into<String>) -> ImportError {
    ImportError::Read {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

fn dtype_err(path: &Path, tensor: &str, dtype: impl std::fmt::Debug) -> ImportError {
    ImportError::DType {
        path: path.to_path_buf(),
        tensor: tensor.into(),
        dtype: format!("{dtype:?}").to_lowercase(),
    }
}

/// The float formats a foreign tensor may have; all are read as f32.
#[derive(Debug, Clone, Copy)]
enum FloatKind {
    F32,
    F64,
    F16,
    Bf16,
}

impl FloatKind {
    /// Bytes per value.
    fn width(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F64 => 8,
            Self::F16 | Self::Bf16 => 2,
        }
    }

    /// One little-endian value of this kind as f32.
    fn read(self, b: &[u8]) -> f32 {
        match self {
            Self::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            Self::F64 => {
                f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
            }
            Self::F16 => half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
            Self::Bf16 => half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
        }
    }
}

/// A tensor from its little-endian `bytes`, checked against its shape.
fn raw_tensor(
    path: &Path,
    name: &str,
    shape: &[usize],
    bytes: &[u8],
    kind: FloatKind,
) -> Result<RawTensor, ImportError> {
    let width = kind.width();
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| read_err(path, format!("tensor {name}: shape {shape:?} overflows")))?;
    if n.checked_mul(width) != Some(bytes.len()) {
        return Err(read_err(
            path,
            format!(
                "tensor {name}: {} bytes for shape {shape:?} of {width}-byte values",
                bytes.len()
            ),
        ));
    }
    Ok(RawTensor {
        shape: shape.to_vec(),
        values: bytes.chunks_exact(width).map(|b| kind.read(b)).collect(),
    })
}

/// Every tensor of a PyTorch file (`torch.save` zip or legacy pickle), as f32; an error if
/// it holds none.
pub fn read_pytorch(path: &Path) -> Result<BTreeMap<String, RawTensor>, ImportError> {
    // The reader is third-party parsing code fed untrusted bytes: a panic in it becomes an
    // error naming the file, never a crash of the app.
    let parsed = std::panic::catch_unwind(|| PytorchReader::new(path)).map_err(|_| {
        read_err(
            path,
            "not a readable PyTorch file (the reader failed on it)",
        )
    })?;
    let reader = parsed.map_err(|e| read_err(path, format!("not a readable PyTorch file: {e}")))?;
    let mut out = BTreeMap::new();
    for (name, t) in reader.tensors() {
        let kind = match t.dtype() {
            PtDType::F32 => FloatKind::F32,
            PtDType::F64 => FloatKind::F64,
            PtDType::F16 => FloatKind::F16,
            PtDType::BF16 => FloatKind::Bf16,
            other => return Err(dtype_err(path, name, other)),
        };
        let bytes = t
            .read()
            .map_err(|e| read_err(path, format!("reading tensor {name}: {e}")))?;
        out.insert(
            name.clone(),
            raw_tensor(path, name, t.shape(), &bytes, kind)?,
        );
    }
    not_empty(path, out)
}

/// Every tensor of a safetensors file's bytes (one written from PyTorch), as f32; an error
/// if it holds none.
pub fn read_safetensors(
    path: &Path,
    bytes: &[u8],
) -> Result<BTreeMap<String, RawTensor>, ImportError> {
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| read_err(path, format!("not a valid safetensors file: {e}")))?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        let kind = match view.dtype() {
            Dtype::F32 => FloatKind::F32,
            Dtype::F64 => FloatKind::F64,
            Dtype::F16 => FloatKind::F16,
            Dtype::BF16 => FloatKind::Bf16,
            other => return Err(dtype_err(path, &name, other)),
        };
        let t = raw_tensor(path, &name, view.shape(), view.data(), kind)?;
        out.insert(name, t);
    }
    not_empty(path, out)
}

fn not_empty(
    path: &Path,
    tensors: BTreeMap<String, RawTensor>,
) -> Result<BTreeMap<String, RawTensor>, ImportError> {
    if tensors.is_empty() {
        return Err(read_err(path, "the file holds no tensors"));
    }
    Ok(tensors)
}

/// The common dotted prefix under which `keys` form the PyTorch examples' layout, if they do.
fn examples_prefix(keys: &[&String]) -> Option<String> {
    let want = ["fc1", "fc21", "fc22", "fc3", "fc4"];
    let first = keys.iter().find(|k| k.ends_with("fc1.weight"))?;
    let prefix = first.strip_suffix("fc1.weight")?.to_string();
    if !(prefix.is_empty() || prefix.ends_with('.')) {
        return None;
    }
    let mut expected: Vec<String> = want
        .iter()
        .flat_map(|l| [format!("{prefix}{l}.weight"), format!("{prefix}{l}.bias")])
        .collect();
    expected.sort();
    let mut got: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    got.sort();
    (got == expected).then_some(prefix)
}

fn shape_of<'a>(
    path: &Path,
    t: &'a BTreeMap<String, Vec<usize>>,
    name: &str,
    rank: usize,
) -> Result<&'a [usize], ImportError> {
    let shape = t.get(name).ok_or_else(|| ImportError::Layout {
        path: path.to_path_buf(),
        msg: format!(
            "tensor {name} is missing (tensors after renaming: {})",
            names(t)
        ),
    })?;
    if shape.len() != rank {
        return Err(ImportError::Layout {
            path: path.to_path_buf(),
            msg: format!("tensor {name}: expected a rank-{rank} tensor, found shape {shape:?}"),
        });
    }
    Ok(shape)
}

fn names<V>(t: &BTreeMap<String, V>) -> String {
    let v: Vec<&str> = t.keys().map(String::as_str).collect();
    v.join(", ")
}

/// The MLP VAE configuration the renamed tensors describe (weights in PyTorch's `[out, in]`
/// layout): encoder hidden widths from `model.encoder.body.layers.*`, the latent size from
/// the μ head, the image size from the input width.
fn infer_config(
    path: &Path,
    t: &BTreeMap<String, Vec<usize>>,
    image_size: Option<(usize, usize)>,
) -> Result<VaeConfig, ImportError> {
    let mut hidden = Vec::new();
    let mut input = None;
    while t.contains_key(&format!(
        "model.encoder.body.layers.{}.weight",
        hidden.len()
    )) {
        let s = shape_of(
            path,
            t,
            &format!("model.encoder.body.layers.{}.weight", hidden.len()),
            2,
        )?;
        input.get_or_insert(s[1]);
        hidden.push(s[0]);
    }
    let mu = shape_of(path, t, "model.encoder.mu.weight", 2)?;
    let latent = mu[0];
    let pixels = input.unwrap_or(mu[1]);
    let (rows, cols, channels) = match image_size {
        Some((r, c)) if r.checked_mul(c) == Some(pixels) => (r, c, 1),
        // A colour model: three planes of the given size.
        Some((r, c)) if r.checked_mul(c).and_then(|n| n.checked_mul(3)) == Some(pixels) => {
            (r, c, 3)
        }
        Some((r, c)) => {
            return Err(ImportError::Layout {
                path: path.to_path_buf(),
                msg: format!("image size {r}x{c} does not match the encoder's {pixels} inputs"),
            });
        }
        None => {
            let side = (pixels as f64).sqrt().round() as usize;
            if side * side != pixels {
                return Err(ImportError::Layout {
                    path: path.to_path_buf(),
                    msg: format!(
                        "the encoder takes {pixels} inputs, not a square image: give the image size (--image-size HxW)"
                    ),
                });
            }
            (side, side, 1)
        }
    };
    Ok(VaeConfig {
        arch: ArchConfig::Mlp { hidden },
        latent_dim: latent,
        likelihood: Likelihood::Bernoulli,
        rows,
        cols,
        latent: LatentKind::Gaussian,
        channels,
    })
}

/// What an import takes for granted, as the header fields a state dict does not record:
/// said wherever an import is reported, so a guess is never mistaken for a fact.
pub const ASSUMED: &str = "a PyTorch state dict records no likelihood, variant or training: read as a plain VAE with a Gaussian latent and Bernoulli logits, 0 epochs, no test figures";

/// The tensors (our name, shape in PyTorch's `[out, in]` layout) of the MLP VAE
/// [`infer_config`] makes: no labels, a Gaussian latent, Bernoulli logits.
fn mlp_tensors(hidden: &[usize], pixels: usize, latent: usize) -> Vec<(String, Vec<usize>)> {
    let mut out = Vec::new();
    let mut linear = |name: String, inputs: usize, outputs: usize| {
        out.push((format!("{name}.weight"), vec![outputs, inputs]));
        out.push((format!("{name}.bias"), vec![outputs]));
    };
    let mut width = pixels;
    for (k, &h) in hidden.iter().enumerate() {
        linear(format!("model.encoder.body.layers.{k}"), width, h);
        width = h;
    }
    linear("model.encoder.mu".into(), width, latent);
    linear("model.encoder.logvar".into(), width, latent);
    let mut width = latent;
    for (k, &h) in hidden.iter().rev().enumerate() {
        linear(format!("model.decoder.body.layers.{k}"), width, h);
        width = h;
    }
    linear("model.decoder.out".into(), width, pixels);
    out
}

/// Every renamed tensor against the architecture read from them, before a model is built
/// (so its size is what the file holds): the first mismatch in our name order names the
/// file's tensor, the expected and the found shape.
fn check_shapes(
    path: &Path,
    model: &VaeConfig,
    renamed: &BTreeMap<String, (String, RawTensor)>,
) -> Result<(), ImportError> {
    let ArchConfig::Mlp { hidden } = &model.arch else {
        // `infer_config` makes MLPs only.
        return Ok(());
    };
    let pixels = model.rows * model.cols * model.channels;
    let described = format!(
        "{}, latent {}, {}x{}{} images",
        model.arch,
        model.latent_dim,
        model.rows,
        model.cols,
        if model.channels == 3 { " colour" } else { "" }
    );
    let mut expected = mlp_tensors(hidden, pixels, model.latent_dim);
    expected.sort();
    for (name, shape) in &expected {
        match renamed.get(name) {
            None => {
                return Err(ImportError::Layout {
                    path: path.to_path_buf(),
                    msg: format!(
                        "tensor {name} (shape {shape:?}) is missing for the model the other tensors describe ({described}); tensors after renaming: {}",
                        renamed.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                });
            }
            Some((key, raw)) if &raw.shape != shape => {
                return Err(ImportError::Shape {
                    path: path.to_path_buf(),
                    tensor: tensor_names(key, name),
                    expected: shape.clone(),
                    found: raw.shape.clone(),
                    model: described,
                });
            }
            Some(_) => {}
        }
    }
    let known: std::collections::BTreeSet<&String> = expected.iter().map(|(n, _)| n).collect();
    if let Some((name, (key, raw))) = renamed.iter().find(|(n, _)| !known.contains(n)) {
        return Err(ImportError::Layout {
            path: path.to_path_buf(),
            msg: format!(
                "tensor {} (shape {:?}) is not part of the model the other tensors describe ({described}: {ASSUMED}); drop it with --map '{}='",
                tensor_names(key, name),
                raw.shape,
                regex::escape(key)
            ),
        });
    }
    Ok(())
}

/// Load a PyTorch model's tensors (read by [`read_pytorch`] or [`read_safetensors`] from
/// `path`) onto `device` as an MLP VAE: renamed by the options' key map (or the PyTorch
/// examples' layout, or our own names), the architecture read from the shapes, every
/// tensor checked against it, the header's other fields as [`ASSUMED`].
pub fn convert(
    path: &Path,
    tensors: BTreeMap<String, RawTensor>,
    opts: &ImportOptions,
    device: &Device,
) -> Result<Loaded, ImportError> {
    let map = match &opts.map {
        Some(m) => m.clone(),
        None => {
            let keys: Vec<&String> = tensors.keys().collect();
            match examples_prefix(&keys) {
                Some(prefix) => KeyMap::pytorch_examples(&prefix),
                None if keys.iter().all(|k| k.starts_with("model.")) => KeyMap::identity(),
                None => {
                    return Err(ImportError::Layout {
                        path: path.to_path_buf(),
                        msg: format!(
                            "unknown layout (tensors: {}); the PyTorch examples' VAE (fc1, fc21, fc22, fc3, fc4) loads as it is, other layouts need a key map, e.g. --map 'encoder\\.0\\.(weight|bias)=model.encoder.body.layers.0.$1'",
                            names(&tensors)
                        ),
                    });
                }
            }
        }
    };
    // Our name → (the file's name, the tensor).
    let mut renamed: BTreeMap<String, (String, RawTensor)> = BTreeMap::new();
    for (key, raw) in tensors {
        let Some(name) = map.rename(&key) else {
            continue;
        };
        if let Some((first, _)) = renamed.get(&name) {
            return Err(ImportError::Layout {
                path: path.to_path_buf(),
                msg: format!("two tensors are renamed to {name}: {first} and {key}"),
            });
        }
        renamed.insert(name, (key, raw));
    }
    let shapes: BTreeMap<String, Vec<usize>> = renamed
        .iter()
        .map(|(n, (_, r))| (n.clone(), r.shape.clone()))
        .collect();
    let model = infer_config(path, &shapes, opts.image_size)?;
    check_shapes(path, &model, &renamed)?;
    let (rows, cols, channels) = (model.rows, model.cols, model.channels);
    let train = TrainConfig {
        model,
        variant: VariantKind::Vae,
        ..TrainConfig::default()
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let meta = CheckpointMeta::new(
        train,
        DatasetInfo {
            name: format!("imported from PyTorch ({name})"),
            train_images: 0,
            test_images: 0,
            rows,
            cols,
            channels,
            held_out_class: None,
        },
        0,
        0,
        None,
    );
    let json = serde_json::to_string(&meta).map_err(|e| read_err(path, e.to_string()))?;
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = renamed
        .into_iter()
        .map(|(n, (_, r))| {
            let b: Vec<u8> = r.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (n, b, r.shape)
        })
        .collect();
    let mut views = Vec::with_capacity(bytes.len());
    for (n, b, shape) in &bytes {
        let view = TensorView::new(Dtype::F32, shape.clone(), b)
            .map_err(|e| read_err(path, format!("tensor {n}: {e}")))?;
        views.push((n.clone(), view));
    }
    let out = safetensors::serialize(views, Some(HashMap::from([(META_KEY.to_string(), json)])))
        .map_err(|e| read_err(path, e.to_string()))?;
    // The converted file is checked as any checkpoint is (every value finite) and loaded.
    Ok(checkpoint::from_bytes(path, out, device)?)
}
