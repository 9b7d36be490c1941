//! What the app says about itself: one or two sentences per control and figure, shown on
//! hover (and given to screen readers as the widget's description). One place, so the same
//! concept is explained the same way wherever it appears.

/// β, the weight of the KL term.
pub const BETA: &str = "β weights the KL term: loss = rec + β·KL. β > 1 (β-VAE) squeezes the code \
     through a tighter bottleneck — fewer active dimensions, blurrier but often more \
     interpretable; β < 1 reconstructs better and samples worse. β-TCVAE weights only the \
     total correlation.";
/// Free bits.
pub const FREE_BITS: &str = "Free bits λ: each latent dimension's KL (averaged over the batch) is counted \
     as at least λ nats, so the optimiser gains nothing by pushing a dimension below λ. A \
     cure for posterior collapse (Kingma et al. 2016).";
/// Binarization of the pixels.
pub const BINARIZE: &str = "How pixels become the Bernoulli likelihood's targets: None trains on the \
     grey values as they are; Dynamic draws each training image from Bernoulli(pixel) anew at \
     every step and evaluates on one fixed draw of the test split; Static uses one fixed draw \
     of both splits. Binarized MNIST is the literature's protocol (`--binarize`); the Gaussian \
     likelihood refuses it.";
/// The KL schedule.
pub const KL_SCHEDULE: &str = "How the KL weight changes over training. Constant: β throughout. Linear: from 0 \
     up to β over the warm-up steps (lets the decoder learn to use z before the KL pulls \
     codes to the prior). Cyclical: that ramp repeated in cycles (Fu et al. 2019).";
/// Linear warm-up length.
pub const WARMUP: &str =
    "Steps over which the KL weight rises linearly from 0 to β (Bowman et al. 2016).";
/// Cyclical schedule parameters.
pub const CYCLES: &str = "Cyclical schedule: the number of cycles over the run, and the fraction of each \
     cycle spent ramping the KL weight up (the rest holds it at β).";
/// Learning rate.
pub const LR: &str = "Adam's step size. Too high and the loss jumps or turns NaN; too low and \
     training crawls. 1e-3 is the usual start for these models.";
/// Latent size.
pub const LATENT: &str = "Dimensions of the code z. More dimensions can hold more detail; a VAE leaves \
     the ones it does not need inactive (KL ≈ 0).";
/// Hidden width.
pub const HIDDEN: &str = "Units in the hidden layer of the MLP encoder and decoder.";
/// Architecture.
pub const ARCH: &str = "MLP: fully connected layers (fast on a CPU). Conv: a convolutional encoder and \
     transposed-convolution decoder (sharper on images, slower).";
/// Variant.
pub const VARIANT: &str = "The training objective. Open \"About this variant\" for its loss, its paper and \
     what to look for.";
/// Batch size.
pub const BATCH: &str = "Images per optimisation step. Larger batches give smoother gradients and fewer steps per epoch.";
/// Epochs.
pub const EPOCHS: &str =
    "Passes over the training images. Test figures are computed after each epoch.";
/// Seed.
pub const SEED: &str = "Seed for weight initialisation, batch order and noise: the same seed and \
     settings train the same model, bit for bit, whatever else trains beside it.";
/// Save the draft.
pub const SAVE_DRAFT: &str = "Save these settings as a run configuration file (TOML): the format \
     `latent-explorer train --config FILE` trains from and every run directory's run.toml holds.";
/// Load the draft.
pub const LOAD_DRAFT: &str = "Load the settings from a run configuration file: one saved here, written \
     by `train --print-config`, or a run directory's run.toml. Unknown keys and bad values are refused, \
     naming the key.";
/// IWAE k per epoch.
pub const IWAE_K: &str = "Importance samples for the test IWAE NLL after every epoch (0: skip). Costs about \
     k forward passes of the test set.";
/// Dataset directory.
pub const DATA_DIR: &str = "A directory of MNIST-format (IDX) files, gzipped or not; a folder of \
     PNG/JPEG images, colour or grey, any size (`DIR` or `DIR@SIDE`: each centre-cropped and \
     resized to SIDE, 32 by default; labels from sub-folder names; 20% test, by a hash of each \
     path; files that cannot be read are skipped and counted); empty for the bundled 10,000 \
     MNIST digits; `shapes` (or `shapes:SIDE`) for procedural shapes with known factors \
     (shape, scale, orientation, x, y), `shapes:64:full` for dSprites' whole grid.";
/// Device.
pub const DEVICE: &str = "Where runs train and decode. Auto: the GPU when the adapter is a real one, \
     else burn's CPU backend. Applies when the app starts.";
/// CPU sharing.
pub const SHARING: &str = "How several training runs share the CPU. LowPriority (default): each run \
     trains in its own threads at the lowest priority (Linux: idle class), using only the CPU \
     the window and other programs leave, so the window stays fluid. Gate: runs take turns, \
     one step at a time. Free: the OS decides, and training competes with other programs \
     at normal priority. Applies when the app starts.";

/// Active units.
pub const ACTIVE_UNITS: &str = "Latent dimensions the model uses: those whose posterior mean varies over the \
     test set (variance > 0.01, Burda et al. 2016). An inactive dimension has collapsed to \
     the prior and its slider changes nothing.";
/// IWAE NLL.
pub const IWAE_NLL: &str = "Negative log-likelihood estimated with k importance samples, nats per image: a \
     tighter bound than −ELBO (≤ it, approaching −log p(x) as k grows). Lower is better. \
     Set \"IWAE k per epoch\" to compute it.";
/// Test −ELBO.
pub const NEG_ELBO: &str = "Negative evidence lower bound on the test split, nats per image: rec + KL, an \
     upper bound on −log p(x). Lower is better; n/a for objectives that are no likelihood \
     bound (WAE, AAE, BiGAN, VQ-VAE).";
/// Reconstruction term.
pub const REC: &str = "Reconstruction term −E_q(z|x)[log p(x|z)], nats per image: how well the decoder \
     reproduces the input from its code.";
/// KL term.
pub const KL: &str = "KL(q(z|x) || p(z)), nats per image: how far each image's code distribution is \
     from the prior N(0, I) — the information the code carries about the image.";
/// Samples per second.
pub const SAMPLES_PER_SEC: &str = "Training speed: images per second over the last steps.";
/// MIG column.
pub const MIG: &str = "Mutual Information Gap (Chen et al. 2018), on data with known factors (shapes): \
     for each factor, the gap between the two code dimensions that tell most about it, as a \
     share of the factor's entropy, averaged. 1: each factor has a dimension of its own; 0: \
     none does. Measured on the test images' posterior means.";
/// FactorVAE score column.
pub const FACTOR_VAE_SCORE: &str = "FactorVAE score (Kim & Mnih 2018), on data with known factors \
     (shapes): fix one factor over a batch of test images; the code dimension that varies \
     least (after scaling) should name the factor. The accuracy of a majority vote from \
     dimension to factor: 1 when each factor fixes a dimension of its own, about 1/5 by \
     chance.";
/// Epoch column.
pub const EPOCH: &str = "The epoch these test figures were computed after.";
/// Baseline radio.
pub const BASELINE: &str =
    "The baseline run: every other run's figures show their difference from it.";

/// Inverse-CDF spacing.
pub const INVERSE_CDF: &str = "Grid spacing. Inverse CDF: coordinates Φ^-1(p) (the inverse of the normal CDF) at evenly spaced probabilities \
     p, so every cell covers the same prior mass (Kingma & Welling's manifold figure). \
     Linear: evenly spaced from −range to +range.";
/// Grid range.
pub const GRID_RANGE: &str =
    "Linear spacing: the grid spans −range to +range standard deviations on each axis.";
/// Grid size.
pub const GRID_SIZE: &str = "Images per side of the grid (up to 32 × 32, decoded in one batch).";
/// Grid axes: principal directions.
pub const GRID_PRINCIPAL: &str = "Each run's own top two principal directions of its encoded test images: the two \
     directions its codes vary most along.";
/// Grid axes: dimensions.
pub const GRID_DIMS: &str = "Two latent dimensions, chosen by number.";
/// Grid x/y dimension.
pub const GRID_DIM: &str = "The latent dimension along this axis of the grid.";
/// Colour map.
pub const COLORMAP: &str = "How pixel intensities are coloured: gray, or viridis (perceptually uniform; \
     small differences are easier to see).";

/// A latent slider.
pub const SLIDER: &str = "One latent dimension of the shared cursor, decoded live by every run of this \
     latent size. Ordered by the focused run's KL (a VQ-VAE: its code variance), the most \
     informative first, as `traverse` orders its rows; \"inactive\" dimensions change nothing.";
/// The attribute direction's slider.
pub const ALONG: &str = "Move every run's point t along its own attribute direction: its base point \
     (the sliders' vector, or its code of the followed image) + t · (mean code of set A − mean \
     code of set B), both sets' codes from the same run. t = 1 from B's mean lands on A's \
     mean. The sets are chosen on the map tab (Set as A / Set as B); `traverse --direction` \
     exports the same traversal.";
/// Randomize.
pub const RANDOMIZE: &str = "Draw a new latent vector from the prior N(0, I) (shortcut R).";
/// Zero.
pub const ZERO: &str = "Set every latent dimension to 0, the prior's mean (shortcut Z).";
/// Encode digit / image.
pub const ENCODE_DIGIT: &str = "Every run shows its own code (posterior mean) of this test image; the sliders show the focused run's.";
/// Test image index.
pub const TEST_DIGIT: &str = "Which test image to encode (index into the test split).";
/// Next test image.
pub const NEXT_DIGIT: &str = "Encode the next test image (shortcut N).";
/// Decode as (conditional VAE).
pub const DECODE_AS: &str = "Conditional VAE: the class label the decoder is given. The same z drawn as \
     another class (another digit, on MNIST) keeps its style.";

/// Reconstructions count.
pub const RECON_COUNT: &str = "How many test images to reconstruct.";
/// Matrix first test image.
pub const MATRIX_FIRST: &str = "The first test image of the matrix's rows.";
/// Matrix rows.
pub const MATRIX_ROWS: &str = "How many test images (rows) the matrix shows.";
/// Heat map.
pub const HEATMAP: &str = "Show each run's absolute error |input − reconstruction| per pixel (viridis: dark = exact) \
     instead of its reconstruction.";
/// Resample prior.
pub const RESAMPLE: &str = "Draw new noise z ~ N(0, I); every run decodes the same noise.";

/// Curve term.
pub const CURVE_TERM: &str = "Which loss term the overlaid curves show. Train terms per step (smoothed); \
     test terms per epoch.";
/// Per epoch / per step.
pub const CURVE_X: &str = "x axis in epochs (comparable across batch sizes) or optimisation steps.";
/// Log scale.
pub const LOG_SCALE: &str = "Plot log10 of the loss: late, small improvements become visible.";
/// Smoothing.
pub const SMOOTHING: &str = "Exponential moving average of the per-step train curves (0: raw steps). Test \
     figures are never smoothed.";

/// Live toggle of the scrubber.
pub const LIVE: &str = "Show the newest weights; untick to scrub through the weights every run had at the \
     end of each epoch.";
/// Epoch scrubber slider.
pub const SCRUB: &str =
    "Show every run as it was at the end of this epoch: images, sliders and metrics.";
/// Theme.
pub const THEME: &str = "Light or dark, or follow the system's setting.";
/// Help overlay button.
pub const HELP_BUTTON: &str = "Keyboard shortcuts and where to start (F1 or ?).";
/// About-variant button.
pub const ABOUT_BUTTON: &str =
    "The focused run's objective written out, its paper, and what to look for in the panels.";

/// Run controls.
pub const PAUSE: &str = "Pause training after the current step (shortcut Space toggles).";
/// Resume.
pub const RESUME: &str = "Resume training (shortcut Space toggles).";
/// Step.
pub const STEP: &str = "Train exactly one step, then pause (shortcut S).";
/// Remove, for a run whose weights live only in the app (trained here, or reopened from its
/// autosave), with the Undo lasting `window`.
pub fn remove_only_copy(window: std::time::Duration) -> String {
    format!(
        "Remove this run from the workspace. Its weights live only in the app (its autosave is \
         their only copy unless you saved them with Save…): the run is paused and an Undo bar \
         brings it back for {} s; when the bar goes (after {0} s, at the next removal, or when \
         the app closes) the run is stopped and its autosave is deleted.",
        window.as_secs_f64()
    )
}
/// Export a followed run's metrics.
pub const EXPORT_METRICS: &str = "Write this run's metrics as CSV (a row per step and per epoch, for a spreadsheet) and as a TensorBoard event file (open with `tensorboard --logdir DIR`). A followed run: its run directory's whole metrics file, into metrics.csv and tensorboard/ there, as `latent-explorer export-metrics` does. Any other run: the curves the app keeps (older steps thinned) and every epoch's test figures, into NAME-metrics.csv and NAME-tensorboard/ of a folder you choose";
/// Remove, for a run opened from a file or followed in a directory.
pub const REMOVE: &str = "Remove this run from the workspace (a followed run stops being followed). \
     Nothing on disk is deleted: its file or run directory stays where it is.";
/// The Undo button of the removed-run bar.
pub const UNDO_REMOVE: &str = "Bring the removed run back as it was: its weights, its history and its \
     autosave, training again if it was. Once this bar goes, the run is gone and its autosave \
     deleted.";
/// Follow dir….
pub const FOLLOW_DIR: &str = "Follow a run directory that `latent-explorer train --run-dir DIR` is writing, \
     or a sweep directory (`latent-explorer sweep plan SPEC --out DIR`: every run of the sweep, \
     grouped by configuration, each appearing as it starts), here or on another machine through a \
     shared folder";
/// A followed sweep's section in the runs list.
pub const SWEEP: &str = "A followed sweep directory: its runs grouped by configuration (runs that differ \
     only by seed are one). A planned run appears when its directory gets its first record; until \
     then it is counted as planned.";
/// One configuration of a sweep in the runs list.
pub const SWEEP_GROUP: &str = "One configuration of the sweep: its runs differ only by seed and share its \
     colour. Open it for each run's row; the metrics table and the curves can show the runs as one \
     (mean ± sd over seeds).";
/// Remove a sweep.
pub const REMOVE_SWEEP: &str = "Stop following this sweep and remove all its runs from the workspace \
     (files on disk stay; runs training elsewhere go on).";
/// A sweep run's "show views" toggle.
pub const SHOW_VIEWS: &str = "Decode and show this run's images in the compare layout's tabs. A sweep's \
     runs are not shown unless asked (the first run of its first configurations is), so a large \
     sweep does not decode hundreds of runs; the focused run is always shown.";
/// The metrics table's grouping toggle.
pub const GROUP_SEEDS: &str = "One row per sweep configuration instead of one per run: each figure's mean \
     ± sample sd over the configuration's runs that have it, n being how many runs have test \
     figures (a figure fewer runs have says its own count in brackets).";
/// The curves' band toggle.
pub const SEED_BANDS: &str = "Draw each sweep configuration as one curve: the mean over its runs, point by \
     point, in a band of ± one sample sd (a point only some runs have reached is averaged over \
     those). Off: every run's own curve.";
/// The seeds column of the grouped metrics table.
pub const SEEDS_COLUMN: &str = "How many runs the row summarises: those with test figures (of the \
     configuration's runs in the workspace).";
/// Run name.
pub const RUN_NAME: &str = "The run's name in curves, tables and saved files.";
/// Recent menu.
pub const RECENT: &str = "Model files opened lately.";
/// Recent entry.
pub const RECENT_ENTRY: &str = "Open this file again as a new run.";
/// Key map.
pub const KEY_MAP: &str = "Rules REGEX=NAME, one per line, that rename a PyTorch file's tensors to this \
     app's names before loading.";
/// Clear errors.
pub const CLEAR_ERRORS: &str = "Forget the errors listed above.";
/// Compare tabs.
pub const TAB_LATENTS: &str = "One slider set and one grid, decoded by every run in lock-step.";
/// Same input tab.
pub const TAB_SAME_INPUT: &str = "The same test images reconstructed by every run, side by side.";
/// Prior tab.
pub const TAB_PRIOR: &str = "Samples decoded from the same prior noise by every run.";

/// Figures.
pub mod figure {
    /// The overlaid loss curves.
    pub const CURVES: &str = "Loss curves, nats per image. Drag to pan, scroll to zoom, double-click to \
         reset. Test figures are dots at each epoch's end. Click a legend entry to hide or show its curve.";
    /// The metrics table.
    pub const METRICS: &str = "Test figures after the latest (or scrubbed) epoch, one row per run; the \
         numbers in brackets are differences from the baseline run.";
    /// A slider image.
    pub const SLIDER_IMAGE: &str = "This run's decoding of the shared latent vector (the sliders).";
    /// A grid.
    pub const GRID: &str = "Decodes of a 2-D sweep through the latent space around the cursor; the \
         centre cell (outlined) is the cursor itself.";
    /// Prior samples.
    pub const PRIOR: &str = "Decodes of z ~ N(0, I): what the model generates from the prior.";
    /// Reconstructions.
    pub const RECON: &str =
        "Top: test images. Bottom: their reconstructions from the posterior means.";
    /// Matrix input column.
    pub const MATRIX_INPUT: &str = "The input test images, one per row.";
    /// Matrix run column.
    pub const MATRIX_RUN: &str = "This run's reconstruction of each input (or |input − reconstruction| with the \
         heat map on).";
}

/// Map tab.
pub const TAB_MAP: &str = "The encoded test set (posterior means) as a scatter, coloured by label; \
     one map per run, with a selection linked across them.";
/// Paths tab.
pub const TAB_PATHS: &str = "Decodes along the path between two test images' codes, in every run.";
/// Traversals tab.
pub const TAB_TRAVERSALS: &str = "One row per latent dimension (most informative first), swept over \
     a stated range with the others held at the cursor.";
/// Anomalies tab.
pub const TAB_ANOMALIES: &str = "How typical each test image is to each model (−ELBO per image, or \
     a VQ-VAE's reconstruction term), and how well that score tells a shifted set from the test set \
     (AUROC).";
/// Input tab.
pub const TAB_INPUT: &str = "Draw (a digit, on MNIST) or open a PNG/JPEG: every run encodes it, and its code \
     drives the sliders.";
/// Collapse tab.
pub const TAB_COLLAPSE: &str = "Posterior collapse over training: each run's KL per latent dimension at \
     every evaluation as a heat map, the inactive cells marked and the collapsed dimensions listed.";
/// Gap tab.
pub const TAB_GAP: &str = "The amortisation gap per test image, (−ELBO) − (−IWAE bound with k samples): \
     each run's map of its codes coloured by it, and the images its encoder serves worst.";

/// The exploring tabs' controls.
pub mod explore {
    /// Map axes: principal directions.
    pub const MAP_PRINCIPAL: &str = "Project each run's codes on its own top two principal directions \
         (the most spread of the codes).";
    /// Map axes: dimensions.
    pub const MAP_DIMS: &str = "Plot two latent dimensions of the codes directly (the same two for \
         every run).";
    /// Aligned runs.
    pub const ALIGNED: &str = "Aligned: each run's codes of the same test images are fitted onto the \
         focused run's by an orthogonal map (rotation or reflection, Procrustes). Maps are drawn in \
         the focused run's frame, so the same images sit in the same place, and through the epochs \
         each new set of codes is fitted onto the map shown before it, so nothing jumps. Lock-step \
         sliders and grids move along the focused run's directions, mapped into each run. The \
         relative residual is ‖A R − B‖ / ‖B‖ of the centred codes: 0 for an exact rotation, about \
         1.4 for unrelated codes.";
    /// The map itself.
    pub const MAP: &str = "Each dot is a test image's code. Hover: the image. Click: every run shows \
         its own code of that image (the cursor). Shift-click / Ctrl-click: the path's start / end. \
         Drag: select a rectangle — the same images light up in every run's map. Scroll to zoom, \
         double-click to reset. The cross marks the cursor.";
    /// Map axes: t-SNE.
    pub const MAP_TSNE: &str = "A t-SNE embedding of each run's codes (Barnes-Hut, perplexity 30, started \
         from the principal directions so the same codes give the same map). Neighbourhoods are \
         meaningful; distances between clusters and their sizes are not. Computed once (a few \
         seconds); Recompute after more training.";
    /// Recompute t-SNE.
    pub const RECOMPUTE_TSNE: &str = "Embed every run's newest codes again.";
    /// Manifold overlay.
    pub const MANIFOLD: &str = "With a 2-d latent, decode a grid over the map's extent and draw it \
         underneath the codes: what each region of the latent space decodes to, and which images land \
         there (the map then plots the two dimensions).";
    /// Clear the selection.
    pub const CLEAR_SELECTION: &str = "Forget the selected images (Esc).";
    /// Set A of the attribute direction.
    pub const DIRECTION_A: &str = "Make the selection set A: the attribute direction points from set B's \
         mean code toward set A's (e.g. select the 7s here and the 1s as B). Each run takes it \
         from its own codes of the same images; the latents tab's \"along A − B\" slider moves \
         every run's point along it.";
    /// Set B of the attribute direction.
    pub const DIRECTION_B: &str = "Make the selection set B: the attribute direction points away from \
         its mean code, toward set A's.";
    /// Copy the direction for the CLI.
    pub const DIRECTION_COPY: &str = "Copy the two sets as `traverse --direction` takes them \
         (A/B, test indices), to export the same direction's traversal from the command line.";
    /// Path ends.
    pub const PATH_END: &str = "A test image's index; every run uses its own code of it.";
    /// Path steps.
    pub const PATH_STEPS: &str = "Decodes along the path, both ends included.";
    /// Path kinds.
    pub const PATH_KIND: &str = "Linear: a straight line between the codes (its middle has a smaller \
         norm than the ends, where the prior has little mass in many dimensions). Spherical (slerp): \
         a great-circle arc that keeps the norm — recommended for Gaussian latents (White 2016).";
    /// Animation.
    pub const ANIMATE: &str =
        "Play the path (one decode at a time) and each traversal row's sweep.";
    /// Frames per second.
    pub const FPS: &str = "How fast the animations play, in decodes per second.";
    /// Path strip.
    pub const PATH_STRIP: &str = "The path: the first tile decodes the start image's code, the last \
         the end image's. The large tile plays it. Right-click to save PNG, GIF or frames.";
    /// Traversal rows.
    pub const TRAVERSAL_ROWS: &str = "How many dimensions, by decreasing mean KL (the most informative \
         first; a VQ-VAE, whose codes have no KL, by the variance of its codes). `traverse` orders \
         its rows the same way.";
    /// Traversal steps.
    pub const TRAVERSAL_STEPS: &str = "Values per dimension, evenly spaced over the range.";
    /// Traversal ranges.
    pub const TRAVERSAL_RANGE: &str = "Prior quantiles: the same range for every dimension, from the \
         prior. ±kσ: the codes' mean ± k standard deviations, per dimension (the aggregate posterior). \
         Min–max: from the smallest to the largest code, per dimension. The ranges differ a lot for \
         collapsed or very wide dimensions; the panel states which one is shown.";
    /// Traversal grid.
    pub const TRAVERSAL: &str = "Row = one latent dimension (its index and KL — a VQ-VAE's code variance \
         — on the left), column = one value; every other coordinate holds the cursor's value. \
         Right-click to save PNG, GIF (forth and back) or its frames (one PNG per value, as \
         `traverse --frames` writes them).";
    /// Shift.
    pub const SHIFT: &str = "The shifted set scored against the test set: inverted (1 − x), rotated a \
         quarter turn, pixel noise, or one class held out (meaningful for a model trained without it: \
         `train --without-class K`).";
    /// IWAE k for scores.
    pub const SCORE_IWAE: &str = "0: score by −ELBO (nats; averaged over 8 samples). k > 0: by the −IWAE \
         bound with k samples, a tighter estimate of −log p(x) (slower).";
    /// Seed of the scores' noise.
    pub const SCORE_SEED: &str = "Seed of the noise the scores' samples of z are drawn from: the same \
         seed gives the same scores, as `anomaly --seed` does.";
    /// Which score.
    pub const SCORE_KIND: &str = "What each image is scored by, in nats (higher = more anomalous): \
         −ELBO averaged over samples of z, the −IWAE bound, or for a VQ-VAE (no KL term) its \
         reconstruction term alone. Notes qualify the scores, as the `anomaly` command prints them.";
    /// Rescore.
    pub const RESCORE: &str = "Score again with the newest (or scrubbed) weights.";
    /// AUROC.
    pub const AUROC: &str = "Area under the ROC curve of telling the shifted set from the test set by \
         score: 1 = every shifted image scores worse than every test image, 0.5 = no better than chance.";
    /// Histogram.
    pub const HISTOGRAM: &str =
        "How many images score in each bin (nats): test set and shifted set.";
    /// Typical images.
    pub const TYPICAL: &str = "The test images this run finds least likely (highest score) and most \
         typical (lowest), among all test images (a held-out class included), as `anomaly` lists them.";
    /// Canvas.
    pub const CANVAS: &str = "Draw with the mouse or a pen (right button erases). The drawing is the \
         input every run encodes, as you draw.";
    /// Fit the drawing.
    pub const FIT_DRAWING: &str = "Scale and centre the drawing's ink into the middle 20×20 pixels, as \
         MNIST digits were made (a model of MNIST has never seen a digit that fills the frame). Off: the canvas \
         is encoded pixel for pixel.";
    /// Brush.
    pub const BRUSH: &str = "Brush radius in pixels.";
    /// Open image.
    pub const OPEN_IMAGE: &str = "Encode a PNG or JPEG (dropping one on the window does the same): it is \
         turned grey, inverted when its background is light, and its ink fitted into the central 20×20 \
         pixels as MNIST digits are. An image of exactly the data's size is taken as it is.";
    /// What is encoded.
    pub const ENCODED: &str = "The input every run encodes, at the data's size: the drawing after \
         centring (when on), or the opened image after fitting.";
    /// Follow input.
    pub const FOLLOW_INPUT: &str = "Every run shows its own code of the input on the sliders, the grid and \
         the traversals (until a slider moves or a test image is chosen).";
    /// Input results.
    pub const INPUT_RESULT: &str = "This run's reconstruction of the input, and its score (−ELBO in nats, \
         or a VQ-VAE's reconstruction term; the percentile among the test images' scores when the \
         anomaly tab has scored them the same way).";
    /// The collapse heat map.
    pub const COLLAPSE_MAP: &str = "One row per latent dimension, one column per test evaluation \
         (each epoch's, as the metrics table has them; a run loaded with no history: one column from \
         its codes). The colour is the dimension's mean KL(q(z_j|x) ‖ N(0, 1)) in nats (log scale), or \
         its activity Var_x(E_q[z_j]); a dot marks a cell where the dimension is inactive (activity ≤ \
         0.01, the active-units threshold). Hover a cell for its numbers.";
    /// Colour the collapse map by activity.
    pub const COLLAPSE_BY_VARIANCE: &str = "Colour the cells by the activity statistic Var_x(E_q[z_j]) \
         (the variance of the dimension's posterior mean over the test set) instead of KL; the \
         active-units threshold 0.01 is marked on the scale.";
    /// The collapse colour scale.
    pub const COLLAPSE_SCALE: &str = "The colour scale (log10). With activity colouring, the white mark \
         is the active-units threshold 0.01: cells below it are collapsed dimensions.";
    /// The collapsed dimensions.
    pub const COLLAPSED: &str = "Dimensions inactive at the last evaluation (activity ≤ 0.01): they carry \
         (almost) nothing about the image, their posterior is the prior. \"since\" is the first \
         evaluation after the last one where the dimension was still active.";
    /// Gap samples.
    pub const GAP_K: &str = "Importance samples k per image: the gap is the IWAE bound with k samples \
         minus the ELBO, both from the same k samples (0 at k = 1; it grows towards KL(q(z|x) ‖ \
         p(z|x)) with k). Each image is decoded k times.";
    /// Gap seed.
    pub const GAP_SEED: &str = "Seed of the noise the gap's samples of z are drawn from: the same seed \
         gives the same gaps.";
    /// The gap map.
    pub const GAP_MAP: &str = "Each dot is a test image's code on the run's top two principal \
         directions, coloured by its amortisation gap (nats, scale beside): bright dots are images \
         whose posterior the encoder fits worst.";
    /// The worst-served images.
    pub const GAP_WORST: &str = "The test images with the largest amortisation gap: importance sampling \
         gains most over the encoder's one-shot posterior on them.";
}

/// Holes tab.
pub const TAB_HOLES: &str = "Where the prior puts samples that no training image encodes to (the \
     prior's holes), and an ex-post sampler (a Gaussian mixture fitted to the training codes) \
     against N(0, I): their decodes side by side, scored by the digit probe, and each sample's \
     nearest training images — is the model generating or remembering?";

/// The image menu's nearest training images.
pub const NEAREST_MENU: &str = "Search the training images for the ones nearest to this decoded \
     image: in pixel space (is the model reproducing a training image?) and in latent space (whose \
     codes are nearest to this one's latent vector). Brute force over the training split, on the \
     run's decode thread.";
/// The nearest-training-images window.
pub const NEAREST_WINDOW: &str = "The decoded image you asked about (left) and the training images \
     nearest to it: top row in pixel space (Euclidean distance over every value), bottom row by \
     their codes' distance to its latent vector. A pixel distance near 0 means the model \
     reproduces a training image (remembering); neighbours that only look alike mean it is \
     generating.";

/// The holes tab's figures and controls.
pub mod holes {
    /// The plane.
    pub const PLANE: &str = "The training codes' top two principal directions. Shading: the codes' \
         density (the aggregate posterior), darker where more codes fall; rings: the prior N(0, I₂) \
         at 1, 2 and 3 σ. Dots: N(0, I) samples; squares: ex-post samples; coloured by the distance \
         to the nearest code (green near, red far) or by the probe's confidence (green sure, red \
         unsure). Prior mass in holes: the prior's mass in bins holding no code.";
    /// The N(0, I) grid.
    pub const PRIOR: &str = "Decodes of z ~ N(0, I) (the prior tab's noise). Hover a sample: its \
         nearest training images below.";
    /// The ex-post grid.
    pub const GMM: &str = "Decodes of draws from a Gaussian mixture with diagonal covariances fitted \
         by EM to the training codes (ex-post density estimation): samples from where the codes \
         are. Hover a sample: its nearest training images below.";
    /// The scores.
    pub const SCORES: &str = "The digit probe's verdict on each sampler's decodes (as compare's \
         samples column): confidence = mean largest class probability; IS = exp E KL(p(y|x) ‖ p(y)), \
         1 to 10. Gap: the median distance from a sample to its nearest training code.";
    /// The neighbours.
    pub const NEAREST: &str = "The picked sample's nearest training images: top row in pixel space \
         (Euclidean over every pixel), bottom row in latent space (the distance between the sample's \
         z and each training image's posterior mean). A pixel distance near 0 means the model \
         reproduces a training image.";
    /// Components.
    pub const COMPONENTS: &str = "Mixture components of the ex-post sampler (diagonal covariances, \
         fitted by EM from a seeded k-means++ start).";
    /// Colour by confidence.
    pub const BY_CONFIDENCE: &str = "Colour the samples on the plane by the digit probe's confidence \
         in each (digits only) instead of by their distance to the nearest code.";
}
