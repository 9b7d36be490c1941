//! "About this variant": for each objective, its loss written out, the paper it comes from
//! and what to look for in the app's panels. Plain text, shared by the app's variant card
//! and the CLI (`latent-explorer variants`).

use super::VariantKind;

/// What a user should know about one variant before training it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct About {
    /// One sentence: what the variant changes and why.
    pub idea: &'static str,
    /// The training loss (minimised), written out, one term per line where it helps.
    pub objective: &'static str,
    /// The paper(s): authors, year, title, venue.
    pub paper: &'static str,
    /// What to look for in the panels (curves, metrics, sliders, grids, samples).
    pub look_for: &'static [&'static str],
}

impl VariantKind {
    /// The variant's card.
    pub fn about(self) -> About {
        match self {
            Self::Vae => About {
                idea: "An encoder q(z|x) and a decoder p(x|z) trained together on a lower bound of \
                       log p(x) (the ELBO), with a standard normal prior p(z).",
                objective: "loss = −E_q(z|x)[log p(x|z)] + KL(q(z|x) ‖ N(0, I))\n     \
                            = rec + KL   (−ELBO, nats per image; z = μ + σ·ε, ε ~ N(0, I))",
                paper: "Kingma & Welling (2014), Auto-Encoding Variational Bayes, ICLR 2014.",
                look_for: &[
                    "Test −ELBO falls fast in the first epochs, then slowly; rec falls while KL rises.",
                    "Active units: dimensions with KL near 0 carry nothing (posterior collapse); \
                     their sliders change nothing.",
                    "Reconstructions are slightly blurred: the average of the images a code could be.",
                    "Prior samples look like the data only where q(z) covers the prior.",
                ],
            },
            Self::BetaVae => About {
                idea: "The VAE with the KL term weighted by β > 1: a tighter information \
                       bottleneck that favours fewer, more independent latent factors.",
                objective: "loss = rec + β · KL(q(z|x) ‖ N(0, I))   (β = 4 by default)",
                paper: "Higgins et al. (2017), β-VAE: Learning Basic Visual Concepts with a \
                        Constrained Variational Framework, ICLR 2017.",
                look_for: &[
                    "Fewer active units than the VAE, and a higher rec: β trades detail for a \
                     simpler code.",
                    "Sliders of the active dimensions change one aspect (slant, width, thickness) \
                     more cleanly.",
                    "Raise β live and watch KL fall and reconstructions blur within a few hundred steps.",
                ],
            },
            Self::Iwae => About {
                idea: "Trains on a tighter bound than the ELBO: k samples of z per image, \
                       importance-weighted, so the encoder may be less precise without penalty.",
                objective: "loss = −log (1/k) Σ_i p(x, z_i) / q(z_i|x),   z_i ~ q(z|x), i = 1..k\n     \
                            (k = 1 is the ELBO; the bound tightens towards −log p(x) as k grows)",
                paper: "Burda, Grosse & Salakhutdinov (2016), Importance Weighted Autoencoders, \
                        ICLR 2016.",
                look_for: &[
                    "IWAE NLL below the VAE's at the same epoch; its −ELBO may be worse: it \
                     optimises a different bound.",
                    "More active units than the VAE: the importance weights make unused \
                     dimensions less attractive.",
                ],
            },
            Self::WaeMmd => About {
                idea: "Matches the distribution of all codes q(z) to the prior, not each \
                       image's posterior: codes can stay precise, so reconstructions are sharper.",
                objective: "loss = rec + λ · MMD²(q(z), p(z))\n     \
                            MMD² between the batch's codes and as many prior samples, \
                            inverse multiquadratic kernel; λ = 10",
                paper: "Tolstikhin, Bousquet, Gelly & Schölkopf (2018), Wasserstein \
                        Auto-Encoders, ICLR 2018.",
                look_for: &[
                    "Sharper reconstructions than the VAE's; test −ELBO is n/a: the loss is no \
                     bound on log p(x).",
                    "Prior samples look like the data only if MMD is small: compare them with the \
                     VAE's.",
                ],
            },
            Self::WaeSinkhorn => About {
                idea: "A WAE whose distance between q(z) and the prior is an entropic optimal \
                       transport cost, computed by Sinkhorn iterations.",
                objective: "loss = rec + λ · OT_ε(codes, prior samples)\n     \
                            squared Euclidean ground cost, entropic temperature ε; tends to \
                            W₂² as ε → 0",
                paper: "Patrini et al. (2019), Sinkhorn AutoEncoders, UAI 2019; Genevay, Peyré & \
                        Cuturi (2018), Learning Generative Models with Sinkhorn Divergences, \
                        AISTATS 2018.",
                look_for: &[
                    "Like WAE-MMD: sharp reconstructions, no likelihood bound.",
                    "The grid in principal directions shows how evenly codes fill the prior.",
                ],
            },
            Self::Aae => About {
                idea: "An autoencoder whose codes are pushed towards the prior by a \
                       discriminator on z instead of a KL term.",
                objective: "phase 1: rec = −log p(x|z)   (encoder, decoder)\n\
                            phase 2: discriminator D(z): prior samples real, codes fake\n\
                            phase 3: encoder fools D (non-saturating); R1 penalty γ = 10 on D",
                paper: "Makhzani, Shlens, Jaitly, Goodfellow & Frey (2016), Adversarial \
                        Autoencoders, ICLR 2016 workshop.",
                look_for: &[
                    "The discriminator's held-out accuracy heads for 0.5 when codes match the prior.",
                    "No likelihood bound: compare rec and prior samples with the VAE.",
                ],
            },
            Self::VaeGan => About {
                idea: "A VAE whose decoder is also a GAN generator; the discriminator's \
                       features measure reconstruction error, for sharper images.",
                objective: "phase 1, discriminator: real x vs reconstructions x̃ and prior \
                            samples x_p\n\
                            phase 2, encoder and decoder: rec + β·KL + ½‖Dis_l(x) − Dis_l(x̃)‖² \
                            + γ · GAN\n\
                            (the GAN term does not reach the encoder)",
                paper: "Larsen, Sønderby, Larochelle & Winther (2016), Autoencoding beyond \
                        pixels using a learned similarity metric, ICML 2016.",
                look_for: &[
                    "Prior samples with sharper strokes than the VAE's, sometimes with artefacts.",
                    "Loss curves wobble: two networks play a game.",
                ],
            },
            Self::Bigan => About {
                idea: "An encoder and a generator trained only adversarially, against a \
                       discriminator on (image, code) pairs: at the optimum they invert each other.",
                objective: "phase 1, discriminator D(x, z): (x, E(x)) real vs (G(z), z) fake, \
                            z ~ N(0, I)\n\
                            phase 2, encoder and generator: the same game with swapped labels\n\
                            (no reconstruction loss at all)",
                paper: "Donahue, Krähenbühl & Darrell (2017), Adversarial Feature Learning, ICLR \
                        2017; Dumoulin et al. (2017), Adversarially Learned Inference, ICLR 2017.",
                look_for: &[
                    "Reconstructions G(E(x)) keep the image's class (the digit, on MNIST) more than its exact shape.",
                    "Early prior samples are all one class (mode collapse) and spread out after \
                     a few hundred steps.",
                    "No likelihood bound.",
                ],
            },
            Self::Cvae => About {
                idea: "Encoder and decoder also see the label y, so z is free to encode style \
                       (slant, thickness) while y sets the class (the digit, on MNIST).",
                objective: "loss = −E_q(z|x,y)[log p(x|z,y)] + KL(q(z|x,y) ‖ N(0, I))",
                paper: "Sohn, Lee & Yan (2015), Learning Structured Output Representation using \
                        Deep Conditional Generative Models, NeurIPS 2015.",
                look_for: &[
                    "\"decode as\" beside the sliders: the same z drawn as each class keeps its style.",
                    "Lower KL than the VAE: the label carries the class for free.",
                ],
            },
            Self::FactorVae => About {
                idea: "Penalises the total correlation between latent dimensions directly, \
                       measured by a discriminator that tells codes from codes whose \
                       dimensions were shuffled independently across the batch.",
                objective: "loss = rec + KL + γ · E_q[log D(z) / (1 − D(z))]   (γ = 40)\n\
                            D: codes (real) vs per-dimension permuted codes (fake)",
                paper: "Kim & Mnih (2018), Disentangling by Factorising, ICML 2018.",
                look_for: &[
                    "The discriminator's accuracy near 0.5: the codes' dimensions look independent.",
                    "On `--data shapes`: a higher MIG and FactorVAE score than the VAE.",
                ],
            },
            Self::BetaTcvae => About {
                idea: "Penalises only the total correlation between latent dimensions, the \
                       part of the KL that ties factors together.",
                objective: "KL = MI(x; z) + TC(z) + Σ_j KL(q(z_j) ‖ p(z_j))\n\
                            loss = rec + MI + β · TC + dimension-wise KL   (β = 6; \
                            minibatch-weighted sampling estimates of q(z))",
                paper: "Chen, Li, Grosse & Duvenaud (2018), Isolating Sources of Disentanglement \
                        in Variational Autoencoders, NeurIPS 2018.",
                look_for: &[
                    "Better reconstructions than a β-VAE of the same β: MI is not penalised.",
                    "Sliders that each change one aspect of the image.",
                ],
            },
            Self::VqVae => About {
                idea: "A discrete latent: each encoder output vector is replaced by its nearest \
                       codebook entry; gradients pass straight through.",
                objective: "loss = rec + ‖sg[z_e] − e‖² + β · ‖z_e − sg[e]‖²   (β = 0.25)\n     \
                            codebook by moving averages (decay 0.99); dead codes restarted",
                paper: "van den Oord, Vinyals & Kavukcuoglu (2017), Neural Discrete \
                        Representation Learning, NeurIPS 2017.",
                look_for: &[
                    "Sharp reconstructions; sliders show each code's spread (var) instead of KL.",
                    "Prior samples are poor: a uniform prior over codes is not what the encoder \
                     uses (the paper fits a PixelCNN prior afterwards).",
                    "No comparable likelihood bound.",
                ],
            },
            Self::TwoLayer => About {
                idea: "Two stochastic layers (x to z1 to z2), with a learned prior p(z1|z2): a \
                       more flexible prior for the bottom layer.",
                objective: "loss = −log p(x|z1) + [log q(z1|x) − log p(z1|z2)] + KL(q(z2|z1) ‖ N(0, I))\n     \
                            one sample of z1 and z2; the sliders move z2",
                paper: "Burda, Grosse & Salakhutdinov (2016), Importance Weighted Autoencoders, \
                        ICLR 2016, §5 (the two-stochastic-layer model).",
                look_for: &[
                    "Test −ELBO near the VAE's; more KL spent in z1 than in z2.",
                    "Top-layer sliders change the image globally; z1 adds the detail.",
                ],
            },
            Self::CapacityVae => About {
                idea: "Controls how much information the code carries: the KL is pulled toward                        a capacity C that rises slowly, so the most useful factors are encoded                        first and the rest as C grows.",
                objective: "loss = rec + γ · |KL − C|,  C = C_max · min(1, step / steps)
                                 (γ = 1000, C_max = 25 nats, steps = 2000)",
                paper: "Burgess, Higgins, Pal, Matthey, Watters, Desjardins & Lerchner (2018),                         Understanding disentangling in β-VAE, arXiv:1804.03599.",
                look_for: &[
                    "The kl curve follows the capacity curve (both in the metrics) up to C_max.",
                    "Early epochs: few active dimensions, blurry reconstructions; more as C rises.",
                ],
            },
            Self::DipVaeI => About {
                idea: "Disentangles by moment matching: the covariance of the encoder's means                        over the data is pulled toward the identity, so dimensions are                        decorrelated and of unit spread.",
                objective: "loss = rec + KL + λ_od Σ_{i≠j} C_ij² + λ_d Σ_i (C_ii − 1)²
                                 C = Cov_batch[μ(x)]   (λ_od = 10, λ_d = 10 λ_od)",
                paper: "Kumar, Sattigeri & Balakrishnan (2018), Variational Inference of                         Disentangled Latent Concepts from Unlabeled Observations, ICLR 2018.",
                look_for: &[
                    "The codes' covariance (the map's spread) near the identity; the dip term                      near 0.",
                    "On `--data shapes`: MIG against the VAE's.",
                ],
            },
            Self::DipVaeII => About {
                idea: "As DIP-VAE-I, but the penalty is on the covariance of the aggregate                        posterior q(z) itself: the means' covariance plus the average posterior                        variance.",
                objective: "loss = rec + KL + λ_od Σ_{i≠j} C_ij² + λ_d Σ_i (C_ii − 1)²
                                 C = Cov_batch[μ(x)] + E_batch[diag σ²(x)]   (λ_od = λ_d = 10)",
                paper: "Kumar, Sattigeri & Balakrishnan (2018), Variational Inference of                         Disentangled Latent Concepts from Unlabeled Observations, ICLR 2018.",
                look_for: &[
                    "Prior samples closer to the data than a VAE's: q(z) is matched to N(0, I)                      in its first two moments.",
                    "The dip term near 0.",
                ],
            },
            Self::VampPrior => About {
                idea: "A learned prior: the mixture of the encoder's posteriors at K learned \
                       pseudo-inputs (images trained with the model), so the prior follows \
                       where the codes are instead of pulling them to N(0, I).",
                objective: "loss = rec + [log q(z|x) − log p(z)],  p(z) = (1/K) Σ_k q(z | u_k)\n     \
                            one sample of z; K = 500 pseudo-inputs, initialised N(0.05, 0.01²) \
                            and clamped to [0, 1]",
                paper: "Tomczak & Welling (2018), VAE with a VampPrior, AISTATS 2018.",
                look_for: &[
                    "Test −ELBO below the VAE's at the same budget: the prior fits q(z).",
                    "Prior samples are drawn from the mixture: each decodes like a digit the \
                     encoder has seen, fewer blurry in-between images.",
                    "The learned pseudo-inputs themselves look like rough digit prototypes.",
                ],
            },
            Self::Avb => About {
                idea: "An implicit posterior: the encoder also reads noise ε, so q(z|x) may take \
                       any shape and its KL has no closed form; a discriminator T(x, z) learns \
                       log q(z|x) − log p(z) and stands in for it.",
                objective: "phase 1, discriminator T(x, z): (x, z ~ q(z|x)) label 1 vs \
                            (x, z ~ N(0, I)) label 0 (logistic loss; optimum T* = log q − log p)\n\
                            phase 2, encoder and decoder: −log p(x|z) + T(x, z),   \
                            z = μ(x, ε) + σ(x, ε)·ε′\n\
                            (ε joins the image at the MLP's input, the features before the conv \
                            encoder's dense layer; maps and sliders use the code at ε = 0)",
                paper: "Mescheder, Nowozin & Geiger (2017), Adversarial Variational Bayes: \
                        Unifying Variational Autoencoders and Generative Adversarial Networks, \
                        ICML 2017.",
                look_for: &[
                    "model/kl: the discriminator's KL estimate, in nats, where the VAE shows its \
                     closed-form KL.",
                    "Test −ELBO uses the Gaussian q(z|x, ε = 0) as its proposal: a valid bound, \
                     looser than the implicit posterior's own ELBO.",
                    "disc/d_acc above 0.5: the posterior codes still differ from prior draws. On \
                     the bundled digits it sits near 0.98 and the KL estimate near 5 nats: the \
                     discriminator saturates and underestimates the KL, so reconstructions are \
                     sharper than the VAE's and the −ELBO worse.",
                ],
            },
            Self::Iaf => About {
                idea: "A more flexible posterior: the encoder's Gaussian sample is pushed through \
                       inverse autoregressive flow steps, so q(z|x) can be skewed and correlated \
                       and the ELBO tighter.",
                objective: "loss = −log p(x|z_T) + KL(q₀ ‖ N(0, I)) + log p(z₀) − log p(z_T) − Σ_t Σ_i log σ_t,i\n     \
                            z₀ = μ + σ·ε, each step: (m, s) = MADE(z, h), hidden = \
                            relu(W₁ᴹ z + W_h h + b₁), context h = [μ, log σ²] of the image, \
                            σ = sigmoid(s), z ← σ ⊙ z + (1 − σ) ⊙ m (order reversed between \
                            steps; --flow-steps, --flow-hidden; amortised: a flow per image)",
                paper: "Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling (2016), \
                        Improved Variational Inference with Inverse Autoregressive Flow, NeurIPS 2016.",
                look_for: &[
                    "Test −ELBO and IWAE below the VAE's at the same budget; the gap between \
                     them narrower (a better posterior).",
                    "log_det in the metrics: negative, the flow contracting the base Gaussian; \
                     kl_flow in the evaluation is the flow's share of the KL.",
                    "The map's codes are the flow applied to μ with the image's own context; \
                     prior samples are N(0, I) as for the VAE.",
                ],
            },
            Self::PlanarFlow => About {
                idea: "A more flexible posterior: the encoder's Gaussian sample is pushed through \
                       planar flow steps, each bending the density along one hyperplane.",
                objective: "loss = −log p(x|z_T) + KL(q₀ ‖ N(0, I)) + log p(z₀) − log p(z_T) − Σ_t log |1 + ûᵀψ_t|\n     \
                            each step: z ← z + û tanh(wᵀz + b), ψ = tanh'(wᵀz + b) w, \
                            û = u + (m(wᵀu) − wᵀu) w/‖w‖², m(a) = −1 + softplus(a) \
                            (invertible; --flow-steps; global flow parameters, no context)",
                paper: "Rezende & Mohamed (2015), Variational Inference with Normalizing Flows, \
                        ICML 2015.",
                look_for: &[
                    "Test −ELBO at or below the VAE's; a few global steps change little, many \
                     steps more.",
                    "kl_flow in the evaluation: the flow's share of the KL.",
                    "The map's codes are the flow applied to μ; prior samples are N(0, I) as for the VAE.",
                ],
            },
            Self::M2 => About {
                idea: "Semi-supervised: a classifier q(y|x) beside a conditional VAE; a few \
                       images keep their labels, the rest are explained with y summed out \
                       under q(y|x), so the unlabelled images train the classifier too.",
                objective: "L(x,y) = rec + KL(q(z|x,y) ‖ N(0, I)) + log C   (labelled)\n\
                            U(x) = Σ_y q(y|x) L(x,y) − H(q(y|x))   (unlabelled)\n\
                            loss = [Σ_l (L + α · −log q(y|x)) + Σ_u U] / N   (α = 0.1 N)",
                paper: "Kingma, Rezende, Mohamed & Welling (2014), Semi-Supervised Learning \
                        with Deep Generative Models, NeurIPS 2014.",
                look_for: &[
                    "The test accuracy of q(y|x) in the metrics (eval prints it): far above \
                     chance with 100 labels.",
                    "\"decode as\" beside the sliders: the same z drawn as each class keeps \
                     its style; an image is encoded under its predicted class.",
                    "Test −ELBO is U(x), the bound with y summed out under q(y|x).",
                ],
            },
        }
    }
}
