//! Layers with their initial weights drawn from the thread's noise stream
//! ([`super::noise`]), not from burn's process-wide generator: the same seed gives the
//! same initial model whatever else the process is doing.
//!
//! The distribution is burn's (and PyTorch's) default for these layers: every weight and
//! bias uniform in `±1/√fan_in`, where `fan_in` is the inputs one output sees (`d_in` for a
//! linear layer, `channels_in/groups × kernel area` for a convolution and
//! `channels_out/groups × kernel area` per input for a transposed one).

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::noise::uniform;

/// A parameter uniform in `±bound`, drawn from the noise stream.
fn uniform_param<const D: usize>(
    shape: [usize; D],
    bound: f64,
    device: &Device,
) -> Param<Tensor<D>> {
    Param::from_tensor(uniform(shape, -bound, bound, device))
}

/// `1/√fan_in` (1 for an empty fan-in, which no layer here has).
fn bound(fan_in: usize) -> f64 {
    1.0 / (fan_in.max(1) as f64).sqrt()
}

/// A linear layer `d_in → d_out` with a bias.
pub fn linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    // The config's own parameters are lazy: replaced before first use, they never draw.
    let mut layer = LinearConfig::new(d_in, d_out).init(device);
    let b = bound(d_in);
    layer.weight = uniform_param([d_in, d_out], b, device);
    layer.bias = Some(uniform_param([d_out], b, device));
    layer
}

/// A convolution built from `config`, with a bias.
pub fn conv2d(config: &Conv2dConfig, device: &Device) -> Conv2d {
    let mut layer = config.clone().with_bias(true).init(device);
    let [c_in, c_out] = config.channels;
    let [k1, k2] = config.kernel_size;
    let groups = config.groups.max(1);
    let b = bound(c_in / groups * k1 * k2);
    layer.weight = uniform_param([c_out, c_in / groups, k1, k2], b, device);
    layer.bias = Some(uniform_param([c_out], b, device));
    layer
}

/// A transposed convolution built from `config`, with a bias.
pub fn conv_transpose2d(config: &ConvTranspose2dConfig, device: &Device) -> ConvTranspose2d {
    let mut layer = config.clone().with_bias(true).init(device);
    let [c_in, c_out] = config.channels;
    let [k1, k2] = config.kernel_size;
    let groups = config.groups.max(1);
    let b = bound(c_out / groups * k1 * k2);
    layer.weight = uniform_param([c_in, c_out / groups, k1, k2], b, device);
    layer.bias = Some(uniform_param([c_out], b, device));
    layer
}
