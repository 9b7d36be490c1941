//! The discriminator ("critic") networks of the adversarial variants, and the logistic GAN
//! losses they train with.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, Tensor};

use crate::cpu::linear;
use crate::model::init;
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
            .map(|w| init::linear(w[0], w[1], device))
            .collect();
        let last = *widths.last().unwrap_or(&input) + usize::from(minibatch_std);
        Self {
            layers,
            out: init::linear(last, 1, device),
            minibatch_std,
        }
    }

    /// `[batch, input] → (last hidden features [batch, h], logits [batch])`. With the
    /// minibatch feature, each call should see one kind of sample only (all real or all
    /// generated), as the feature is a statistic of the whole batch.
    pub fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let h = self.hidden(x, None);
        (h.clone(), self.head(h))
    }

    /// Logits only.
    pub fn logits(&self, x: Tensor<2>) -> Tensor<1> {
        self.forward(x).1
    }

    /// `[batch, input] → [batch, input]`: the gradient of each sample's logit with respect
    /// to its input, ∂D(x)/∂x, as an ordinary differentiable tensor expression.
    ///
    /// A leaky-ReLU MLP is piecewise linear, so the gradient is the product of its weights
    /// with each layer's activation slopes (1 or [`LEAKY_SLOPE`]) held fixed:
    /// `∂D/∂x = W₁ diag(s₁) W₂ diag(s₂) … w_out`. Written out like this it can itself be
    /// differentiated with respect to the weights by first-order autodiff, which is what a
    /// gradient penalty needs (burn has no double backward). The slopes are constant
    /// almost everywhere, so this is exact except on the measure-zero kinks. The minibatch
    /// standard-deviation feature, a batch statistic, is left out of the gradient.
    pub fn input_gradient(&self, x: Tensor<2>) -> Tensor<2> {
        let mut slopes = Vec::with_capacity(self.layers.len());
        let h = self.hidden(x, Some(&mut slopes));
        self.backward_from(h.dims(), slopes)
    }

    /// [`Critic::logits`] and [`Critic::input_gradient`] from one forward pass.
    pub fn logits_and_input_gradient(&self, x: Tensor<2>) -> (Tensor<1>, Tensor<2>) {
        let mut slopes = Vec::with_capacity(self.layers.len());
        let h = self.hidden(x, Some(&mut slopes));
        let dims = h.dims();
        (self.head(h), self.backward_from(dims, slopes))
    }

    /// The hidden layers; with `slopes`, also each layer's leaky-ReLU slope (1 or
    /// [`LEAKY_SLOPE`]) at its pre-activations.
    fn hidden(&self, mut x: Tensor<2>, mut slopes: Option<&mut Vec<Tensor<2>>>) -> Tensor<2> {
        for layer in &self.layers {
            let pre = linear(layer, x);
            if let Some(s) = slopes.as_deref_mut() {
                s.push(
                    pre.clone()
                        .greater_elem(0.0)
                        .float()
                        .mul_scalar(1.0 - LEAKY_SLOPE)
                        .add_scalar(LEAKY_SLOPE),
                );
            }
            x = leaky_relu(pre, LEAKY_SLOPE);
        }
        x
    }

    /// The output layer on the last hidden features, with the minibatch feature if enabled.
    fn head(&self, h: Tensor<2>) -> Tensor<1> {
        let head = if self.minibatch_std {
            let b = h.dims()[0];
            let sd = h
                .clone()
                .var(0)
                .add_scalar(1e-8)
                .sqrt()
                .mean()
                .reshape([1, 1]);
            Tensor::cat(vec![h, sd.expand([b, 1])], 1)
        } else {
            h
        };
        linear(&self.out, head).squeeze_dim(1)
    }

    /// ∂logit/∂input from the last hidden layer's `[batch, width]` and every layer's slopes.
    fn backward_from(&self, [batch, width]: [usize; 2], slopes: Vec<Tensor<2>>) -> Tensor<2> {
        // `out.weight` is [width (+1 with the minibatch feature), 1]; its first `width`
        // rows act on the hidden features.
        let mut g = self
            .out
            .weight
            .val()
            .slice([0..width, 0..1])
            .transpose()
            .expand([batch, width]);
        for (layer, slope) in self.layers.iter().zip(slopes).rev() {
            // Linear is x·W with W [in, out], so the backward pass is g·Wᵀ.
            g = (g * slope).matmul(layer.weight.val().transpose());
        }
        g
    }
}

/// The R1 gradient penalty of Mescheder et al. (2018) from a critic's input gradient on real
/// samples (see [`Critic::input_gradient`]): `mean ‖∂D(x)/∂x‖²` over the batch, `[1]` (the
/// caller weights it by γ/2).
pub fn r1_penalty(input_gradient: Tensor<2>) -> Tensor<1> {
    input_gradient.powi_scalar(2).sum_dim(1).mean()
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
