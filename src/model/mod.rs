//! VAE architectures: Gaussian encoders and decoders (MLP and convolutional), each with a
//! serialisable config and `init(&device)`, plus the likelihoods and Gaussian helpers that
//! every objective shares.

mod arch;
pub mod gaussian;
pub mod likelihood;

pub use arch::{ConvDecoder, ConvEncoder, MlpDecoder, MlpEncoder, ReluStack};
pub use likelihood::Likelihood;

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// An invalid model configuration.
#[derive(Debug, Error, PartialEq)]
pub enum ModelError {
    /// A field is out of range.
    #[error("invalid model config: {0}")]
    Invalid(String),
}

/// Encoder/decoder architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ArchConfig {
    /// Fully connected: `pixels → hidden… → latent` and the mirror image.
    Mlp {
        /// Hidden widths from the input side.
        hidden: Vec<usize>,
    },
    /// Two stride-2 convolutions, a dense layer, and the mirror with transposed convolutions.
    Conv {
        /// Channels of the two convolutions.
        channels: [usize; 2],
        /// Width of the dense layer.
        dense: usize,
    },
}

impl ArchConfig {
    /// The classic MLP of Kingma & Welling: one hidden layer of 400.
    pub fn mlp_default() -> Self {
        Self::Mlp { hidden: vec![400] }
    }

    /// The convolutional default: 32 and 64 channels, dense 256.
    pub fn conv_default() -> Self {
        Self::Conv {
            channels: [32, 64],
            dense: 256,
        }
    }
}

impl std::fmt::Display for ArchConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Mlp { hidden } => {
                let h: Vec<String> = hidden.iter().map(|w| w.to_string()).collect();
                write!(f, "mlp[{}]", h.join("-"))
            }
            Self::Conv { channels, dense } => {
                write!(f, "conv[{}-{}, dense {}]", channels[0], channels[1], dense)
            }
        }
    }
}

/// Everything needed to build a [`Vae`]; stored in every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaeConfig {
    /// Encoder/decoder architecture.
    pub arch: ArchConfig,
    /// Latent dimensions.
    pub latent_dim: usize,
    /// Observation model.
    pub likelihood: Likelihood,
    /// Image height (from the data, not a constant).
    pub rows: usize,
    /// Image width.
    pub cols: usize,
}

impl Default for VaeConfig {
    fn default() -> Self {
        Self {
            arch: ArchConfig::mlp_default(),
            latent_dim: 20,
            likelihood: Likelihood::Bernoulli,
            rows: 28,
            cols: 28,
        }
    }
}

impl VaeConfig {
    /// Pixels per image.
    pub fn pixels(&self) -> usize {
        self.rows * self.cols
    }

    /// Check every field; the message says which one is wrong and why.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Invalid(m));
        if self.latent_dim == 0 || self.latent_dim > 4096 {
            return bad(format!(
                "latent_dim {} must be in 1..=4096",
                self.latent_dim
            ));
        }
        if self.rows == 0 || self.cols == 0 {
            return bad(format!("image size {}x{} is empty", self.rows, self.cols));
        }
        match &self.arch {
            ArchConfig::Mlp { hidden } => {
                if hidden.contains(&0) {
                    return bad(format!("hidden widths {hidden:?} contain 0"));
                }
            }
            ArchConfig::Conv { channels, dense } => {
                if !self.rows.is_multiple_of(4) || !self.cols.is_multiple_of(4) {
                    return bad(format!(
                        "the conv architecture needs image sides divisible by 4, got {}x{}",
                        self.rows, self.cols
                    ));
                }
                if channels.contains(&0) || *dense == 0 {
                    return bad(format!(
                        "conv channels {channels:?} / dense {dense} contain 0"
                    ));
                }
            }
        }
        if let Likelihood::Gaussian { sigma, .. } = self.likelihood
            && !(sigma.is_finite() && sigma > 0.0)
        {
            return bad(format!("Gaussian σ {sigma} must be finite and > 0"));
        }
        Ok(())
    }

    /// Validate, then build a freshly initialised model on `device`.
    pub fn init(&self, device: &Device) -> Result<Vae, ModelError> {
        self.validate()?;
        let (encoder, decoder) = match &self.arch {
            ArchConfig::Mlp { hidden } => (
                Encoder::Mlp(MlpEncoder::new(
                    self.pixels(),
                    hidden,
                    self.latent_dim,
                    device,
                )),
                DecoderNet::Mlp(MlpDecoder::new(
                    self.latent_dim,
                    hidden,
                    self.pixels(),
                    device,
                )),
            ),
            ArchConfig::Conv { channels, dense } => (
                Encoder::Conv(ConvEncoder::new(
                    self.rows,
                    self.cols,
                    *channels,
                    *dense,
                    self.latent_dim,
                    device,
                )),
                DecoderNet::Conv(ConvDecoder::new(
                    self.rows,
                    self.cols,
                    *channels,
                    *dense,
                    self.latent_dim,
                    device,
                )),
            ),
        };
        let log_sigma = match self.likelihood {
            Likelihood::Gaussian {
                sigma,
                learned: true,
            } => Some(Param::from_tensor(Tensor::from_floats(
                [sigma.ln()],
                device,
            ))),
            _ => None,
        };
        Ok(Vae {
            encoder,
            decoder,
            log_sigma,
        })
    }
}

/// Encoder network.
// Built once per model; boxing the variants would only add indirection to every forward.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Encoder {
    /// Fully connected.
    Mlp(MlpEncoder),
    /// Convolutional.
    Conv(ConvEncoder),
}

/// Decoder network.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum DecoderNet {
    /// Fully connected.
    Mlp(MlpDecoder),
    /// Convolutional.
    Conv(ConvDecoder),
}

/// A VAE: Gaussian encoder q(z|x), decoder p(x|z) and (for a learned Gaussian likelihood)
/// the log σ parameter. The likelihood itself lives in the [`VaeConfig`] kept beside it.
#[derive(Module, Debug)]
pub struct Vae {
    /// q(z | x).
    pub encoder: Encoder,
    /// p(x | z) network; outputs logits / pre-sigmoid means.
    pub decoder: DecoderNet,
    /// Learned log σ of a Gaussian likelihood, `[1]`.
    pub log_sigma: Option<Param<Tensor<1>>>,
}

impl Vae {
    /// `[batch, pixels] → (μ, log σ²)`, each `[batch, latent]`.
    pub fn encode(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        match &self.encoder {
            Encoder::Mlp(e) => e.forward(x),
            Encoder::Conv(e) => e.forward(x),
        }
    }

    /// `[batch, latent] → [batch, pixels]` decoder outputs (logits).
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        match &self.decoder {
            DecoderNet::Mlp(d) => d.forward(z),
            DecoderNet::Conv(d) => d.forward(z),
        }
    }

    /// `[batch, latent] → [batch, pixels]` mean images in `[0, 1]`.
    pub fn decode_mean(&self, z: Tensor<2>) -> Tensor<2> {
        likelihood::mean_image(self.decode(z))
    }

    /// The log σ tensor `[1]` for the Gaussian likelihood: the learned parameter, or the
    /// fixed value from `likelihood`. `None` for Bernoulli.
    pub fn log_sigma(&self, likelihood: Likelihood, device: &Device) -> Option<Tensor<1>> {
        match likelihood {
            Likelihood::Bernoulli => None,
            Likelihood::Gaussian { sigma, .. } => Some(match &self.log_sigma {
                Some(p) => p.val(),
                None => Tensor::from_floats([sigma.ln()], device),
            }),
        }
    }

    /// `−log p(x | z)` per image from decoder outputs: `[batch, pixels] → [batch]`.
    pub fn nll(&self, likelihood: Likelihood, output: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
        let ls = self.log_sigma(likelihood, &x.device());
        likelihood::neg_log_likelihood(likelihood, output, x, ls).squeeze_dim(1)
    }
}
