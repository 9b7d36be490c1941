//! [`TrainConfig`]: everything that defines a training run once its data is known
//! (resolved from a [`super::RunSpec`] by [`super::RunSpec::train_config`]), and its checks.

use serde::{Deserialize, Serialize};

use super::error::TrainError;
use crate::data::Binarize;
use crate::limits::{self, LimitError};
use crate::model::{ArchConfig, Likelihood, VaeConfig};
use crate::variant::{KlSchedule, VariantKind, VariantParams};

/// Adam and parameter-penalty settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimConfig {
    /// Learning rate.
    pub lr: f64,
    /// Adam β₁.
    pub beta1: f32,
    /// Adam β₂.
    pub beta2: f32,
    /// L2 weight decay (added to the gradient by Adam); 0 disables it.
    pub weight_decay: f32,
    /// Weight of the L1 penalty Σ|θ| on the model's parameters; 0 disables it.
    pub l1: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            weight_decay: 0.0,
            l1: 0.0,
        }
    }
}

/// Everything that defines a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Model architecture (image size is overwritten from the data).
    pub model: VaeConfig,
    /// Objective.
    pub variant: VariantKind,
    /// Optimiser.
    pub optim: OptimConfig,
    /// β: the KL weight (β-VAE; held at 1 by the plain VAE).
    pub beta: f64,
    /// KL-weight schedule.
    pub schedule: KlSchedule,
    /// Free-bits floor per latent dimension (nats), if any.
    pub free_bits: Option<f64>,
    /// Images per batch.
    pub batch_size: usize,
    /// Epochs to train.
    pub epochs: usize,
    /// Seed for initialisation, shuffling and sampling.
    pub seed: u64,
    /// Importance samples for the per-epoch IWAE bound (0: skip it).
    pub eval_iwae_k: usize,
    /// Variant hyperparameters (IWAE k, WAE λ and kernel, …).
    #[serde(default)]
    pub variant_params: VariantParams,
    /// How pixels become the likelihood's targets (the literature's binarized MNIST:
    /// static or dynamic).
    #[serde(default)]
    pub binarize: Binarize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            model: VaeConfig::default(),
            variant: VariantKind::Vae,
            optim: OptimConfig::default(),
            beta: 1.0,
            schedule: KlSchedule::Constant,
            free_bits: None,
            batch_size: 128,
            epochs: 10,
            seed: 0,
            eval_iwae_k: 0,
            variant_params: VariantParams::default(),
            binarize: Binarize::None,
        }
    }
}

impl TrainConfig {
    /// Check every hyperparameter; the message names the bad one.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::InvalidConfig(m));
        self.model.validate()?;
        let o = &self.optim;
        if !(o.lr.is_finite() && o.lr > 0.0) {
            return bad(format!("learning rate {} must be finite and > 0", o.lr));
        }
        if !(0.0..1.0).contains(&o.beta1) || !(0.0..1.0).contains(&o.beta2) {
            return bad(format!(
                "Adam betas ({}, {}) must be in [0, 1)",
                o.beta1, o.beta2
            ));
        }
        if !(o.weight_decay.is_finite() && o.weight_decay >= 0.0) {
            return bad(format!("weight decay {} must be ≥ 0", o.weight_decay));
        }
        if !(o.l1.is_finite() && o.l1 >= 0.0) {
            return bad(format!("L1 weight {} must be ≥ 0", o.l1));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return bad(format!("β {} must be finite and ≥ 0", self.beta));
        }
        if let Some(fb) = self.free_bits
            && !(fb.is_finite() && fb >= 0.0)
        {
            return bad(format!("free bits {fb} must be finite and ≥ 0"));
        }
        if self.binarize != Binarize::None
            && !matches!(self.model.likelihood, Likelihood::Bernoulli)
        {
            return bad(format!(
                "{} binarization makes 0/1 targets for the Bernoulli likelihood, not the {}",
                self.binarize, self.model.likelihood
            ));
        }
        self.check_sizes()?;
        self.variant_params
            .validate()
            .map_err(TrainError::InvalidConfig)?;
        let expected = self.variant.latent_kind(&self.variant_params);
        if self.model.latent != expected {
            return bad(format!(
                "variant {} needs the latent {expected:?}, but the model's latent is {:?}",
                self.variant, self.model.latent
            ));
        }
        self.schedule.validate().map_err(TrainError::InvalidConfig)
    }

    /// Batch, epochs and the largest activations and discriminators within
    /// [`crate::limits`] (the model's own sizes are checked by its `validate`).
    fn check_sizes(&self) -> Result<(), LimitError> {
        use limits::{MAX_ELEMENTS, check, product};
        let b = check("batch size", self.batch_size, 1, limits::MAX_BATCH)?;
        check("epochs", self.epochs, 1, limits::MAX_EPOCHS)?;
        check("IWAE k", self.variant_params.iwae_k, 0, limits::MAX_IWAE_K)?;
        check("evaluation IWAE k", self.eval_iwae_k, 0, limits::MAX_IWAE_K)?;
        // Validated by the model config before this runs.
        let pixels = self.model.pixels();
        let k = if self.variant == VariantKind::Iwae {
            self.variant_params.iwae_k.max(1)
        } else {
            1
        };
        product("batch × samples × pixels", &[b, k, pixels], MAX_ELEMENTS)?;
        let widest = match &self.model.arch {
            ArchConfig::Mlp { hidden } => hidden.iter().copied().max().unwrap_or(0),
            ArchConfig::Conv { channels, dense } => (*dense)
                .max(channels[0].max(channels[1]) * (self.model.rows / 2) * (self.model.cols / 2)),
        };
        product(
            "batch × samples × widest layer",
            &[b, k, widest],
            MAX_ELEMENTS,
        )?;
        // A discriminator sees at most an image and a code.
        let input = limits::sum(
            "discriminator inputs",
            &[pixels, self.model.latent_dim],
            MAX_ELEMENTS,
        )?;
        let p = &self.variant_params;
        for (name, hidden) in [
            ("AAE discriminator parameters", &p.aae_disc_hidden),
            ("VAE-GAN discriminator parameters", &p.vaegan_disc_hidden),
            ("BiGAN discriminator parameters", &p.bigan_disc_hidden),
            ("FactorVAE discriminator parameters", &p.factor_disc_hidden),
            ("AVB discriminator parameters", &p.avb_disc_hidden),
        ] {
            check(
                &format!("{name}: layers"),
                hidden.len(),
                0,
                limits::MAX_LAYERS,
            )?;
            let mut widths = vec![input];
            widths.extend(hidden.iter().map(|&w| w.min(limits::MAX_WIDTH + 1)));
            widths.push(1);
            let mut total = 0;
            for w in widths.windows(2) {
                let layer = product(name, &[w[0], w[1]], limits::MAX_PARAMETERS)?;
                total = limits::sum(name, &[total, layer], limits::MAX_PARAMETERS)?;
            }
        }
        Ok(())
    }

    /// Steps in one epoch over `n` training images (the last batch may be short).
    pub fn steps_per_epoch(&self, n: usize) -> u64 {
        n.div_ceil(self.batch_size.max(1)) as u64
    }
}
