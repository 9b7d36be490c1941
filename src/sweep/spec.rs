//! A sweep file: a base run configuration and axes (lists of values for any configuration
//! key) combined as a grid, with `exclude` entries that drop grid points and `include`
//! entries that add runs. [`SweepSpec::expand`] turns it into named, validated runs.
//!
//! ```toml
//! [base]            # any run configuration key (`latent-explorer train --print-config`)
//! epochs = 1
//! hidden = [32]
//!
//! [axes]            # the grid, in this order in the runs' names
//! variant = ["vae", "beta-vae"]
//! beta = [1.0, 4.0]
//! seed = [0, 1]
//!
//! [[exclude]]       # drop the grid points that match every key given
//! variant = "vae"
//! beta = 4.0
//!
//! [[include]]       # add a run: the base with these keys
//! variant = "iwae"
//! seed = 0
//! ```

use thiserror::Error;

use crate::train::{ConfigError, RunConfig};

/// A sweep that cannot be used; each names the key and the entry.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SpecError {
    /// Not TOML.
    #[error("not a valid TOML file: {0}")]
    Parse(String),
    /// A key outside `base`, `axes`, `exclude`, `include` at the top.
    #[error("unknown section `{0}` (a sweep has [base], [axes], [[exclude]] and [[include]])")]
    Section(String),
    /// A section of the wrong form.
    #[error("{entry}: {why}")]
    Form {
        /// Where (`axes`, `exclude[1]`, …).
        entry: String,
        /// What is wrong.
        why: String,
    },
    /// A configuration key or value refused.
    #[error("{entry}: {source}")]
    Config {
        /// Where (`base`, `axes.beta[1]`, `exclude[0]`, a run's name).
        entry: String,
        /// What is wrong with the key or value.
        #[source]
        source: ConfigError,
    },
    /// Two runs of the sweep would be the same run, or have the same name.
    #[error("{0}")]
    Duplicate(String),
    /// Nothing to run.
    #[error("the sweep has no runs (every grid point excluded?)")]
    Empty,
}

/// One run of a sweep: its directory name, the axis values that make it, its
/// configuration (resolved).
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    /// Its directory's name under `runs/`, made of its axis values
    /// (`beta-vae_beta4_seed2`).
    pub name: String,
    /// The axis (and include) keys and values that set it apart, in the sweep's order.
    pub axes: Vec<(String, toml::Value)>,
    /// Its configuration, every default explicit.
    pub config: RunConfig,
}

/// A parsed sweep file.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    base: toml::Table,
    axes: Vec<(String, Vec<toml::Value>)>,
    exclude: Vec<toml::Table>,
    include: Vec<toml::Table>,
}

/// The TOML form of `v` for messages.
fn shown(v: &toml::Value) -> String {
    v.to_string()
}

/// The array `v` at `entry`, or the error.
fn array<'a>(entry: &str, v: &'a toml::Value) -> Result<&'a Vec<toml::Value>, SpecError> {
    v.as_array().ok_or_else(|| SpecError::Form {
        entry: entry.into(),
        why: format!("a list of values expected, found {}", shown(v)),
    })
}

/// The tables of the array-of-tables `v` at `entry`.
fn tables(entry: &str, v: &toml::Value) -> Result<Vec<toml::Table>, SpecError> {
    array(entry, v)?
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.as_table().cloned().ok_or_else(|| SpecError::Form {
                entry: format!("{entry}[{i}]"),
                why: "a table of keys expected ([[{entry}]])".into(),
            })
        })
        .collect()
}

impl SweepSpec {
    /// Read a sweep file's text. Every key is checked against the run configuration's keys
    /// and every value's type by setting it on a configuration; ranges are checked run by
    /// run in [`SweepSpec::expand`].
    pub fn from_toml(text: &str) -> Result<Self, SpecError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| SpecError::Parse(e.to_string().trim().to_string()))?;
        let mut spec = Self {
            base: toml::Table::new(),
            axes: Vec::new(),
            exclude: Vec::new(),
            include: Vec::new(),
        };
        for (section, value) in table {
            match section.as_str() {
                "base" => {
                    spec.base = value.as_table().cloned().ok_or_else(|| SpecError::Form {
                        entry: "base".into(),
                        why: "a table of run configuration keys expected ([base])".into(),
                    })?;
                }
                "axes" => {
                    let t = value.as_table().ok_or_else(|| SpecError::Form {
                        entry: "axes".into(),
                        why: "a table of keys and lists of values expected ([axes])".into(),
                    })?;
                    for (key, values) in t {
                        let entry = format!("axes.{key}");
                        let values = array(&entry, values)?;
                        if values.is_empty() {
                            return Err(SpecError::Form {
                                entry,
                                why: "an empty list: the grid would have no point".into(),
                            });
                        }
                        spec.axes.push((key.clone(), values.clone()));
                    }
                }
                "exclude" => spec.exclude = tables("exclude", &value)?,
                "include" => spec.include = tables("include", &value)?,
                other => return Err(SpecError::Section(other.into())),
            }
        }
        spec.check_keys()?;
        Ok(spec)
    }

    /// Every key known and every value of a type its key takes.
    fn check_keys(&self) -> Result<(), SpecError> {
        let config = |entry: String| move |source| SpecError::Config { entry, source };
        let mut cfg = RunConfig::default();
        for (key, value) in &self.base {
            cfg.set(key, value.clone()).map_err(config("base".into()))?;
        }
        for (key, values) in &self.axes {
            for (i, v) in values.iter().enumerate() {
                RunConfig::default()
                    .set(key, v.clone())
                    .map_err(config(format!("axes.{key}[{i}]")))?;
            }
        }
        for (i, t) in self.exclude.iter().enumerate() {
            for (key, v) in t {
                if !self.axes.iter().any(|(k, _)| k == key) {
                    return Err(SpecError::Form {
                        entry: format!("exclude[{i}]"),
                        why: format!("`{key}` is not an axis (an exclusion matches axis values)"),
                    });
                }
                RunConfig::default()
                    .set(key, v.clone())
                    .map_err(config(format!("exclude[{i}]")))?;
            }
        }
        for (i, t) in self.include.iter().enumerate() {
            for (key, v) in t {
                RunConfig::default()
                    .set(key, v.clone())
                    .map_err(config(format!("include[{i}]")))?;
            }
        }
        Ok(())
    }

    /// The axis keys, in the sweep's order.
    pub fn axis_keys(&self) -> Vec<&str> {
        self.axes.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// Every run: the grid of the axes (first axis slowest), less the excluded points, then
    /// the included runs. Each is the base with its values set, resolved and validated; a
    /// bad value is refused naming the run and the key. Two runs with one configuration or
    /// one name are refused.
    pub fn expand(&self) -> Result<Vec<PlannedRun>, SpecError> {
        let mut points: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
        for (key, values) in &self.axes {
            points = points
                .into_iter()
                .flat_map(|p| {
                    values.iter().map(move |v| {
                        let mut q = p.clone();
                        q.push((key.clone(), v.clone()));
                        q
                    })
                })
                .collect();
        }
        if self.axes.is_empty() && !self.include.is_empty() {
            points.clear();
        }
        let matches = |point: &[(String, toml::Value)], t: &toml::Table| {
            t.iter()
                .all(|(k, v)| point.iter().any(|(pk, pv)| pk == k && same_value(pv, v)))
        };
        points.retain(|p| !self.exclude.iter().any(|t| matches(p, t)));
        points.extend(
            self.include
                .iter()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        );
        if points.is_empty() {
            return Err(SpecError::Empty);
        }
        let mut runs: Vec<PlannedRun> = Vec::with_capacity(points.len());
        for axes in points {
            let name = run_name(&axes);
            let mut cfg = RunConfig::default();
            for (key, value) in &self.base {
                cfg.set(key, value.clone())
                    .map_err(|source| SpecError::Config {
                        entry: "base".into(),
                        source,
                    })?;
            }
            for (key, value) in &axes {
                cfg.set(key, value.clone())
                    .map_err(|source| SpecError::Config {
                        entry: format!("run {name}"),
                        source,
                    })?;
            }
            cfg.validate().map_err(|source| SpecError::Config {
                entry: format!("run {name}"),
                source,
            })?;
            let config = cfg.resolved();
            if let Some(other) = runs.iter().find(|r| r.name == name) {
                return Err(SpecError::Duplicate(format!(
                    "two runs are named {name} ({} and {}): give the axes values that differ",
                    describe(&other.axes),
                    describe(&axes)
                )));
            }
            if let Some(other) = runs.iter().find(|r| r.config == config) {
                return Err(SpecError::Duplicate(format!(
                    "runs {} and {name} are the same run (an include repeating a grid point?)",
                    other.name
                )));
            }
            runs.push(PlannedRun { name, axes, config });
        }
        Ok(runs)
    }
}

/// Groups of runs that differ only in keys their variant ignores (`beta` for the plain
/// VAE, …), so they train the same model: each group's names, with the keys. A sweep may
/// mean it (a grid over every variant), but it spends the runs twice.
pub fn same_models(runs: &[PlannedRun]) -> Vec<(Vec<String>, Vec<&'static str>)> {
    let mut groups: Vec<(RunConfig, Vec<String>, Vec<&'static str>)> = Vec::new();
    let defaults = toml::Table::try_from(RunConfig::default()).unwrap_or_default();
    for r in runs {
        let ignored = r.config.run.ignored_keys();
        // The run with every key its variant ignores put back to its default.
        let mut base = r.config.clone();
        for key in &ignored {
            if *key == "beta" {
                base.run.beta = None;
            } else if let Some(v) = defaults.get(*key) {
                // The key's own default: setting it cannot fail.
                let _ = base.set(key, v.clone());
            }
        }
        match groups.iter_mut().find(|(c, _, _)| *c == base) {
            Some((_, names, _)) => names.push(r.name.clone()),
            None => groups.push((base, vec![r.name.clone()], ignored)),
        }
    }
    groups
        .into_iter()
        .filter(|(_, names, _)| names.len() > 1)
        .map(|(_, names, ignored)| {
            // Only the ignored keys the runs actually differ in are worth naming.
            let differ: Vec<&'static str> = ignored
                .into_iter()
                .filter(|k| {
                    let values: Vec<Option<toml::Value>> = names
                        .iter()
                        .filter_map(|n| runs.iter().find(|r| r.name == *n))
                        .map(|r| {
                            toml::Table::try_from(&r.config)
                                .ok()
                                .and_then(|t| t.get(*k).cloned())
                        })
                        .collect();
                    values.windows(2).any(|w| w[0] != w[1])
                })
                .collect();
            (names, differ)
        })
        .collect()
}

/// Whether two TOML values are the same setting (an integer and the float it equals are).
fn same_value(a: &toml::Value, b: &toml::Value) -> bool {
    match (
        a.as_float().or(a.as_integer().map(|i| i as f64)),
        b.as_float().or(b.as_integer().map(|i| i as f64)),
    ) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// `key=value, …` for messages.
fn describe(axes: &[(String, toml::Value)]) -> String {
    axes.iter()
        .map(|(k, v)| format!("{k}={}", shown(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A run's directory name from its axis values: the variant as it is, other keys with
/// their value (`beta4`, `lr0.001`, `seed2`, `hidden32x32`, `kl_schedule-cyclical`), joined
/// by `_`; only letters, digits, `.`, `-` and `_` are kept.
pub fn run_name(axes: &[(String, toml::Value)]) -> String {
    fn value(v: &toml::Value) -> String {
        match v {
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Array(a) => a.iter().map(value).collect::<Vec<_>>().join("x"),
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
    let parts: Vec<String> = axes
        .iter()
        .map(|(k, v)| match (k.as_str(), v) {
            ("variant", _) => value(v),
            (_, toml::Value::String(_) | toml::Value::Boolean(_)) => format!("{k}-{}", value(v)),
            _ => format!("{k}{}", value(v)),
        })
        .collect();
    let name: String = parts
        .join("_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() { "run".into() } else { name }
}
