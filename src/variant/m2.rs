//! Semi-supervised M2 (Kingma, Rezende, Mohamed & Welling 2014, "Semi-Supervised Learning
//! with Deep Generative Models", §3.1.2): a classifier q(y|x), an encoder q(z|x,y) and a
//! decoder p(x|y,z) with the priors p(y) = 1/C and p(z) = N(0, I), trained on a few
//! labelled images and many unlabelled ones.
//!
//! - Labelled: `L(x, y) = −E_q(z|x,y)[log p(x|y,z)] + KL(q(z|x,y) ‖ N(0, I)) − log p(y)`.
//! - Unlabelled: `U(x) = Σ_y q(y|x) L(x, y) − H(q(y|x))`, y summed out exactly.
//! - `J^α = Σ_labelled [L(x, y) + α · (−log q(y|x))] + Σ_unlabelled U(x)`, α = 0.1 · N: the
//!   paper's `J + α · E_p̃l[−log q(y|x)]` with the expectation over the labelled images
//!   taken, like J's two sums, as a sum over them (each labelled image adds α · −log q).
//!
//! The loss of a step is `J^α / N` estimated from its batch: `(N_l / N) · mean_l(L + α ·
//! (−log q(y|x))) + (N_u / N) · mean_u U`, N_l labelled of N training images. (Read as a
//! mean instead, α = 0.1 · N weighs the classification 0.1 per image against U's ~100
//! nats: on the bundled digits q(y|x) then follows the decoder's own clusters and its
//! accuracy with 100 labels fell from 0.48 to 0.34 over 8 epochs.)
//!
//! Which images are labelled: [`select_labelled`] keeps N_l labels, balanced across classes
//! and chosen with the run's seed; the rest of the training split is unlabelled. Batches mix
//! both ([`LabelledPool::batch`]): each step's batch is the epoch's next images (labelled
//! where they are in the pool, [`UNLABELLED`] elsewhere) plus `min(N_l, ⌈batch / 4⌉)`
//! images drawn from the labelled pool, in passes over it each in its own seeded order, as
//! common implementations draw a labelled batch beside every unlabelled one.

use burn::tensor::{Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use thiserror::Error;

use super::{AuxModules, LossTerms, Objective, StepContext, VariantKind, iwae_bound};
use crate::data::{Batch, Batcher, Split, epoch_permutation};
use crate::model::gaussian::{kl_std_normal, log_mean_exp, reparameterize};
use crate::model::noise::normal;
use crate::model::{Likelihood, Vae, one_hot};

/// The label an unlabelled training image carries in an M2 batch (its one-hot row is zero).
pub const UNLABELLED: i64 = -1;

/// Mixed into the run's seed for the choice of labelled images and their order in batches.
const POOL_SALT: u64 = 0x4D32_5345_4C45_4354;

/// Why a labelled selection cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LabelledError {
    /// Fewer labels than classes: some class would have no labelled image.
    #[error("labelled = {n}: must be at least the {classes} classes (one labelled image of each)")]
    FewerThanClasses {
        /// Labels asked for.
        n: usize,
        /// Classes.
        classes: usize,
    },
    /// More labels than training images.
    #[error("labelled = {n}: must be at most the {train} training images")]
    MoreThanTraining {
        /// Labels asked for.
        n: usize,
        /// Training images.
        train: usize,
    },
    /// A class has too few images for its share.
    #[error(
        "labelled = {n}: class {class} has {has} training images, {need} are needed for a \
         selection balanced across the classes"
    )]
    ClassTooSmall {
        /// Labels asked for.
        n: usize,
        /// The class.
        class: usize,
        /// Its training images.
        has: usize,
        /// Its share of the labels.
        need: usize,
    },
}

/// The indices (ascending) of `n` images of a split with `labels`, balanced across
/// `classes`: each class gets `n / classes` of its images, the first `n % classes` classes
/// one more; within a class, the first of its images in an order shuffled with `seed` (the
/// same seed keeps the same labels).
pub fn select_labelled(
    labels: &[u8],
    classes: usize,
    n: usize,
    seed: u64,
) -> Result<Vec<usize>, LabelledError> {
    if n < classes.max(1) {
        return Err(LabelledError::FewerThanClasses { n, classes });
    }
    if n > labels.len() {
        return Err(LabelledError::MoreThanTraining {
            n,
            train: labels.len(),
        });
    }
    let mut chosen = Vec::with_capacity(n);
    for class in 0..classes {
        let need = n / classes + usize::from(class < n % classes);
        let mut of: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] as usize == class)
            .collect();
        if of.len() < need {
            return Err(LabelledError::ClassTooSmall {
                n,
                class,
                has: of.len(),
                need,
            });
        }
        let mixed = seed ^ POOL_SALT ^ (class as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        of.shuffle(&mut ChaCha8Rng::seed_from_u64(mixed));
        chosen.extend_from_slice(&of[..need]);
    }
    chosen.sort_unstable();
    Ok(chosen)
}

/// The labelled images of an M2 run and how they join its batches.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledPool {
    indices: Vec<usize>,
    member: Vec<bool>,
    per_batch: usize,
    seed: u64,
}

impl LabelledPool {
    /// The pool of `n` labelled images of a training split with `labels` ([`select_labelled`]
    /// with `seed`), `min(n, ⌈batch_size / 4⌉)` of which join every batch.
    pub fn new(
        labels: &[u8],
        classes: usize,
        n: usize,
        seed: u64,
        batch_size: usize,
    ) -> Result<Self, LabelledError> {
        let indices = select_labelled(labels, classes, n, seed)?;
        let mut member = vec![false; labels.len()];
        for &i in &indices {
            member[i] = true;
        }
        Ok(Self {
            per_batch: n.min(batch_size.div_ceil(4)).max(1),
            indices,
            member,
            seed,
        })
    }

    /// The labelled images' indices in the training split, ascending.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// Labelled images added to every batch.
    pub fn per_batch(&self) -> usize {
        self.per_batch
    }

    /// Whether training image `i` is labelled.
    pub fn is_labelled(&self, i: usize) -> bool {
        self.member.get(i).copied().unwrap_or(false)
    }

    /// The pool's images that join step `step`'s batch: positions `step · k … step · k + k
    /// − 1` (k = [`LabelledPool::per_batch`]) of an endless sequence of passes over the
    /// pool, each pass in its own order from the run's seed (so a resumed run draws the
    /// same ones).
    pub fn extras(&self, step: u64) -> Vec<usize> {
        let l = self.indices.len() as u64;
        let k = self.per_batch as u64;
        let mut order: Option<(u64, Vec<usize>)> = None;
        (0..k)
            .map(|j| {
                let pos = step.saturating_mul(k).saturating_add(j);
                let pass = pos / l;
                if order.as_ref().is_none_or(|(p, _)| *p != pass) {
                    let perm = epoch_permutation(self.seed ^ POOL_SALT, pass as usize, l as usize);
                    order = Some((pass, perm));
                }
                let perm = order.as_ref().map_or(&[][..], |(_, o)| &o[..]);
                self.indices[perm[(pos % l) as usize]]
            })
            .collect()
    }

    /// The batch of step `step`: the training images `sweep` (the epoch's next images),
    /// labelled where they are in the pool and [`UNLABELLED`] elsewhere, followed by the
    /// pool's [`LabelledPool::extras`] with their labels. `draw` as in
    /// [`Batcher::batch_drawn`].
    pub fn batch(
        &self,
        batcher: &Batcher,
        split: &Split,
        sweep: &[usize],
        step: u64,
        draw: Option<u64>,
    ) -> Batch {
        let mut idx = sweep.to_vec();
        idx.extend(self.extras(step));
        let mut batch = batcher.batch_drawn(split, &idx, draw);
        let labels: Vec<i64> = idx
            .iter()
            .enumerate()
            .map(|(p, &i)| {
                if p >= sweep.len() || self.is_labelled(i) {
                    split.labels[i] as i64
                } else {
                    UNLABELLED
                }
            })
            .collect();
        let device = batch.images.device();
        batch.labels = Tensor::from_data(TensorData::new(labels, [idx.len()]), &device);
        batch
    }
}

/// M2's per-class pieces for a batch, one sample of z per image shared by every class.
#[derive(Debug, Clone)]
pub struct ClassParts {
    /// `−log p(x | y, z)` per image and class, `[batch, classes]`.
    pub rec: Tensor<2>,
    /// `KL(q(z | x, y) ‖ N(0, I))` per class, image and latent dimension,
    /// `[classes, batch, latent]`.
    pub kl: Tensor<3>,
    /// `log q(y | x)`, `[batch, classes]`.
    pub log_q: Tensor<2>,
}

impl ClassParts {
    /// `L(x, y) = rec + w · KL − log p(y)` per image and class `[batch, classes]`, with
    /// p(y) = 1/C and the KL weighted by `w` (1: the negative ELBO of (x, y)).
    pub fn labelled(&self, w: f64) -> Tensor<2> {
        let [c, b, _] = self.kl.dims();
        let kl = self.kl.clone().sum_dim(2).reshape([c, b]).transpose();
        (self.rec.clone() + kl.mul_scalar(w)).add_scalar((c as f64).ln())
    }

    /// `U(x) = Σ_y q(y|x) L(x, y) − H(q(y|x))` per image `[batch]`, the KL weighted by `w`.
    pub fn unlabelled(&self, w: f64) -> Tensor<1> {
        let b = self.rec.dims()[0];
        let q = self.log_q.clone().exp();
        let expected = (q.clone() * self.labelled(w)).sum_dim(1);
        let neg_entropy = (q * self.log_q.clone()).sum_dim(1);
        (expected + neg_entropy).reshape([b])
    }
}

/// [`ClassParts`] of a model with a classifier for images `x` `[batch, pixels]`, with the
/// noise `eps` `[batch, latent]` (drawn when `None`) shared by every class: z_y = μ(x, y) +
/// σ(x, y) · ε. A conditional model without a classifier takes q(y|x) = p(y) = 1/C.
pub fn class_parts(
    model: &Vae,
    likelihood: Likelihood,
    x: Tensor<2>,
    eps: Option<Tensor<2>>,
) -> ClassParts {
    let [b, p] = x.dims();
    let c = model.classes;
    let device = x.device();
    let log_q = match &model.classifier {
        Some(classifier) => classifier.log_probs(x.clone()),
        None => Tensor::full([b, c], -(c.max(1) as f64).ln(), &device),
    };
    // Class-major copies: rows y·b … y·b + b − 1 are the batch under label y.
    let xs = x
        .unsqueeze_dim::<3>(0)
        .expand([c, b, p])
        .reshape([c * b, p]);
    let labels: Tensor<1, Int> = Tensor::<1, Int>::arange(0..c as i64, &device)
        .unsqueeze_dim::<2>(1)
        .expand([c, b])
        .reshape([c * b]);
    let (mu, logvar) = model.encode_image(xs.clone(), Some(&labels));
    let d = mu.dims()[1];
    let eps = eps.unwrap_or_else(|| normal([b, d], 1.0, &device));
    let eps = eps
        .unsqueeze_dim::<3>(0)
        .expand([c, b, d])
        .reshape([c * b, d]);
    let z = reparameterize(mu.clone(), logvar.clone(), eps);
    let rec = model
        .nll(likelihood, model.decode_image(z, Some(&labels)), xs)
        .reshape([c, b])
        .transpose();
    let kl = kl_std_normal(mu, logvar).reshape([c, b, d]);
    ClassParts { rec, kl, log_q }
}

/// y summed out under q(y|x), per image: `rec = Σ_y q(y|x) rec_y` `[batch]`, the KL per
/// dimension `Σ_y q(y|x) KL_y` `[batch, latent]` and `kl_y = KL(q(y|x) ‖ p(y)) = log C −
/// H(q(y|x))` `[batch]`. Their sum is U(x), an upper bound on −log p(x).
#[derive(Debug, Clone)]
pub struct Marginal {
    /// Expected reconstruction term, `[batch]`.
    pub rec: Tensor<1>,
    /// Expected KL of z per dimension, `[batch, latent]`.
    pub kl: Tensor<2>,
    /// KL of the label, `[batch]`.
    pub kl_y: Tensor<1>,
    /// `log q(y | x)`, `[batch, classes]`.
    pub log_q: Tensor<2>,
}

/// [`Marginal`] from [`class_parts`] (the same noise for every class).
pub fn marginal(
    model: &Vae,
    likelihood: Likelihood,
    x: Tensor<2>,
    eps: Option<Tensor<2>>,
) -> Marginal {
    let parts = class_parts(model, likelihood, x, eps);
    let [c, b, d] = parts.kl.dims();
    let q = parts.log_q.clone().exp();
    let rec = (q.clone() * parts.rec).sum_dim(1).reshape([b]);
    let qt = q.clone().transpose().reshape([c, b, 1]);
    let kl = (parts.kl * qt).sum_dim(0).reshape([b, d]);
    let kl_y = (q * parts.log_q.clone())
        .sum_dim(1)
        .reshape([b])
        .add_scalar((c as f64).ln());
    Marginal {
        rec,
        kl,
        kl_y,
        log_q: parts.log_q,
    }
}

/// The importance-weighted bound of an M2 model with y summed out exactly, `[batch]`:
/// `log Σ_y p(y) · IWAE_k(x | y)` (each class's k-sample bound on log p(x | y)); a lower
/// bound on log p(x) in expectation, by Jensen's inequality.
pub fn m2_iwae(model: &Vae, likelihood: Likelihood, x: Tensor<2>, k: usize) -> Tensor<1> {
    let b = x.dims()[0];
    let device = x.device();
    let per_class: Vec<Tensor<1>> = (0..model.classes)
        .map(|y| {
            let labels = Tensor::<1, Int>::full([b], y as i64, &device);
            iwae_bound(model, likelihood, x.clone(), Some(&labels), k, None)
        })
        .collect();
    // log (1/C) Σ_y exp(bound_y): p(y) = 1/C.
    log_mean_exp(Tensor::stack::<2>(per_class, 1), 1).reshape([b])
}

/// How many of `labels` `[batch]` the classifier of `model` predicts for `x` (its most
/// probable class); `None` without a classifier.
pub fn correct_predictions(model: &Vae, x: Tensor<2>, labels: &Tensor<1, Int>) -> Option<usize> {
    let classifier = model.classifier.as_ref()?;
    let right = classifier
        .predict(x)
        .equal(labels.clone())
        .int()
        .sum()
        .into_data()
        .iter::<i64>()
        .next()
        .unwrap_or(0);
    Some(right.max(0) as usize)
}

/// The classification accuracy of q(y|x) on `split` (the fraction of images whose most
/// probable class is their label), in batches of `batch_size`; `None` without a classifier
/// or for an empty split.
pub fn classifier_accuracy(
    model: &Vae,
    split: &Split,
    device: &burn::tensor::Device,
    batch_size: usize,
) -> Option<f64> {
    model.classifier.as_ref()?;
    if split.is_empty() {
        return None;
    }
    let batcher = Batcher::new(device.clone());
    let mut right = 0;
    for batch in batcher.sequential(split, batch_size.max(1)) {
        right += correct_predictions(model, batch.images, &batch.labels)?;
    }
    Some(right as f64 / split.len() as f64)
}

/// The M2 objective (see the module docs).
#[derive(Debug, Clone)]
pub struct M2 {
    /// Labelled training images N_l.
    pub labelled: usize,
    /// Weight α of the classification loss (`None`: the paper's 0.1 · N).
    pub alpha: Option<f64>,
}

impl M2 {
    /// α for `n` training images: the one set, else the paper's 0.1 · N.
    pub fn alpha_for(&self, n: usize) -> f64 {
        self.alpha.unwrap_or(0.1 * n as f64)
    }
}

/// M2's loss for a batch of `images` with `labels` ([`UNLABELLED`] for the unlabelled), with
/// the noise `eps` `[batch, latent]` (drawn when `None`): `(N_l / N) · mean_l(L + α ·
/// (−log q(y|x))) + (N_u / N) · mean_u U` for `labelled` = N_l of `n` = N training images,
/// the KL weighted by `kl_weight`. Reports `rec` and `kl` (expected under the
/// label, or under q(y|x) where there is none), `ce` (the labelled images' mean
/// −log q(y|x)) and `unlabelled` (mean U).
#[allow(clippy::too_many_arguments)]
pub fn m2_loss(
    model: &Vae,
    likelihood: Likelihood,
    images: Tensor<2>,
    labels: &Tensor<1, Int>,
    eps: Option<Tensor<2>>,
    labelled: usize,
    n: usize,
    alpha: f64,
    kl_weight: f64,
) -> LossTerms {
    let b = images.dims()[0];
    let parts = class_parts(model, likelihood, images, eps);
    let c = model.classes;
    // One-hot rows: zero for the unlabelled, so their labelled terms vanish.
    let y = one_hot(labels.clone(), c);
    let is_labelled = y.clone().sum_dim(1).reshape([b]);
    let is_unlabelled = is_labelled.clone().neg().add_scalar(1.0);
    let n_l = is_labelled.clone().sum().clamp_min(1.0);
    let n_u = is_unlabelled.clone().sum().clamp_min(1.0);
    let l_xy = (parts.labelled(kl_weight) * y.clone())
        .sum_dim(1)
        .reshape([b]);
    let ce = (parts.log_q.clone() * y.clone())
        .sum_dim(1)
        .reshape([b])
        .neg();
    let u = parts.unlabelled(kl_weight);
    let mean_l = l_xy.sum() / n_l.clone();
    let mean_ce = ce.sum() / n_l;
    let mean_u = (u * is_unlabelled.clone()).sum() / n_u;
    let nf = n.max(1) as f64;
    let nl = labelled.min(n) as f64;
    let total = (mean_l + mean_ce.clone().mul_scalar(alpha)).mul_scalar(nl / nf)
        + mean_u.clone().mul_scalar((nf - nl) / nf);
    // The label's distribution per image: the one-hot label, or q(y|x) when unlabelled.
    let weights = y + parts.log_q.clone().exp() * is_unlabelled.reshape([b, 1]);
    let kl_y = parts.kl.sum_dim(2).reshape([c, b]).transpose();
    let rec = (parts.rec * weights.clone()).sum_dim(1).mean();
    let kl = (kl_y * weights).sum_dim(1).mean();
    LossTerms {
        total,
        terms: vec![
            ("rec", rec),
            ("kl", kl),
            ("ce", mean_ce),
            ("unlabelled", mean_u),
        ],
    }
}

impl Objective for M2 {
    fn kind(&self) -> VariantKind {
        VariantKind::M2
    }

    fn loss(
        &self,
        model: &Vae,
        _aux: &AuxModules,
        batch: &Batch,
        _phase: usize,
        ctx: &StepContext,
    ) -> LossTerms {
        m2_loss(
            model,
            ctx.likelihood,
            batch.images.clone(),
            &batch.labels,
            None,
            self.labelled,
            ctx.dataset_size,
            self.alpha_for(ctx.dataset_size),
            ctx.kl_weight,
        )
    }
}
