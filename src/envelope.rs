//! One JSON shape for every machine-readable output (`--json`, and `app --measure`'s report).
//!
//! Every such output is an [`Envelope`]:
//!
//! ```json
//! {"schema": "latent-explorer/eval", "version": 1, "command": "eval",
//!  "protocol": {"data": "MNIST subset", "train_items": 8000, …}, "data": {…}}
//! ```
//!
//! - `schema` is `latent-explorer/` followed by `command`; `version` is an integer (from 1),
//!   raised for that schema alone when the meaning of its `data` changes (see [`Schema`]).
//! - `command` is the subcommand as typed (`eval`, `compare`, `sweep status`).
//! - `protocol` ([`Protocol`]) says what the figures were measured on; every key is always
//!   there, `null` where it does not apply or is not known.
//! - `data` is the command's own result.
//!
//! **The rule for lines**: every envelope is printed as one line of compact JSON, and with
//! `--json` nothing else goes to standard output (notes, warnings and progress go to
//! standard error). A command that reports once prints one line; a streaming command
//! (`train --json`: one line per epoch, then a final line) prints one envelope per line,
//! all with the same `schema`, `version`, `command` and `protocol`, told apart by
//! `data.event` (`"epoch"`, `"final"`). So every `--json` output is JSON Lines, and
//! `jq '.data'` reads any of them alike. The guide documents each command's `data`
//! (`docs/src/json.md`).

use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{CheckpointMeta, DatasetInfo};
use crate::data::Dataset;
use crate::rundir::{METRICS_FILE, Record};
use crate::sweep::Plan;
use crate::train::TrainConfig;
use crate::variant::VariantKind;

/// The prefix of every schema name.
pub const SCHEMA_PREFIX: &str = "latent-explorer/";

/// What [`Protocol::binarization`] says of data not binarized (`--binarize none`, the
/// default): pixel values `k / 255` are the likelihood's targets as they are, never
/// thresholded or sampled to 0/1 (the shapes set is binary by construction). Binarized runs
/// say `static` or `dynamic`.
pub const NO_BINARIZATION: &str = "none";

/// A command's JSON schema: its name (`latent-explorer/COMMAND`, a nested command's words
/// joined by `-`: `latent-explorer/sweep-status`) and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schema {
    /// The subcommand as typed (`sweep status`).
    pub command: &'static str,
    /// The version of this command's `data` (from 1).
    pub version: u32,
}

impl Schema {
    /// `latent-explorer/COMMAND`, spaces as `-` (no schema name holds a space).
    pub fn name(&self) -> String {
        format!("{SCHEMA_PREFIX}{}", self.command.replace(' ', "-"))
    }
}

/// `train --json`: a line per epoch and a final line.
pub const TRAIN: Schema = Schema {
    command: "train",
    version: 1,
};
/// `eval --json`.
pub const EVAL: Schema = Schema {
    command: "eval",
    version: 1,
};
/// `anomaly --json`.
pub const ANOMALY: Schema = Schema {
    command: "anomaly",
    version: 1,
};
/// `bench --json`.
pub const BENCH: Schema = Schema {
    command: "bench",
    version: 1,
};
/// `compare --json` (and `compare --from DIR --json`).
pub const COMPARE: Schema = Schema {
    command: "compare",
    version: 1,
};
/// `sweep status --json`.
pub const SWEEP_STATUS: Schema = Schema {
    command: "sweep status",
    version: 1,
};
/// `app --measure SECS` (a JSON report without a `--json` flag).
pub const APP: Schema = Schema {
    command: "app",
    version: 1,
};

/// `align --json`.
pub const ALIGN: Schema = Schema {
    command: "align",
    version: 1,
};

/// Every schema, one per command that prints JSON.
pub const ALL: [Schema; 8] = [
    TRAIN,
    EVAL,
    ANOMALY,
    BENCH,
    COMPARE,
    SWEEP_STATUS,
    APP,
    ALIGN,
];

/// What a command's figures were measured on. Every key is serialized, `null` where it
/// does not apply or is not known, so that the keys are the same for every command.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    /// The data set's name (as the data say it: `MNIST subset`, a directory, `shapes 32×32`…).
    pub data: Option<String>,
    /// Training images the model(s) trained on (after a held-out class is removed).
    pub train_items: Option<usize>,
    /// Test images the figures are measured on.
    pub test_items: Option<usize>,
    /// A class left out of the training split (`train --without-class`).
    pub held_out_class: Option<u8>,
    /// The decoder likelihood (`bernoulli`, `gaussian(σ=0.1)`…).
    pub likelihood: Option<String>,
    /// How pixels become the likelihood's targets: [`NO_BINARIZATION`] for every data set
    /// here (`null` where no likelihood is involved).
    pub binarization: Option<String>,
    /// The importance samples k of the IWAE bound the output reports (`null`: none).
    pub iwae_k: Option<usize>,
    /// The seed(s) of the run(s).
    pub seeds: Option<Vec<u64>>,
    /// Epochs of training (planned for `train`, done for a saved model).
    pub epochs: Option<usize>,
    /// Images per optimisation step.
    pub batch: Option<usize>,
    /// The compute backend (`cpu`, `wgpu`; the app: its device).
    pub backend: Option<String>,
}

/// [`Protocol`]'s keys, in the order they are serialized (the guide lists them).
pub const PROTOCOL_KEYS: [&str; 11] = [
    "data",
    "train_items",
    "test_items",
    "held_out_class",
    "likelihood",
    "binarization",
    "iwae_k",
    "seeds",
    "epochs",
    "batch",
    "backend",
];

/// The k of an IWAE bound that is reported: `k` when it is above 0 and one of `variants`
/// has a likelihood bound to tighten, else none.
pub fn bound_k(k: usize, variants: impl IntoIterator<Item = VariantKind>) -> Option<usize> {
    (k > 0 && variants.into_iter().any(VariantKind::has_likelihood_bound)).then_some(k)
}

/// The k of the IWAE bound a training run reports last: its final evaluation's
/// (`final_iwae_k`), or where there is none its epochs' (`eval_iwae_k`); see [`bound_k`].
pub fn run_bound_k(final_iwae_k: usize, eval_iwae_k: usize, variant: VariantKind) -> Option<usize> {
    let k = if final_iwae_k > 0 {
        final_iwae_k
    } else {
        eval_iwae_k
    };
    bound_k(k, [variant])
}

impl Protocol {
    /// A training run of `cfg` on `data` (its training split as trained, a held-out class
    /// already removed), reporting an IWAE bound with `iwae_k` samples where that is some.
    pub fn of_training(
        data: &Dataset,
        cfg: &TrainConfig,
        held_out_class: Option<u8>,
        iwae_k: Option<usize>,
        backend: &str,
    ) -> Self {
        Self {
            data: Some(data.name.clone()),
            train_items: Some(data.train.len()),
            test_items: Some(data.test.len()),
            held_out_class,
            likelihood: Some(cfg.model.likelihood.to_string()),
            binarization: Some(cfg.binarize.name().into()),
            iwae_k,
            seeds: Some(vec![cfg.seed]),
            epochs: Some(cfg.epochs),
            batch: Some(cfg.batch_size),
            backend: Some(backend.into()),
        }
    }

    /// A saved model (header `meta`; `imported`: converted from PyTorch, so its training is
    /// unknown) measured on `data`'s test split.
    pub fn of_model(
        meta: &CheckpointMeta,
        imported: bool,
        data: &Dataset,
        iwae_k: Option<usize>,
        backend: &str,
    ) -> Self {
        let trained = |v| (!imported).then_some(v);
        Self {
            data: Some(data.name.clone()),
            train_items: trained(meta.dataset.train_images),
            test_items: Some(data.test.len()),
            held_out_class: meta.dataset.held_out_class,
            likelihood: Some(meta.train.model.likelihood.to_string()),
            binarization: Some(meta.train.binarize.name().into()),
            iwae_k,
            seeds: (!imported).then(|| vec![meta.train.seed]),
            epochs: trained(meta.epoch),
            batch: trained(meta.train.batch_size),
            backend: Some(backend.into()),
        }
    }

    /// A sweep's runs: what their configurations (`run.toml`) and the data their start
    /// records name have in common. Seeds are every run's, sorted; a key on which the runs
    /// differ (or that no started run records yet) is `null`. The backend is not recorded.
    pub fn of_sweep(plan: &Plan) -> Self {
        let configs: Vec<_> = plan
            .runs
            .iter()
            .filter_map(|r| plan.config(&r.name).ok())
            .collect();
        let datasets: Vec<DatasetInfo> = plan
            .runs
            .iter()
            .filter_map(|r| started_on(&plan.run_dir(&r.name)))
            .collect();
        let same_data = common(configs.iter().map(|c| c.data.clone())).is_some();
        let dataset = common(datasets.iter().cloned()).filter(|_| same_data);
        let mut seeds: Vec<u64> = configs.iter().map(|c| c.run.seed).collect();
        seeds.sort_unstable();
        seeds.dedup();
        let iwae_k = common(
            configs
                .iter()
                .map(|c| run_bound_k(c.final_iwae_k, c.run.eval_iwae_k, c.run.variant)),
        )
        .flatten();
        Self {
            data: dataset.as_ref().map(|d| d.name.clone()),
            train_items: dataset.as_ref().map(|d| d.train_images),
            test_items: dataset.as_ref().map(|d| d.test_images),
            held_out_class: dataset.as_ref().and_then(|d| d.held_out_class),
            likelihood: common(
                configs
                    .iter()
                    .map(|c| c.run.decoder_likelihood().to_string()),
            ),
            binarization: common(configs.iter().map(|c| c.run.binarize.name().to_string())),
            iwae_k,
            seeds: (!seeds.is_empty()).then_some(seeds),
            epochs: common(configs.iter().map(|c| c.run.epochs)),
            batch: common(configs.iter().map(|c| c.run.batch)),
            backend: None,
        }
    }
}

/// The one value every item has, if there are items and they agree.
fn common<T: PartialEq>(mut items: impl Iterator<Item = T>) -> Option<T> {
    let first = items.next()?;
    items.all(|v| v == first).then_some(first)
}

/// The data a run directory's start record (the first line of its metrics) names, if it
/// has one.
fn started_on(dir: &Path) -> Option<DatasetInfo> {
    let file = std::fs::File::open(dir.join(METRICS_FILE)).ok()?;
    let mut line = String::new();
    std::io::BufReader::new(file).read_line(&mut line).ok()?;
    match serde_json::from_str(&line).ok()? {
        Record::Start { dataset, .. } => Some(dataset),
        _ => None,
    }
}

/// One JSON output: schema, version, command, protocol, and the command's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// `latent-explorer/COMMAND`.
    pub schema: String,
    /// The schema's version.
    pub version: u32,
    /// The subcommand as typed.
    pub command: String,
    /// What the figures were measured on.
    pub protocol: Protocol,
    /// The command's result.
    pub data: T,
}

impl<T: Serialize> Envelope<T> {
    /// `data` of `schema`, measured as `protocol` says.
    pub fn new(schema: Schema, protocol: Protocol, data: T) -> Self {
        Self {
            schema: schema.name(),
            version: schema.version,
            command: schema.command.to_string(),
            protocol,
            data,
        }
    }

    /// The envelope as one line of compact JSON (no newline): what the commands print.
    pub fn line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}
