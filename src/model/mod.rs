//! VAE architectures: Gaussian encoders and decoders (MLP and convolutional), each with a
//! serialisable config and `init(&device)`, plus the likelihoods and Gaussian helpers that
//! every objective shares.

mod arch;
pub mod flow;
pub mod gaussian;
pub mod implicit;
pub mod init;
pub mod likelihood;
pub mod m2;
pub mod noise;
pub mod pseudo;
pub mod vamp;

pub use arch::{ConvDecoder, ConvEncoder, MlpDecoder, MlpEncoder, ReluStack};
pub use flow::{Flow, FlowKind};
pub use likelihood::Likelihood;
pub use m2::Classifier;

use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::limits::{self, LimitError};

/// Most channels of a convolution.
pub const MAX_CONV_CHANNELS: usize = 4096;

/// An invalid model configuration.
#[derive(Debug, Error, PartialEq)]
pub enum ModelError {
    /// A field is out of range.
    #[error("invalid model config: {0}")]
    Invalid(String),
    /// A size is outside [`crate::limits`] (in the message, not as a source: printed once).
    #[error("invalid model config: {0}")]
    Limit(LimitError),
}

impl From<LimitError> for ModelError {
    fn from(e: LimitError) -> Self {
        Self::Limit(e)
    }
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

/// The structure of a model's latent space. The variant chooses it; it is stored with the
/// architecture so that a checkpoint rebuilds the same model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LatentKind {
    /// One diagonal-Gaussian latent layer of `latent_dim` dimensions.
    #[default]
    Gaussian,
    /// Encoder and decoder also see the one-hot label (conditional VAE, Sohn et al. 2015).
    Conditional {
        /// Label classes (10 for digits).
        classes: usize,
    },
    /// The encoder output is split into `latent_dim / code_dim` vectors, each replaced by
    /// its nearest entry of a learned `codes × code_dim` codebook (VQ-VAE).
    Quantized {
        /// Codebook entries K.
        codes: usize,
        /// Dimensions D of one entry; divides `latent_dim`.
        code_dim: usize,
    },
    /// Two stochastic layers, `x → z1 → z2` (Burda et al.'s two-layer model): the image
    /// networks work on `z1` of `bottom` dimensions, MLPs with `hidden` widths map between
    /// `z1` and the top latent `z2` of `latent_dim` dimensions, which is what is explored.
    TwoLayer {
        /// Dimensions of the lower latent z1.
        bottom: usize,
        /// Hidden widths of q(z2|z1) (and, reversed, of p(z1|z2)).
        hidden: Vec<usize>,
    },
    /// A VampPrior (Tomczak & Welling 2018): the prior is the mixture of the encoder's
    /// posteriors at `pseudo_inputs` learned images (see [`vamp`]).
    Vamp {
        /// Pseudo-inputs K (mixture components).
        pseudo_inputs: usize,
    },
    /// An implicit posterior (AVB, Mescheder et al. 2017): the encoder also reads `noise`
    /// dimensions of standard-normal noise ε (joined to the image at the MLP's input, to the
    /// flattened features before the conv encoder's dense layer), so q(z|x) is a continuous
    /// mixture over ε with no closed form (see [`implicit`]).
    Implicit {
        /// Dimensions of the encoder noise ε.
        noise: usize,
    },
    /// A diagonal-Gaussian posterior followed by a normalizing flow of `steps` steps (see
    /// [`flow`]): IAF steps amortised by the context `[μ, log σ²]` of each image, or planar
    /// steps with global parameters. The explored code of an image is the flow applied to
    /// its posterior mean, with that image's context.
    Flow {
        /// IAF or planar.
        flow: FlowKind,
        /// Flow steps T.
        steps: usize,
        /// Hidden units of each IAF step's MADE (unused by planar steps).
        hidden: usize,
    },
    /// Semi-supervised M2 (Kingma et al. 2014): the conditional VAE's encoder q(z|x,y) and
    /// decoder p(x|y,z), which take the one-hot label, and a classifier q(y|x), an MLP on
    /// the image with `hidden` widths.
    SemiSupervised {
        /// Label classes (10 for digits).
        classes: usize,
        /// Hidden widths of the classifier q(y|x).
        hidden: Vec<usize>,
    },
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
    /// Latent structure (set from the variant).
    #[serde(default)]
    pub latent: LatentKind,
    /// Colour channels of the images (1 grey, 3 RGB; from the data). Checkpoints written
    /// before colour data existed have none and are grey.
    #[serde(default = "one_channel")]
    pub channels: usize,
}

/// The channels of images saved before colour data existed: grey (a serde default).
pub(crate) fn one_channel() -> usize {
    1
}

impl Default for VaeConfig {
    fn default() -> Self {
        Self {
            arch: ArchConfig::mlp_default(),
            latent_dim: 20,
            likelihood: Likelihood::Bernoulli,
            rows: 28,
            cols: 28,
            latent: LatentKind::Gaussian,
            channels: 1,
        }
    }
}

impl VaeConfig {
    /// Values per image: pixels × channels.
    pub fn pixels(&self) -> usize {
        self.shape().len()
    }

    /// The size of the images the model takes.
    pub fn shape(&self) -> crate::data::ImageShape {
        crate::data::ImageShape {
            rows: self.rows,
            cols: self.cols,
            channels: self.channels,
        }
    }

    /// Label classes the model is conditioned on (0: unconditional).
    pub fn classes(&self) -> usize {
        match self.latent {
            LatentKind::Conditional { classes } => classes,
            LatentKind::SemiSupervised { classes, .. } => classes,
            _ => 0,
        }
    }

    /// Dimensions of the encoder noise of an implicit model (0: none).
    pub fn encoder_noise(&self) -> usize {
        match self.latent {
            LatentKind::Implicit { noise } => noise,
            _ => 0,
        }
    }

    /// Width of the latent the image networks see: `bottom` for a two-layer model, else
    /// `latent_dim`.
    fn image_latent(&self) -> usize {
        match self.latent {
            LatentKind::TwoLayer { bottom, .. } => bottom,
            _ => self.latent_dim,
        }
    }

    /// Check every field; the message says which one is wrong and why. Sizes are checked
    /// against [`crate::limits`] (with overflow-checked arithmetic) before anything else, so a
    /// config from a file or an argument never sizes an allocation it cannot afford.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Invalid(m));
        self.check_sizes()?;
        match &self.arch {
            ArchConfig::Mlp { .. } => {}
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
        match &self.latent {
            LatentKind::Gaussian => {}
            LatentKind::Conditional { classes } => {
                limits::check("label classes", *classes, 2, limits::MAX_CLASSES)?;
            }
            LatentKind::Quantized { codes, code_dim } => {
                if *codes < 2 || *codes > 65_536 {
                    return bad(format!("codebook size {codes} must be in 2..=65536"));
                }
                if *code_dim == 0 || !self.latent_dim.is_multiple_of(*code_dim) {
                    return bad(format!(
                        "code dimension {code_dim} must divide latent_dim {}",
                        self.latent_dim
                    ));
                }
            }
            LatentKind::TwoLayer { .. } => {}
            LatentKind::Vamp { .. } => {}
            LatentKind::Implicit { .. } => {}
            LatentKind::Flow { steps, .. } => {
                if *steps == 0 || *steps > flow::MAX_FLOW_STEPS {
                    return bad(format!(
                        "flow steps {steps} must be in 1..={}",
                        flow::MAX_FLOW_STEPS
                    ));
                }
            }
            LatentKind::SemiSupervised { classes, .. } => {
                limits::check("label classes", *classes, 2, limits::MAX_CLASSES)?;
            }
        }
        if let Likelihood::Gaussian { sigma, .. } = self.likelihood
            && !(sigma.is_finite() && sigma > 0.0)
        {
            return bad(format!("Gaussian σ {sigma} must be finite and > 0"));
        }
        Ok(())
    }

    /// The sizes of every layer within [`crate::limits`], and the parameter count too.
    fn check_sizes(&self) -> Result<(), LimitError> {
        use limits::{MAX_LATENT, MAX_WIDTH, check};
        check("latent dimensions", self.latent_dim, 1, MAX_LATENT)?;
        check("image rows", self.rows, 1, limits::MAX_IMAGE_SIDE)?;
        check("image columns", self.cols, 1, limits::MAX_IMAGE_SIDE)?;
        check("image channels", self.channels, 1, limits::MAX_CHANNELS)?;
        limits::product(
            "image values (pixels × channels)",
            &[self.rows, self.cols, self.channels],
            limits::MAX_PIXELS,
        )?;
        let widths = |what: &str, hidden: &[usize]| -> Result<(), LimitError> {
            check(
                &format!("{what} layers"),
                hidden.len(),
                0,
                limits::MAX_LAYERS,
            )?;
            for &w in hidden {
                check(&format!("{what} width"), w, 1, MAX_WIDTH)?;
            }
            Ok(())
        };
        match &self.arch {
            ArchConfig::Mlp { hidden } => widths("hidden", hidden)?,
            ArchConfig::Conv { channels, dense } => {
                for &c in channels {
                    check("conv channels", c, 1, MAX_CONV_CHANNELS)?;
                }
                check("conv dense width", *dense, 1, MAX_WIDTH)?;
            }
        }
        match &self.latent {
            LatentKind::Gaussian => {}
            LatentKind::Conditional { classes } => {
                check("label classes", *classes, 0, limits::MAX_CLASSES)?;
            }
            LatentKind::Quantized { codes, code_dim } => {
                check("codebook entries", *codes, 0, 65_536)?;
                check("code dimensions", *code_dim, 0, MAX_LATENT)?;
            }
            LatentKind::TwoLayer { bottom, hidden } => {
                check("lower latent dimensions", *bottom, 1, MAX_LATENT)?;
                widths("top-layer hidden", hidden)?;
            }
            LatentKind::Vamp { pseudo_inputs } => {
                check(
                    "pseudo-inputs",
                    *pseudo_inputs,
                    1,
                    pseudo::MAX_PSEUDO_INPUTS,
                )?;
            }
            LatentKind::Implicit { noise } => {
                check("encoder noise dimensions", *noise, 1, MAX_LATENT)?;
            }
            LatentKind::Flow { steps, hidden, .. } => {
                check("flow steps", *steps, 1, flow::MAX_FLOW_STEPS)?;
                check("flow hidden units", *hidden, 1, MAX_WIDTH)?;
            }
            LatentKind::SemiSupervised { classes, hidden } => {
                check("label classes", *classes, 0, limits::MAX_CLASSES)?;
                widths("classifier hidden", hidden)?;
            }
        }
        limits::check(
            "model parameters",
            self.parameter_count()?,
            0,
            limits::MAX_PARAMETERS,
        )?;
        Ok(())
    }

    /// Trainable (and codebook) parameters of the model this config builds, computed
    /// without building it; every product and sum is overflow-checked against
    /// [`limits::MAX_PARAMETERS`]. Equal to the built model's `num_params()` (tested).
    pub fn parameter_count(&self) -> Result<usize, LimitError> {
        const F: &str = "model parameters";
        let max = limits::MAX_PARAMETERS;
        // Parameters of `Linear(a, b)`: weights and bias.
        let linear = |a: usize, b: usize| -> Result<usize, LimitError> {
            let w = limits::product(F, &[a, b], max)?;
            limits::sum(F, &[w, b], max)
        };
        // A ReLU stack through `widths`, then `heads` heads of width `out`.
        let mlp = |widths: &[usize], out: usize, heads: usize| -> Result<usize, LimitError> {
            let mut total = 0;
            for w in widths.windows(2) {
                total = limits::sum(F, &[total, linear(w[0], w[1])?], max)?;
            }
            let last = *widths.last().unwrap_or(&0);
            for _ in 0..heads {
                total = limits::sum(F, &[total, linear(last, out)?], max)?;
            }
            Ok(total)
        };
        // A 4×4 convolution (or transposed) from `a` to `b` channels.
        let conv = |a: usize, b: usize| -> Result<usize, LimitError> {
            let w = limits::product(F, &[a, b, 16], max)?;
            limits::sum(F, &[w, b], max)
        };
        let classes = self.classes();
        // What the encoder reads beside the image: the label and the implicit noise.
        let extra = limits::sum("encoder inputs", &[classes, self.encoder_noise()], max)?;
        let latent = self.image_latent();
        let pixels = limits::product(
            "image values (pixels × channels)",
            &[self.rows, self.cols, self.channels],
            limits::MAX_PIXELS,
        )?;
        let image_channels = self.channels;
        let nets = match &self.arch {
            ArchConfig::Mlp { hidden } => {
                let input = limits::sum("encoder inputs", &[pixels, extra], max)?;
                let mut enc = vec![input];
                enc.extend_from_slice(hidden);
                let code = limits::sum("decoder inputs", &[latent, classes], max)?;
                let mut dec = vec![code];
                dec.extend(hidden.iter().rev());
                limits::sum(F, &[mlp(&enc, latent, 2)?, mlp(&dec, pixels, 1)?], max)?
            }
            ArchConfig::Conv { channels, dense } => {
                let [c1, c2] = *channels;
                let flat = limits::product(F, &[c2, self.rows / 4, self.cols / 4], max)?;
                let flat_in = limits::sum(F, &[flat, extra], max)?;
                let code = limits::sum("decoder inputs", &[latent, classes], max)?;
                let enc = [
                    conv(image_channels, c1)?,
                    conv(c1, c2)?,
                    linear(flat_in, *dense)?,
                    linear(*dense, latent)?,
                    linear(*dense, latent)?,
                ];
                let dec = [
                    linear(code, *dense)?,
                    linear(*dense, flat)?,
                    conv(c2, c1)?,
                    conv(c1, image_channels)?,
                ];
                let mut total = 0;
                for p in enc.into_iter().chain(dec) {
                    total = limits::sum(F, &[total, p], max)?;
                }
                total
            }
        };
        let extra = match &self.latent {
            LatentKind::Quantized { codes, code_dim } => {
                limits::product(F, &[*codes, *code_dim], max)?
            }
            LatentKind::TwoLayer { bottom, hidden } => {
                let mut q = vec![*bottom];
                q.extend_from_slice(hidden);
                let mut p = vec![self.latent_dim];
                p.extend(hidden.iter().rev());
                limits::sum(
                    F,
                    &[mlp(&q, self.latent_dim, 2)?, mlp(&p, *bottom, 2)?],
                    max,
                )?
            }
            LatentKind::Vamp { pseudo_inputs } => {
                limits::product(F, &[*pseudo_inputs, pixels], max)?
            }
            LatentKind::Flow {
                flow: kind,
                steps,
                hidden,
            } => {
                let d = self.latent_dim;
                // IAF: the MADE's three masked matrices, the context matrix [2·d, hidden]
                // and three biases; planar: u, w, b.
                let step = match kind {
                    FlowKind::Iaf => {
                        let w = limits::product(F, &[d, *hidden, 3 + flow::CONTEXT_PER_DIM], max)?;
                        let b = limits::product(F, &[d, 2], max)?;
                        limits::sum(F, &[w, b, *hidden], max)?
                    }
                    FlowKind::Planar => limits::sum(F, &[d, d, 1], max)?,
                };
                limits::product(F, &[step, *steps], max)?
            }
            LatentKind::SemiSupervised { classes, hidden } => {
                let mut widths = vec![pixels];
                widths.extend_from_slice(hidden);
                mlp(&widths, *classes, 1)?
            }
            _ => 0,
        };
        let sigma = usize::from(matches!(
            self.likelihood,
            Likelihood::Gaussian { learned: true, .. }
        ));
        limits::sum(F, &[nets, extra, sigma], max)
    }

    /// Validate, then build a freshly initialised model on `device`.
    pub fn init(&self, device: &Device) -> Result<Vae, ModelError> {
        self.validate()?;
        let classes = self.classes();
        let noise = self.encoder_noise();
        let latent = self.image_latent();
        let (encoder, decoder) = match &self.arch {
            ArchConfig::Mlp { hidden } => (
                Encoder::Mlp(MlpEncoder::new(
                    self.pixels() + classes + noise,
                    hidden,
                    latent,
                    device,
                )),
                DecoderNet::Mlp(MlpDecoder::new(
                    latent + classes,
                    hidden,
                    self.pixels(),
                    device,
                )),
            ),
            ArchConfig::Conv { channels, dense } => (
                Encoder::Conv(ConvEncoder::new(
                    self.shape(),
                    *channels,
                    *dense,
                    latent,
                    classes + noise,
                    device,
                )),
                DecoderNet::Conv(ConvDecoder::new(
                    self.shape(),
                    *channels,
                    *dense,
                    latent + classes,
                    device,
                )),
            ),
        };
        let codebook = match self.latent {
            // van den Oord et al.'s reference code: uniform in ±1/K.
            LatentKind::Quantized { codes, code_dim } => {
                let lim = 1.0 / codes as f64;
                // Updated by moving averages, not by gradient (see `variant::VqVae`).
                Some(
                    Param::from_tensor(noise::uniform([codes, code_dim], -lim, lim, device))
                        .set_require_grad(false),
                )
            }
            _ => None,
        };
        let top = match &self.latent {
            LatentKind::TwoLayer { bottom, hidden } => {
                let rev: Vec<usize> = hidden.iter().rev().copied().collect();
                Some(TopLayer {
                    q: MlpEncoder::new(*bottom, hidden, self.latent_dim, device),
                    p: MlpEncoder::new(self.latent_dim, &rev, *bottom, device),
                })
            }
            _ => None,
        };
        let pseudo = match self.latent {
            LatentKind::Vamp { pseudo_inputs } => Some(pseudo::init_pseudo_inputs(
                pseudo_inputs,
                self.pixels(),
                device,
            )),
            _ => None,
        };
        let flow = match &self.latent {
            LatentKind::Flow {
                flow: kind,
                steps,
                hidden,
            } => Some(Flow::new(*kind, self.latent_dim, *steps, *hidden, device)),
            _ => None,
        };
        let classifier = match &self.latent {
            LatentKind::SemiSupervised { classes, hidden } => {
                Some(Classifier::new(self.pixels(), hidden, *classes, device))
            }
            _ => None,
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
            classes,
            codebook,
            top,
            pseudo,
            noise,
            flow,
            classifier,
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

/// Squared distances between the rows of `a` `[n, d]` and `b` `[m, d]`: `[n, m]`.
pub fn pairwise_sq_dists(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    let aa = a.clone().square().sum_dim(1); // [n, 1]
    let bb = b.clone().square().sum_dim(1).transpose(); // [1, m]
    (aa + bb - a.matmul(b.transpose()).mul_scalar(2.0)).clamp_min(0.0)
}

/// One-hot rows `[n, classes]` for integer labels `[n]` (a label outside `0..classes`
/// gives an all-zero row).
pub fn one_hot(labels: Tensor<1, Int>, classes: usize) -> Tensor<2> {
    let n = labels.dims()[0];
    let device = labels.device();
    let range = Tensor::<1, Int>::arange(0..classes as i64, &device)
        .unsqueeze_dim::<2>(0)
        .expand([n, classes]);
    range
        .equal(labels.unsqueeze_dim::<2>(1).expand([n, classes]))
        .float()
}

/// The upper stochastic layer of a two-layer model: q(z2 | z1) and p(z1 | z2), both
/// diagonal Gaussians given by MLPs.
#[derive(Module, Debug)]
pub struct TopLayer {
    /// q(z2 | z1): `bottom → hidden… → (μ, log σ²)` of the top latent.
    pub q: MlpEncoder,
    /// p(z1 | z2): `latent → hidden (reversed)… → (μ, log σ²)` of the lower latent.
    pub p: MlpEncoder,
}

/// A VAE: Gaussian encoder q(z|x), decoder p(x|z) and (for a learned Gaussian likelihood)
/// the log σ parameter; for the structured variants also a label condition, a codebook or
/// a second stochastic layer (see [`LatentKind`]). The likelihood itself lives in the
/// [`VaeConfig`] kept beside it.
///
/// [`Vae::encode`] and [`Vae::decode`] work in the *explored* latent space: the Gaussian
/// code, the quantised code of a VQ-VAE, or the top latent z2 of a two-layer model. The
/// `*_image` methods are the image-facing networks themselves, for objectives.
#[derive(Module, Debug)]
pub struct Vae {
    /// q(z | x) (of z1 for a two-layer model).
    pub encoder: Encoder,
    /// p(x | z) network; outputs logits / pre-sigmoid means.
    pub decoder: DecoderNet,
    /// Learned log σ of a Gaussian likelihood, `[1]`.
    pub log_sigma: Option<Param<Tensor<1>>>,
    /// Label classes the encoder and decoder are conditioned on (0: none).
    pub classes: usize,
    /// VQ-VAE codebook `[codes, code_dim]`.
    pub codebook: Option<Param<Tensor<2>>>,
    /// The second stochastic layer of a two-layer model.
    pub top: Option<TopLayer>,
    /// The learned pseudo-inputs `[K, pixels]` of a VampPrior model (see [`vamp`]).
    pub pseudo: Option<Param<Tensor<2>>>,
    /// Dimensions of the encoder noise ε of an implicit model (0: none; see
    /// [`LatentKind::Implicit`]).
    pub noise: usize,
    /// The posterior's normalizing flow: IAF (amortised by the context `[μ, log σ²]`) or
    /// planar (global parameters).
    pub flow: Option<Flow>,
    /// The classifier q(y|x) of a semi-supervised M2 model.
    pub classifier: Option<Classifier>,
}

impl Vae {
    /// One-hot labels `[batch, classes]` for a conditional model (all zeros, "no label",
    /// when `labels` is `None`); `None` for an unconditional one. Out-of-range labels give
    /// an all-zero row.
    pub fn condition(
        &self,
        labels: Option<&Tensor<1, Int>>,
        batch: usize,
        device: &Device,
    ) -> Option<Tensor<2>> {
        if self.classes == 0 {
            return None;
        }
        Some(match labels {
            Some(l) => one_hot(l.clone(), self.classes),
            None => Tensor::zeros([batch, self.classes], device),
        })
    }

    /// The mean reconstruction of `x` through the most direct path: the posterior mean of
    /// the image latent (z1 for a two-layer model, the quantised code for a VQ-VAE),
    /// decoded. `[batch, pixels] → [batch, pixels]` in `[0, 1]`.
    pub fn reconstruct(&self, x: Tensor<2>, labels: Option<&Tensor<1, Int>>) -> Tensor<2> {
        // An M2 model without labels decodes under its classifier's label.
        let labels = self.labels_or_predicted(&x, labels);
        let (mu, logvar) = self.encode_image(x, labels.as_ref());
        let z = self.quantize(mu.clone()).0;
        let z = self.through_flow(z, &mu, &logvar);
        likelihood::mean_image(self.decode_image(z, labels.as_ref()))
    }

    /// The labels a model is conditioned on for `x`: `labels` when given; for a model
    /// with a classifier (M2) and no labels, the classifier's most probable class; else
    /// `None`.
    pub fn labels_or_predicted(
        &self,
        x: &Tensor<2>,
        labels: Option<&Tensor<1, Int>>,
    ) -> Option<Tensor<1, Int>> {
        match (labels, &self.classifier) {
            (Some(l), _) => Some(l.clone()),
            (None, Some(c)) => Some(c.predict(x.clone())),
            (None, None) => None,
        }
    }

    /// The image encoder: `[batch, pixels] → (μ, log σ²)` of the latent the image networks
    /// see (z1 for a two-layer model; the unquantised z_e for a VQ-VAE; for an implicit
    /// model the Gaussian at encoder noise ε = 0). An M2 model given no labels encodes
    /// under its classifier's most probable class.
    pub fn encode_image(
        &self,
        x: Tensor<2>,
        labels: Option<&Tensor<1, Int>>,
    ) -> (Tensor<2>, Tensor<2>) {
        self.encode_image_noisy(x, labels, None)
    }

    /// [`Vae::encode_image`] with the encoder noise ε `[batch, noise]` of an implicit model
    /// (`None`: ε = 0). A model without encoder noise ignores `noise`.
    pub fn encode_image_noisy(
        &self,
        x: Tensor<2>,
        labels: Option<&Tensor<1, Int>>,
        noise: Option<Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let [batch, _] = x.dims();
        let labels = self.labels_or_predicted(&x, labels);
        let y = self.condition(labels.as_ref(), batch, &x.device());
        let eps = (self.noise > 0)
            .then(|| noise.unwrap_or_else(|| Tensor::zeros([batch, self.noise], &x.device())));
        let y = match (y, eps) {
            (Some(y), Some(e)) => Some(Tensor::cat(vec![y, e], 1)),
            (y, e) => y.or(e),
        };
        match &self.encoder {
            Encoder::Mlp(e) => match y {
                Some(y) => e.forward(Tensor::cat(vec![x, y], 1)),
                None => e.forward(x),
            },
            Encoder::Conv(e) => e.forward(x, y),
        }
    }

    /// The image decoder: latent `[batch, d]` → `[batch, pixels]` logits, with no
    /// quantisation or top layer in between.
    pub fn decode_image(&self, z: Tensor<2>, labels: Option<&Tensor<1, Int>>) -> Tensor<2> {
        let z = match self.condition(labels, z.dims()[0], &z.device()) {
            Some(y) => Tensor::cat(vec![z, y], 1),
            None => z,
        };
        match &self.decoder {
            DecoderNet::Mlp(d) => d.forward(z),
            DecoderNet::Conv(d) => d.forward(z),
        }
    }

    /// `z` through the posterior's flow (unchanged without one): what the decoder sees for
    /// a point `z` of the base Gaussian `N(μ, σ²)` of an image, `μ` and `log σ²`
    /// `[batch, latent]` giving each row's context (see [`flow::flow_context`]).
    pub fn through_flow(&self, z: Tensor<2>, mu: &Tensor<2>, logvar: &Tensor<2>) -> Tensor<2> {
        match &self.flow {
            Some(f) => {
                f.forward(z, flow::flow_context(mu.clone(), logvar.clone()))
                    .0
            }
            None => z,
        }
    }

    /// Replace each `code_dim` slice of `z` `[batch, latent]` by its nearest codebook entry
    /// (squared Euclidean distance): returns the quantised codes and the `[batch · latent /
    /// code_dim]` entry indices. Identity (and no indices) without a codebook.
    pub fn quantize(&self, z: Tensor<2>) -> (Tensor<2>, Option<Tensor<1, Int>>) {
        let Some(book) = &self.codebook else {
            return (z, None);
        };
        let book = book.val();
        let [b, d] = z.dims();
        let cd = book.dims()[1];
        let flat = z.reshape([b * d / cd, cd]);
        let idx: Tensor<1, Int> = pairwise_sq_dists(flat, book.clone())
            .argmin(1)
            .squeeze_dim(1);
        let q = book.select(0, idx.clone()).reshape([b, d]);
        (q, Some(idx))
    }

    /// Encode into the explored latent space: `[batch, pixels] → (μ, log σ²)`, each
    /// `[batch, latent]`. Conditional models see no label (see [`Vae::encode_with`]); a
    /// VQ-VAE returns its quantised code and log σ² = 0; a two-layer model returns
    /// q(z2 | μ1).
    pub fn encode(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        self.encode_with(x, None)
    }

    /// [`Vae::encode`] with labels for a conditional model.
    pub fn encode_with(
        &self,
        x: Tensor<2>,
        labels: Option<&Tensor<1, Int>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let (mu, logvar) = self.encode_image(x, labels);
        if self.codebook.is_some() {
            let (q, _) = self.quantize(mu);
            let zeros = q.zeros_like();
            return (q, zeros);
        }
        if self.flow.is_some() {
            return (self.through_flow(mu.clone(), &mu, &logvar), logvar);
        }
        match &self.top {
            Some(top) => top.q.forward(mu),
            None => (mu, logvar),
        }
    }

    /// `[batch, latent] → [batch, pixels]` decoder outputs (logits) from the explored latent
    /// space: a VQ-VAE quantises first; a two-layer model decodes the mean of p(z1 | z2).
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        self.decode_with(z, None)
    }

    /// [`Vae::decode`] with labels for a conditional model.
    pub fn decode_with(&self, z: Tensor<2>, labels: Option<&Tensor<1, Int>>) -> Tensor<2> {
        let z = match &self.top {
            Some(top) => top.p.forward(z).0,
            None => self.quantize(z).0,
        };
        self.decode_image(z, labels)
    }

    /// `[batch, latent] → [batch, pixels]` mean images in `[0, 1]`.
    pub fn decode_mean(&self, z: Tensor<2>) -> Tensor<2> {
        likelihood::mean_image(self.decode(z))
    }

    /// [`Vae::decode_mean`] with labels for a conditional model.
    pub fn decode_mean_with(&self, z: Tensor<2>, labels: Option<&Tensor<1, Int>>) -> Tensor<2> {
        likelihood::mean_image(self.decode_with(z, labels))
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

impl crate::data::Dataset {
    /// Check that a model built from `model` can be fed this data: its image size and, for
    /// a conditional model, every label. (Here rather than in `data`: the data layer knows
    /// nothing of models.)
    pub fn check_model(&self, model: &VaeConfig) -> Result<(), crate::data::DataMismatch> {
        self.check_image_size(model.shape())?;
        self.check_labels(model.classes())?;
        Ok(())
    }
}
