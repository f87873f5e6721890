"""Model-agnostic technique blocks. Blocks know nothing about models (timm ``layers`` habit).

One module per technique family, named by its literature-family slug where the family owns the
module (``channel_attention``, ``cheap_operators``, ``mobile_cnn``, ``reparameterization``);
each technique module's docstring says ``technique: <slug>`` and names the papers behind its
blocks. ``conv`` and ``activations`` are shared building blocks of every family.
"""

from .activations import get_act, list_acts
from .channel_attention import CBAM, EfficientChannelAttention, SqueezeExcite, get_attn
from .cheap_operators import (
    DFCAttention,
    GhostBottleneck,
    GhostModule,
    GhostModuleV2,
    ShuffleV2Block,
    channel_shuffle,
)
from .conv import ConvNormAct, make_divisible, scale_channels
from .convnext import ConvNeXtBlock
from .efficientformer import Meta3D, Meta4D
from .efficientvit import CascadedGroupAttention, EfficientViTBlock
from .metaformer import LayerNorm2d, MetaFormerBlock, get_token_mixer, list_token_mixers
from .mobile_cnn import DepthwiseSeparableConv, FusedMBConv, InvertedResidual, SEConfig
from .reparameterization import MobileOneBlock, RepVggBlock, fuse_conv_bn, reparameterize_model
from .repvit import RepDWConv, RepViTBlock

__all__ = [
    "CBAM",
    "CascadedGroupAttention",
    "ConvNeXtBlock",
    "ConvNormAct",
    "DFCAttention",
    "DepthwiseSeparableConv",
    "EfficientChannelAttention",
    "EfficientViTBlock",
    "FusedMBConv",
    "GhostBottleneck",
    "GhostModule",
    "GhostModuleV2",
    "InvertedResidual",
    "LayerNorm2d",
    "Meta3D",
    "Meta4D",
    "MetaFormerBlock",
    "MobileOneBlock",
    "RepDWConv",
    "RepVggBlock",
    "RepViTBlock",
    "SEConfig",
    "ShuffleV2Block",
    "SqueezeExcite",
    "channel_shuffle",
    "fuse_conv_bn",
    "get_act",
    "get_attn",
    "get_token_mixer",
    "list_acts",
    "list_token_mixers",
    "make_divisible",
    "scale_channels",
    "reparameterize_model",
]

# --- zoo additions B (issue 12): RegNet, ReXNet, InceptionNeXt, StarNet, EfficientViM blocks ---
from .inception_next import InceptionDWConv2d, MetaNeXtBlock  # noqa: E402
from .regnet import XBlock  # noqa: E402
from .rexnet import LinearBottleneck, SqueezeExciteBN  # noqa: E402
from .ssm import HSMSSD, EfficientViMBlock  # noqa: E402
from .starnet import StarBlock  # noqa: E402

__all__ += [
    "EfficientViMBlock",
    "HSMSSD",
    "InceptionDWConv2d",
    "LinearBottleneck",
    "MetaNeXtBlock",
    "SqueezeExciteBN",
    "StarBlock",
    "XBlock",
]

# zoo additions A (issue 12): MobileNetV4 UIB / Mobile MQA, MobileViT
from .mobile_attention import MobileMQABlock, MultiQueryAttention2d  # noqa: E402
from .mobilevit import MobileViTBlock  # noqa: E402
from .uib import UniversalInvertedBottleneck  # noqa: E402

__all__ += ["MobileMQABlock", "MobileViTBlock", "MultiQueryAttention2d", "UniversalInvertedBottleneck"]

# notebooks cheap_operators and reparameterization (issue 12)
from .cheap_operators import CHEAP_BLOCKS, ChannelShuffle, Shift, cheap_block  # noqa: E402
from .reparameterization import deploy_difference  # noqa: E402

__all__ += ["CHEAP_BLOCKS", "ChannelShuffle", "Shift", "cheap_block", "deploy_difference"]

# token_mixers / attention_scaling notebooks: sequence mixers (also registers their MetaFormer mixers)
from . import sequence_mixers  # noqa: E402
from .sequence_mixers import LinearAttention, SelectiveSSM, SoftmaxAttention, WindowAttention  # noqa: E402

__all__ += ["LinearAttention", "SelectiveSSM", "SoftmaxAttention", "WindowAttention", "sequence_mixers"]

# --- NAS zoo (issue 14): FBNet's inverted residual (fbnet_a, fbnet_b) ---
from .fbnet import IRFBlock  # noqa: E402

__all__ += ["IRFBlock"]

# --- conditional_computation notebook (issue 14): sparse MoE MLP, token dropping ---
from .moe import MoEMLP, load_stats  # noqa: E402
from .token_drop import ViTBlock, keep_top_tokens  # noqa: E402

__all__ += ["MoEMLP", "ViTBlock", "keep_top_tokens", "load_stats"]
# tiny_lm notebook (issue 15, item 4): causal decoder blocks with MHA/GQA/MQA and a KV cache
from .lm import CausalSelfAttention, DecoderBlock, KVCache, RMSNorm  # noqa: E402

__all__ += ["CausalSelfAttention", "DecoderBlock", "KVCache", "RMSNorm"]
