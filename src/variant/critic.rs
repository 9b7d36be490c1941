//! The discriminator ("critic") networks of the adversarial variants, and the logistic GAN
//! losses they train with.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, Tensor};

use crate::model::likelihood::bce_with_logits;

/// Slope of the leaky ReLU in every critic (Radford et al. 2016, "DCGAN": 0.2).
pub const LEAKY_SLOPE: f64 = 0.2;

/// An MLP discriminator: hidden leaky-ReLU layers and one logit; optionally with the
/// minibatch standard-deviation feature of Karras et al. (2018) before the output layer,
/// which lets it see that a batch of generated samples lacks variety (mode collapse).
#[derive(Module, Debug)]
pub struct Critic {
    /// Hidden layers, each followed by a leaky ReLU.
    pub layers: Vec<Linear>,
    /// Output layer: one logit ("real").
    pub out: Linear,
    /// Whether the minibatch standard-deviation feature is appended before `out`.
    pub minibatch_std: bool,
}

impl Critic {
    /// `input → hidden… → 1`.
    pub fn new(input: usize, hidden: &[usize], device: &Device) -> Self {
        Self::build(input, hidden, false, device)
    }

    /// Like [`Critic::new`], with the minibatch standard-deviation feature.
    pub fn with_minibatch_std(input: usize, hidden: &[usize], device: &Device) -> Self {
        Self::build(input, hidden, true, device)
    }

    fn build(input: usize, hidden: &[usize], minibatch_std: bool, device: &Device) -> Self {
        let mut widths = vec![input];
        widths.extend_from_slice(hidden);
        let layers = widths
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        let last = *widths.last().unwrap_or(&input) + usize::from(minibatch_std);
        Self {
            layers,
            out: LinearConfig::new(last, 1).init(device),
            minibatch_std,
        }
    }

    /// `[batch, input] → (last hidden features [batch, h], logits [batch])`. With the
    /// minibatch feature, each call should see one kind of sample only (all real or all
    /// generated), as the feature is a statistic of the whole batch.
    pub fn forward(&self, mut x: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        for layer in &self.layers {
            x = leaky_relu(layer.forward(x), LEAKY_SLOPE);
        }
        let head = if self.minibatch_std {
            let b = x.dims()[0];
            let sd = x
                .clone()
                .var(0)
                .add_scalar(1e-8)
                .sqrt()
                .mean()
                .reshape([1, 1]);
            Tensor::cat(vec![x.clone(), sd.expand([b, 1])], 1)
        } else {
            x.clone()
        };
        let logit = self.out.forward(head).squeeze_dim(1);
        (x, logit)
    }

    /// Logits only.
    pub fn logits(&self, x: Tensor<2>) -> Tensor<1> {
        self.forward(x).1
    }
}

/// Mean logistic loss of `logits` `[batch]` against the constant target `target` in
/// `[0, 1]` (1 = real): `mean(softplus(l) − target · l)`, stable for any finite logit.
pub fn gan_bce(logits: Tensor<1>, target: f64) -> Tensor<1> {
    let t = logits.zeros_like().add_scalar(target);
    bce_with_logits(logits, t).mean()
}

/// Fraction of `real` logits above 0 and `fake` logits below 0, together: the critic's
/// accuracy on this batch, `[1]`.
pub fn critic_accuracy(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    let n = (real.dims()[0] + fake.dims()[0]).max(1) as f64;
    let right = real.greater_elem(0.0).float().sum() + fake.lower_equal_elem(0.0).float().sum();
    right.div_scalar(n)
}
