//! [`VariantKind`]: the variants this build knows, what each needs (its latent structure,
//! its default β, whether its loss bounds the likelihood), and [`VariantParams`], their
//! hyperparameters beyond β and the KL schedule.

use serde::{Deserialize, Serialize};

use crate::model::{FlowKind, LatentKind};

/// MMD kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Kernel {
    /// `k(x, y) = Σ_s sC / (sC + ‖x − y‖²)`, `C = 2d`, scales s ∈ {.1, .2, .5, 1, 2, 5, 10}.
    #[default]
    Imq,
    /// `k(x, y) = exp(−‖x − y‖² / C)`, `C = 2d`.
    Rbf,
}

/// The variants this build knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum VariantKind {
    /// Kingma & Welling's VAE (ELBO, β = 1).
    Vae,
    /// β-VAE: KL weighted by β.
    BetaVae,
    /// IWAE: the k-sample importance-weighted bound.
    Iwae,
    /// WAE-MMD: reconstruction + λ·MMD²(q(z), p(z)).
    WaeMmd,
    /// β-TCVAE: the KL split into index-code MI, total correlation and dimension-wise KL,
    /// with β on the total correlation only.
    BetaTcvae,
    /// WAE-Sinkhorn: reconstruction + λ · entropic OT between codes and prior samples.
    WaeSinkhorn,
    /// Adversarial autoencoder: a discriminator on z instead of the KL term.
    Aae,
    /// VAE-GAN: a VAE with an image discriminator and feature-matching reconstruction.
    VaeGan,
    /// BiGAN / ALI: encoder and generator against a discriminator on (x, z) pairs.
    Bigan,
    /// Conditional VAE: encoder and decoder see the label.
    Cvae,
    /// VQ-VAE: a learned codebook, straight-through gradients.
    VqVae,
    /// Two stochastic layers z1 → z2.
    TwoLayer,
    /// FactorVAE: the ELBO plus γ · total correlation, estimated by a discriminator
    /// between codes and their per-dimension permutation.
    FactorVae,
    /// Capacity-annealed β-VAE: γ · |KL − C| with the capacity C raised linearly.
    CapacityVae,
    /// DIP-VAE-I: the ELBO plus a penalty pulling Cov[μ(x)] toward the identity.
    #[serde(rename = "dip-vae-i")]
    #[value(name = "dip-vae-i")]
    DipVaeI,
    /// DIP-VAE-II: the ELBO plus a penalty pulling the covariance of q(z) toward the
    /// identity.
    #[serde(rename = "dip-vae-ii")]
    #[value(name = "dip-vae-ii")]
    DipVaeII,
    /// VampPrior: the prior is the mixture of the posteriors of K learned pseudo-inputs.
    #[serde(rename = "vampprior")]
    #[value(name = "vampprior")]
    VampPrior,
    /// Adversarial Variational Bayes: an implicit posterior (the encoder also reads noise)
    /// whose KL to the prior a discriminator T(x, z) estimates.
    Avb,
    /// IAF: the VAE's Gaussian posterior followed by inverse autoregressive flow steps.
    Iaf,
    /// Planar flow: the VAE's Gaussian posterior followed by planar flow steps.
    PlanarFlow,
    /// Semi-supervised M2: a classifier q(y|x) and a conditional VAE trained on a few
    /// labelled images and many unlabelled ones (y summed out under q(y|x)).
    M2,
}

/// Hyperparameters of the variants beyond β and the KL schedule, with the papers' defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VariantParams {
    /// IWAE importance samples (Burda et al.: k = 5 and 50 in their tables).
    pub iwae_k: usize,
    /// WAE-MMD weight λ (Tolstikhin et al.: 10 on MNIST).
    pub mmd_lambda: f64,
    /// WAE-MMD kernel (Tolstikhin et al.: inverse multiquadratic).
    pub mmd_kernel: Kernel,
    /// WAE-Sinkhorn weight λ.
    pub sinkhorn_lambda: f64,
    /// WAE-Sinkhorn entropic temperature ε (in squared-distance units).
    pub sinkhorn_eps: f64,
    /// WAE-Sinkhorn iterations (unrolled and differentiated).
    pub sinkhorn_iters: usize,
    /// AAE discriminator hidden widths (Makhzani et al.'s MNIST model: 1000-1000).
    pub aae_disc_hidden: Vec<usize>,
    /// AAE weight γ of the R1 gradient penalty on the discriminator (Mescheder et al.
    /// 2018); 0 turns it off.
    pub aae_r1: f64,
    /// VAE-GAN image discriminator hidden widths.
    pub vaegan_disc_hidden: Vec<usize>,
    /// VAE-GAN weight γ of the generator's adversarial loss.
    pub vaegan_gan_weight: f64,
    /// VAE-GAN weight of the feature-matching reconstruction.
    pub vaegan_fm_weight: f64,
    /// BiGAN joint discriminator hidden widths.
    pub bigan_disc_hidden: Vec<usize>,
    /// Conditional VAE label classes.
    pub cvae_classes: usize,
    /// VQ-VAE codebook entries K (van den Oord et al.: 512).
    pub vq_codes: usize,
    /// VQ-VAE dimensions D per codebook entry; divides the latent size.
    pub vq_code_dim: usize,
    /// VQ-VAE commitment weight β (van den Oord et al.: 0.25).
    pub vq_commitment: f64,
    /// Two-layer VAE: dimensions of the lower latent z1 (the top z2 is the latent size).
    pub two_layer_bottom: usize,
    /// Two-layer VAE: hidden widths between z1 and z2 (Burda et al.: 100-100).
    pub two_layer_hidden: Vec<usize>,
    /// FactorVAE weight γ of the total correlation (Kim & Mnih: 40 on dSprites).
    pub factor_gamma: f64,
    /// FactorVAE discriminator hidden widths.
    pub factor_disc_hidden: Vec<usize>,
    /// Capacity VAE: weight γ of |KL − C| (Burgess et al.: 1000 on dSprites).
    pub capacity_gamma: f64,
    /// Capacity VAE: the final capacity C_max in nats (Burgess et al.: 25 on dSprites).
    pub capacity_max: f64,
    /// Capacity VAE: steps over which C rises from 0 to C_max (Burgess et al.: 100,000
    /// iterations; 2,000 here, a few epochs of the bundled digits).
    pub capacity_steps: u64,
    /// DIP-VAE: weight λ_od of the covariance's off-diagonal entries.
    pub dip_lambda_od: f64,
    /// DIP-VAE: weight λ_d of its diagonal's distance from 1 (`None`: the paper's, 10 λ_od
    /// for DIP-VAE-I and λ_od for DIP-VAE-II).
    pub dip_lambda_d: Option<f64>,
    /// VampPrior: pseudo-inputs K (Tomczak & Welling: 500 on MNIST).
    pub vamp_pseudo_inputs: usize,
    /// AVB discriminator T(x, z) hidden widths.
    pub avb_disc_hidden: Vec<usize>,
    /// AVB discriminator learning rate as a multiple of the run's.
    pub avb_disc_lr: f64,
    /// AVB: dimensions of the noise ε the implicit encoder reads.
    pub avb_noise: usize,
    /// IAF and planar flow: steps T of the posterior's flow.
    pub flow_steps: usize,
    /// IAF: hidden units of each step's MADE.
    pub flow_hidden: usize,
    /// M2: training images whose labels are kept, balanced across classes (Kingma et
    /// al.: 100, 600, 1000 and 3000 of MNIST's 50,000).
    pub m2_labelled: usize,
    /// M2: weight α of the classification loss −log q(y|x) added to each labelled image's
    /// loss (`None`: the paper's 0.1 · N, N the training images).
    pub m2_alpha: Option<f64>,
    /// M2: hidden widths of the classifier q(y|x) (Kingma et al.: 500).
    pub m2_hidden: Vec<usize>,
}

impl Default for VariantParams {
    fn default() -> Self {
        Self {
            iwae_k: 5,
            mmd_lambda: 10.0,
            mmd_kernel: Kernel::Imq,
            sinkhorn_lambda: 1.0,
            sinkhorn_eps: 1.0,
            sinkhorn_iters: 20,
            aae_disc_hidden: vec![1000, 1000],
            aae_r1: 10.0,
            vaegan_disc_hidden: vec![512, 256],
            vaegan_gan_weight: 10.0,
            vaegan_fm_weight: 1.0,
            bigan_disc_hidden: vec![512, 512],
            cvae_classes: 10,
            vq_codes: 512,
            vq_code_dim: 4,
            vq_commitment: 0.25,
            two_layer_bottom: 50,
            two_layer_hidden: vec![100, 100],
            factor_gamma: 40.0,
            factor_disc_hidden: vec![500, 500],
            capacity_gamma: 1000.0,
            capacity_max: 25.0,
            capacity_steps: 2000,
            dip_lambda_od: 10.0,
            dip_lambda_d: None,
            vamp_pseudo_inputs: 500,
            avb_disc_hidden: vec![256, 256],
            avb_disc_lr: 1.0,
            avb_noise: 20,
            flow_steps: 4,
            flow_hidden: 64,
            m2_labelled: 100,
            m2_alpha: None,
            m2_hidden: vec![500],
        }
    }
}

impl VariantParams {
    /// Check the values; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.iwae_k == 0 || self.iwae_k > 5000 {
            return Err(format!("IWAE k {} must be in 1..=5000", self.iwae_k));
        }
        if !(self.mmd_lambda.is_finite() && self.mmd_lambda >= 0.0) {
            return Err(format!("MMD λ {} must be finite and ≥ 0", self.mmd_lambda));
        }
        if !(self.sinkhorn_lambda.is_finite() && self.sinkhorn_lambda >= 0.0) {
            return Err(format!(
                "Sinkhorn λ {} must be finite and ≥ 0",
                self.sinkhorn_lambda
            ));
        }
        if !(self.sinkhorn_eps.is_finite() && self.sinkhorn_eps > 0.0) {
            return Err(format!(
                "Sinkhorn ε {} must be finite and > 0",
                self.sinkhorn_eps
            ));
        }
        if self.sinkhorn_iters == 0 || self.sinkhorn_iters > 10_000 {
            return Err(format!(
                "Sinkhorn iterations {} must be in 1..=10000",
                self.sinkhorn_iters
            ));
        }
        for (name, widths) in [
            ("AAE discriminator", &self.aae_disc_hidden),
            ("VAE-GAN discriminator", &self.vaegan_disc_hidden),
            ("BiGAN discriminator", &self.bigan_disc_hidden),
            ("FactorVAE discriminator", &self.factor_disc_hidden),
            ("AVB discriminator", &self.avb_disc_hidden),
        ] {
            if widths.contains(&0) || widths.iter().any(|&w| w > 65_536) {
                return Err(format!(
                    "{name} hidden widths {widths:?} must be in 1..=65536"
                ));
            }
        }
        for (name, w) in [
            ("VAE-GAN γ", self.vaegan_gan_weight),
            ("VAE-GAN feature-matching weight", self.vaegan_fm_weight),
            ("VQ commitment β", self.vq_commitment),
            ("AAE R1 γ", self.aae_r1),
            ("FactorVAE γ", self.factor_gamma),
            ("capacity γ", self.capacity_gamma),
            ("capacity C_max", self.capacity_max),
            ("DIP λ_od", self.dip_lambda_od),
            ("DIP λ_d", self.dip_lambda_d.unwrap_or(0.0)),
            ("M2 α", self.m2_alpha.unwrap_or(0.0)),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!("{name} {w} must be finite and ≥ 0"));
            }
        }
        if self.vamp_pseudo_inputs == 0
            || self.vamp_pseudo_inputs > crate::model::pseudo::MAX_PSEUDO_INPUTS
        {
            return Err(format!(
                "VampPrior pseudo-inputs K {} must be in 1..={}",
                self.vamp_pseudo_inputs,
                crate::model::pseudo::MAX_PSEUDO_INPUTS
            ));
        }
        if !(self.avb_disc_lr.is_finite() && self.avb_disc_lr > 0.0) {
            return Err(format!(
                "AVB discriminator learning-rate scale {} must be finite and > 0",
                self.avb_disc_lr
            ));
        }
        if self.flow_steps == 0 || self.flow_steps > crate::model::flow::MAX_FLOW_STEPS {
            return Err(format!(
                "flow steps {} must be in 1..={}",
                self.flow_steps,
                crate::model::flow::MAX_FLOW_STEPS
            ));
        }
        if self.flow_hidden == 0 || self.flow_hidden > 65_536 {
            return Err(format!(
                "flow hidden units {} must be in 1..=65536",
                self.flow_hidden
            ));
        }
        if self.m2_labelled == 0 {
            return Err("M2 labelled images must be at least 1 (one per class at least)".into());
        }
        // The labelled count against the data is checked by the trainer; the codebook, class
        // count, classifier, two-layer sizes, AVB noise and flow sizes are checked with the
        // model config they go into (see `VaeConfig::validate`).
        Ok(())
    }
}

impl VariantParams {
    /// DIP-VAE's λ_d: the one set, else the paper's for DIP-VAE-II (`second`) or -I.
    pub fn dip_lambda_d(&self, second: bool) -> f64 {
        self.dip_lambda_d.unwrap_or(if second {
            self.dip_lambda_od
        } else {
            10.0 * self.dip_lambda_od
        })
    }
}

impl VariantKind {
    /// Every variant, in menu order.
    pub const ALL: [VariantKind; 21] = [
        VariantKind::Vae,
        VariantKind::BetaVae,
        VariantKind::Iwae,
        VariantKind::WaeMmd,
        VariantKind::WaeSinkhorn,
        VariantKind::Aae,
        VariantKind::VaeGan,
        VariantKind::Bigan,
        VariantKind::Cvae,
        VariantKind::BetaTcvae,
        VariantKind::VqVae,
        VariantKind::TwoLayer,
        VariantKind::FactorVae,
        VariantKind::CapacityVae,
        VariantKind::DipVaeI,
        VariantKind::DipVaeII,
        VariantKind::VampPrior,
        VariantKind::Avb,
        VariantKind::Iaf,
        VariantKind::PlanarFlow,
        VariantKind::M2,
    ];

    /// Display name.
    pub fn label(self) -> &'static str {
        match self {
            Self::Vae => "VAE",
            Self::BetaVae => "β-VAE",
            Self::Iwae => "IWAE",
            Self::WaeMmd => "WAE-MMD",
            Self::BetaTcvae => "β-TCVAE",
            Self::WaeSinkhorn => "WAE-Sinkhorn",
            Self::Aae => "AAE",
            Self::VaeGan => "VAE-GAN",
            Self::Bigan => "BiGAN/ALI",
            Self::Cvae => "Conditional VAE",
            Self::VqVae => "VQ-VAE",
            Self::TwoLayer => "Two-layer VAE",
            Self::FactorVae => "FactorVAE",
            Self::CapacityVae => "Capacity VAE",
            Self::DipVaeI => "DIP-VAE-I",
            Self::DipVaeII => "DIP-VAE-II",
            Self::VampPrior => "VampPrior",
            Self::Avb => "AVB",
            Self::Iaf => "IAF",
            Self::PlanarFlow => "Planar flow",
            Self::M2 => "M2 (semi-supervised)",
        }
    }

    /// The latent structure this variant trains.
    pub fn latent_kind(self, params: &VariantParams) -> LatentKind {
        match self {
            Self::Cvae => LatentKind::Conditional {
                classes: params.cvae_classes,
            },
            Self::VqVae => LatentKind::Quantized {
                codes: params.vq_codes,
                code_dim: params.vq_code_dim,
            },
            Self::TwoLayer => LatentKind::TwoLayer {
                bottom: params.two_layer_bottom,
                hidden: params.two_layer_hidden.clone(),
            },
            Self::VampPrior => LatentKind::Vamp {
                pseudo_inputs: params.vamp_pseudo_inputs,
            },
            Self::Avb => LatentKind::Implicit {
                noise: params.avb_noise,
            },
            Self::Iaf | Self::PlanarFlow => LatentKind::Flow {
                flow: if self == Self::Iaf {
                    FlowKind::Iaf
                } else {
                    FlowKind::Planar
                },
                steps: params.flow_steps,
                hidden: params.flow_hidden,
            },
            Self::M2 => LatentKind::SemiSupervised {
                classes: params.cvae_classes,
                hidden: params.m2_hidden.clone(),
            },
            _ => LatentKind::Gaussian,
        }
    }

    /// Whether the variant trains a discriminator.
    pub fn is_adversarial(self) -> bool {
        matches!(
            self,
            Self::Aae | Self::VaeGan | Self::Bigan | Self::FactorVae | Self::Avb
        )
    }

    /// The paper default for β.
    pub fn default_beta(self) -> f64 {
        match self {
            Self::BetaVae => 4.0,
            Self::BetaTcvae => 6.0,
            _ => 1.0,
        }
    }

    /// Whether the variant's test loss is a bound on −log p(x) (so IWAE NLL is meaningful).
    /// AVB's is: its bounds use the Gaussian q(z | x, ε = 0) of its implicit encoder as the
    /// proposal (valid for any proposal; see [`crate::model::implicit`]).
    pub fn has_likelihood_bound(self) -> bool {
        !matches!(
            self,
            Self::WaeMmd | Self::WaeSinkhorn | Self::Aae | Self::Bigan | Self::VqVae
        )
    }
}

impl std::fmt::Display for VariantKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
