//! Opening a model file: the one place that tells what a file holds and hands it to the one
//! reader for that kind. The CLI (`eval`, `sample`, `reconstruct`, `import`, `train
//! --resume`), the app and the run-directory and sweep followers all open files through
//! [`open`], so a file means the same everywhere.
//!
//! - One of our checkpoints (a safetensors file whose `__metadata__` holds our header under
//!   [`META_KEY`]) goes to [`checkpoint::from_bytes`] and keeps everything its header says:
//!   likelihood, variant, epoch, metrics, history, training state. A header that does not
//!   parse is an error, never a reason to read the file as something else.
//! - A PyTorch state dict (`torch.save` zip or legacy pickle) and a safetensors file
//!   without our header go to [`import::convert`], with the import options.

use std::io::Read;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use thiserror::Error;

use crate::checkpoint::{self, CheckpointError, Loaded, META_KEY};
use crate::import::{self, ImportError, ImportOptions};

/// What a model file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One of our checkpoints: safetensors with our header.
    Checkpoint,
    /// A safetensors file without our header (written from PyTorch).
    Safetensors,
    /// A PyTorch zip archive (`torch.save` since 1.6).
    PytorchZip,
    /// A legacy PyTorch pickle.
    PytorchPickle,
}

impl Format {
    /// Whether the file is a foreign model, read by the import (its header fields are
    /// [`import::ASSUMED`]).
    pub fn is_import(self) -> bool {
        self != Self::Checkpoint
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Checkpoint => "a latent-explorer checkpoint",
            Self::Safetensors => "a safetensors file without a latent-explorer header",
            Self::PytorchZip => "a PyTorch state dict (zip)",
            Self::PytorchPickle => "a PyTorch state dict (legacy pickle)",
        })
    }
}

/// A model file, opened.
#[derive(Debug)]
pub struct Opened {
    /// The model, its extra modules and its header.
    pub loaded: Loaded,
    /// What the file was.
    pub format: Format,
}

/// Why a model file did not open; each names the file.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The file could not be read, or is no model file we know.
    #[error("{path}: {msg}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// The path is not a file.
    #[error(transparent)]
    Path(#[from] crate::paths::PathError),
    /// One of our checkpoints did not load.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A foreign model did not convert.
    #[error(transparent)]
    Import(#[from] ImportError),
}

fn read_err(path: &Path, msg: impl Into<String>) -> OpenError {
    OpenError::Read {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// The kind of model file from its first bytes (a safetensors file is told apart from ours
/// by its header, see [`open`]); `None` if it is none we read.
fn sniff(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"PK\x03\x04") {
        return Some(Format::PytorchZip);
    }
    if head.first() == Some(&0x80) && head.get(1).is_some_and(|&v| (2..=5).contains(&v)) {
        return Some(Format::PytorchPickle);
    }
    // An 8-byte little-endian header length, then the JSON header.
    if head.len() >= 9 && head[8] == b'{' {
        return Some(Format::Safetensors);
    }
    None
}

/// Whether a safetensors file's bytes carry our header (a `__metadata__` entry under
/// [`META_KEY`], valid or not: an invalid one is reported by the checkpoint reader).
fn has_our_header(bytes: &[u8]) -> bool {
    safetensors::SafeTensors::read_metadata(bytes)
        .ok()
        .and_then(|(_, md)| md.metadata().as_ref().map(|m| m.contains_key(META_KEY)))
        .unwrap_or(false)
}

/// Open any model file onto `device`: tell its kind once, from its content, and read it
/// with the one reader for that kind. `opts` (key map, image size) apply to foreign files
/// only: one of our checkpoints is read as its header says.
pub fn open(path: &Path, device: &Device, opts: &ImportOptions) -> Result<Opened, OpenError> {
    crate::paths::input_file(path)?;
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(path)
        .and_then(|f| f.take(16).read_to_end(&mut head))
        .map_err(|e| read_err(path, e.to_string()))?;
    let format = match sniff(&head) {
        Some(f) => f,
        None if head.is_empty() => return Err(read_err(path, "the file is empty")),
        None => {
            return Err(read_err(
                path,
                "not a model file: neither a safetensors checkpoint nor a PyTorch state dict",
            ));
        }
    };
    let (format, loaded) = match format {
        Format::Safetensors | Format::Checkpoint => {
            let bytes = std::fs::read(path).map_err(|e| read_err(path, e.to_string()))?;
            if has_our_header(&bytes) {
                let loaded = checkpoint::from_bytes(path, bytes, device)?;
                (Format::Checkpoint, loaded)
            } else {
                let tensors = import::read_safetensors(path, &bytes)?;
                drop(bytes);
                let loaded = import::convert(path, tensors, opts, device)?;
                (Format::Safetensors, loaded)
            }
        }
        pytorch @ (Format::PytorchZip | Format::PytorchPickle) => {
            let tensors = import::read_pytorch(path)?;
            (pytorch, import::convert(path, tensors, opts, device)?)
        }
    };
    Ok(Opened { loaded, format })
}
