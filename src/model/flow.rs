//! Normalizing flows on the posterior: a diagonal Gaussian sample `z₀ ~ N(μ, σ²)` pushed
//! through `T` invertible steps, `z_T = f_T ∘ … ∘ f_1 (z₀)`, whose density is
//! `log q(z_T | x) = log N(z₀; μ, σ²) − Σ_t log |det ∂f_t/∂z|`.
//!
//! Two kinds of step:
//!
//! - **IAF** (Kingma et al. 2016), amortised by a context `h` from the encoder: a MADE
//!   (masked autoregressive MLP, Germain et al. 2015) maps `(z, h)` to `(m, s)` through the
//!   hidden layer `relu(W₁ᴹ z + W_h h + b₁)` — `W₁ᴹ` masked, `W_h` an unmasked matrix from
//!   the context — so output `i` sees only inputs `< i` of `z` but all of `h`. The context
//!   is the base posterior's own parameters, `h = [μ, log σ²]` (2·d values, see
//!   [`flow_context`]; no learned projection, no change to the encoder). Since `h` depends on
//!   the image but not on `z`, the flow differs per image while the Jacobian in `z` stays
//!   triangular. (Output 0 of a MADE sees no hidden unit, so each step's first coordinate
//!   has a global `(m, s)`; the order reversal gives that coordinate a context in the
//!   next step.) The step is the numerically stable `σ = sigmoid(s)`,
//!   `z ← σ ⊙ z + (1 − σ) ⊙ m`, with `log |det| = Σ_i log σ_i`. The variable order is
//!   reversed before every step after the first, so each dimension is conditioned on the
//!   others.
//! - **Planar** (Rezende & Mohamed 2015), with *global* parameters (the same step for every
//!   image; they ignore the context): `f(z) = z + û · tanh(wᵀz + b)` with the paper's
//!   reparametrisation `û = u + (m(wᵀu) − wᵀu) w / ‖w‖²`, `m(a) = −1 + softplus(a)`, which
//!   keeps `ûᵀw > −1` (so `f` is invertible); `log |det| = log |1 + ûᵀψ(z)|`,
//!   `ψ = tanh'(wᵀz + b) w`.

use burn::module::{Module, Param};
use burn::tensor::activation::{log_sigmoid, relu, sigmoid, softplus};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::noise::uniform;

/// Most steps of a flow.
pub const MAX_FLOW_STEPS: usize = 64;

/// Context values per latent dimension: an IAF step on `d` dimensions reads a context of
/// `CONTEXT_PER_DIM · d` values, `[μ, log σ²]`.
pub const CONTEXT_PER_DIM: usize = 2;

/// The IAF's context `h` of a base posterior `N(μ, σ²)`: `[μ, log σ²]`, `[batch, 2·d]` from
/// `μ` and `log σ²` `[batch, d]`.
pub fn flow_context(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<2> {
    Tensor::cat(vec![mu, logvar], 1)
}

/// Which flow a [`super::LatentKind::Flow`] model's posterior uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// Inverse autoregressive flow steps (MADE, gated update).
    Iaf,
    /// Planar flow steps.
    Planar,
}

/// The MADE masks of `d` inputs and outputs through `hidden` units: the input → hidden mask
/// `[d, hidden]` and the hidden → output mask `[hidden, d]`, row-major, 1 where a weight may
/// be non-zero. Input `i` and output `i` have degree `i + 1`; hidden unit `k` has degree
/// `k mod (d − 1) + 1` (1 when d = 1). A hidden unit sees the inputs whose degree is at most
/// its own, and an output the hidden units whose degree is strictly below its own, so
/// output `i` depends on inputs `0..i` only (output 0 on none: it is its bias).
pub fn made_masks(d: usize, hidden: usize) -> (Vec<f32>, Vec<f32>) {
    let degree = |k: usize| if d > 1 { k % (d - 1) + 1 } else { 1 };
    let mut input = vec![0.0; d * hidden];
    for i in 0..d {
        for k in 0..hidden {
            input[i * hidden + k] = f32::from(u8::from(degree(k) > i));
        }
    }
    let mut output = vec![0.0; hidden * d];
    for k in 0..hidden {
        for j in 0..d {
            output[k * d + j] = f32::from(u8::from(j + 1 > degree(k)));
        }
    }
    (input, output)
}

/// One IAF step: a one-hidden-layer MADE `(z, h) → (m, s)`, amortised by the context `h`.
#[derive(Module, Debug)]
pub struct IafStep {
    /// Input → hidden weights `[d, hidden]` (masked in the forward pass).
    pub w1: Param<Tensor<2>>,
    /// Context → hidden weights `[2·d, hidden]` (unmasked: `h` does not depend on `z`).
    pub wh: Param<Tensor<2>>,
    /// Hidden bias `[hidden]`.
    pub b1: Param<Tensor<1>>,
    /// Hidden → m weights `[hidden, d]` (masked).
    pub wm: Param<Tensor<2>>,
    /// m bias `[d]`.
    pub bm: Param<Tensor<1>>,
    /// Hidden → s weights `[hidden, d]` (masked).
    pub ws: Param<Tensor<2>>,
    /// s bias `[d]` (initialised at +2, so σ starts near 0.88, the paper's advice).
    pub bs: Param<Tensor<1>>,
}

impl IafStep {
    /// A step for `d` dimensions (and a context of `2·d`) through `hidden` units, weights
    /// uniform in `±1/√fan_in` from the noise stream (the input and the context matrices
    /// each by their own fan-in).
    pub fn new(d: usize, hidden: usize, device: &Device) -> Self {
        let c = CONTEXT_PER_DIM * d;
        let a = 1.0 / (d.max(1) as f64).sqrt();
        let ac = 1.0 / (c.max(1) as f64).sqrt();
        let h = 1.0 / (hidden.max(1) as f64).sqrt();
        Self {
            w1: Param::from_tensor(uniform([d, hidden], -a, a, device)),
            wh: Param::from_tensor(uniform([c, hidden], -ac, ac, device)),
            b1: Param::from_tensor(uniform([hidden], -a, a, device)),
            wm: Param::from_tensor(uniform([hidden, d], -h, h, device)),
            bm: Param::from_tensor(uniform([d], -h, h, device)),
            ws: Param::from_tensor(uniform([hidden, d], -h, h, device)),
            bs: Param::from_tensor(Tensor::ones([d], device).mul_scalar(2.0)),
        }
    }

    /// The MADE: `z` `[batch, d]` and its context `h` `[batch, 2·d]` → `(m, s)`, each
    /// `[batch, d]`, output `i` a function of `z[.., 0..i]` and `h` only.
    pub fn made(&self, z: Tensor<2>, context: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [d, hidden] = self.w1.dims();
        let device = z.device();
        let (mi, mo) = made_masks(d, hidden);
        let mi: Tensor<2> = Tensor::from_data(TensorData::new(mi, [d, hidden]), &device);
        let mo: Tensor<2> = Tensor::from_data(TensorData::new(mo, [hidden, d]), &device);
        let h = relu(
            z.matmul(self.w1.val() * mi)
                + context.matmul(self.wh.val())
                + self.b1.val().unsqueeze_dim(0),
        );
        let m = h.clone().matmul(self.wm.val() * mo.clone()) + self.bm.val().unsqueeze_dim(0);
        let s = h.matmul(self.ws.val() * mo) + self.bs.val().unsqueeze_dim(0);
        (m, s)
    }

    /// `z ← σ ⊙ z + (1 − σ) ⊙ m` with `σ = sigmoid(s)` and `(m, s)` the MADE of `z` and
    /// its context `h` `[batch, 2·d]`, and `log |det ∂z′/∂z| = Σ log σ` per row:
    /// `([batch, d], [batch])`.
    pub fn forward(&self, z: Tensor<2>, context: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let b = z.dims()[0];
        let (m, s) = self.made(z.clone(), context);
        let gate = sigmoid(s.clone());
        let out = gate.clone() * z + (gate.neg().add_scalar(1.0)) * m;
        let log_det = log_sigmoid(s).sum_dim(1).reshape([b]);
        (out, log_det)
    }
}

/// One planar step: `f(z) = z + û tanh(wᵀz + b)`.
#[derive(Module, Debug)]
pub struct PlanarStep {
    /// `u` `[d]` (used through [`planar_u_hat`]).
    pub u: Param<Tensor<1>>,
    /// `w` `[d]`.
    pub w: Param<Tensor<1>>,
    /// `b` `[1]`.
    pub b: Param<Tensor<1>>,
}

/// The invertibility reparametrisation of Rezende & Mohamed (2015, appendix A):
/// `û = u + (m(wᵀu) − wᵀu) w / ‖w‖²` with `m(a) = −1 + softplus(a)`, so that
/// `ûᵀw = m(wᵀu) > −1`. `u`, `w` `[d]` → `û` `[d]`. (A zero `w` leaves `u` as it is: the
/// step is then the identity.)
pub fn planar_u_hat(u: Tensor<1>, w: Tensor<1>) -> Tensor<1> {
    let wu = (w.clone() * u.clone()).sum();
    let m = softplus(wu.clone(), 1.0).sub_scalar(1.0);
    let norm2 = w.clone().square().sum().clamp_min(f32::MIN_POSITIVE);
    u + w * ((m - wu) / norm2)
}

impl PlanarStep {
    /// A step for `d` dimensions, `u` and `w` uniform in `±1/√d`, `b` 0.
    pub fn new(d: usize, device: &Device) -> Self {
        let a = 1.0 / (d.max(1) as f64).sqrt();
        Self {
            u: Param::from_tensor(uniform([d], -a, a, device)),
            w: Param::from_tensor(uniform([d], -a, a, device)),
            b: Param::from_tensor(Tensor::zeros([1], device)),
        }
    }

    /// `f(z)` and `log |1 + ûᵀψ(z)|` per row: `([batch, d], [batch])`.
    pub fn forward(&self, z: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let [b, d] = z.dims();
        let w = self.w.val();
        let u_hat = planar_u_hat(self.u.val(), w.clone());
        let a = z.clone().matmul(w.clone().reshape([d, 1])) + self.b.val().reshape([1, 1]);
        let h = a.tanh(); // [b, 1]
        let out = z + h.clone() * u_hat.clone().reshape([1, d]);
        let uw = (u_hat * w).sum().reshape([1, 1]);
        let slope = h.square().neg().add_scalar(1.0); // tanh'
        // 1 + ûᵀψ with ψ = tanh'(a) w; positive when ûᵀw > −1, floored against rounding.
        let det = (slope * uw).add_scalar(1.0).abs().clamp_min(1e-30);
        (out, det.log().reshape([b]))
    }
}

/// A flow of [`IafStep`]s (amortised by a context) or [`PlanarStep`]s (global); one list
/// is empty.
#[derive(Module, Debug)]
pub struct Flow {
    /// IAF steps, applied in order (order reversed before each after the first).
    pub iaf: Vec<IafStep>,
    /// Planar steps, applied in order.
    pub planar: Vec<PlanarStep>,
}

impl Flow {
    /// A freshly initialised flow of `steps` steps on `d` dimensions (`hidden`: the IAF
    /// MADE's hidden units; unused by planar steps).
    pub fn new(kind: FlowKind, d: usize, steps: usize, hidden: usize, device: &Device) -> Self {
        match kind {
            FlowKind::Iaf => Self {
                iaf: (0..steps)
                    .map(|_| IafStep::new(d, hidden, device))
                    .collect(),
                planar: Vec::new(),
            },
            FlowKind::Planar => Self {
                iaf: Vec::new(),
                planar: (0..steps).map(|_| PlanarStep::new(d, device)).collect(),
            },
        }
    }

    /// Steps in the flow.
    pub fn steps(&self) -> usize {
        self.iaf.len() + self.planar.len()
    }

    /// `z₀` `[batch, d]` and each row's context `h` `[batch, 2·d]` (see [`flow_context`];
    /// every IAF step reads it, planar steps ignore it) → `(z_T, Σ_t log |det_t|)`,
    /// `([batch, d], [batch])`.
    pub fn forward(&self, z: Tensor<2>, context: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let b = z.dims()[0];
        let mut z = z;
        let mut log_det: Tensor<1> = Tensor::zeros([b], &z.device());
        for (t, step) in self.iaf.iter().enumerate() {
            if t > 0 {
                z = z.flip([1]);
            }
            let (next, ld) = step.forward(z, context.clone());
            z = next;
            log_det = log_det + ld;
        }
        for step in &self.planar {
            let (next, ld) = step.forward(z);
            z = next;
            log_det = log_det + ld;
        }
        (z, log_det)
    }
}
