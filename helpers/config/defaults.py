# The one source of every parameter's type, default and meaning.
#
# Each line is `name: type = literal  # help`. A help text that starts with `a | b | c:` lists the
# only values allowed. Notebooks repeat the lines of the parameters they use in their cell tagged
# `parameters` (papermill injects overrides after it); tests/test_config.py keeps those copies equal
# to this file. YAML files (`parameters/*.yaml`) and `--set name=value` override them; the runner
# validates the merged values against this file before anything runs. Registries add the settings
# of their entries (a compression method's fine-tuning budget, say) inside the dict parameters below.

# --- the run, the data and the machine (every stage) -------------------------------------------
run_dir: str = "runs/default"  # checkpoints, metrics, executed notebooks and caches of this run
figures_dir: str = ""  # where figures go, empty means <run_dir>/figures; the default run uses figures/
report_dir: str = ""  # where report.pdf and summary.json go, empty means <run_dir>/report
report_title: str = ""  # title page of the PDF report, empty gives a generic title
report_name: str = "report"  # file names of the report: <report_dir>/<report_name>.pdf and <report_name>.summary.json (report keeps report.pdf and summary.json)
stages: list[str] = []  # the stages this study runs and reports, such as [A1, A2, A3, B1, C1, C2] (a study with one model has no B2, one without a defense no B3); empty runs every notebook
plugins: list[str] = []  # importable modules that register extra models, datasets, attacks or compression methods
dataset: str = "image_folder"  # registered dataset format (helpers.data): image_folder reads <data_dir>/<split>/<class>/<image>; fashion_mnist and mnist read the four IDX files
data_dir: str = ""  # dataset root; '' searches data/sports10, then ../shared/data/sports10 (fashion_mnist: /usr/share/datasets/fashion-mnist, then data/fashion-mnist)
image_size: int = 64  # images are decoded and resized once to image_size x image_size pixels
on_bad_image: str = "error"  # error | skip: an undecodable file stops the run, or is skipped and listed
subset_per_class: int = 0  # keep only the first k images of each class in each split, 0 keeps all; for smoke runs
selection_per_class: int = 15  # images per class moved from the training images into the selection split, on which every choice is made (early stopping, kept epochs, compressed models examined, deployment); models never train on it, and the validation split only reports
selection_seed: int = 0  # draws the selection split, independent of the training seed so that every seed of a sweep shares it
cache_dir: str = ".cache/images"  # decoded-image cache (uint8 tensors per split and size)
seed: int = 0  # seeds Python, NumPy and torch
num_threads: int = 0  # torch intra-op threads for training and latency, 0 keeps the default
device: str = "auto"  # auto | cpu | cuda | mps: where models train and run; auto takes CUDA, then Apple's MPS, then the CPU
models: list[str] = ["SimpleCNN", "ResNetSmall"]  # registered model names to train and compare
training_only_models: list[str] = []  # registered models trained and compared in A2 only (accuracy, parameters, training time), not explained, attacked or compressed: baselines and transfer-learning regimes beside the study's models

# --- training (A2; fine-tuning in B3 and C1 shares the recipe) ------------------------------------
rotation_deg: float = 15.0  # training augmentation: maximum rotation angle in degrees
scale: float = 0.0  # training augmentation: random zoom in 1 +- scale
translate: float = 0.0  # training augmentation: random shift, fraction of the image size
jitter: float = 0.2  # training augmentation: brightness, contrast and saturation jitter strength
augment: bool = True  # random flip, rotation and colour jitter during training
epochs: int = 40  # maximum training epochs per model
epochs_by_model: dict = {}  # per-model epoch budgets that override epochs, such as SimpleCNN: 120
recipe_by_model: dict = {}  # per-model training settings over the study's and the model's own (its spec's recipe), such as EffNetL0-full: {lr: 0.0005}; epochs_by_model still sets epochs
model_overrides: dict = {}  # per model of `models`, its own value of seed_sweep, pgd_steps, apgd_steps, compression_methods, compression_targets, compression_budgets, compression_settings, sensitivity_amounts or whitebox_methods (a pretrained network costs many times a small CNN per attack step); the report states each difference
batch_size: int = 64  # training batch size
lr: float = 0.002  # peak learning rate of AdamW
weight_decay: float = 0.0005  # decoupled weight decay, 0 gives plain Adam
label_smoothing: float = 0.1  # cross-entropy label smoothing
warmup_epochs: int = 2  # linear learning-rate warm-up before the cosine decay
patience: int = 10  # early stopping after this many epochs without a lower selection-split loss
amp: str = "auto"  # auto | bf16 | fp16 | fp32 | off: training precision; auto is bf16 autocast where the hardware runs it natively (AMX or avx512_bf16 CPUs, bf16 GPUs), fp16 with a gradient scaler on other CUDA GPUs, fp32 elsewhere; off is fp32; evaluation and attacks are always fp32
seed_sweep: list[int] = [1, 2]  # extra training seeds of every A2 model, each seed runs A2 in its own directory under <run_dir>/sweep/ for the seed variance; the study keeps using the models of seed; [] turns it off
calibration_seconds: float = 1.0  # seconds each model is timed per measure when the run's plan calibrates this machine (cached per machine and precision); 0 gives a plan without time estimates
sweep_workers: int = 1  # Dask worker processes of a local sweep cluster, each running one grid point at a time
sweep_address: str = ""  # Dask scheduler of an existing cluster for sweeps, such as tcp://host:8786; empty starts a local cluster

# --- data checks and evaluation (A1, A2) ---------------------------------------------------------
alpha: float = 0.05  # significance level of the paired tests (McNemar's exact test) behind every "lost", "better", "less robust" and every choice; 0 resolves nothing
near_dup_distance: int = 4  # dHash bits (of 64) within which two images count as near-duplicates
near_dup_pixel_distance: float = 0.0  # when above 0, a near-duplicate pair must also differ by at most this mean absolute pixel value (units of [0, 1]): small grey images share dHashes by the thousand, the pixels tell the copies; 0 uses the hash alone
n_misclassified: int = 6  # misclassified validation examples shown per model
reference_val_acc: dict = {}  # per model, a published validation accuracy quoted beside this run's, such as SimpleCNN: 0.68; needs reference_source
reference_source: str = ""  # where reference_val_acc comes from (a citation the report prints with it)
latency_runs: int = 100  # timed forward passes per model and batch size
latency_warmup: int = 10  # untimed forward passes before timing
latency_rounds: int = 10  # the models are timed round-robin in this many rounds, so drift falls on all alike
latency_batch: int = 16  # the larger batch size whose latency is measured besides batch 1
latency_batch_runs: int = 100  # timed forward passes per model at that larger batch size

# --- interpretability (A3, B3) --------------------------------------------------------------------
explain_classes: list[str] = []  # classes with one correctly classified example each; empty takes the first three

# --- attacks and transfer (B1, B2) ----------------------------------------------------------------
attack_subset_per_class: int = 0  # attacks (B1, B3, C2) and the maps read over a whole split (A3) use this many validation images per class (C2's deployment rule, selection images), a stratified draw with selection_seed, for large data sets; 0 takes the whole split; clean accuracy is always over the whole split
attacks: list[str] = ["fgsm", "pgd"]  # registered attacks (helpers.attacks) run over the validation split
attack_eps: list[float] = [0.01, 0.03, 0.05, 0.1]  # L∞ budgets ε in pixel units of [0, 1]
pgd_step_divisor: float = 3.0  # the PGD step α is ε divided by this: 0.01 at ε 0.03
pgd_steps: int = 40  # PGD iterations
apgd_steps: int = 100  # steps of APGD-CE and APGD-DLR (Croce & Hein 2020), the stronger evaluation shown beside PGD: B1 at example_eps and at the robustness ε, B3 at defense_eps; 0 skips it
target_class: str = "basketball"  # the class targeted attacks push every input to
example_eps: float = 0.03  # ε of the example panels and the iteration histograms
n_examples: int = 10  # adversarial examples shown per attack type, shared among the models
sanity_min_fooled: float = 0.9  # sanity check: untargeted PGD at ε 0.1 must fool at least this fraction
secure_robust_acc: float = 0.2  # B1: a model keeping less robust accuracy than this under untargeted PGD at example_eps is called not secure
transfer_margin: float = 0.05  # B2: two transfer rates that differ by less than this are called about equal
substitute_threat_rate: float = 0.3  # B2: transferred inputs fooling more than this share make a substitute model a real threat

# --- the defense (B3) -----------------------------------------------------------------------------
defense_model: str = ""  # model to harden; empty takes the more accurate on the selection split where McNemar resolves it, else the smaller model
defense_among: list[str] = []  # with defense_model empty, the models its rule chooses among (each one of `models`); [] takes them all
defense_eps: float = 0.03  # L∞ budget of adversarial fine-tuning, pixel units
defense_epochs: int = 8  # epochs of adversarial fine-tuning
defense_lr: float = 0.001  # peak learning rate of the fine-tuning (warm-up 1 epoch, cosine decay)
defense_eval_steps: int = 50  # PGD iterations of the robustness evaluation
defense_restarts: int = 2  # PGD random restarts of the robustness evaluation (worst case over them)
collapse_fraction: float = 0.5  # catastrophic overfitting: robust selection-split accuracy falls below this fraction of its peak

# --- compression (C1) -----------------------------------------------------------------------------
compression_methods: list[str] = ["global", "layerwise", "channel"]  # registered compression methods (helpers.compression) applied to every model, in order
compression_targets: dict = {}  # per method, the targets to reach (sparsity, MAC reduction ...); a method left out uses its default targets
compression_budgets: dict = {}  # per method, overrides of its fine-tuning budget: epochs, lr, warmup_epochs, distill_alpha, distill_temperature
compression_settings: dict = {}  # per method, overrides of its own settings, such as channel: {round_to: 8}
sensitivity_amounts: list[float] = [0.5, 0.8, 0.95]  # per-layer sensitivity: global pruning at each of these fractions, and each layer alone pruned by it
dense_control_budget: str = "channel"  # C1 control: the dense model is fine-tuned again, unpruned, with this method's budget (epochs, distillation), so "pruned beats dense" compares equal training; "" runs none
target_sparsity: float = 0.8  # C1 target: unstructured sparsity at which accuracy must be kept
target_size_reduction: float = 3.0  # C1 target: how many times smaller the compressed checkpoint must be at that sparsity
target_nonzero_ratio: float = 0.0  # C1 target: how many times fewer non-zero parameters than the dense model an unstructured model keeps with no resolved loss (Han et al. 2015: 12 on LeNet); 0 sets none
target_max_drop: float = 0.005  # C1 target with target_nonzero_ratio: the point estimate of the accuracy lost may not exceed this fraction
target_speedup: float = 2.5  # C1 target: batch-1 speedup a structured model must reach while keeping its accuracy
deployment_target_speedup: float = 3.0  # C1 deployment target: batch-1 speedup over the dense model in the deployment path (ONNX Runtime), with no resolved loss
deployment_target_size: float = 10.0  # C1 deployment target: how many times smaller than the dense checkpoint that model's file must be

# --- robustness of compressed models (C2) ---------------------------------------------------------
whitebox_methods: list[str] = ["global", "channel"]  # compression methods whose models are attacked white-box again
robustness_attack: str = "pgd"  # the attack whose untargeted success C2's robustness verdicts and deployment rule compare
whitebox_goals: list[str] = ["untargeted", "targeted"]  # goals of C2's white-box attacks; the verdicts and the deployment rule use untargeted
robustness_eps: float = 0.0  # ε at which C2's verdicts and deployment rule compare untargeted success; 0 takes the smallest ε of attack_eps (larger ones fool nearly every model, so they tell none apart)
needed_eps_success: float = 0.9  # the needed ε is the smallest ε at which untargeted PGD fools at least this share
robust_prune_targets: dict = {"global": [0.8]}  # C2: B3's adversarially fine-tuned model is pruned by these methods at these targets (their usual budgets) and attacked again, e.g. add channel: [4.0] (about 2 more minutes); {} skips
