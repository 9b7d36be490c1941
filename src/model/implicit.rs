//! The implicit posterior of Adversarial Variational Bayes (Mescheder, Nowozin & Geiger 2017),
//! [`LatentKind::Implicit`](super::LatentKind::Implicit): the encoder reads standard-normal
//! noise ε beside the image (joined to the image at the MLP's input; to the flattened
//! features before the conv encoder's dense layer) and its two heads give a Gaussian around
//! it, so a code is
//!
//! `z = μ(x, ε) + σ(x, ε) ⊙ ε′,   ε ~ N(0, I_noise),   ε′ ~ N(0, I_latent)`.
//!
//! q(z | x) = ∫ N(z; μ(x, ε), σ²(x, ε)) p(ε) dε is a continuous mixture with no closed form
//! (the encoder may put its spread into ε, into σ, or both); AVB estimates its KL to the
//! prior with a discriminator (see `variant::Avb`). At ε = 0 the encoder is an ordinary
//! Gaussian encoder, q(z | x, ε = 0): [`Vae::encode`] returns it, so the app's maps, sliders
//! and reconstructions use its mean μ(x, 0), and the likelihood bounds (`eval`) use it as
//! their proposal — any distribution over z gives a valid ELBO and IWAE bound, this one a
//! looser one than the implicit posterior whose KL has no closed form.

use burn::tensor::{Int, Tensor};

use super::Vae;
use super::gaussian::reparameterize;
use super::noise::normal;

/// Fresh encoder noise ε ~ N(0, I) `[batch, noise]` for `model` (`None` without encoder
/// noise), on `like`'s device.
pub fn encoder_noise(model: &Vae, like: &Tensor<2>) -> Option<Tensor<2>> {
    (model.noise > 0).then(|| normal([like.dims()[0], model.noise], 1.0, &like.device()))
}

/// The code for given noises: `μ(x, ε) + σ(x, ε) ⊙ ε′`, `[batch, latent]`, with `eps`
/// `[batch, noise]` (ignored by a model without encoder noise) and `eps2` `[batch, latent]`.
/// Deterministic: both noises zero give μ(x, 0).
pub fn implicit_code(
    model: &Vae,
    x: Tensor<2>,
    labels: Option<&Tensor<1, Int>>,
    eps: Tensor<2>,
    eps2: Tensor<2>,
) -> Tensor<2> {
    let (mu, logvar) = model.encode_image_noisy(x, labels, Some(eps));
    reparameterize(mu, logvar, eps2)
}

/// One draw z ~ q(z | x) per image, `[batch, latent]`: fresh ε and ε′ through
/// [`implicit_code`] (for a model without encoder noise, the reparameterised Gaussian).
pub fn implicit_sample(model: &Vae, x: Tensor<2>, labels: Option<&Tensor<1, Int>>) -> Tensor<2> {
    let (mu, logvar) = model.encode_image_noisy(x.clone(), labels, encoder_noise(model, &x));
    let eps2 = normal(mu.shape(), 1.0, &mu.device());
    reparameterize(mu, logvar, eps2)
}
