"""Technique families of the seed literature, with their tagging rules written as data.

A paper gets a family when the family's rule fires on its title and abstract
(:func:`workbench.literature.tagging.tag_families`). Title and abstract are first cut into weighted
segments (:mod:`workbench.literature.context`: title 3, a sentence stating the contribution 2, an
ordinary sentence 1, a sentence about prior work 0; baselines after "than"/"outperforms", examples
after "such as"/"e.g.", and negated phrases "without X" are cut out). Then the family fires when

* the weights of the segments where a ``title`` pattern (title only) or a ``strong`` pattern matches
  add up to at least 2 (the title, one contribution sentence, or two ordinary sentences); or
* at least ``min_weak`` distinct ``weak`` patterns match counted segments;

and, for the application-area families, efficiency is a subject of the paper (``requires``: an
efficiency word in the title or in sentences weighing >= 2), so "object detection" alone does not make a
paper an *efficient* detection paper. A segment matching one of the family's ``negative`` patterns does
not count for it (``mobile_cnn`` ignores "mobile" in a sentence about language models); an ``exclude``
pattern anywhere vetoes the family (the VAE "reparameterization trick" is not structural
re-parameterization). Patterns are case-insensitive regexes. The family with the most evidence is the
paper's primary family (:func:`workbench.literature.tagging.primary_family`).

Rules are deliberately plain keyword lists: a reader can see why a paper was tagged. The catalogue's
families come from curated labels (:mod:`.labels`, every seed paper read by two labellers) where a paper
has one; the rules are the fallback for papers without a label, with hand corrections in
``datasets/literature/overrides.csv``, and are measured against the labels.
"""

from __future__ import annotations

from dataclasses import dataclass

# Words that make an application-area paper an efficiency paper ("parameter-efficient" fine-tuning and
# "data-efficient" learning are about training budgets, not a cheaper model). Speculative decoding, early
# exits and YOLO name efficiency by themselves (YOLO is the real-time detector line).
EFFICIENCY = (
    r"(?<!parameter-)(?<!parameter )(?<!data-)(?<!data )(?<!sample-)(?<!sample )(?<!label-)(?<!label )efficien|lightweight|light-weight|\blite\b|compact|tiny|mobile|real-time|realtime|"
    r"\bfaster\b|\bfast (inference|and (lightweight|accurate))|low[- ](complexity|latency|power|memory|cost|bit)|speed|accelerat|compress|"
    r"on-device|\bedge\b|embedded|fewer parameters|\bflops\b|\bmacs\b|latency|cheap|"
    r"resource[- ]constrained|prun|quantiz|distill|speculative|early[- ]exit|\byolo"
)


@dataclass(frozen=True)
class Family:
    """One technique family and the rule that tags papers with it.

    Attributes:
        slug: identifier used by :mod:`workbench.report.techniques` (``mobile_cnn``).
        title: human title for tables and charts.
        description: one line saying what belongs here.
        title_patterns: regexes that tag the paper when they match its title.
        strong: regexes that tag the paper when they match title or abstract.
        weak: regexes counted in the abstract; ``min_weak`` distinct hits tag the paper.
        min_weak: distinct weak hits needed (ignored when ``weak`` is empty).
        requires: efficiency requirement (``EFFICIENCY``) or ``None``: no requirement.
        exclude: regexes that veto the family when they match title or abstract anywhere.
        negative: regexes that make a title / sentence not count for this family.
    """

    slug: str
    title: str
    description: str
    title_patterns: tuple[str, ...] = ()
    strong: tuple[str, ...] = ()
    weak: tuple[str, ...] = ()
    min_weak: int = 2
    requires: str | None = None
    exclude: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()


# Segments about language models: "mobile" / "lightweight" there is not a mobile ConvNet.
LANGUAGE_MODEL = r"language models?|\b(m|vl)?llms?\b|\bvlms?\b|\bbert\b|\bgpt|\bllama|\bmobilellm|\btokens?\b"

FAMILIES: tuple[Family, ...] = (
    Family(
        "mobile_cnn", "Mobile CNNs",
        "Depthwise-separable / inverted-residual ConvNets built for phones (MobileNet, MnasNet line).",
        title_patterns=(r"mobile(?! apps?\b| sensing|-level)",
                        r"lightweight (cnn|convolutional)", r"\bcnn models?\b.*lightweight|lightweight.*\bcnn\b",
                        r"efficientnet", r"\blcnet\b", r"\bmobilenet", r"shufflenet", r"ghostnet",
                        r"(compact|tiny|efficient) (cnn|convnet|convolutional)"),
        strong=(r"depthwise[- ]separable", r"inverted (residual|bottleneck)s?",
                r"mobile (neural )?(cnn|convnet|backbone|network|architecture|model|vision model)s?", r"shufflenet",
                r"(cnns?|convolutional neural networks?|convnets?)\W+(\S+\s+){0,3}(for|on) mobile", r"\bmobilenetv?\d? (architecture|family)"),
        weak=(r"mobilenet", r"efficientnet", r"mnasnet", r"depthwise", r"mobile (devices?|phones?)",
              r"lightweight (cnn|convolutional)"),
        min_weak=3,
        # "mobile app(s)" (app studies, app agents) is not a mobile CNN; "mobile applications" of a net is.
        exclude=(r"mobile sensing", r"mobile apps?\b"),
        # "mobile" in an LLM paper (MobileLLM, MobileQuant), a Mamba or a pure-transformer title is not a mobile CNN.
        negative=(LANGUAGE_MODEL, r"\bmamba|state[- ]space", r"^(?!.*\b(cnn|conv\w*|mobilenet\w*)\b.*\btransformer).*\btransformers?\b(?!.*\b(cnn|conv\w*)\b)"),
    ),
    Family(
        "channel_attention", "Channel attention",
        "Squeeze-and-excitation style gating of channels (SE, ECA, GE, GC, coordinate attention).",
        strong=(r"squeeze[- ]?(and|&)[- ]?excitation", r"squeeze-excitation", r"channel[- ](wise )?attention",
                r"\beca\b", r"gather-excite", r"global context (network|block)", r"subspace attention",
                r"efficient local attention", r"coordinate attention", r"recalibrat"),
    ),
    Family(
        "cheap_operators", "Cheap operators",
        "Ghost features, group / shuffle / shift convolutions and other cheap replacements for dense convs.",
        strong=(r"\bghost", r"group(ed)?[- ]convolution", r"shufflenet", r"channel shuffle",
                r"cheap (operation|linear)", r"\bshift (operation|module|network)", r"hypercomplex",
                r"\b1\s*\\?(x|\\times|times)\s*1 conv", r"spatial[- ]shift", r"shift[- ]conv"),
        exclude=(r"equivariant",),
    ),
    Family(
        "reparameterization", "Structural re-parameterization",
        "Multi-branch training blocks folded into a single conv for inference (RepVGG, MobileOne, RepViT).",
        strong=(r"re-?parameteri[sz]", r"\brepvgg", r"mobileone", r"\brepvit", r"\brepnext"),
        exclude=(r"reparameteri[sz]ation trick", r"magnitude invariant parametri"),
    ),
    Family(
        "large_kernel_convnets", "Modern / large-kernel ConvNets",
        "ConvNeXt-era ConvNets: large kernels, gated / high-order convs, MetaFormer-style token mixing by conv.",
        strong=(r"large[- ]kernel", r"convnext", r"convnet for the 2020s", r"modern convnets?",
                r"replknet", r"inceptionnext", r"hornet", r"gated convolution", r"metaformer",
                r"poolformer", r"gated aggregation", r"\bstar operation", r"vanillanet",
                r"large receptive field"),
    ),
    Family(
        "efficient_attention", "Efficient attention & hybrid ViTs",
        "Efficient token mixers, linear / window attention, token reduction and hybrid CNN-ViT backbones.",
        title_patterns=(r"(efficien|lightweight|mobile|fast|linear|light-weight|cheap)\w*\W+(\S+\s+){0,3}(transformer|attention|\bvit)",
                        r"(transformer|attention|\bvit)s?\W+(\S+\s+){0,2}(efficien|lightweight|mobile|speed|linear)",
                        r"convolution and transformer|convnet and transformer|token mix|\bmixers?\b"),
        strong=(r"efficient (vision )?transformers?", r"token mixer", r"linear attention",
                r"hybrid (cnn|convolution)", r"(cnn|convolution)-(vit|transformer) hybrid",
                r"(mobile|lightweight|efficient)[- ]?vit", r"efficientformer", r"mobilevit",
                r"(window|local|axial|sparse|group) (self-)?attention", r"token (pruning|merging|sampling|reduction|exit)",
                r"quadratic (complexity|cost)", r"linear (complexity|computational complexity)",
                r"attention redundancy", r"convolution-attention", r"integrat\w* convnet and transformer",
                r"hardware-friendly (self-)?attention"),
        requires=EFFICIENCY,
        # A paper that calls its net a pure / attention-free CNN borrows ViT ideas but has no attention.
        exclude=(r"(family|series|new|set) of pure (lightweight )?(cnn|convnet|convolutional)|attention-free",),
        # Attention *modules* inside CNNs (SE, channel / subspace attention) are channel_attention.
        # ... and "linear complexity" / "mixer" in a Mamba sentence is the state-space model's.
        negative=(r"channel[- ](wise )?attention|squeeze|subspace attention|attention (module|block)s? for (compact )?(cnn|conv)",
                  r"\bmamba|state[- ]space|\bssms?\b"),
    ),
    Family(
        "state_space_models", "State-space models",
        "Mamba / S4-style selective state-space sequence mixers with linear cost in sequence length.",
        strong=(r"\bmamba", r"state[- ]space (model|duality)", r"\bssms?\b", r"selective scan"),
    ),
    Family(
        "nas", "Neural architecture search",
        "Searching architectures (RL, evolution, differentiable, one-shot supernets, hardware-aware).",
        strong=(r"architecture search", r"\bnas\b", r"super-?nets?\b|super-networks?", r"once-for-all", r"search space",
                r"architecture generation", r"netadapt", r"architecture-recipe search"),
    ),
    Family(
        "scaling_design_spaces", "Scaling rules & design spaces",
        "How to scale depth / width / resolution and which design spaces yield good nets (RegNet, EfficientNet).",
        title_patterns=(r"channel dimensions?", r"design (principles|guidelines|strateg\w*)"),
        strong=(r"design spaces?", r"(model|compound|network) scaling", r"scaling (strateg\w*|rules?|paradigm)",
                r"width multiplier", r"\bregnet", r"practical guidelines", r"scaling laws?"),
        weak=(r"channel dimensions?", r"design (principles|guidelines|strateg\w*)", r"scaling up", r"\bwidth\b",
              r"\bdepth\b", r"resolution"),
        min_weak=3,
    ),
    Family(
        "pruning_sparsity", "Pruning & sparsity",
        "Removing weights, channels, layers or experts; sparse networks and lottery tickets.",
        strong=(r"prun(e|es|ed|ing)\b", r"sparsif", r"\bsparse (neural )?(network|model|subnet|convnet)s?",
                r"lottery (ticket|jackpot)", r"\bn:m\b", r"slimmable", r"structured sparsity",
                r"redundant layers", r"layer (removal|dropping)"),
        weak=(r"sparsity", r"\bsparse\b"),
        # "sparse" in a mixture-of-experts paper that never prunes means sparsely activated experts.
        exclude=(r"pruned gaussian", r"sparse mixture|sparse moe|sparse experts", r"\A(?![\s\S]*prun)(?=[\s\S]*\bexperts?\b)"),
    ),
    Family(
        "quantization", "Quantization & low-bit",
        "Low-bit integer / binary weights and activations, mixed precision, codebooks and weight clustering.",
        strong=(r"quantiz", r"binary (neural|weight|convolution|vision transformer|network)s?", r"binariz",
                r"\bxnor", r"low-bit", r"\bint ?[48]\b", r"\bfp8\b", r"\b[1-8]-bit", r"mixed[- ]precision",
                r"fixed[- ]point", r"bit[- ]?width", r"one-bit", r"weight clustering", r"codebooks?"),
        exclude=(r"quantized linear function",),
    ),
    Family(
        "distillation", "Knowledge distillation",
        "Training a small student from a larger teacher (logits, features, self-distillation).",
        strong=(r"distill", r"teacher", r"student (model|network)"),
        exclude=(r"dataset distillation", r"data distillation"),
    ),
    Family(
        "low_rank_peft", "Low-rank & parameter-efficient adaptation",
        "Low-rank factorization and parameter-efficient fine-tuning (LoRA, adapters, prompts, side-tuning).",
        strong=(r"low[- ]rank", r"\blora\b", r"\bpetl\b",
                r"parameter[- ]efficient (fine[- ]?tuning|tuning|transfer|adaptation|learning|training|method|approach)",
                r"\bpeft\b", r"prompt (learning|tuning)",
                # an adapter is PEFT when the sentence is about tuning / frozen weights / parameters
                r"\badapters?\b(?=.*\b(fine-?tun|tuning|frozen|trainable|parameters?|transfer|downstream))|"
                r"\b(fine-?tun|tuning|frozen|trainable|parameters?|transfer|downstream)\w*\b.*\badapters?\b",
                r"side-tuning", r"parallel tuning", r"\bgalore", r"tensor decomposition",
                r"low-rank factori[sz]", r"visual prompt", r"conditional tuning"),
    ),
    Family(
        "dynamic_computation", "Dynamic computation & early exit",
        "Input-dependent compute: early exits, dynamic depth / width / tokens, routing between models.",
        strong=(r"early[- ]exit", r"dynamic (neural )?networks?", r"dynamic (inference|computation|depth|width|mechanisms?)",
                r"adaptive computation", r"conditional computation", r"input-adaptive", r"instance-adaptive",
                r"speculative decoding", r"adaptive inference", r"anytime", r"many-in-one",
                r"rout\w* (between|among|to) (llms|models)|llm rout|multi-llm rout|\brouter\b.*\bllms?\b",
                r"dynamic (visual-)?token", r"stitch(ed|able)"),
    ),
    Family(
        "mixture_of_experts", "Mixture of experts",
        "Sparse expert layers and routers that activate a fraction of parameters per token.",
        strong=(r"mixture[- ]of[- ]experts", r"\bmoes?\b", r"expert choice", r"sparse experts?",
                r"\bbase layers\b", r"merging of experts", r"panel of experts", r"routed (language )?models?"),
        exclude=(r"panel of experts for generalized automatic dialogue",),
    ),
    Family(
        "efficient_sr_restoration", "Efficient super-resolution & restoration",
        "Lightweight super-resolution, denoising, inpainting and enhancement networks.",
        title_patterns=(r"super[- ]?resolution", r"denois", r"inpainting", r"restoration", r"deblur", r"dehaz",
                        r"derain", r"enhancement", r"deflicker", r"bandwidth extension", r"cloud removal",
                        r"shadow removal", r"image compression"),
        strong=(r"(lightweight|efficient|light-weight|fast|real-time|compact) (single[- ]image )?"
                r"(image )?(super[- ]?resolution|denois\w*|inpainting|restoration|enhancement)",),
        requires=EFFICIENCY,
    ),
    Family(
        "efficient_detection_segmentation", "Efficient detection & segmentation",
        "Real-time / lightweight detectors and segmenters (YOLO, SSD, light decoders, mobile SAM).",
        title_patterns=(r"\bdetect(ion|or)s?\b", r"segment", r"\byolo", r"matting", r"\bssd\b", r"\bdetr\b",
                        r"face localisation", r"panoptic"),
        strong=(r"(real-time|efficient|lightweight|light-weight|fast|mobile) (object )?(detection|detectors?|segmentation)",
                r"\byolo", r"\bdetr\b"),
        requires=EFFICIENCY,
        exclude=(r"community detection", r"intrusion detection", r"synthetic image detection",
                 r"images generated by", r"violence detection", r"out-of-distribution"),
    ),
    Family(
        "efficient_llm", "Efficient LLMs",
        "Compressing, accelerating and shrinking (large) language models for cheaper inference/training.",
        title_patterns=(r"large language models?", r"\bllms?\b", r"language models?", r"\bbert\b", r"\bgpt",
                        r"speculative decoding", r"long context"),
        strong=(r"(efficient|compress\w*|accelerat\w*|fast|lightweight|on-device|small|sub-billion|tiny)"
                r" (large )?(language models?|llms?)", r"\bllm (inference|compression|pruning|quantization)"),
        requires=EFFICIENCY,
        exclude=(r"mobile apps?\b",),
    ),
    Family(
        "efficient_video_audio", "Efficient video & audio",
        "Lightweight models for video understanding and speech / audio processing.",
        title_patterns=(r"\bvideos?\b", r"\baudio", r"\bspeech", r"vocoder", r"speaker", r"\bvoice",
                        r"polyphonic", r"action recognition", r"\btracking\b", r"\basr\b"),
        strong=(r"(efficient|lightweight|light-weight|fast|real-time|mobile) (video|audio|speech)",),
        requires=EFFICIENCY,
    ),
    Family(
        "edge_systems", "Edge systems & deployment",
        "Deploying nets on phones, MCUs, FPGAs and accelerators: hardware-aware design and runtimes.",
        title_patterns=(r"edge (devices?|computing)", r"at the edge", r"on-device", r"embedded", r"\bfpgas?\b",
                        r"\bcpu\b", r"\bgpus?\b", r"hardware", r"co-design", r"deploy", r"split (computing|dnns?)",
                        r"offload", r"resource[- ]constrained", r"microcontroller", r"tinyml", r"risc-v",
                        r"weak devices", r"accelerators?\b", r"(on|for) (\w+ )?mobile (devices?|phones?|applications?|platforms?)",
                        r"\biot\b|internet of things", r"smartphones?", r"energy[- ]efficien", r"low[- ]power"),
        strong=(r"tinyml", r"microcontroller", r"\bfpgas?\b", r"split computing", r"risc-v",
                r"(hardware|mobile|edge) accelerators?", r"mobile (gpus?|cpus?)"),
        weak=(r"edge (devices?|computing|servers?)", r"on-device", r"embedded (systems?|devices?|platforms?)",
              r"offload", r"co-design", r"resource[- ]constrained", r"at the edge", r"hardware-(aware|friendly)",
              r"latency on", r"(mobile|smart) ?phones?", r"energy[- ]efficien", r"inference (framework|engine)"),
        requires=EFFICIENCY,
    ),
)

FAMILY_SLUGS: tuple[str, ...] = tuple(f.slug for f in FAMILIES)


def get_family(slug: str) -> Family:
    """Return the family called ``slug``.

    Raises:
        KeyError: naming the valid slugs when ``slug`` is unknown.
    """
    for f in FAMILIES:
        if f.slug == slug:
            return f
    raise KeyError(f"unknown literature family {slug!r}; valid: {', '.join(FAMILY_SLUGS)}")
