//! The classifier q(y | x) of the semi-supervised M2 model (Kingma, Rezende, Mohamed &
//! Welling 2014): an MLP on the image, apart from the encoder (the paper's M2 also gives
//! q(y|x) its own network). Encoder q(z | x, y) and decoder p(x | y, z) are the conditional
//! VAE's, which already take a one-hot label (see [`super::LatentKind::SemiSupervised`]).

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor};

use super::arch::ReluStack;
use super::init;
use crate::cpu::linear;

/// q(y | x): `pixels → hidden… (ReLU) → classes` logits.
#[derive(Module, Debug)]
pub struct Classifier {
    /// Hidden layers.
    pub body: ReluStack,
    /// Output layer: one logit per class.
    pub out: Linear,
}

impl Classifier {
    /// An MLP from `pixels` values through `hidden` widths to `classes` logits.
    pub fn new(pixels: usize, hidden: &[usize], classes: usize, device: &Device) -> Self {
        let mut widths = vec![pixels];
        widths.extend_from_slice(hidden);
        let last = *widths.last().unwrap_or(&pixels);
        Self {
            body: ReluStack::new(&widths, device),
            out: init::linear(last, classes, device),
        }
    }

    /// `[batch, pixels] → [batch, classes]` logits of q(y | x).
    pub fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        linear(&self.out, self.body.forward(x))
    }

    /// `[batch, pixels] → [batch, classes]` log q(y | x).
    pub fn log_probs(&self, x: Tensor<2>) -> Tensor<2> {
        log_softmax(self.logits(x), 1)
    }

    /// The most probable class of each image, `[batch]`.
    pub fn predict(&self, x: Tensor<2>) -> Tensor<1, Int> {
        self.logits(x).argmax(1).squeeze_dim(1)
    }
}
