//! A run's configuration as a file: [`RunConfig`], the data a run trains on and everything
//! the user chooses about it ([`RunSpec`]), as flat TOML keys named like the `train` flags
//! (`lr`, `beta`, `kl_schedule` for `--kl-schedule`, …).
//!
//! Every run directory holds its resolved configuration as `run.toml` ([`RUN_CONFIG_FILE`])
//! and every checkpoint carries the same text in its header, so `latent-explorer train
//! --config RUN_DIR/run.toml` trains the same run again. The app's draft of the next run
//! saves to and loads from the same format. Unknown keys and bad values are refused with
//! the key named, before any work.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::spec::{RunSpec, SpecError};
use crate::data::shift::{self, ShiftError};
use crate::data::source::BUNDLED;
use crate::data::{Opened, Source, SourceError};
use crate::limits;

/// The configuration file of a run directory.
pub const RUN_CONFIG_FILE: &str = "run.toml";

/// Everything that decides a run's result: its data and its [`RunSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The data, as `--data` takes it: [`BUNDLED`] for the bundled digits, a directory of
    /// MNIST-format files, an image folder `DIR[@SIDE]`, or `shapes[:SIDE[:full]]`. A
    /// relative path is taken from the directory the command runs in.
    pub data: String,
    /// A class left out of the training split (`--without-class`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub without_class: Option<u8>,
    /// Importance samples of the IWAE estimate after the last epoch (0: none).
    pub final_iwae_k: usize,
    /// Variant, architecture, optimiser, schedule, seed, budget.
    #[serde(flatten)]
    pub run: RunSpec,
}

/// The default of `final_iwae_k` (the `train --final-iwae-k` default).
pub const DEFAULT_FINAL_IWAE_K: usize = 500;

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            data: BUNDLED.into(),
            without_class: None,
            final_iwae_k: DEFAULT_FINAL_IWAE_K,
            run: RunSpec::default(),
        }
    }
}

/// Why a run's data could not be opened.
#[derive(Debug, Error)]
pub enum DataError {
    /// `data` names nothing usable.
    #[error("data = {spec:?}: {why}")]
    Spec {
        /// The value.
        spec: String,
        /// What is wrong.
        why: String,
    },
    /// Reading or making it failed.
    #[error("data = {spec:?}")]
    Open {
        /// The value.
        spec: String,
        /// The failure.
        #[source]
        source: Box<SourceError>,
    },
    /// The held-out class cannot be left out.
    #[error("without_class = {class}")]
    HeldOut {
        /// The class.
        class: u8,
        /// Why.
        #[source]
        source: ShiftError,
    },
}

/// A configuration file that cannot be used; each names the key.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// Not TOML.
    #[error("not a valid TOML file: {0}")]
    Parse(String),
    /// A key this build does not know.
    #[error("unknown key `{key}`{hint}")]
    UnknownKey {
        /// The key.
        key: String,
        /// ", did you mean `…`?" when a known key is close.
        hint: String,
    },
    /// A value of the wrong type or form.
    #[error("{key} = {value}: {why}")]
    BadValue {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong.
        why: String,
    },
    /// A value out of range.
    #[error(transparent)]
    Range(#[from] SpecError),
}

impl RunConfig {
    /// The configuration with every default made explicit (β the variant's when unset): the
    /// text a run directory and a checkpoint record.
    pub fn resolved(mut self) -> Self {
        self.run.beta = Some(self.run.effective_beta());
        self
    }

    /// Every key a file may hold, in the order [`RunConfig::to_toml`] writes them.
    pub fn keys() -> Vec<String> {
        // Optional keys are written only when set: set them all to list them.
        let mut all = Self {
            without_class: Some(0),
            ..Self::default()
        };
        all.run.beta = Some(1.0);
        all.run.free_bits = Some(0.0);
        match toml::Table::try_from(&all) {
            Ok(t) => t.keys().cloned().collect(),
            // Invariant: a RunConfig always serialises (flat keys, plain values).
            Err(_) => Vec::new(),
        }
    }

    /// The configuration as a TOML file, with a comment saying what wrote it.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).unwrap_or_else(|e| format!("# not serialisable: {e}\n"));
        format!(
            "# latent-explorer {} run configuration: `latent-explorer train --config FILE`\n{body}",
            env!("CARGO_PKG_VERSION")
        )
    }

    /// Read a configuration file's text: keys not given keep their defaults. Unknown keys,
    /// values of the wrong type and values out of range are refused, naming the key.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string().trim().to_string()))?;
        let mut cfg = Self::default();
        for (key, value) in table {
            cfg.set(&key, value)?;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Set one key (as a configuration file would), checking its type; ranges are checked
    /// by [`RunConfig::validate`].
    pub fn set(&mut self, key: &str, value: toml::Value) -> Result<(), ConfigError> {
        let keys = Self::keys();
        if !keys.iter().any(|k| k == key) {
            return Err(ConfigError::UnknownKey {
                key: key.into(),
                hint: closest(key, &keys)
                    .map(|k| format!(", did you mean `{k}`?"))
                    .unwrap_or_default(),
            });
        }
        let bad = |why: String| ConfigError::BadValue {
            key: key.into(),
            value: value.to_string(),
            why,
        };
        let mut table = toml::Table::try_from(&*self).map_err(|e| bad(e.to_string()))?;
        table.insert(key.into(), value.clone());
        *self = table
            .try_into()
            .map_err(|e: toml::de::Error| bad(e.message().trim().to_string()))?;
        Ok(())
    }

    /// The data it names (`progress(done, total)` follows an image folder's decoding), with
    /// the held-out class removed from the training split.
    pub fn open_data(&self, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<Opened, DataError> {
        let spec = self.data.clone();
        let source = Source::parse(&spec).map_err(|why| DataError::Spec {
            spec: spec.clone(),
            why,
        })?;
        let mut opened = source.open(progress).map_err(|source| DataError::Open {
            spec,
            source: Box::new(source),
        })?;
        if let Some(class) = self.without_class {
            opened.data = shift::without_class(&opened.data, class)
                .map_err(|source| DataError::HeldOut { class, source })?;
        }
        Ok(opened)
    }

    /// `self` with the keys that `given` says were set explicitly (on a command line) taken
    /// from `flags`, and those keys, in file order. Ranges are checked afterwards.
    pub fn with_flags(
        mut self,
        flags: &RunConfig,
        given: impl Fn(&str) -> bool,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let table = toml::Table::try_from(flags).map_err(|e| ConfigError::Parse(e.to_string()))?;
        let mut keys = Vec::new();
        for key in Self::keys() {
            if let (true, Some(value)) = (given(&key), table.get(&key)) {
                self.set(&key, value.clone())?;
                keys.push(key);
            }
        }
        self.validate()?;
        Ok((self, keys))
    }

    /// Check every value (the data's own checks come when it is opened).
    pub fn validate(&self) -> Result<(), ConfigError> {
        Source::parse(&self.data).map_err(|why| ConfigError::BadValue {
            key: "data".into(),
            value: format!("{:?}", self.data),
            why,
        })?;
        if self.final_iwae_k > limits::MAX_IWAE_K {
            return Err(SpecError {
                key: "final_iwae_k".into(),
                value: self.final_iwae_k.to_string(),
                why: format!("must be in 0..={}", limits::MAX_IWAE_K),
            }
            .into());
        }
        self.run.validate()?;
        Ok(())
    }
}

/// The known key nearest to `key` by edit distance, if it is near (at most a third of its
/// letters differ).
fn closest<'a>(key: &str, known: &'a [String]) -> Option<&'a str> {
    let distance = |a: &str, b: &str| -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, &cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    };
    known
        .iter()
        .map(|k| (distance(key, k), k.as_str()))
        .filter(|&(d, k)| d * 3 <= k.chars().count().max(key.chars().count()))
        .min()
        .map(|(_, k)| k)
}
