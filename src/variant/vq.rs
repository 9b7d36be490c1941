//! VQ-VAE (van den Oord et al. 2017): the encoder output is split into `latent / D`
//! vectors, each replaced by its nearest entry of a learned K × D codebook; the decoder's
//! gradient is copied straight through the quantisation to the encoder. The loss is
//! `rec + ‖sg[z_e] − e‖² + β ‖z_e − sg[e]‖²` (codebook and commitment terms, β = 0.25),
//! the squared norms summed over the latent and averaged over the batch. The codebook term
//! is minimised as in the paper's appendix A.1 and VQ-VAE-2 (Razavi et al. 2019): each
//! entry is the exponential moving average (decay 0.99) of the encoder outputs assigned to
//! it, updated after every step, rather than by its own gradient — an Adam step moves an
//! entry by at most about the learning rate, far slower than the encoder outputs move.
//! With a uniform
//! prior over codes the KL term is a constant, so the loss is no bound on −log p(x) that
//! is comparable with the other variants'.
//!
//! Dead codes: entries that no encoder output picks get no gradient and stay dead. After
//! every step, entries whose usage (an exponential moving average of the fraction of
//! codes they receive, decay [`USAGE_DECAY`]) fell below [`DEAD_FRACTION`]`/K` are
//! restarted at random encoder outputs of the batch — the random-restart fix of Dhariwal
//! et al. (2020, Jukebox) and Łańcucki et al. (2020). The usage averages are kept as a
//! non-trained `[K, 1]` table in the aux modules, so they are saved with the checkpoint.

use burn::module::Param;
use burn::tensor::{Device, Int, Tensor};

use super::{AuxModules, LossTerms, Objective, StepContext, VariantKind};
use crate::data::Batch;
use crate::model::{Vae, VaeConfig, one_hot};

/// Decay of the per-entry usage average.
pub const USAGE_DECAY: f64 = 0.9;
/// An entry is dead when its usage average is below this fraction of the uniform share 1/K.
pub const DEAD_FRACTION: f64 = 0.03;

/// Codebook usage of a set of selected entries.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeUsage {
    /// `exp(entropy)` of the empirical code distribution: the effective number of codes.
    pub perplexity: f64,
    /// Entries never selected.
    pub dead: usize,
}

/// Per-entry counts of `indices` over a `codes`-entry codebook, `[codes]` (on the device).
pub fn code_counts(indices: Tensor<1, Int>, codes: usize) -> Tensor<1> {
    one_hot(indices, codes).sum_dim(0).squeeze_dim(0)
}

/// Perplexity `exp(−Σ p log p)` of the distribution proportional to `counts` `[codes]`.
pub fn perplexity(counts: Tensor<1>) -> Tensor<1> {
    let p = counts.clone() / counts.sum().clamp_min(1.0);
    let h = (p.clone() * p.clamp_min(1e-12).log()).sum().neg();
    h.exp()
}

/// Perplexity and dead entries from host counts.
pub fn usage_from_counts(counts: &[f64]) -> CodeUsage {
    let total: f64 = counts.iter().sum();
    let h: f64 = counts
        .iter()
        .filter(|&&c| c > 0.0)
        .map(|&c| {
            let p = c / total;
            -p * p.ln()
        })
        .sum();
    CodeUsage {
        perplexity: if total > 0.0 { h.exp() } else { 0.0 },
        dead: counts.iter().filter(|&&c| c == 0.0).count(),
    }
}

/// The VQ-VAE objective.
#[derive(Debug, Clone)]
pub struct VqVae {
    /// Commitment weight β (paper: 0.25).
    pub commitment: f64,
    /// Decay γ of the codebook's moving averages (paper's appendix: 0.99).
    pub ema_decay: f64,
}

impl Objective for VqVae {
    fn kind(&self) -> VariantKind {
        VariantKind::VqVae
    }

    fn init_aux(&self, model: &VaeConfig, device: &Device) -> AuxModules {
        let (k, d) = match model.latent {
            crate::model::LatentKind::Quantized { codes, code_dim } => (codes, code_dim),
            _ => (1, 1),
        };
        let table = |t: Tensor<2>| Param::from_tensor(t).set_require_grad(false);
        // Usage starts at the uniform share (no entry is dead before it had a chance); the
        // EMA cluster sizes start at 1 and the sums at 0 (replaced on first use, see
        // `ema_codebook`).
        AuxModules {
            tables: vec![
                table(Tensor::ones([k, 1], device).div_scalar(k as f64)),
                table(Tensor::ones([k, 1], device)),
                table(Tensor::zeros([k, d], device)),
            ],
            ..AuxModules::empty()
        }
    }

    fn after_step(&self, model: &mut Vae, aux: &mut AuxModules, batch: &Batch, _ctx: &StepContext) {
        let Some(book) = model.codebook.clone() else {
            return;
        };
        let [k, d] = book.val().dims();
        if aux.tables.len() != 3 || aux.tables[0].val().dims() != [k, 1] {
            return;
        }
        let (z_e, _) = model.encode_image(batch.images.clone(), None);
        let z_e = z_e.detach();
        let [b, l] = z_e.dims();
        let n = b * l / d;
        let flat = z_e.clone().reshape([n, d]);
        let (_, idx) = model.quantize(z_e);
        let Some(idx) = idx else {
            return;
        };
        let onehot = one_hot(idx, k); // [n, k]
        let counts = onehot.clone().sum_dim(0).reshape([k, 1]);
        let sums = onehot.transpose().matmul(flat.clone()); // [k, d]
        let used = counts.clone().greater_elem(0.0).float();
        let g = self.ema_decay;
        let size0 = aux.tables[1].val().detach();
        let sum0 = aux.tables[2].val().detach();
        // An entry's first use replaces its initial value (no pull towards the random
        // initialisation): where the running sums are still 0, start them at the batch.
        let fresh_sum = sum0.clone().abs().sum_dim(1).equal_elem(0.0).float() * used.clone();
        let size = (size0.mul_scalar(g) + counts.clone().mul_scalar(1.0 - g))
            * fresh_sum.clone().neg().add_scalar(1.0)
            + counts.clone() * fresh_sum.clone();
        let sum = (sum0.mul_scalar(g) + sums.clone().mul_scalar(1.0 - g))
            * fresh_sum.clone().neg().add_scalar(1.0).expand([k, d])
            + sums * fresh_sum.expand([k, d]);
        let ema_book = sum.clone() / size.clone().clamp_min(1e-6).expand([k, d]);
        // Entries never used keep their value.
        let touched = sum
            .clone()
            .abs()
            .sum_dim(1)
            .greater_elem(0.0)
            .float()
            .expand([k, d]);
        let mut new_book =
            ema_book * touched.clone() + book.val().detach() * touched.neg().add_scalar(1.0);
        let usage = aux.tables[0].val().detach().mul_scalar(USAGE_DECAY)
            + counts.div_scalar(n as f64).mul_scalar(1.0 - USAGE_DECAY);
        let dead = usage.clone().lower_elem(DEAD_FRACTION / k as f64).float(); // [k, 1]
        let keep = dead.clone().neg().add_scalar(1.0);
        // Random restarts: dead entries move to random encoder outputs of this batch, drawn
        // from the step's noise stream (see `crate::model::noise`).
        let picked: Vec<i64> = crate::model::noise::indices(k, n)
            .into_iter()
            .map(|i| i as i64)
            .collect();
        let pick: Tensor<1, Int> =
            Tensor::from_data(burn::tensor::TensorData::new(picked, [k]), &flat.device());
        let restart = flat.select(0, pick);
        new_book =
            new_book * keep.clone().expand([k, d]) + restart.clone() * dead.clone().expand([k, d]);
        let size = size * keep.clone() + dead.clone();
        let sum = sum * keep.clone().expand([k, d]) + restart * dead.clone().expand([k, d]);
        let usage = usage * keep + dead.div_scalar(k as f64);
        model.codebook = Some(book.map(|_| new_book.detach()));
        for (i, t) in [usage, size, sum].into_iter().enumerate() {
            let p = aux.tables[i].clone();
            aux.tables[i] = p.map(|_| t.detach());
        }
    }

    fn loss(
        &self,
        model: &Vae,
        _aux: &AuxModules,
        batch: &Batch,
        _phase: usize,
        ctx: &StepContext,
    ) -> LossTerms {
        let x = batch.images.clone();
        let (z_e, _) = model.encode_image(x.clone(), None);
        let (q, idx) = model.quantize(z_e.clone());
        let codebook = (z_e.clone().detach() - q.clone())
            .square()
            .sum_dim(1)
            .mean();
        let commit = (z_e.clone() - q.clone().detach())
            .square()
            .sum_dim(1)
            .mean();
        // Straight-through: the decoder sees e, the encoder receives the decoder's gradient.
        let z_st = z_e.clone() + (q.detach() - z_e.detach());
        let rec = model
            .nll(ctx.likelihood, model.decode_image(z_st, None), x)
            .mean();
        // The codebook term is reported; the entries follow it by moving averages instead
        // of gradients (see `after_step`).
        let total = rec.clone() + commit.clone().mul_scalar(self.commitment);
        let mut terms = vec![("rec", rec), ("codebook", codebook), ("commit", commit)];
        if let (Some(idx), Some(book)) = (idx, &model.codebook) {
            terms.push((
                "perplexity",
                perplexity(code_counts(idx, book.val().dims()[0])),
            ));
        }
        LossTerms { total, terms }
    }
}
