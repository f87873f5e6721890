"""The technique registry: one entry per notebook in ``notebooks/<slug>.ipynb``.

Each technique names the literature families it covers (slugs from
:mod:`workbench.literature.families`), the seed papers it reproduces, and parameter overrides
per run profile:

* ``smoke``   -- tests and CI: tiny subsets, about a minute per notebook;
* ``default`` -- the real experiment, sized for a 2-core laptop (all notebooks <= ~90 min);
* ``full``    -- bigger machines: more data, epochs and seeds.

A profile's overrides are merged over the notebook's own parameters cell, so anything not
overridden keeps the notebook's value. :data:`PROFILES` is the one list of profile names: the
runner, the CLI and the tests read it from here.

A technique may also declare the model-bank entries its notebook trains (``bank``): the report
runner builds the missing ones for all planned notebooks first, in parallel, then runs the
notebooks, which then load their models from the bank instead of training them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..registry import Registry

PROFILES = ("smoke", "default", "full")


@dataclass(frozen=True)
class FromLesson:
    """An attribute of the lesson module ``workbench.lessons.<module>``, imported on first use.

    The registry lists every notebook; importing every lesson module to build it would make each
    notebook that lists the registry (``wb.explore.literature(wb.techniques.TECHNIQUES, ...)``)
    depend on all 22 lessons in :mod:`workbench.deps`' records, so an edit of one verdict rule
    would re-run them. ``str()`` of a reference is the attribute's text (a claim on a card).
    """

    module: str
    attr: str

    def resolve(self) -> Any:
        """The attribute itself (imports the lesson module)."""
        return getattr(importlib.import_module(f"workbench.lessons.{self.module}"), self.attr)

    def __str__(self) -> str:
        return str(self.resolve())


@dataclass(frozen=True)
class Technique:
    """One technique notebook.

    Attributes:
        slug: notebook file name without ``.ipynb``.
        title: human title for cards and headings.
        claim: the one-sentence claim the notebook tests (text, or a :class:`FromLesson` reference to
            the lesson's ``CLAIM``: ``str(t.claim)`` is the text either way).
        families: literature family slugs it covers (drives literature coverage).
        papers: titles of the seed papers it covers.
        profiles: ``{profile: {param: value}}`` overrides of the parameters cell.
        bank: the model-bank entries the notebook trains: a function of the notebook's
            effective parameters (its parameters cell merged with the profile's overrides)
            returning ``workbench.bank.BankEntry`` objects, or a fixed tuple of them; empty when
            it trains nothing. Use the same package function the notebook uses to build its
            variants (``FromLesson("mobile_convs", "bank_entries")``), so the two never disagree.
        resources: what one run of the notebook needs on a cluster, as Ray resource names
            (``{"num_cpus": 4, "num_gpus": 1}``); the Ray executor schedules the notebook's task
            with them (default: the runner's threads per notebook, no GPU). The local executor
            ignores them.
    """

    slug: str
    title: str
    claim: str | FromLesson
    families: tuple[str, ...]
    papers: tuple[str, ...] = ()
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    bank: Callable[[Mapping[str, Any]], Iterable[Any]] | tuple | FromLesson = ()
    resources: Mapping[str, float] = field(default_factory=dict)

    def parameters(self, profile: str) -> dict[str, Any]:
        """Parameter overrides for ``profile`` (``ValueError`` for an unknown profile)."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
        return dict(self.profiles.get(profile, {}))

    def bank_entries(self, params: Mapping[str, Any]) -> list[Any]:
        """The bank entries for the notebook's effective ``params`` (defaults + overrides)."""
        bank = self.bank.resolve() if isinstance(self.bank, FromLesson) else self.bank
        return list(bank(params)) if callable(bank) else list(bank)


TECHNIQUES: Registry[Technique] = Registry("technique")


def register_technique(t: Technique) -> Technique:
    """Add ``t`` to :data:`TECHNIQUES` (``ValueError`` if its slug is taken); returns it."""
    TECHNIQUES.register(t.slug, t)
    return t


def list_techniques() -> list[str]:
    """Slugs of the registered techniques, in registration order."""
    return TECHNIQUES.list()


def get_technique(slug: str) -> Technique:
    """The registered technique ``slug`` (``KeyError`` naming the valid slugs)."""
    return TECHNIQUES.get(slug)


# ---------------------------------------------------------------------------------------------
# Registered techniques, in reading order. The claim each notebook tests is the one its lesson
# module states (``workbench.lessons.<slug>.CLAIM``), so card and notebook say the same thing.
# ---------------------------------------------------------------------------------------------
register_technique(
    Technique(
        slug="cost_model",
        title="Cost models: params vs MACs vs memory vs latency",
        claim=FromLesson("cost_model", "CLAIM"),
        families=("mobile_cnn", "cheap_operators", "edge_systems"),
        papers=(
            "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
            "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
        ),
        profiles={
            "smoke": {
                "models": ["mobilenetv2_100", "lcnet_100", "mobilenetv3_small_100", "shufflenetv2_100", "efficientvit_m0"],
                "rounds": 2, "layer_widths": [32, 128], "guideline_blocks": 2, "max_seconds": 3.0,
            },
            "default": {},
            "full": {"rounds": 30, "feature_size": 56},
        },  # fmt: skip
    )
)
register_technique(
    Technique(
        slug="mobile_convs",
        title="Mobile convolutions: depthwise-separable and inverted residual blocks",
        claim=FromLesson("mobile_convs", "CLAIM"),
        families=("mobile_cnn", "scaling_design_spaces"),
        papers=(
            "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications",
            "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
            "Searching for MobileNetV3",
        ),
        profiles={
            "smoke": {
                "grid_widths": [0.5, 1.0], "grid_resolutions": [128, 224],
                "family": ["mobilenetv2_050", "mobilenetv3_small_075"],
                "recipe": "smoke", "rounds": 2,
            },
            "default": {},
            "full": {"recipe": "fmnist_full", "seeds": [0, 1, 2], "rounds": 30},
        },  # fmt: skip
        bank=FromLesson("mobile_convs", "bank_entries"),
    )
)
register_technique(
    Technique(
        slug="channel_attention",
        title="Channel attention: SE, ECA and friends",
        claim=FromLesson("channel_attention", "CLAIM"),
        families=("channel_attention",),
        papers=(
            "Squeeze-and-Excitation Networks",
            "ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks",
            "CBAM: Convolutional Block Attention Module",
        ),
        profiles={
            "smoke": {"attentions": ["none", "se", "eca"], "seeds": [0], "recipe": "smoke", "rounds": 2},
            "default": {},
            "full": {"recipe": "fmnist_full", "seeds": [0, 1, 2, 3], "rounds": 30},
        },  # fmt: skip
        bank=FromLesson("channel_attention", "bank_entries"),
    )
)

# --- large_kernels and design_spaces notebooks ---------------------------------------------------
register_technique(
    Technique(
        slug="large_kernels",
        title="Large kernels: depthwise 3x3 to 31x31, receptive field versus cost",
        claim=FromLesson("large_kernels", "CLAIM"),
        families=("large_kernel_convnets",),
        papers=(
            "Scaling Up Your Kernels: Large Kernel Design in ConvNets towards Universal Representations",
            "MobileNetV4 -- Universal Models for the Mobile Ecosystem",
            "A ConvNet for the 2020s",
            "InceptionNeXt: When Inception Meets ConvNeXt",
        ),
        profiles={
            "smoke": {
                "kernels_cost": [3, 7, 31], "stage_shapes": [[96, 14]], "zoo_kernels": [], "kernels_train": [3, 7],
                "n_train": 256, "n_test": 128, "control_kernels": [3, 7], "dim": 16, "depth": 2,
                "recipe": "smoke", "seeds": [0], "erf_images": 16, "rounds": 2,
            },
            "default": {},
            "full": {"n_train": 20000, "n_test": 4000, "seeds": [0, 1, 2], "control_seeds": [0, 1], "rounds": 30},
        },  # fmt: skip
        bank=FromLesson("large_kernels", "bank_entries"),
    )
)
# --- notebooks cheap_operators and reparameterization (issue 12) ---------------------------------
register_technique(
    Technique(
        slug="cheap_operators",
        title="Cheap operators: Ghost, group conv + shuffle, shift, fast downsampling",
        claim=FromLesson("cheap_operators", "CLAIM"),
        families=("cheap_operators", "mobile_cnn"),
        papers=(
            "GhostNetV2: Enhance Cheap Operation with Long-Range Attention",
            "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
            "FD-MobileNet: Improved MobileNet with a Fast Downsampling Strategy",
            "Fully $1\\times1$ Convolutional Network for Lightweight Image Super-Resolution",
        ),
        profiles={
            "smoke": {
                "blocks": ["dwsep", "ghost", "shift"], "fast_downsample": False, "cost_blocks": ["dwsep", "ghost"],
                "zoo": ["mobilenetv1_100", "ghostnet_100"], "zoo_resolution": 112,
                "recipe": "smoke", "seeds": [0], "rounds": 2,
            },
            "default": {},
            "full": {
                "blocks": ["dwsep", "ghost", "ghostv2", "shuffle", "shift"], "recipe": "fmnist_short",
                "seeds": [0, 1, 2], "rounds": 30,
            },
        },  # fmt: skip
        bank=FromLesson("cheap_operators", "bank_entries"),
    )
)
register_technique(
    Technique(
        slug="design_spaces",
        title="Design spaces: scaling strategies and error EDFs",
        claim=FromLesson("design_spaces", "CLAIM"),
        families=("scaling_design_spaces",),
        papers=(
            "Fast and Accurate Model Scaling",
            "Designing Network Design Spaces",
        ),
        profiles={
            "smoke": {
                "base_resolution": 96, "scales": [2], "strategies": ["width", "depth", "resolution"],
                "latency_batches": [1], "space_samples": 2, "recipe": "smoke", "rounds": 2,
            },
            "default": {},
            "full": {"space_samples": 32, "scales": [2, 4, 8], "latency_batches": [1, 32], "rounds": 15},
        },  # fmt: skip
        bank=FromLesson("design_spaces", "bank_entries"),
    )
)
register_technique(
    Technique(
        slug="reparameterization",
        title="Structural re-parameterization: train multi-branch, deploy one conv",
        claim=FromLesson("reparameterization", "CLAIM"),
        families=("reparameterization", "mobile_cnn"),
        papers=(
            "MobileOne: An Improved One millisecond Mobile Backbone",
            "RepViT: Revisiting Mobile CNN From ViT Perspective",
            "RepNeXt: A Fast Multi-Scale CNN using Structural Reparameterization",
        ),
        profiles={
            "smoke": {"models": ["repvgg_a0", "mobileone_s0"], "resolution": 96, "recipe": "smoke", "seeds": [0], "rounds": 2},
            "default": {},
            "full": {"recipe": "fmnist_short", "seeds": [0, 1, 2], "rounds": 30},
        },  # fmt: skip
        bank=FromLesson("reparameterization", "bank_entries"),
    )
)

# --- quantization and deployment notebooks (issue 13, items 2 and 5) ---
register_technique(
    Technique(
        slug="quantization",
        title="Quantization: fake-quant sweeps, QAT and real int8 kernels",
        claim=FromLesson("quantization", "CLAIM"),
        families=("quantization", "edge_systems"),
        papers=(
            "A White Paper on Neural Network Quantization",
            "FP8 versus INT8 for efficient deep learning inference",
            "XNOR-Net: ImageNet Classification Using Binary Convolutional Neural Networks",
        ),
        profiles={
            "smoke": {
                "recipe": "smoke", "threads": 1, "calibration_images": 64, "test_images": 128, "bit_widths": [8, 4],
                "methods": ["minmax"], "sensitivity_images": 64, "sensitivity_layers": 3, "qat_steps": 2, "qat_images": 256,
                "backends": ["onnxruntime", "bf16", "pt2e"], "large_resolution": 64, "rounds": 2,
            },
            "default": {},
            "full": {"recipe": "fmnist_full", "calibration_images": 1024, "test_images": 10000, "qat_steps": 1000, "rounds": 30},
        },  # fmt: skip
        bank=FromLesson("quantization", "bank_entries"),
    )
)
register_technique(
    Technique(
        slug="deployment",
        title="Deployment: one trained model across runtimes",
        claim=FromLesson("deployment", "CLAIM"),
        families=("edge_systems",),
        papers=(
            "MnasNet: Platform-Aware Neural Architecture Search for Mobile",
            "FBNet: Hardware-Aware Efficient ConvNet Design via Differentiable Neural Architecture Search",
            "EfficientFormer: Vision Transformers at MobileNet Speed",
            "FP8 versus INT8 for efficient deep learning inference",
        ),
        profiles={
            "smoke": {
                "recipe": "smoke", "threads": 1, "thread_counts": [1], "batch_sizes": [1], "exporter": "torchscript",
                "runtimes": ["eager", "channels_last", "onnxruntime", "openvino"], "int8_backends": ["onnxruntime"],
                "calibration_images": 64, "test_images": 256, "zoo": ["mobilenetv2_050", "lcnet_050"],
                "zoo_resolution": 64, "rounds": 2, "zoo_rounds": 2,
            },
            "default": {},
            "full": {"recipe": "fmnist_full", "thread_counts": [1, 2, 4], "batch_sizes": [1, 8, 32], "rounds": 30, "zoo_rounds": 20},
        },  # fmt: skip
        bank=FromLesson("deployment", "bank_entries"),
    )
)

# token_mixers / attention_scaling notebooks (issue 12, items 4 and 5)
register_technique(
    Technique(
        slug="token_mixers",
        title="Token mixers: one MetaFormer skeleton, seven mixers, and hybrids across resolution",
        claim=FromLesson("token_mixers", "CLAIM"),
        families=("efficient_attention",),
        papers=(
            "MetaFormer Is Actually What You Need for Vision",
            "EfficientFormer: Vision Transformers at MobileNet Speed",
            "EfficientViT: Memory Efficient Vision Transformer with Cascaded Group Attention",
            "RepViT: Revisiting Mobile CNN From ViT Perspective",
            "Scaling Local Self-Attention for Parameter Efficient Visual Backbones",
        ),
        profiles={
            "smoke": {
                "mixers": ["pooling", "window_attention"], "seeds": [0], "recipe": "smoke",
                "rounds": 2, "zoo_models": ["mobilenetv2_050", "efficientformer_l1", "no_such_model"],
                "resolutions": [64, 96], "zoo_rounds": 2,
            },
            "default": {},
            "full": {"recipe": "fmnist_mixers_full", "seeds": [0, 1, 2], "rounds": 30, "zoo_rounds": 15, "resolutions": [128, 224, 320, 448, 640]},
        },  # fmt: skip
        bank=FromLesson("token_mixers", "bank_entries"),
    )
)
register_technique(
    Technique(
        slug="attention_scaling",
        title="Attention vs state-space scaling: cost against sequence length",
        claim=FromLesson("attention_scaling", "CLAIM"),
        families=("efficient_attention", "state_space_models"),
        papers=(
            "EfficientViM: Efficient Vision Mamba with Hidden State Mixer based State Space Duality",
            "MobileMamba: Lightweight Multi-Receptive Visual Mamba Network",
            "NetMamba: Efficient Network Traffic Classification via Pre-training Unidirectional Mamba",
            "LaMamba-Diff: Linear-Time High-Fidelity Diffusion Models Based on Local Attention and Mamba",
        ),
        profiles={
            "smoke": {
                "lengths": [64, 256], "fit_min_tokens": 64, "decode_contexts": [64, 256],
                "seeds": [0], "recipe": "smoke", "rounds": 2,
            },
            "default": {},
            "full": {"recipe": "fmnist_mixers_full", "seeds": [0, 1, 2], "rounds": 10, "lengths": [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]},
        },  # fmt: skip
        bank=FromLesson("attention_scaling", "bank_entries"),
    )
)

# pruning notebook (issue 13, item 1)
register_technique(
    Technique(
        slug="pruning",
        title="Pruning: unstructured masks vs structured channels, measured",
        claim=FromLesson("pruning", "CLAIM"),
        families=("pruning_sparsity",),
        papers=(
            "Fast Sparse ConvNets",
            "Structured Pruning is All You Need for Pruning CNNs at Initialization",
            "Network Pruning Spaces",
            "DepGraph: Towards Any Structural Pruning",
        ),
        profiles={
            "smoke": {
                "recipe": "smoke", "unstructured_amounts": [0.5], "channel_amounts": [0.5],
                "structured_methods": ["l1", "taylor"], "finetune_steps": 2, "finetune_images": 512,
                "test_images": 256, "latency_resolution": 64, "rounds": 2,
            },
            "default": {},
            "full": {
                "recipe": "fmnist_full", "structured_methods": ["l1", "bn_scale", "taylor", "random"],
                "channel_amounts": [0.25, 0.5, 0.75], "finetune_steps": 400, "test_images": 10000, "rounds": 30,
            },
        },  # fmt: skip
        bank=FromLesson("pruning", "bank_entries"),
    )
)

# low_rank_peft notebook (issue 13, item 4)
register_technique(
    Technique(
        slug="low_rank_peft",
        title="Low rank and PEFT: SVD compression and LoRA adaptation",
        claim=FromLesson("low_rank_peft", "CLAIM"),
        families=("low_rank_peft",),
        papers=(
            "From GaLore to WeLore: How Low-Rank Weights Non-uniformly Emerge from Low-Rank Gradients",
            "Low-rank lottery tickets: finding efficient low-rank neural networks via matrix differential equations",
            "DiffFit: Unlocking Transferability of Large Diffusion Models via Simple Parameter-Efficient Fine-Tuning",
            "UniPT: Universal Parallel Tuning for Transfer Learning with Efficient Parameter and Memory",
        ),
        profiles={
            "smoke": {
                "recipe": "smoke", "finetune_steps": 2, "finetune_images": 512, "test_images": 256,
                "adapt_steps": 2, "lora_ranks": [4], "rounds": 2,
            },
            "default": {},
            "full": {"recipe": "fmnist_full", "finetune_steps": 400, "test_images": 10000, "adapt_steps": 300,
                     "lora_ranks": [1, 4, 16], "rounds": 30},
        },  # fmt: skip
        bank=FromLesson("low_rank_peft", "bank_entries"),
    )
)

# distillation notebook (issue 13, item 3)
register_technique(
    Technique(
        slug="distillation",
        title="Distillation: a tiny student taught by a trained teacher, with and without labels",
        claim=FromLesson("distillation", "CLAIM"),
        families=("distillation",),
        papers=(
            "Beyond Self-Supervision: A Simple Yet Effective Network Distillation Alternative to Improve Backbones",
            "Reinforce Data, Multiply Impact: Improved Model Accuracy and Robustness with Dataset Reinforcement",
            "Distribution Shift Matters for Knowledge Distillation with Webly Collected Images",
            "ScaleKD: Strong Vision Transformers Could Be Excellent Teachers",
        ),
        profiles={
            "smoke": {
                "teacher_recipe": "smoke", "labelled_images": 1000, "unlabelled_images": 1000, "test_images": 500,
                "epochs": 1, "seeds": [0], "sweep_temperatures": [1.0], "sweep_alphas": [], "batch_size": 64,
            },
            "default": {},
            "full": {"teacher_recipe": "fmnist_full", "labelled_images": 30000, "unlabelled_images": 30000, "epochs": 10,
                     "seeds": [0, 1, 2, 3, 4], "sweep_temperatures": [1.0, 2.0, 8.0, 16.0], "sweep_alphas": [0.5, 0.7, 0.99]},
        },  # fmt: skip
        bank=FromLesson("distillation", "bank_entries"),
    )
)

# latency_prediction notebook (issue 14, item 1)
register_technique(
    Technique(
        slug="latency_prediction",
        title="Latency prediction: a kernel table for this machine versus MACs",
        claim=FromLesson("latency_prediction", "CLAIM"),
        families=("nas", "edge_systems"),
        papers=(
            "FBNet: Hardware-Aware Efficient ConvNet Design via Differentiable Neural Architecture Search",
            "ProxylessNAS: Direct Neural Architecture Search on Target Task and Hardware",
            "MnasNet: Platform-Aware Neural Architecture Search for Mobile",
            "A Hardware-Aware System for Accelerating Deep Neural Network Optimization",
        ),
        profiles={
            "smoke": {
                "train_models": ["mobilenetv2_050", "mobilenetv1_050", "ghostnet_050", "lcnet_050", "shufflenetv2_050", "mnasnet_a1"],
                "test_models": ["mobilenetv3_small_050", "tinynet_e"], "threads_list": [1], "input_size": [3, 64, 64],
                "table_rounds": 1, "model_rounds": 2,
            },
            # one thread: what `workbench report` gives each notebook (two run at once, so a 2-thread
            # table would be timed beside another notebook); the 1-and-2-thread tables took 29 min of
            # a cold run (2026-11-29), the notebook's own default and the full profile keep both
            "default": {"threads_list": [1]},
            "full": {"zoo_every": 1, "table_rounds": 5, "model_rounds": 20, "threads_list": [1, 2]},
        },  # fmt: skip
        bank=(),
    )
)

# --- detection and segmentation notebooks (issue 15, items 2 and 3) ---
register_technique(
    Technique(
        slug="detection",
        title="Detection: tiny single-shot detectors on Fashion-MNIST mosaics",
        claim=FromLesson("detection", "CLAIM"),
        families=("efficient_detection_segmentation",),
        papers=(
            "SSD: Single Shot MultiBox Detector",
            "Searching for MobileNetV3",
            "TinyissimoYOLO: A Quantized, Low-Memory Footprint, TinyML Object Detection Network for Low Power Microcontrollers",
            "MobileDets: Searching for Object Detection Architectures for Mobile Accelerators",
        ),
        profiles={
            "smoke": {
                "train_images": 200, "test_images": 40, "steps": 20, "batch_size": 16, "sweep_sizes": [64, 96],
                "rounds": 2, "nms_rounds": 3,
            },
            "default": {},
            "full": {"train_images": 8000, "test_images": 1000, "steps": 2000, "rounds": 30, "nms_rounds": 100},
        },  # fmt: skip
    )
)
register_technique(
    Technique(
        slug="segmentation",
        title="Segmentation: LR-ASPP vs an ASPP head vs a small U-Net on Fashion-MNIST mosaics",
        claim=FromLesson("segmentation", "CLAIM"),
        families=("efficient_detection_segmentation",),
        papers=(
            "Searching for MobileNetV3",
            "SINet: Extreme Lightweight Portrait Segmentation Networks with Spatial Squeeze Modules and Information Blocking Decoder",
            "LightM-UNet: Mamba Assists in Lightweight UNet for Medical Image Segmentation",
        ),
        profiles={
            "smoke": {
                "train_images": 200, "test_images": 40, "steps": 10, "batch_size": 8, "real_height": 128, "real_width": 256,
                "rounds": 2, "real_rounds": 2,
            },
            "default": {},
            "full": {"train_images": 8000, "test_images": 1000, "steps": 2000, "rounds": 30, "real_rounds": 15},
        },  # fmt: skip
    )
)

# --- conditional_computation notebook (issue 14, item 4) ---
register_technique(
    Technique(
        slug="conditional_computation",
        title="Conditional computation: early exits, cascades, token dropping and sparse MoE",
        claim=FromLesson("conditional_computation", "CLAIM"),
        families=("dynamic_computation", "mixture_of_experts"),
        papers=(
            "Auxiliary-Loss-Free Load Balancing Strategy for Mixture-of-Experts",
            "Routers in Vision Mixture of Experts: An Empirical Study",
            "Yuan 2.0-M32: Mixture of Experts with Attention Router",
            "A Converting Autoencoder Toward Low-latency and Energy-efficient DNN Inference at the Edge",
            "QUTE: Quantifying Uncertainty in TinyML models with Early-exit-assisted ensembles",
            "Adaptive Computation Modules: Granular Conditional Computation For Efficient Inference",
        ),
        profiles={
            "smoke": {"recipe": "smoke", "vit_recipe": "smoke", "head_images": 512, "head_epochs": 1,
                      "thresholds": [0.5, 0.9, 1.01], "keep_rates": [1.0, 0.5], "rounds": 2},
            "default": {},
            "full": {"recipe": "fmnist_full", "vit_recipe": "fmnist_mixers_full", "seeds": [0, 1, 2],
                     "head_images": 60000, "head_epochs": 3, "rounds": 30},
        },  # fmt: skip
        bank=FromLesson("conditional_computation", "bank_entries"),
    )
)

# once_for_all notebook (issue 14, item 3)
register_technique(
    Technique(
        slug="once_for_all",
        title="Once-for-all: one elastic supernet, sub-networks for three latency budgets without retraining",
        claim=FromLesson("once_for_all", "CLAIM"),
        families=("nas",),
        papers=(
            "Once-for-All: Train One Network and Specialize it for Efficient Deployment",
            "BigNAS: Scaling Up Neural Architecture Search with Big Single-Stage Models",
            "DεpS: Delayed ε-Shrinking for Faster Once-For-All Training",
        ),
        profiles={
            "smoke": {
                "train_images": 1000, "test_images": 500, "batch_size": 64, "steps_per_phase": [3, 3, 3, 3],
                "candidates": 20, "evaluate_per_budget": 1, "bn_batches": 1, "scratch_recipe": "smoke", "seeds": [0],
                "latency_rounds": 2, "latency_px": 64,
            },
            "default": {},
            "full": {"train_images": 60000, "steps_per_phase": [600, 500, 500, 800],
                     "candidates": 1000, "evaluate_per_budget": 8, "scratch_recipe": "fmnist_small", "seeds": [0, 1, 2]},
        },  # fmt: skip
        bank=FromLesson("once_for_all", "bank_entries"),
    )
)
# architecture_search notebook (issue 14, item 2): shares the once_for_all supernet (same settings per profile)
register_technique(
    Technique(
        slug="architecture_search",
        title="Architecture search: a latency budget of this machine, a supernet, random vs evolution",
        claim=FromLesson("architecture_search", "CLAIM"),
        families=("nas", "edge_systems"),
        papers=(
            "MnasNet: Platform-Aware Neural Architecture Search for Mobile",
            "ProxylessNAS: Direct Neural Architecture Search on Target Task and Hardware",
            "FBNet: Hardware-Aware Efficient ConvNet Design via Differentiable Neural Architecture Search",
            "Once-for-All: Train One Network and Specialize it for Efficient Deployment",
            "Single Path One-Shot Neural Architecture Search with Uniform Sampling",
            "NAS evaluation is frustratingly hard",
        ),
        profiles={
            "smoke": {
                "train_images": 1000, "test_images": 500, "batch_size": 64, "steps_per_phase": [3, 3, 3, 3],
                "latency_size": [3, 64, 64], "fit_archs": 2, "n_predict": 40, "evaluations": 4, "population": 2,
                "spread": 1, "recipe": "smoke", "eval_images": 128, "bn_batches": 1, "overhead": "none", "table_rounds": 1,
                "model_rounds": 2,
            },
            "default": {},
            "full": {"train_images": 60000, "steps_per_phase": [600, 500, 500, 800], "evaluations": 120, "population": 20,
                     "spread": 10, "eval_images": 5000, "bn_batches": 8, "model_rounds": 20},
        },  # fmt: skip
        bank=FromLesson("architecture_search", "bank_entries"),
    )
)

# efficient_sr notebook (issue 15, item 1)
register_technique(
    Technique(
        slug="efficient_sr",
        title="Efficient super-resolution: quality per MAC, 720p cost and int8 robustness",
        claim=FromLesson("efficient_sr", "CLAIM"),
        families=("efficient_sr_restoration",),
        papers=(
            "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel Convolutional Neural Network",
            "Fast, Accurate, and Lightweight Super-Resolution with Cascading Residual Network",
            "Efficient Image Super-Resolution Using Pixel Attention",
            "Extremely Lightweight Quantization Robust Real-Time Single-Image Super Resolution for Mobile Devices",
        ),
        profiles={
            "smoke": {
                "families": ["fsrcnn", "espcn", "xlsr", "carn_m"], "latency_families": ["xlsr", "espcn", "carn_m"],
                "train_families": ["espcn", "xlsr"], "steps": 4, "evals": 1, "batch_size": 4,
                "latency_input": [45, 80], "rounds": 1, "int8_crop": 48, "gallery_size": 24,
            },
            "default": {},
            "full": {"train_families": ["srcnn", "fsrcnn", "espcn", "xlsr", "carn_m", "pan", "imdn"],
                     "latency_families": ["xlsr", "espcn", "fsrcnn", "srcnn", "carn_m", "pan", "imdn"],
                     "steps": 3000, "evals": 5, "rounds": 5},
        },  # fmt: skip
        bank=(),
    )
)

# tiny_lm notebook (issue 15, item 4)
register_technique(
    Technique(
        slug="tiny_lm",
        title="Tiny language models: MobileLLM's design at 0.3 M parameters, and what decoding costs",
        claim=FromLesson("tiny_lm", "CLAIM"),
        families=("efficient_llm",),
        papers=(
            "MobileLLM: Optimizing Sub-billion Parameter Language Models for On-Device Use Cases",
            "MELTing point: Mobile Evaluation of Language Transformers",
            "MobileQuant: Mobile-friendly Quantization for On-device Language Models",
            "Kangaroo: Lossless Self-Speculative Decoding via Double Early Exiting",
            "Clover-2: Accurate Inference for Regressive Lightweight Speculative Decoding",
        ),
        profiles={
            "smoke": {
                "steps": 8, "seeds": [0], "max_papers": 40, "eval_windows": 8, "batch_size": 8, "contexts": [8, 32],
                "quant_groups": [32], "spec_ks": [2], "spec_prompts": 1, "spec_tokens": 16, "bandwidth_widths": [32, 64], "rounds": 2,
            },
            "default": {},
            "full": {"steps": 2000, "seeds": [0, 1, 2], "variants": ["shallow_wide", "deep_thin", "deep_thin_tied", "deep_thin_gqa",
                     "deep_thin_tied_gqa", "deep_thin_tied_mqa", "deep_thin_ls"], "bandwidth_widths": [64, 256, 768, 1536], "rounds": 20},
        },  # fmt: skip
        bank=(),  # trains through wb.bank.cached_train inside the notebook
    )
)
