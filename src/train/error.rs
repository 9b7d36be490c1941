//! [`TrainError`]: why a run cannot be set up or a step cannot be taken.

use thiserror::Error;

use crate::limits::LimitError;
use crate::model::ModelError;

impl From<LimitError> for TrainError {
    fn from(e: LimitError) -> Self {
        Self::Limit(e)
    }
}

/// Training failures.
#[derive(Debug, Error)]
pub enum TrainError {
    /// A hyperparameter is invalid.
    #[error("invalid training config: {0}")]
    InvalidConfig(String),
    /// The model config is invalid.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A label the conditional model does not know.
    #[error(transparent)]
    Label(#[from] crate::data::LabelOutOfRange),
    /// A size is outside [`crate::limits`] (shown in the message, not as a source, so a
    /// chain of causes prints it once).
    #[error("invalid training config: {0}")]
    Limit(LimitError),
    /// A training state that does not fit the run it is to resume.
    #[error("cannot resume exactly: {0}")]
    Resume(String),
    /// The dataset has no training images.
    #[error("the dataset has no training images")]
    EmptyData,
    /// A loss term or the gradient went NaN or infinite; the weights were kept.
    #[error("{term} became {value} at step {step}; training paused with the last finite weights")]
    NonFinite {
        /// Global step at which it happened.
        step: u64,
        /// Which term ("total", "rec", "kl", "grad_norm", …), prefixed by phase if several.
        term: String,
        /// The value seen (NaN or ±inf).
        value: f64,
    },
}
