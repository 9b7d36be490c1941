//! Encoder and decoder networks: MLP and convolutional.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::init;
use crate::cpu::{Activation, conv_transpose2d, conv2d, linear};
use crate::data::ImageShape;

/// A stack of linear layers with ReLU after each.
#[derive(Module, Debug)]
pub struct ReluStack {
    /// The layers, applied in order.
    pub layers: Vec<Linear>,
}

impl ReluStack {
    /// Linear layers `widths[0] → widths[1] → …`, each followed by ReLU.
    pub fn new(widths: &[usize], device: &Device) -> Self {
        let layers = widths
            .windows(2)
            .map(|w| init::linear(w[0], w[1], device))
            .collect();
        Self { layers }
    }

    /// Apply every layer and ReLU.
    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        for layer in &self.layers {
            x = relu(linear(layer, x));
        }
        x
    }
}

/// MLP Gaussian encoder: `pixels → hidden… → (μ, log σ²)`.
#[derive(Module, Debug)]
pub struct MlpEncoder {
    /// Hidden layers.
    pub body: ReluStack,
    /// Head for μ.
    pub mu: Linear,
    /// Head for log σ².
    pub logvar: Linear,
}

impl MlpEncoder {
    /// Build for `input` pixels, the given hidden widths and `latent` dimensions.
    pub fn new(input: usize, hidden: &[usize], latent: usize, device: &Device) -> Self {
        let mut widths = vec![input];
        widths.extend_from_slice(hidden);
        let last = *widths.last().unwrap_or(&input);
        Self {
            body: ReluStack::new(&widths, device),
            mu: init::linear(last, latent, device),
            logvar: init::linear(last, latent, device),
        }
    }

    /// `[batch, pixels] → ([batch, latent], [batch, latent])`.
    pub fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = self.body.forward(x);
        (linear(&self.mu, h.clone()), linear(&self.logvar, h))
    }
}

/// MLP decoder: `latent → hidden (reversed)… → pixels` (logits).
#[derive(Module, Debug)]
pub struct MlpDecoder {
    /// Hidden layers.
    pub body: ReluStack,
    /// Output layer (no activation).
    pub out: Linear,
}

impl MlpDecoder {
    /// Mirror of [`MlpEncoder::new`].
    pub fn new(latent: usize, hidden: &[usize], output: usize, device: &Device) -> Self {
        let mut widths = vec![latent];
        widths.extend(hidden.iter().rev());
        let last = *widths.last().unwrap_or(&latent);
        Self {
            body: ReluStack::new(&widths, device),
            out: init::linear(last, output, device),
        }
    }

    /// `[batch, latent] → [batch, pixels]` logits.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        linear(&self.out, self.body.forward(z))
    }
}

fn down_conv(cin: usize, cout: usize, device: &Device) -> Conv2d {
    let config = Conv2dConfig::new([cin, cout], [4, 4])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1));
    init::conv2d(&config, device)
}

fn up_conv(cin: usize, cout: usize, device: &Device) -> ConvTranspose2d {
    let config = ConvTranspose2dConfig::new([cin, cout], [4, 4])
        .with_stride([2, 2])
        .with_padding([1, 1]);
    init::conv_transpose2d(&config, device)
}

/// Convolutional Gaussian encoder: two stride-2 4×4 convs (`c1`, `c2` channels), a dense
/// layer, then μ and log σ² heads. Image sides must be multiples of 4.
#[derive(Module, Debug)]
pub struct ConvEncoder {
    /// First convolution, `1 → c1`, halves each side.
    pub conv1: Conv2d,
    /// Second convolution, `c1 → c2`, halves each side again.
    pub conv2: Conv2d,
    /// Dense layer after flattening.
    pub dense: Linear,
    /// Head for μ.
    pub mu: Linear,
    /// Head for log σ².
    pub logvar: Linear,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Image channels (1 grey, 3 RGB).
    pub image_channels: usize,
}

impl ConvEncoder {
    /// Build for images of `shape`; `extra` inputs (e.g. a one-hot label) are joined to
    /// the flattened feature map before the dense layer.
    pub fn new(
        shape: ImageShape,
        channels: [usize; 2],
        dense: usize,
        latent: usize,
        extra: usize,
        device: &Device,
    ) -> Self {
        let (rows, cols) = (shape.rows, shape.cols);
        let flat = channels[1] * (rows / 4) * (cols / 4);
        Self {
            conv1: down_conv(shape.channels, channels[0], device),
            conv2: down_conv(channels[0], channels[1], device),
            dense: init::linear(flat + extra, dense, device),
            mu: init::linear(dense, latent, device),
            logvar: init::linear(dense, latent, device),
            rows,
            cols,
            image_channels: shape.channels,
        }
    }

    /// `[batch, pixels]` (and `[batch, extra]`) `→ ([batch, latent], [batch, latent])`.
    pub fn forward(&self, x: Tensor<2>, extra: Option<Tensor<2>>) -> (Tensor<2>, Tensor<2>) {
        let b = x.dims()[0];
        let x = x.reshape([b, self.image_channels, self.rows, self.cols]);
        let h = conv2d(&self.conv1, x, Activation::Relu);
        let h = conv2d(&self.conv2, h, Activation::Relu);
        let mut h: Tensor<2> = h.flatten(1, 3);
        if let Some(e) = extra {
            h = Tensor::cat(vec![h, e], 1);
        }
        let h = relu(linear(&self.dense, h));
        (linear(&self.mu, h.clone()), linear(&self.logvar, h))
    }
}

/// Convolutional decoder mirroring [`ConvEncoder`] with transposed convolutions.
#[derive(Module, Debug)]
pub struct ConvDecoder {
    /// Dense layer from the latent code.
    pub dense: Linear,
    /// Projection to the `c2 × rows/4 × cols/4` feature map.
    pub project: Linear,
    /// Transposed convolution `c2 → c1`, doubles each side.
    pub deconv1: ConvTranspose2d,
    /// Transposed convolution `c1 → image channels`, doubles each side again (logits).
    pub deconv2: ConvTranspose2d,
    /// Channels of the first feature map.
    pub c2: usize,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Image channels (1 grey, 3 RGB).
    pub image_channels: usize,
}

impl ConvDecoder {
    /// Mirror of [`ConvEncoder::new`].
    pub fn new(
        shape: ImageShape,
        channels: [usize; 2],
        dense: usize,
        latent: usize,
        device: &Device,
    ) -> Self {
        let (rows, cols) = (shape.rows, shape.cols);
        let flat = channels[1] * (rows / 4) * (cols / 4);
        Self {
            dense: init::linear(latent, dense, device),
            project: init::linear(dense, flat, device),
            deconv1: up_conv(channels[1], channels[0], device),
            deconv2: up_conv(channels[0], shape.channels, device),
            c2: channels[1],
            rows,
            cols,
            image_channels: shape.channels,
        }
    }

    /// `[batch, latent] → [batch, pixels]` logits.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        let b = z.dims()[0];
        let h = relu(linear(&self.dense, z));
        let h = relu(linear(&self.project, h));
        let h = h.reshape([b, self.c2, self.rows / 4, self.cols / 4]);
        let h = conv_transpose2d(&self.deconv1, h, Activation::Relu);
        let out = conv_transpose2d(&self.deconv2, h, Activation::Identity);
        out.reshape([b, self.image_channels * self.rows * self.cols])
    }
}
