//! The capacity-annealed β-VAE (Burgess et al. 2018, "Understanding disentangling in
//! β-VAE"): the KL is pulled toward a target capacity C, raised linearly from 0 to `C_max`
//! nats over `steps` training steps, with weight γ:
//!
//! `loss = rec + γ · |KL − C(step)|`, `C(step) = C_max · min(1, step / steps)`.
//!
//! The model first encodes what it can in few nats (the factors that matter most to the
//! reconstruction), and more as the capacity grows. β, the KL schedule and free bits do not
//! apply: the capacity is the schedule.

use burn::tensor::{Tensor, TensorData};

use super::vae::elbo_parts;
use super::{AuxModules, LossTerms, Objective, StepContext, VariantKind};
use crate::data::Batch;
use crate::model::Vae;

/// The capacity objective.
#[derive(Debug, Clone)]
pub struct CapacityVae {
    /// Weight γ of `|KL − C|`.
    pub gamma: f64,
    /// Final capacity `C_max`, in nats.
    pub c_max: f64,
    /// Steps over which C rises from 0 to `C_max`.
    pub steps: u64,
}

impl CapacityVae {
    /// The capacity C at 0-based `step`.
    pub fn capacity(&self, step: u64) -> f64 {
        if self.steps == 0 {
            return self.c_max;
        }
        self.c_max * (step as f64 / self.steps as f64).min(1.0)
    }
}

impl Objective for CapacityVae {
    fn kind(&self) -> VariantKind {
        VariantKind::CapacityVae
    }

    fn loss(
        &self,
        model: &Vae,
        _aux: &AuxModules,
        batch: &Batch,
        _phase: usize,
        ctx: &StepContext,
    ) -> LossTerms {
        let (rec, kl) = elbo_parts(
            model,
            ctx.likelihood,
            batch.images.clone(),
            Some(&batch.labels),
            None,
        );
        let rec = rec.mean();
        let kl = kl.sum_dim(1).mean();
        let c = self.capacity(ctx.step);
        let gap = kl.clone().sub_scalar(c).abs();
        let total = rec.clone() + gap.mul_scalar(self.gamma);
        let capacity: Tensor<1> =
            Tensor::from_data(TensorData::new(vec![c as f32], [1]), &rec.device());
        LossTerms {
            total,
            terms: vec![("rec", rec), ("kl", kl), ("capacity", capacity)],
        }
    }
}
