//! Models from PyTorch: a state dict saved with `torch.save` (`.pt`/`.pth`) or with
//! `safetensors.torch.save_file`, loaded as an MLP VAE.
//!
//! The file's tensors are renamed to ours by a [`KeyMap`] (regex → name rules, applied in
//! order), the architecture is read from the renamed tensors' shapes, and the result is
//! written as one of our checkpoints in memory and loaded by [`checkpoint::from_bytes`],
//! which checks every tensor against the architecture and names a mismatch with the
//! expected and the found shape. The classic layout of the PyTorch examples' MNIST VAE
//! (`fc1`, `fc21`/`fc22`, `fc3`, `fc4`; ReLU; Bernoulli logits) is recognised and mapped
//! with no options ([`KeyMap::pytorch_examples`]), under any common key prefix such as
//! `module.` or `state_dict.`.
//!
//! [`load_any`] opens whatever the user hands the app or the CLI: one of our checkpoints, a
//! PyTorch file, or a safetensors file written from PyTorch, told apart by their content.

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
    /// A `--map` rule is malformed.
    #[error("key map rule {rule:?}: {msg}")]
    BadRule {
        /// The rule as given.
        rule: String,
        /// What is wrong.
        msg: String,
    },
    /// The path is not a file.
    #[error(transparent)]
    Path(#[from] crate::paths::PathError),
    /// The renamed tensors did not load (names the tensor and the shapes).
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
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
            let re = Regex::new(&format!("^(?:{re})$")).map_err(|e| ImportError::BadRule {
                rule: rule.into(),
                msg: e.to_string(),
            })?;
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

/// Every tensor of a PyTorch file (`torch.save` zip or legacy pickle).
fn read_pytorch(path: &Path) -> Result<BTreeMap<String, RawTensor>, ImportError> {
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
    Ok(out)
}

/// Every tensor of a safetensors file's bytes.
fn read_safetensors(path: &Path, bytes: &[u8]) -> Result<BTreeMap<String, RawTensor>, ImportError> {
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
    Ok(out)
}

/// What a model file is, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A safetensors file (ours if its metadata holds our header).
    Safetensors,
    /// A PyTorch zip archive (`torch.save` since 1.6).
    PytorchZip,
    /// A legacy PyTorch pickle.
    PytorchPickle,
}

/// Tell the kind of model file from its bytes; `None` if it is none we read.
pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Some(FileKind::PytorchZip);
    }
    if bytes.first() == Some(&0x80) && bytes.get(1).is_some_and(|&v| (2..=5).contains(&v)) {
        return Some(FileKind::PytorchPickle);
    }
    if bytes.len() >= 9 && bytes[8] == b'{' {
        return Some(FileKind::Safetensors);
    }
    None
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
    t: &'a BTreeMap<String, RawTensor>,
    name: &str,
    rank: usize,
) -> Result<&'a [usize], ImportError> {
    let raw = t.get(name).ok_or_else(|| ImportError::Layout {
        path: path.to_path_buf(),
        msg: format!(
            "tensor {name} is missing (tensors after renaming: {})",
            names(t)
        ),
    })?;
    if raw.shape.len() != rank {
        return Err(ImportError::Layout {
            path: path.to_path_buf(),
            msg: format!(
                "tensor {name}: expected a rank-{rank} tensor, found shape {:?}",
                raw.shape
            ),
        });
    }
    Ok(&raw.shape)
}

fn names(t: &BTreeMap<String, RawTensor>) -> String {
    let v: Vec<&str> = t.keys().map(String::as_str).collect();
    v.join(", ")
}

/// The MLP VAE configuration the renamed tensors describe (weights in PyTorch's `[out, in]`
/// layout): encoder hidden widths from `model.encoder.body.layers.*`, the latent size from
/// the μ head, the image size from the input width.
fn infer_config(
    path: &Path,
    t: &BTreeMap<String, RawTensor>,
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

/// Convert a PyTorch model's tensors into one of our checkpoints' bytes (not yet loaded).
pub fn convert(
    path: &Path,
    tensors: BTreeMap<String, RawTensor>,
    opts: &ImportOptions,
) -> Result<(Vec<u8>, CheckpointMeta), ImportError> {
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
    let mut renamed: BTreeMap<String, RawTensor> = BTreeMap::new();
    for (key, raw) in tensors {
        let Some(name) = map.rename(&key) else {
            continue;
        };
        if renamed.contains_key(&name) {
            return Err(ImportError::Layout {
                path: path.to_path_buf(),
                msg: format!("two tensors are renamed to {name} (the second is {key})"),
            });
        }
        renamed.insert(name, raw);
    }
    let model = infer_config(path, &renamed, opts.image_size)?;
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
        .map(|(n, r)| {
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
    Ok((out, meta))
}

/// A model file, read as far as its kind needs: a safetensors file's bytes, or a PyTorch
/// file (which its reader takes from the path).
enum Contents {
    Safetensors(Vec<u8>),
    Pytorch,
}

/// Tell what `path` holds from its first bytes; read it whole if it is safetensors.
fn open(path: &Path) -> Result<Contents, ImportError> {
    use std::io::Read;
    crate::paths::input_file(path)?;
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(path)
        .and_then(|f| f.take(16).read_to_end(&mut head))
        .map_err(|e| read_err(path, e.to_string()))?;
    match sniff(&head) {
        Some(FileKind::Safetensors) => std::fs::read(path)
            .map(Contents::Safetensors)
            .map_err(|e| read_err(path, e.to_string())),
        Some(FileKind::PytorchZip | FileKind::PytorchPickle) => Ok(Contents::Pytorch),
        None if head.is_empty() => Err(read_err(path, "the file is empty")),
        None => Err(read_err(
            path,
            "not a model file: neither a safetensors checkpoint nor a PyTorch state dict",
        )),
    }
}

/// The tensors of a foreign (PyTorch) model file.
fn foreign_tensors(
    path: &Path,
    contents: &Contents,
) -> Result<BTreeMap<String, RawTensor>, ImportError> {
    let tensors = match contents {
        Contents::Safetensors(bytes) => read_safetensors(path, bytes)?,
        Contents::Pytorch => read_pytorch(path)?,
    };
    if tensors.is_empty() {
        return Err(read_err(path, "the file holds no tensors"));
    }
    Ok(tensors)
}

/// Read a PyTorch model file (`torch.save` state dict, or a safetensors file without our
/// header) and convert it; see [`convert`].
pub fn import_file(
    path: &Path,
    opts: &ImportOptions,
) -> Result<(Vec<u8>, CheckpointMeta), ImportError> {
    let contents = open(path)?;
    convert(path, foreign_tensors(path, &contents)?, opts)
}

/// Whether a safetensors file's bytes carry our checkpoint header.
fn has_our_header(bytes: &[u8]) -> bool {
    safetensors::SafeTensors::read_metadata(bytes)
        .ok()
        .and_then(|(_, md)| md.metadata().as_ref().map(|m| m.contains_key(META_KEY)))
        .unwrap_or(false)
}

/// Open any model file onto `device`: our checkpoint, a PyTorch state dict, or a
/// safetensors file written from PyTorch (converted with `opts`).
pub fn load_any(path: &Path, device: &Device, opts: &ImportOptions) -> Result<Loaded, ImportError> {
    match open(path)? {
        Contents::Safetensors(bytes) if has_our_header(&bytes) => {
            Ok(checkpoint::from_bytes(path, bytes, device)?)
        }
        foreign => {
            let (converted, _) = convert(path, foreign_tensors(path, &foreign)?, opts)?;
            Ok(checkpoint::from_bytes(path, converted, device)?)
        }
    }
}
