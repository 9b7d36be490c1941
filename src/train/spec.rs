//! [`RunSpec`]: everything a user chooses about a training run (variant, architecture,
//! optimiser, schedule, variant hyperparameters, seed, budget), in one type shared by the
//! command line (`latent-explorer train` flattens it into its arguments) and the app (its
//! draft of the next run is one). [`RunSpec::train_config`] turns it into the
//! [`TrainConfig`] the trainer runs, so the two front ends cannot drift apart.

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::config::{OptimConfig, TrainConfig};
use crate::data::{Binarize, Dataset};
use crate::limits;
use crate::model::{ArchConfig, Likelihood, VaeConfig};
use crate::variant::{CycleShape, Kernel, KlSchedule, VariantKind, VariantParams};

/// Architecture family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchKind {
    /// Fully connected (hidden widths from --hidden).
    #[default]
    Mlp,
    /// Two stride-2 convolutions (32/64) and a dense layer.
    Conv,
}

/// Likelihood family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LikelihoodKind {
    /// Bernoulli pixels (BCE with logits).
    #[default]
    Bernoulli,
    /// Gaussian pixels, σ from --sigma (learned with --learn-sigma).
    Gaussian,
}

/// KL schedule family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// Weight 1 throughout.
    #[default]
    Constant,
    /// Linear warm-up over --warmup-steps.
    Linear,
    /// Cyclical annealing (Fu et al. 2019): --cycles, --cycle-ratio, --cycle-shape.
    Cyclical,
}

/// A training run as the user describes it. The defaults are the command line's; the
/// `Default` impl and clap's `default_value`s are kept equal by a test.
#[derive(Debug, Clone, PartialEq, Args, Serialize, Deserialize)]
#[serde(default)]
pub struct RunSpec {
    /// Objective.
    #[arg(long, value_enum, default_value_t = VariantKind::Vae)]
    pub variant: VariantKind,
    /// Architecture.
    #[arg(long, value_enum, default_value_t = ArchKind::Mlp)]
    pub arch: ArchKind,
    /// MLP hidden widths, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "400")]
    pub hidden: Vec<usize>,
    /// Latent dimensions.
    #[arg(long, default_value_t = 20)]
    pub latent: usize,
    /// Decoder likelihood.
    #[arg(long, value_enum, default_value_t = LikelihoodKind::Bernoulli)]
    pub likelihood: LikelihoodKind,
    /// Gaussian likelihood σ (fixed, or initial when learned).
    #[arg(long, default_value_t = 0.1)]
    pub sigma: f32,
    /// Learn the Gaussian σ.
    #[arg(long)]
    pub learn_sigma: bool,
    /// Passes over the training split (0 is refused).
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Images per optimisation step.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Adam β₁.
    #[arg(long, default_value_t = 0.9)]
    pub adam_beta1: f32,
    /// Adam β₂.
    #[arg(long, default_value_t = 0.999)]
    pub adam_beta2: f32,
    /// L2 weight decay.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f32,
    /// L1 weight penalty.
    #[arg(long, default_value_t = 0.0)]
    pub l1: f64,
    /// KL weight β (default: the variant's: 1 for VAE, 4 for β-VAE).
    #[arg(long)]
    pub beta: Option<f64>,
    /// KL weight schedule.
    #[arg(long, value_enum, default_value_t = ScheduleKind::Constant)]
    pub kl_schedule: ScheduleKind,
    /// Warm-up steps for the linear schedule.
    #[arg(long, default_value_t = 1000)]
    pub warmup_steps: u64,
    /// Cycles M of the cyclical schedule (over the whole run).
    #[arg(long, default_value_t = 4)]
    pub cycles: u32,
    /// Rising fraction R of each cycle.
    #[arg(long, default_value_t = 0.5)]
    pub cycle_ratio: f64,
    /// Shape of each cycle's rise.
    #[arg(long, value_enum, default_value_t = CycleShape::Linear)]
    pub cycle_shape: CycleShape,
    /// Free-bits floor λ per latent dimension (nats).
    #[arg(long)]
    pub free_bits: Option<f64>,
    /// IWAE: importance samples per image in the training bound.
    #[arg(long, default_value_t = 5)]
    pub iwae_k: usize,
    /// WAE-MMD: weight λ of the MMD term.
    #[arg(long, default_value_t = 10.0)]
    pub mmd_lambda: f64,
    /// WAE-MMD: kernel.
    #[arg(long, value_enum, default_value_t = Kernel::Imq)]
    pub mmd_kernel: Kernel,
    /// WAE-Sinkhorn: weight λ of the transport cost.
    #[arg(long, default_value_t = 1.0)]
    pub sinkhorn_lambda: f64,
    /// WAE-Sinkhorn: entropic temperature ε.
    #[arg(long, default_value_t = 1.0)]
    pub sinkhorn_eps: f64,
    /// AAE: weight γ of the discriminator's R1 gradient penalty (0: off).
    #[arg(long, default_value_t = 10.0)]
    pub aae_r1: f64,
    /// VAE-GAN: weight γ of the generator's adversarial loss.
    #[arg(long, default_value_t = 10.0)]
    pub gan_weight: f64,
    /// VQ-VAE: codebook entries K.
    #[arg(long, default_value_t = 512)]
    pub vq_codes: usize,
    /// VQ-VAE: dimensions per codebook entry (divides --latent).
    #[arg(long, default_value_t = 4)]
    pub vq_code_dim: usize,
    /// VQ-VAE: commitment weight β.
    #[arg(long, default_value_t = 0.25)]
    pub vq_commitment: f64,
    /// Two-layer VAE: dimensions of the lower latent z1 (--latent sets the top z2).
    #[arg(long, default_value_t = 50)]
    pub bottom_latent: usize,
    /// FactorVAE: weight γ of the total-correlation term.
    #[arg(long, default_value_t = 40.0)]
    pub factor_gamma: f64,
    /// Capacity VAE: weight γ of |KL − C|.
    #[arg(long, default_value_t = 1000.0)]
    pub capacity_gamma: f64,
    /// Capacity VAE: the final capacity C_max, in nats.
    #[arg(long, default_value_t = 25.0)]
    pub capacity_max: f64,
    /// Capacity VAE: steps over which the capacity rises from 0 to C_max.
    #[arg(long, default_value_t = 2000)]
    pub capacity_steps: u64,
    /// DIP-VAE: weight λ_od of the covariance's off-diagonal entries.
    #[arg(long, default_value_t = 10.0)]
    pub dip_lambda_od: f64,
    /// DIP-VAE: weight λ_d of its diagonal's distance from 1 (default: 10 λ_od for
    /// DIP-VAE-I, λ_od for DIP-VAE-II, as in the paper).
    #[arg(long)]
    pub dip_lambda_d: Option<f64>,
    /// VampPrior: pseudo-inputs K, the mixture components of the prior (the paper: 500).
    #[arg(long, default_value_t = 500)]
    pub pseudo_inputs: usize,
    /// AVB: hidden widths of the discriminator T(x, z), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "256,256")]
    pub avb_disc_hidden: Vec<usize>,
    /// AVB: the discriminator's learning rate as a multiple of --lr.
    #[arg(long, default_value_t = 1.0)]
    pub avb_disc_lr: f64,
    /// AVB: dimensions of the noise ε the implicit encoder reads beside the image.
    #[arg(long, default_value_t = 20)]
    pub avb_noise: usize,
    /// IAF and planar flow: steps of the posterior's flow (1..=64).
    #[arg(long, default_value_t = 4)]
    pub flow_steps: usize,
    /// IAF: hidden units of each flow step's MADE.
    #[arg(long, default_value_t = 64)]
    pub flow_hidden: usize,
    /// M2: training images that keep their labels, balanced across classes and chosen
    /// with the seed (the rest are unlabelled).
    #[arg(long, default_value_t = 100)]
    pub labelled: usize,
    /// M2: weight α of the classification loss −log q(y|x) added to each labelled image's
    /// loss (default: the paper's 0.1 · N, N the training images).
    #[arg(long)]
    pub m2_alpha: Option<f64>,
    /// Binarize the pixels, the literature's MNIST protocol: `dynamic` draws each training
    /// image from Bernoulli(pixel) anew at every step (the test split one fixed draw),
    /// `static` uses one fixed draw of both splits, `none` trains on the grey values.
    #[arg(long, value_enum, default_value_t = Binarize::None)]
    pub binarize: Binarize,
    /// Seed for initialisation, shuffling and sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Importance samples for an IWAE bound after every epoch (0: skip).
    #[arg(long, default_value_t = 0)]
    pub eval_iwae_k: usize,
}

impl Default for RunSpec {
    fn default() -> Self {
        Self {
            variant: VariantKind::Vae,
            arch: ArchKind::Mlp,
            hidden: vec![400],
            latent: 20,
            likelihood: LikelihoodKind::Bernoulli,
            sigma: 0.1,
            learn_sigma: false,
            epochs: 10,
            batch: 128,
            lr: 1e-3,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            weight_decay: 0.0,
            l1: 0.0,
            beta: None,
            kl_schedule: ScheduleKind::Constant,
            warmup_steps: 1000,
            cycles: 4,
            cycle_ratio: 0.5,
            cycle_shape: CycleShape::Linear,
            free_bits: None,
            iwae_k: 5,
            mmd_lambda: 10.0,
            mmd_kernel: Kernel::Imq,
            sinkhorn_lambda: 1.0,
            sinkhorn_eps: 1.0,
            aae_r1: 10.0,
            gan_weight: 10.0,
            vq_codes: 512,
            vq_code_dim: 4,
            vq_commitment: 0.25,
            bottom_latent: 50,
            factor_gamma: 40.0,
            capacity_gamma: 1000.0,
            capacity_max: 25.0,
            capacity_steps: 2000,
            dip_lambda_od: 10.0,
            dip_lambda_d: None,
            pseudo_inputs: 500,
            avb_disc_hidden: vec![256, 256],
            avb_disc_lr: 1.0,
            avb_noise: 20,
            flow_steps: 4,
            flow_hidden: 64,
            labelled: 100,
            m2_alpha: None,
            binarize: Binarize::None,
            seed: 0,
            eval_iwae_k: 0,
        }
    }
}

/// A value of a run's description that is out of range, named by its key (the field name:
/// the key in a run configuration file, the flag `--KEY` with `-` for `_`).
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{key} = {value}: {why}")]
pub struct SpecError {
    /// The key.
    pub key: String,
    /// The value given, as written in a configuration file.
    pub value: String,
    /// What it must be.
    pub why: String,
}

/// Refuse `value` of `key` unless `ok`, saying it `must` …
fn require(
    key: &str,
    value: impl std::fmt::Display,
    ok: bool,
    must: &str,
) -> Result<(), SpecError> {
    if ok {
        Ok(())
    } else {
        Err(SpecError {
            key: key.into(),
            value: value.to_string(),
            why: format!("must be {must}"),
        })
    }
}

/// `value` of `key` within `lo..=hi`.
fn within(key: &str, value: usize, lo: usize, hi: usize) -> Result<(), SpecError> {
    require(
        key,
        value,
        (lo..=hi).contains(&value),
        &format!("in {lo}..={hi}"),
    )
}

/// `value` of `key` finite and at least 0 (or above 0 when `strict`).
fn non_negative(key: &str, value: f64, strict: bool) -> Result<(), SpecError> {
    let ok = value.is_finite() && if strict { value > 0.0 } else { value >= 0.0 };
    require(
        key,
        value,
        ok,
        if strict {
            "finite and > 0"
        } else {
            "finite and ≥ 0"
        },
    )
}

impl RunSpec {
    /// Check every value that can be checked without the data, naming the first bad key.
    /// The checks that need the image size (activation sizes, the conv architecture's
    /// image sides) come with the data, in [`TrainConfig::validate`].
    pub fn validate(&self) -> Result<(), SpecError> {
        let hidden = format!("{:?}", self.hidden);
        within("hidden", self.hidden.len(), 0, limits::MAX_LAYERS).map_err(|e| SpecError {
            value: hidden.clone(),
            ..e
        })?;
        require(
            "hidden",
            &hidden,
            self.hidden
                .iter()
                .all(|&w| (1..=limits::MAX_WIDTH).contains(&w)),
            &format!("widths in 1..={}", limits::MAX_WIDTH),
        )?;
        within("latent", self.latent, 1, limits::MAX_LATENT)?;
        non_negative("sigma", self.sigma as f64, true)?;
        within("epochs", self.epochs, 1, limits::MAX_EPOCHS)?;
        within("batch", self.batch, 1, limits::MAX_BATCH)?;
        non_negative("lr", self.lr, true)?;
        for (key, b) in [
            ("adam_beta1", self.adam_beta1),
            ("adam_beta2", self.adam_beta2),
        ] {
            require(key, b, (0.0..1.0).contains(&b), "in [0, 1)")?;
        }
        non_negative("weight_decay", self.weight_decay as f64, false)?;
        non_negative("l1", self.l1, false)?;
        if let Some(beta) = self.beta {
            non_negative("beta", beta, false)?;
        }
        if self.kl_schedule == ScheduleKind::Linear {
            require(
                "warmup_steps",
                self.warmup_steps,
                self.warmup_steps > 0,
                "> 0",
            )?;
        }
        if self.kl_schedule == ScheduleKind::Cyclical {
            require("cycles", self.cycles, self.cycles > 0, "> 0")?;
            let r = self.cycle_ratio;
            require("cycle_ratio", r, r > 0.0 && r <= 1.0, "in (0, 1]")?;
        }
        if let Some(fb) = self.free_bits {
            non_negative("free_bits", fb, false)?;
        }
        if self.binarize != Binarize::None {
            require(
                "binarize",
                self.binarize,
                self.likelihood == LikelihoodKind::Bernoulli,
                "none with the Gaussian likelihood (binarized pixels are Bernoulli targets)",
            )?;
        }
        within("iwae_k", self.iwae_k, 1, 5000)?;
        for (key, v) in [
            ("mmd_lambda", self.mmd_lambda),
            ("sinkhorn_lambda", self.sinkhorn_lambda),
            ("aae_r1", self.aae_r1),
            ("gan_weight", self.gan_weight),
            ("vq_commitment", self.vq_commitment),
            ("factor_gamma", self.factor_gamma),
            ("capacity_gamma", self.capacity_gamma),
            ("capacity_max", self.capacity_max),
            ("dip_lambda_od", self.dip_lambda_od),
        ] {
            non_negative(key, v, false)?;
        }
        if let Some(l) = self.dip_lambda_d {
            non_negative("dip_lambda_d", l, false)?;
        }
        if let Some(a) = self.m2_alpha {
            non_negative("m2_alpha", a, false)?;
        }
        // At least one labelled image per class and no more than the training split: checked
        // with the data, when the run starts.
        require("labelled", self.labelled, self.labelled >= 1, "≥ 1")?;
        non_negative("sinkhorn_eps", self.sinkhorn_eps, true)?;
        let avb_hidden = format!("{:?}", self.avb_disc_hidden);
        within(
            "avb_disc_hidden",
            self.avb_disc_hidden.len(),
            0,
            limits::MAX_LAYERS,
        )
        .map_err(|e| SpecError {
            value: avb_hidden.clone(),
            ..e
        })?;
        require(
            "avb_disc_hidden",
            &avb_hidden,
            self.avb_disc_hidden
                .iter()
                .all(|&w| (1..=limits::MAX_WIDTH).contains(&w)),
            &format!("widths in 1..={}", limits::MAX_WIDTH),
        )?;
        non_negative("avb_disc_lr", self.avb_disc_lr, true)?;
        within("avb_noise", self.avb_noise, 1, limits::MAX_LATENT)?;
        within("vq_codes", self.vq_codes, 2, 65_536)?;
        require("vq_code_dim", self.vq_code_dim, self.vq_code_dim > 0, "> 0")?;
        if self.variant == VariantKind::VqVae {
            require(
                "vq_code_dim",
                self.vq_code_dim,
                self.latent.is_multiple_of(self.vq_code_dim),
                &format!("a divisor of latent ({}) for the VQ-VAE", self.latent),
            )?;
        }
        within("bottom_latent", self.bottom_latent, 1, limits::MAX_LATENT)?;
        within(
            "pseudo_inputs",
            self.pseudo_inputs,
            1,
            crate::model::pseudo::MAX_PSEUDO_INPUTS,
        )?;
        within(
            "flow_steps",
            self.flow_steps,
            1,
            crate::model::flow::MAX_FLOW_STEPS,
        )?;
        within("flow_hidden", self.flow_hidden, 1, limits::MAX_WIDTH)?;
        within("eval_iwae_k", self.eval_iwae_k, 0, limits::MAX_IWAE_K)?;
        Ok(())
    }

    /// The keys of this spec that its variant does not use: a run that changes only them
    /// trains the same model (`beta` for the plain VAE, `iwae_k` for all but the IWAE, …).
    pub fn ignored_keys(&self) -> Vec<&'static str> {
        use VariantKind as V;
        let v = self.variant;
        let uses_beta = matches!(
            v,
            V::BetaVae | V::Cvae | V::BetaTcvae | V::TwoLayer | V::VaeGan | V::FactorVae
        );
        let mut keys = Vec::new();
        for (key, used) in [
            ("beta", uses_beta),
            ("iwae_k", v == V::Iwae),
            ("mmd_lambda", v == V::WaeMmd),
            ("mmd_kernel", v == V::WaeMmd),
            ("sinkhorn_lambda", v == V::WaeSinkhorn),
            ("sinkhorn_eps", v == V::WaeSinkhorn),
            ("aae_r1", v == V::Aae),
            ("gan_weight", v == V::VaeGan),
            ("vq_codes", v == V::VqVae),
            ("vq_code_dim", v == V::VqVae),
            ("vq_commitment", v == V::VqVae),
            ("bottom_latent", v == V::TwoLayer),
            ("factor_gamma", v == V::FactorVae),
            ("capacity_gamma", v == V::CapacityVae),
            ("capacity_max", v == V::CapacityVae),
            ("capacity_steps", v == V::CapacityVae),
            ("dip_lambda_od", matches!(v, V::DipVaeI | V::DipVaeII)),
            ("dip_lambda_d", matches!(v, V::DipVaeI | V::DipVaeII)),
            ("pseudo_inputs", v == V::VampPrior),
            ("avb_disc_hidden", v == V::Avb),
            ("avb_disc_lr", v == V::Avb),
            ("avb_noise", v == V::Avb),
            ("flow_steps", matches!(v, V::Iaf | V::PlanarFlow)),
            ("flow_hidden", v == V::Iaf),
            ("labelled", v == V::M2),
            ("m2_alpha", v == V::M2),
        ] {
            if !used {
                keys.push(key);
            }
        }
        keys
    }

    /// β as the run will use it: the one set, else the variant's default.
    pub fn effective_beta(&self) -> f64 {
        self.beta.unwrap_or(self.variant.default_beta())
    }

    /// The KL schedule for a run of `total_steps` steps.
    pub fn kl_schedule(&self, total_steps: u64) -> KlSchedule {
        match self.kl_schedule {
            ScheduleKind::Constant => KlSchedule::Constant,
            ScheduleKind::Linear => KlSchedule::Linear {
                warmup_steps: self.warmup_steps,
            },
            ScheduleKind::Cyclical => KlSchedule::Cyclical {
                total_steps,
                cycles: self.cycles,
                ratio: self.cycle_ratio,
                shape: self.cycle_shape,
            },
        }
    }

    /// The variant hyperparameters this spec sets (the rest at their defaults).
    pub fn variant_params(&self) -> VariantParams {
        VariantParams {
            iwae_k: self.iwae_k,
            mmd_lambda: self.mmd_lambda,
            mmd_kernel: self.mmd_kernel,
            sinkhorn_lambda: self.sinkhorn_lambda,
            sinkhorn_eps: self.sinkhorn_eps,
            aae_r1: self.aae_r1,
            vaegan_gan_weight: self.gan_weight,
            vq_codes: self.vq_codes,
            vq_code_dim: self.vq_code_dim,
            vq_commitment: self.vq_commitment,
            two_layer_bottom: self.bottom_latent,
            factor_gamma: self.factor_gamma,
            capacity_gamma: self.capacity_gamma,
            capacity_max: self.capacity_max,
            capacity_steps: self.capacity_steps,
            dip_lambda_od: self.dip_lambda_od,
            dip_lambda_d: self.dip_lambda_d,
            vamp_pseudo_inputs: self.pseudo_inputs,
            avb_disc_hidden: self.avb_disc_hidden.clone(),
            avb_disc_lr: self.avb_disc_lr,
            avb_noise: self.avb_noise,
            flow_steps: self.flow_steps,
            flow_hidden: self.flow_hidden,
            m2_labelled: self.labelled,
            m2_alpha: self.m2_alpha,
            ..VariantParams::default()
        }
    }

    /// The decoder likelihood the run trains with (`likelihood`, `sigma`, `learn_sigma`).
    pub fn decoder_likelihood(&self) -> Likelihood {
        match self.likelihood {
            LikelihoodKind::Bernoulli => Likelihood::Bernoulli,
            LikelihoodKind::Gaussian => Likelihood::Gaussian {
                sigma: self.sigma,
                learned: self.learn_sigma,
            },
        }
    }

    /// The training configuration for `data` (image size from the data). Nothing is
    /// clamped: [`TrainConfig::validate`] (run by the trainer) names a bad value.
    pub fn train_config(&self, data: &Dataset) -> TrainConfig {
        let arch = match self.arch {
            ArchKind::Mlp => ArchConfig::Mlp {
                hidden: self.hidden.clone(),
            },
            ArchKind::Conv => ArchConfig::conv_default(),
        };
        let likelihood = self.decoder_likelihood();
        let variant_params = self.variant_params();
        let mut cfg = TrainConfig {
            model: VaeConfig {
                arch,
                latent_dim: self.latent,
                likelihood,
                rows: data.rows(),
                cols: data.cols(),
                latent: self.variant.latent_kind(&variant_params),
                channels: data.channels(),
            },
            variant: self.variant,
            optim: OptimConfig {
                lr: self.lr,
                beta1: self.adam_beta1,
                beta2: self.adam_beta2,
                weight_decay: self.weight_decay,
                l1: self.l1,
            },
            beta: self.effective_beta(),
            schedule: KlSchedule::Constant,
            free_bits: self.free_bits,
            batch_size: self.batch,
            epochs: self.epochs,
            seed: self.seed,
            eval_iwae_k: self.eval_iwae_k,
            variant_params,
            binarize: self.binarize,
        };
        // A cyclical schedule spans the whole run.
        cfg.schedule = self.kl_schedule(cfg.steps_per_epoch(data.train.len()) * self.epochs as u64);
        cfg
    }
}
