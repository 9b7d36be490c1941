//! What a data argument names — the bundled digits, an MNIST-format directory, the
//! procedural shapes or an image folder — parsed and opened the same way by the CLI's
//! `--data` and the app's dataset field.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::folder::{self, FolderConfig, FolderError, Skipped};
use super::shapes::{self, ShapesConfig, ShapesError};
use super::{Dataset, DatasetError};

/// The name of the bundled digits in a data argument (`--data bundled`, `data = "bundled"`
/// in a run configuration).
pub const BUNDLED: &str = "bundled";

/// A dataset, named.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The MNIST subset in the binary.
    Bundled,
    /// A directory of the four MNIST-format files.
    Idx(PathBuf),
    /// The procedural shapes.
    Shapes(ShapesConfig),
    /// A folder of PNG/JPEG images.
    Folder(FolderConfig),
}

impl Source {
    /// Read a data argument: empty or [`BUNDLED`] for the bundled digits, `shapes[:SIDE]`,
    /// `DIR[@SIDE]` for an image folder, or a directory of MNIST-format files. A path that
    /// exists wins over the other readings.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        if spec.is_empty() || (spec == BUNDLED && !Path::new(spec).exists()) {
            return Ok(Self::Bundled);
        }
        if let Some(cfg) = shapes::parse_spec(spec)? {
            return Ok(Self::Shapes(cfg));
        }
        if let Some(cfg) = folder::parse_spec(spec)? {
            return Ok(Self::Folder(cfg));
        }
        Ok(Self::Idx(PathBuf::from(spec)))
    }

    /// [`Source::parse`] of an optional path (`None`: the bundled digits). A path that is
    /// not UTF-8 is taken as a directory as it is.
    pub fn from_arg(arg: Option<&Path>) -> Result<Self, String> {
        match arg {
            None => Ok(Self::Bundled),
            Some(p) => match p.to_str() {
                Some(s) => Self::parse(s),
                None => Ok(Self::Idx(p.to_path_buf())),
            },
        }
    }

    /// Open it; `progress(done, total)` follows an image folder's decoding.
    pub fn open(&self, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<Opened, SourceError> {
        Ok(match self {
            Self::Bundled => Opened::plain(Dataset::bundled()?),
            Self::Idx(dir) => Opened::plain(Dataset::from_dir(dir)?),
            Self::Shapes(cfg) => {
                let s = shapes::generate(cfg)?;
                Opened {
                    data: s.data,
                    skipped: Skipped::default(),
                    classes: shapes::Shape::NAMES.map(String::from).to_vec(),
                }
            }
            Self::Folder(cfg) => {
                let f = folder::load(cfg, progress)?;
                Opened {
                    data: f.data,
                    skipped: f.skipped,
                    classes: f.classes,
                }
            }
        })
    }
}

/// An opened dataset and what came with it.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The images (with their factors of variation, for the shapes set).
    pub data: Dataset,
    /// Files of an image folder that were skipped.
    pub skipped: Skipped,
    /// Class names by label, when known (sub-folders, shapes); empty for digits.
    pub classes: Vec<String>,
}

impl Opened {
    fn plain(data: Dataset) -> Self {
        Self {
            data,
            skipped: Skipped::default(),
            classes: Vec::new(),
        }
    }
}

/// Why a dataset could not be opened.
#[derive(Debug, Error)]
pub enum SourceError {
    /// The bundled digits or an MNIST-format directory.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// The shapes set.
    #[error("making the shapes set: {0}")]
    Shapes(#[from] ShapesError),
    /// An image folder.
    #[error(transparent)]
    Folder(#[from] FolderError),
}
